"""Search benchmark: latency in-process and through gradio_client, cold start, peak RSS.

    python -m benchmarks.search [--queries 200] [--rows 100000] [--workdir DIR]

Runs on the embedded demo and on a synthetic artifact set of --rows
MiniLM-sized (384-d) vectors built through the project's own writers. The
app is started as a real process (`python app.py`) for the cold-start,
round-trip and memory figures. Results go to stdout as a Markdown table;
progress goes to stderr. Timings are medians and percentiles of many runs;
never assert them in a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from tqdm import tqdm

from imagesearch.models.encoder import MINILM, TextEncoder
from imagesearch.serve.config import DEMO_ARTIFACTS, REPO
from imagesearch.serve.search import SearchEngine
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.records import IMAGES_DIR, Record
from imagesearch.store.searchers import search_index
from testkit.ports import free_port
from testkit.vector_set import write_vector_set

log = logging.getLogger("benchmarks.search")
QUERIES = [
    "a cat with green eyes", "a red dress with white dots", "a pikachu on grass", "a rocket launch at night",
    "an airplane on a runway", "football players in helmets", "a bowl of fruit salad", "a dog on a sofa",
    "a man in a suit and bow tie", "galaxies in deep space", "a cup of coffee", "a red motorcycle in a garage",
]


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples_s) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def synthetic_set(folder: Path, rows: int, encoder: TextEncoder, seed: int = 0) -> Path:
    """rows embedding-like unit vectors (clustered), real probe, 16 shared thumbnails."""
    if (folder / mf.MANIFEST).exists() and mf.read_manifest(folder)["count"] == rows:
        return folder
    rng = np.random.default_rng(seed)
    dimension = encoder.dimension
    centres = rng.normal(size=(max(1, rows // 50), dimension))
    vectors = centres[rng.integers(0, len(centres), rows)] + rng.normal(size=(rows, dimension))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    for i in range(16):
        Image.new("RGB", (64, 64), (16 * i, 255 - 16 * i, 128)).save(folder / IMAGES_DIR / f"{i}.jpg")
    records = [Record(i, f"synthetic-{i % 6}", str(i), "", f"{IMAGES_DIR}/{i % 16}.jpg", f"synthetic item {i}")
               for i in range(rows)]
    write_vector_set(folder, records, vectors, encoder.model_id, encoder.probe(), {"model": "synthetic (benchmark)"})
    return folder


def in_process(folder: Path, encoder: TextEncoder, n: int) -> dict[str, float]:
    import faiss

    faiss.omp_set_num_threads(1)
    artifacts = load_artifact_set(folder)
    texts = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(n)]
    encode_times, vectors = [], {}
    for text in tqdm(texts, desc="encode", file=sys.stderr):
        start = time.perf_counter()
        vectors[text] = encoder.encode([text])[0]
        encode_times.append(time.perf_counter() - start)
    engine = SearchEngine(artifacts, vectors.__getitem__)
    search_times = []
    for text in tqdm(texts, desc="vector search", file=sys.stderr):
        start = time.perf_counter()
        engine.search(text, 5)
        search_times.append(time.perf_counter() - start)
    plain_times = []
    for text in tqdm(texts, desc="plain faiss scan (baseline)", file=sys.stderr):
        start = time.perf_counter()
        search_index(artifacts.index, vectors[text].reshape(1, -1), 5)
        plain_times.append(time.perf_counter() - start)
    enc50, enc95 = percentiles(encode_times)
    s50, s95 = percentiles(search_times)
    p50, p95 = percentiles(plain_times)
    return {"encode_p50": enc50, "encode_p95": enc95, "search_p50": s50, "search_p95": s95, "plain_p50": p50, "plain_p95": p95,
            "fallbacks": artifacts.searcher.fallbacks}


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """A memory figure of a process from /proc (VmHWM: peak RSS, VmRSS: current RSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(n: int, label: str, call) -> tuple[float, float]:
    times = []
    for i in tqdm(range(n), desc=label, file=sys.stderr):
        start = time.perf_counter()
        results = call(QUERIES[i % len(QUERIES)])
        times.append(time.perf_counter() - start)
        assert len(results) == 5, results
    return percentiles(times)


def _http_search(http, query: str) -> list:
    """Gradio's plain HTTP API: POST starts the call, GET streams the result (server-side latency)."""
    event = http.post("/gradio_api/call/search", json={"data": [query, 5, None]}).json()["event_id"]
    body = http.get(f"/gradio_api/call/search/{event}").text
    payload = body.split("event: complete\ndata: ", 1)[1].strip()
    return json.loads(payload)[0]


def client_floor(n: int) -> tuple[float, float]:
    """gradio_client round trip to a no-op endpoint: the client's own floor on this machine."""
    import gradio as gr
    from gradio_client import Client

    def noop(query: str, k: int = 5) -> list[int]:
        return [0] * k

    with gr.Blocks() as blocks:
        gr.api(noop, api_name="search")
    blocks.queue()
    _, url, _ = blocks.launch(prevent_thread_lock=True, quiet=True, server_port=free_port())
    client = Client(url, verbose=False)
    try:
        return _timed(n, "gradio_client floor (no-op endpoint)", lambda q: client.predict(q, 5, api_name="/search"))
    finally:
        client.close()
        with contextlib.redirect_stdout(sys.stderr):  # gradio prints "Closing server" on stdout
            blocks.close()


def served(folder: Path | None, n: int) -> dict[str, float]:
    from gradio_client import Client

    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("ARTIFACTS_DIR", None)
    if folder is not None:
        env["ARTIFACTS_DIR"] = str(folder)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = None
        while client is None:
            if process.poll() is not None:
                raise RuntimeError(f"app exited: {process.stderr.read().decode()[-500:]}")
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception:
                time.sleep(0.1)
        client.predict(QUERIES[0], 5, api_name="/search")
        cold_start = time.perf_counter() - started
        figures = {"cold_start_s": cold_start}
        figures["client_p50"], figures["client_p95"] = _timed(n, "gradio_client", lambda q: client.predict(q, 5, api_name="/search"))
        bare = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        figures["bare_p50"], figures["bare_p95"] = _timed(n, "gradio_client, no downloads", lambda q: bare.predict(q, 5, api_name="/search"))
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        figures["http_p50"], figures["http_p95"] = _timed(n, "HTTP /gradio_api/call/search", lambda q: _http_search(http, q))
        figures["peak_rss_mb"] = memory_mb(process.pid)
        for each in (client, bare, http):
            each.close()
        return figures
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=200, help="queries per measurement (default 200)")
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic set size (default 100000)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imagesearch-bench"), help="where the synthetic set is built")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    encoder = TextEncoder.load(MINILM, device="cpu")
    log.info("building the synthetic %d-row set in %s", args.rows, args.workdir)
    synthetic = synthetic_set(args.workdir / f"synthetic-{args.rows}", args.rows, encoder)
    rows = []
    for name, folder in (("demo", DEMO_ARTIFACTS), (f"synthetic {args.rows:,}", synthetic)):
        log.info("measuring %s", name)
        local = in_process(folder, encoder, args.queries)
        remote = served(None if folder == DEMO_ARTIFACTS else folder, args.queries)
        rows.append((name, local, remote))
    floor50, floor95 = client_floor(args.queries)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.queries} queries each; times in ms unless noted")
    print("| set | encode p50/p95 | vector search p50/p95 | plain FAISS flat scan p50/p95 | HTTP API p50/p95 | gradio_client p50/p95 | gradio_client, no image download p50/p95 | cold start (s) | peak RSS (MB) | fp32 fallbacks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, local, remote in rows:
        print(f"| {name} | {local['encode_p50']:.1f} / {local['encode_p95']:.1f} | {local['search_p50']:.2f} / {local['search_p95']:.2f} "
              f"| {local['plain_p50']:.2f} / {local['plain_p95']:.2f} "
              f"| {remote['http_p50']:.1f} / {remote['http_p95']:.1f} | {remote['client_p50']:.1f} / {remote['client_p95']:.1f} "
              f"| {remote['bare_p50']:.1f} / {remote['bare_p95']:.1f} | {remote['cold_start_s']:.1f} | {remote['peak_rss_mb']:.0f} "
              f"| {local['fallbacks']} |")
    print(f"gradio_client floor, a no-op endpoint on the same machine: p50 {floor50:.1f} / p95 {floor95:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
