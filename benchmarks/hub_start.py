"""Cold and warm start of the Space from a published set: time to first answer, peak RSS, requests.

    python -m benchmarks.hub_start [--rows 2339,100000] [--workdir DIR]

For each size: a synthetic set (distinct JPEG thumbnails, MiniLM-sized
vectors with the real probe) is built through the project's own writers and
staged exactly as ``publish`` lays it out on the Hub (the "local snapshot").
A fresh Python process then starts the app against it through
huggingface_hub's real download code, with testkit/fake_hub.py answering at
the transport seam from the snapshot on disk (no network, no HTTP latency:
the figures are the client's and the app's own work). It reports the time
from the start of ``build_app`` to the first answered search, the process's
peak RSS, and the requests and files fetched; then a second process starts
warm from the same cache. Progress goes to stderr, the table to stdout.
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
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from imagesearch.serve.config import REPO

REPO_ID = "bench/caption-search-data"
log = logging.getLogger("benchmarks.hub_start")


def synthetic_snapshot(workdir: Path, rows: int) -> Path:
    """A set of ``rows`` distinct thumbnails, staged as publish would upload it."""
    from build.publish import stage
    from imagesearch.models.encoder import MINILM, TextEncoder
    from imagesearch.store import manifest as mf
    from imagesearch.store.records import IMAGES_DIR, Record
    from testkit.vector_set import write_vector_set

    folder, snapshot = workdir / f"set-{rows}", workdir / f"snapshot-{rows}"
    if (snapshot / mf.MANIFEST).exists():
        return snapshot
    encoder = TextEncoder.load(MINILM, device="cpu")
    rng = np.random.default_rng(0)
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    records = []
    for i in tqdm(range(rows), desc="thumbnails", file=sys.stderr):
        pixels = (rng.integers(0, 255, (8, 8, 3)).repeat(12, 0).repeat(12, 1)).astype(np.uint8)  # 96x96 blocks
        name = f"{IMAGES_DIR}/{i}.jpg"
        Image.fromarray(pixels).save(folder / name, quality=85)
        records.append(Record(i, f"synthetic-{i % 6}", str(i), f"label-{i % 40}", name, f"synthetic item {i}"))
    vectors = rng.normal(size=(rows, encoder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    write_vector_set(folder, records, vectors, encoder.model_id, encoder.probe(), {"model": "synthetic (benchmark)"})
    snapshot.mkdir(parents=True)
    staged = stage(folder, snapshot, REPO_ID)
    for file in staged.set_files:  # the CSV, pickle and index are uploaded from the set folder itself
        if not (snapshot / file.path).exists():
            shutil.copyfile(file.local, snapshot / file.path)
    return snapshot


def child(snapshot: Path, cache: Path) -> dict:
    """One app start against the snapshot, through the fake Hub; runs in its own process."""
    import pytest

    import app
    from imagesearch.serve.config import AppConfig
    from testkit.fake_hub import FakeHub

    hub = FakeHub(tokens={})
    files = {p.relative_to(snapshot).as_posix(): p for p in snapshot.rglob("*") if p.is_file()}
    hub.repo(REPO_ID, files=files)
    sha = hub.head(REPO_ID)
    with pytest.MonkeyPatch.context() as patch:
        hub.install(patch)
        started = time.perf_counter()
        _, engine = app.build_app(AppConfig(artifacts_repo=REPO_ID, artifacts_revision=sha, artifacts_cache=cache))
        results = engine.search("a photo of a dog", 5)
        elapsed = time.perf_counter() - started
    FakeHub.uninstall()
    assert len(results) == 5
    from benchmarks.search import memory_mb

    to_repo = [s for s in hub.sent if REPO_ID in s.path]  # not the client's own once-a-day registry lookup
    return {"seconds": elapsed, "peak_rss_mb": memory_mb(os.getpid()), "requests": len(to_repo),
            "files_fetched": len(hub.requests("GET", "/resolve/")), "rows": engine.artifacts.count,
            "shards": len([p for p in files if p.startswith("data/")]),
            "download_mb": sum(p.stat().st_size for p in files.values()) / 1e6}


def measure(snapshot: Path, cache: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "benchmarks.hub_start", "--child", str(snapshot), str(cache)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hub_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="2339,100000", help="comma-separated set sizes (default 2339,100000)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imagesearch-hub-bench"))
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    lines = []
    for rows in (int(r) for r in args.rows.split(",")):
        snapshot = synthetic_snapshot(args.workdir, rows)
        cache = args.workdir / f"cache-{rows}"
        shutil.rmtree(cache, ignore_errors=True)
        cold, warm = measure(snapshot, cache), measure(snapshot, cache)
        lines.append(f"| {cold['rows']:,} | {cold['shards']} | {cold['download_mb']:.0f} | {cold['seconds']:.1f} "
                     f"| {cold['peak_rss_mb']:.0f} | {cold['requests']} ({cold['files_fetched']} files) "
                     f"| {warm['seconds']:.1f} | {warm['peak_rss_mb']:.0f} | {warm['requests']} |")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| rows | parquet shards | snapshot MB | cold start to first answer (s) | cold peak RSS (MB) | cold requests "
          "| warm start (s) | warm peak RSS (MB) | warm requests |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
