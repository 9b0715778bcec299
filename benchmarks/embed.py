"""The embed step at size: descriptions per second and peak memory, 10,000 and 100,000 rows.

    python -m benchmarks.embed [--rows 10000,100000] [--embedder ID_OR_PATH] [--workdir DIR]

The descriptions are realistic: four sentences drawn from the seed's 147
real InstructBLIP captions (cleaned like describe's output), recombined with
a fixed seed, about the seed's length. Each size runs ``python -m build
embed`` in a fresh process (the real step: read the CSV, load the model,
encode in chunks, write the pickle and the manifest); its wall time and peak
RSS are reported. Default model: all-MiniLM-L6-v2 from its wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from testkit.paths import REPO, SEED_CSV


def seed_sentences(path: Path) -> tuple[list[str], int]:
    """The seed's caption sentences, and how many of them make a description of the seed's mean length."""
    from imagesearch.models.caption_text import clean_caption
    from imagesearch.store.records import read_seed_csv

    texts = [clean_caption(text) for _, text in read_seed_csv(path)]
    sentences = [s.strip() + "." for text in texts for s in text.split(".") if len(s.strip()) > 20]
    mean_text = sum(map(len, texts)) / len(texts)
    mean_sentence = sum(map(len, sentences)) / len(sentences)
    return sentences, max(1, round(mean_text / (mean_sentence + 1)))


def write_set(folder: Path, rows: int, sentences: list[str], per_text: int) -> Path:
    from PIL import Image

    from imagesearch.store import manifest as mf
    from imagesearch.store.records import Record, write_records

    if (folder / mf.MANIFEST).exists():
        return folder
    rng = random.Random(rows)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (120, 30, 60)).save(folder / "images" / "0.jpg")
    records = [Record(i, "seed-like", str(i), "", "images/0.jpg", " ".join(rng.sample(sentences, per_text))) for i in range(rows)]
    write_records(folder / mf.DESCRIPTIONS, records)
    mf.write_manifest(folder, mf.new_manifest({"model": "benchmark: recombined seed captions"}), records)
    return folder


def child(argv: list[str]) -> None:
    from build.__main__ import main as build_main

    started = time.perf_counter()
    code = build_main(argv)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"code": code, "seconds": time.perf_counter() - started, "peak_rss_mb": peak_mb}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.embed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="10000,100000")
    parser.add_argument("--embedder", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--device", default=None, help="e.g. cpu or cuda (default: the step's own choice)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imagesearch-embed-bench"))
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if not SEED_CSV.is_file():
        print(f"{SEED_CSV} not found: the benchmark recombines the seed's real captions", file=sys.stderr)
        return 2
    sentences, per_text = seed_sentences(SEED_CSV)
    lines = []
    for rows in (int(r) for r in args.rows.split(",")):
        folder = write_set(args.workdir / f"set-{rows}", rows, sentences, per_text)
        step = ["embed", "--artifacts", str(folder), "--embedder", args.embedder] + (["--device", args.device] if args.device else [])
        env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
        result = subprocess.run([sys.executable, "-m", "benchmarks.embed", "--child", *step], cwd=REPO, env=env,
                                capture_output=True, text=True)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        if figures["code"] != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            return 1
        from imagesearch.store.records import read_records

        chars = sum(len(r.description) for r in read_records(folder / "description.csv")) / rows
        lines.append(f"| {rows:,} | {chars:.0f} | {figures['seconds']:.0f} | {rows / figures['seconds']:.1f} "
                     f"| {figures['peak_rss_mb']:.0f} |")
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {device}; embedder {args.embedder}")
    print("| rows | chars per description | embed step (s) | descriptions/s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
