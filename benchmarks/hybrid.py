"""What hybrid search costs over dense search at size, in-process, and what the lexical index weighs.

    python -m benchmarks.hybrid [--rows 100000] [--queries 300] [--workdir DIR]

The set: --rows descriptions recombined from the seed's real caption sentences (as benchmarks.embed),
a label on every third row drawn from 150 names, vectors composed from MiniLM sentence vectors (as
benchmarks.ivf_recall: the timing does not depend on how the vectors were made), written through the
project's own writers (flat index, lexical.npz). Queries: short phrases drawn from the descriptions and
"a photo of a {label}", encoded once up front, so the figures are search alone: the same engine call in
mode dense and mode hybrid, alternating, one FAISS thread, medians and percentiles of many runs.
Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from benchmarks.embed import SEED_CSV, seed_sentences

log = logging.getLogger("benchmarks.hybrid")
LABELS = [f"{a}{b}" for a in ("pika", "bulba", "chari", "squir", "jiggly", "meow", "psy", "geo", "poni", "slow",
                              "magne", "dodu", "seel", "grim", "shell")
          for b in ("chu", "saur", "zard", "tle", "puff", "th", "duck", "dude", "ta", "bro")]


def build(folder: Path, rows: int) -> Path:
    from PIL import Image

    from benchmarks.ivf_recall import compose
    from imagesearch.models.encoder import MINILM, TextEncoder
    from imagesearch.store import manifest as mf
    from imagesearch.store.records import Record
    from testkit.vector_set import write_vector_set

    if (folder / mf.MANIFEST).exists() and mf.read_manifest(folder)["count"] == rows:
        return folder
    sentences, per_text = seed_sentences(SEED_CSV)
    encoder = TextEncoder.load(MINILM)
    sentence_vectors = encoder.encode(sentences, batch_size=64)
    weights = np.array([len(encoder.model.tokenizer(s)["input_ids"]) for s in sentences], dtype=np.float32)
    rng = np.random.default_rng(rows)
    picks = np.stack([rng.choice(len(sentences), per_text, replace=False) for _ in range(rows)])
    vectors = compose(sentence_vectors, weights, picks)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (120, 30, 60)).save(folder / "images" / "0.jpg")
    records = [Record(i, f"set-{i % 6}", str(i), LABELS[(i // 3) % len(LABELS)] if i % 3 == 0 else "", "images/0.jpg",
                      " ".join(sentences[j] for j in picks[i])) for i in range(rows)]
    started = time.perf_counter()
    write_vector_set(folder, records, vectors, encoder.model_id, encoder.probe(), {"model": "benchmark"})
    log.info("set written in %.0f s", time.perf_counter() - started)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hybrid", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imagesearch-hybrid-bench"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if not SEED_CSV.is_file():
        print(f"{SEED_CSV} not found: the benchmark recombines the seed's real captions", file=sys.stderr)
        return 2
    import faiss

    from build.indexing.query_texts import query_like_texts
    from imagesearch.models.encoder import MINILM, TextEncoder
    from imagesearch.serve.search import SearchEngine
    from imagesearch.store import manifest as mf
    from imagesearch.store.artifacts import load_artifact_set
    from imagesearch.store.lexical import build_lexical, lexical_documents, read_lexical
    from imagesearch.store.records import read_records

    folder = build(args.workdir / f"set-{args.rows}", args.rows)
    records = read_records(folder / mf.DESCRIPTIONS)
    started = time.perf_counter()
    build_lexical(lexical_documents(records))
    build_seconds = time.perf_counter() - started
    tracemalloc.start()
    lexical = read_lexical(folder / mf.LEXICAL, len(records))
    lexical_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del lexical
    artifacts = load_artifact_set(folder)
    faiss.omp_set_num_threads(1)
    texts = query_like_texts(records, args.queries, seed=7)
    encoder = TextEncoder.load(MINILM)
    by_text = dict(zip(texts, encoder.encode(texts, batch_size=64)))
    engine = SearchEngine(artifacts, by_text.__getitem__)
    for text in texts[:20]:  # warm up both paths
        engine.search(text, 5, mode="dense"), engine.search(text, 5)
    dense_ms, hybrid_ms, extra_ms = [], [], []
    for text in texts:
        started = time.perf_counter()
        engine.search(text, 5, mode="dense")
        dense = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        engine.search(text, 5)
        hybrid = (time.perf_counter() - started) * 1000
        dense_ms.append(dense), hybrid_ms.append(hybrid), extra_ms.append(hybrid - dense)

    def p(values, q):
        return float(np.percentile(values, q))

    size = (folder / mf.LEXICAL).stat().st_size
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, faiss {faiss.__version__} (1 thread); {args.rows:,} rows "
          f"(flat index), {len(artifacts.labels)} labels, {len(texts)} query-like texts ({sum(t.startswith('a photo of') for t in texts)} "
          f"label queries), k=5, lexical weight {engine.lexical_weight}")
    print("| search | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(f"| dense | {p(dense_ms, 50):.2f} | {p(dense_ms, 95):.2f} |")
    print(f"| hybrid | {p(hybrid_ms, 50):.2f} | {p(hybrid_ms, 95):.2f} |")
    print(f"| hybrid minus dense, per query | {p(extra_ms, 50):.2f} | {p(extra_ms, 95):.2f} |")
    print(f"\nLexical index: lexical.npz {size / 2**20:.1f} MB on disk, {artifacts.lexical.nbytes / 2**20:.1f} MB of score "
          f"arrays, {lexical_peak / 2**20:.1f} MB peak while loading (arrays + vocabulary, tracemalloc); "
          f"built in {build_seconds:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
