"""Cold and warm start of the Space from a published set: time to first answer, bytes, requests, peak RSS.

    python -m benchmarks.hub_start [--rows 2339,100000] [--thumbnail-kb 30] [--index auto] [--nprobe N]
                                   [--load 200] [--workdir DIR] [--json]

For each size: a synthetic set (distinct JPEG thumbnails of about ``--thumbnail-kb`` each, MiniLM-sized
vectors with the real probe) is built through the project's own writers and staged exactly as ``publish``
lays it out on the Hub (the "local snapshot"). A fresh Python process then starts the app against it through
huggingface_hub's real download code, with testkit/fake_hub.py answering at the transport seam from the
snapshot on disk (no network, no HTTP latency: the figures are the client's and the app's own work). The
first answer is a search for 5 results with their images read (on demand, one range request each); then 5
other queries are answered and their image reads counted, then ``--load`` more (images read) from 4 threads at
once, as a busy Space serves them; peak RSS is taken after them. A second process starts warm from the same
cache. ``--index`` and ``--nprobe`` choose the set's index (the vectors are random, so tuning nprobe on them
says nothing; at 1,000,000 rows pass the kind and nprobe that ``benchmarks.ann`` reports the index step picking).
Progress goes to stderr, the table to stdout; with ``--json`` one object per size follows, the last size's
last: {"rows", "repo_bytes", "bytes_before_first_answer", "requests_before_first_answer", "cold_s",
"warm_s", "peak_rss_mb", "bytes_per_query"} (peak RSS is the larger of the cold and warm processes', each
taken after its queries).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from build.indexing.vector_index import KINDS, IndexSpec
from imagesearch.serve.config import REPO

REPO_ID = "bench/caption-search-data"
log = logging.getLogger("benchmarks.hub_start")


QUERIES = ("a photo of a dog", "synthetic item 12", "a red dress with white dots", "label-7 on a table",
           "a cat on grass", "a blue car in the city")


def thumbnail(rng: np.random.Generator, side: int) -> Image.Image:
    """A distinct photo-like thumbnail: smooth colour blocks with noise (JPEG size grows with ``side``)."""
    blocks = rng.integers(0, 255, (8, 8, 3)).repeat(side // 8 + 1, 0).repeat(side // 8 + 1, 1)[:side, :side]
    noise = rng.normal(0, 24, (side, side, 3))
    return Image.fromarray(np.clip(blocks + noise, 0, 255).astype(np.uint8))


def side_for(kilobytes: float) -> int:
    """The thumbnail side whose JPEG (quality 85) is about ``kilobytes`` KB, found by trying."""
    import io

    rng, side = np.random.default_rng(1), 16
    while side < 2048:
        buffer = io.BytesIO()
        thumbnail(rng, side).save(buffer, format="JPEG", quality=85)
        if buffer.tell() >= kilobytes * 1024:
            return side
        side += 8
    return side


def synthetic_snapshot(workdir: Path, rows: int, kilobytes: float, spec: IndexSpec = IndexSpec()) -> Path:
    """A set of ``rows`` distinct thumbnails of about ``kilobytes`` KB, staged as publish would upload it."""
    from build.publishing.staging import stage
    from imagesearch.models.encoder import MINILM, TextEncoder
    from imagesearch.store import manifest as mf
    from imagesearch.store.records import IMAGES_DIR, Record
    from testkit.vector_set import write_vector_set

    name = f"{rows}-{kilobytes:g}kb" + ("" if spec == IndexSpec() else f"-{spec.kind}-{spec.nlist}-{spec.nprobe}")
    folder, snapshot = workdir / f"set-{name}", workdir / f"snapshot-{name}"
    if (snapshot / mf.MANIFEST).exists():
        return snapshot
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(snapshot, ignore_errors=True)
    encoder = TextEncoder.load(MINILM, device="cpu")
    rng = np.random.default_rng(0)
    side = side_for(kilobytes)
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    records = []
    for i in tqdm(range(rows), desc=f"thumbnails ({side}x{side})", file=sys.stderr):
        name = f"{IMAGES_DIR}/{i}.jpg"
        thumbnail(rng, side).save(folder / name, quality=85)
        records.append(Record(i, f"synthetic-{i % 6}", str(i), f"label-{i % 40}", name, f"synthetic item {i}"))
    vectors = rng.normal(size=(rows, encoder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    write_vector_set(folder, records, vectors, encoder.model_id, encoder.probe(), {"model": "synthetic (benchmark)"},
                     spec)
    snapshot.mkdir(parents=True)
    staged = stage(folder, snapshot, REPO_ID)
    for file in staged.set_files:  # the CSV, pickle and index are uploaded from the set folder itself
        if not (snapshot / file.path).exists():
            shutil.copyfile(file.local, snapshot / file.path)
    shutil.rmtree(folder)  # the snapshot holds everything the Hub would
    return snapshot


LOAD_THREADS = 4


def child(snapshot: Path, cache: Path, load: int) -> dict:
    """One app start against the snapshot, through the fake Hub, then a few queries; runs in its own process."""
    import pytest

    import app
    from benchmarks.search import memory_mb
    from imagesearch.serve.config import AppConfig
    from testkit.fake_hub import FakeHub

    hub = FakeHub(tokens={})
    files = {p.relative_to(snapshot).as_posix(): p for p in snapshot.rglob("*") if p.is_file()}
    hub.repo(REPO_ID, files=files)
    sha = hub.head(REPO_ID)

    def to_repo() -> int:  # not the client's own once-a-day registry lookup
        return len([s for s in hub.sent if REPO_ID in s.path])

    per_query = []
    with pytest.MonkeyPatch.context() as patch:
        hub.install(patch)
        started = time.perf_counter()
        _, engine = app.build_app(AppConfig(artifacts_repo=REPO_ID, artifacts_revision=sha, artifacts_cache=cache))
        results = engine.search(QUERIES[0], 5)
        elapsed = time.perf_counter() - started
        first = {"requests": to_repo(), "bytes": hub.bytes_served, "fetched": len(hub.requests("GET", "/resolve/"))}
        for query in QUERIES[1:]:
            requests, served = to_repo(), hub.bytes_served
            shown = engine.search(query, 5)
            per_query.append({"requests": to_repo() - requests, "bytes": hub.bytes_served - served,
                              "images": sum(1 for r in shown if r.image)})
        start_rss = memory_mb(os.getpid())
        words = " ".join(QUERIES).split()
        texts = [" ".join(words[(i * 7) % len(words):(i * 7) % len(words) + 4]) + f" {i}" for i in range(load)]
        with ThreadPoolExecutor(LOAD_THREADS) as pool:  # as Gradio's workers serve a busy page
            served_images = sum(sum(1 for r in found if r.image) for found in pool.map(engine.search, texts))
    FakeHub.uninstall()
    assert len(results) == 5
    return {"seconds": elapsed, "start_rss_mb": start_rss, "peak_rss_mb": memory_mb(os.getpid()),
            "load": {"queries": load, "threads": LOAD_THREADS, "images": served_images}, "requests": first["requests"],
            "bytes": first["bytes"], "files_fetched": first["fetched"], "rows": engine.artifacts.count,
            "shards": len([p for p in files if p.startswith("data/")]),
            "repo_bytes": sum(p.stat().st_size for p in files.values()),
            "images_shown": sum(1 for r in results if r.image), "per_query": per_query}


def measure(snapshot: Path, cache: Path, load: int) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "benchmarks.hub_start", "--child", str(snapshot), str(cache),
                             "--load", str(load)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def figures(cold: dict, warm: dict) -> dict:
    """The issue's JSON object for one size."""
    return {"rows": cold["rows"], "repo_bytes": cold["repo_bytes"], "bytes_before_first_answer": cold["bytes"],
            "requests_before_first_answer": cold["requests"], "cold_s": round(cold["seconds"], 2),
            "warm_s": round(warm["seconds"], 2), "peak_rss_mb": round(max(cold["peak_rss_mb"], warm["peak_rss_mb"])),
            "bytes_per_query": int(np.median([q["bytes"] for q in cold["per_query"]]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hub_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="2339,100000", help="comma-separated set sizes (default 2339,100000)")
    parser.add_argument("--thumbnail-kb", type=float, default=30.0, help="about how large each thumbnail is (default 30)")
    parser.add_argument("--index", choices=KINDS, default="auto", help="the set's index kind (default auto)")
    parser.add_argument("--nlist", type=int, default=None, help="its IVF lists (default 4*sqrt(N))")
    parser.add_argument("--nprobe", type=int, default=None, help="its IVF nprobe (default: tuned)")
    parser.add_argument("--load", type=int, default=200,
                        help=f"queries served from {LOAD_THREADS} threads after the first ones (default 200)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imagesearch-hub-bench"))
    parser.add_argument("--json", action="store_true", help="also print one JSON object per size, the last size's last")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.child:
        print(json.dumps(child(*args.child, args.load)))
        return 0
    lines, objects = [], []
    for rows in (int(r) for r in args.rows.split(",")):
        snapshot = synthetic_snapshot(args.workdir, rows, args.thumbnail_kb, IndexSpec(args.index, args.nlist, args.nprobe))
        cache = args.workdir / f"cache-{rows}"
        shutil.rmtree(cache, ignore_errors=True)
        cold, warm = measure(snapshot, cache, args.load), measure(snapshot, cache, args.load)
        shown = figures(cold, warm)
        reads = max(q["requests"] for q in cold["per_query"])
        lines.append(f"| {cold['rows']:,} | {cold['shards']} | {cold['repo_bytes'] / 1e6:,.0f} | {cold['bytes'] / 1e6:,.1f} "
                     f"| {cold['requests']} | {cold['seconds']:.1f} | {cold['start_rss_mb']:,.0f} "
                     f"| {cold['peak_rss_mb']:,.0f} | {warm['seconds']:.1f} "
                     f"| {warm['requests']} | {shown['bytes_per_query'] / 1e3:,.0f} | {reads} |")
        objects.append(shown)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| rows | parquet shards | repo MB | MB before the first answer | requests before it | cold start to first "
          "answer (s) | cold peak RSS, 6 queries (MB) | cold peak RSS after the load (MB) | warm start (s) | warm requests (first answer's images included) "
          "| KB per later query (median) | most requests by one query (k=5) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    if args.json:
        for shown in objects:
            print(json.dumps(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
