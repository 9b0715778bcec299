"""Vector search at N rows as the app runs it, beside the approximate indexes that could replace it.

    python -m benchmarks.ann --rows 200000 [--texts 500] [--candidates ivf-flat,ivf-sq8-refine,hnsw32] [--json]

The vectors are composed from the seed's real captions (benchmarks.ivf_recall.compose: encoding a million
descriptions takes hours here); the queries are real MiniLM encodings of query-like texts drawn from those
descriptions, as the index step draws them. For the index the ``index`` step builds at N rows (``--index
auto``: certified-exact flat up to 250,000; above, IVF lists of float32 vectors, of 8-bit codes and of 4-bit
fast-scan product codes, the last two re-scored from a float16 copy, each tuned to recall@5 >= 0.99, the fastest
kept) it reports recall@5 on the texts against exact search, the time per query through the app's own searcher
on one thread (p50, p95), build and tuning time, and the process's peak RSS; a plain FAISS flat scan is timed in
the same run.

Each further candidate (for comparison; the app does not build these) is tuned the same way, its search parameter
doubled until recall@5 on the texts reaches 0.99, then timed on one thread and on two:
- ``ivf-flat``: today's IVF lists with float32 vectors (what the index step picks above 250,000 rows);
- ``ivf-sq8-refine``: the same lists holding 8-bit codes, the top 4k re-scored with the float32 vectors;
- ``hnsw32``: an HNSW graph, 32 links a node, efSearch tuned.
Markdown on stdout, progress on stderr; with ``--json`` the last stdout line is one object for the index the
index step picks: rows, index, recall_at_5_text, p50_ms, p95_ms, flat_p50_ms, build_s, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import time
from typing import Any, Callable

import numpy as np

from build.indexing.vector_index import exact_topk, recall_of

log = logging.getLogger("benchmarks.ann")
CANDIDATES = ("ivf-flat", "ivf-sq8-refine", "hnsw32")
TARGET, K = 0.99, 5


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latencies_ms(search: Callable[[np.ndarray], Any], queries: np.ndarray) -> tuple[float, float]:
    """p50 and p95 of one query at a time, after one warm-up query."""
    search(queries[:1])
    times = []
    for row in queries:
        started = time.perf_counter()
        search(row.reshape(1, -1))
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _tuned(index: Any, set_param: Callable[[int], None], start: int, stop: int, queries: np.ndarray,
           truth: np.ndarray) -> tuple[int, float]:
    """The smallest power-of-two multiple of ``start`` (up to ``stop``) giving recall@5 >= TARGET on ``queries``."""
    value = start
    while True:
        set_param(value)
        recall = recall_of(index.search(queries, K)[1], truth)
        log.info("  %d: recall@5 %.4f", value, recall)
        if recall >= TARGET or value >= stop:
            return value, recall
        value = min(stop, value * 2)


def candidate(name: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Build and tune one candidate index; its recall and one- and two-thread latency."""
    import faiss

    from build.indexing.vector_index import default_nlist

    n, d = vectors.shape
    started = time.perf_counter()
    if name == "hnsw32":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(vectors)
        value, recall = _tuned(index, lambda v: setattr(index.hnsw, "efSearch", v), 16, 4096, queries, truth)
        params = {"M": 32, "efSearch": value}
    else:
        nlist = default_nlist(n)
        quantizer = faiss.IndexFlatIP(d)
        if name == "ivf-flat":
            ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            ivf = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        index = ivf if name == "ivf-flat" else faiss.IndexRefineFlat(ivf)
        if name != "ivf-flat":
            index.k_factor = 4
        index.add(vectors)
        value, recall = _tuned(index, lambda v: setattr(ivf, "nprobe", v), 1, nlist, queries, truth)
        params = {"nlist": nlist, "nprobe": value, **({"k_factor": 4} if name != "ivf-flat" else {})}
    build_s = time.perf_counter() - started
    row = {"index": name, "params": params, "recall_at_5_text": round(recall, 4), "build_s": round(build_s, 1)}
    if name != "hnsw32":
        faiss.extract_index_ivf(index).parallel_mode = 1  # a single query's lists shared among the threads
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        p50, p95 = latencies_ms(lambda q: index.search(q, K), queries)
        row[f"p50_ms_{threads}t"], row[f"p95_ms_{threads}t"] = round(p50, 3), round(p95, 3)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return row


def picked(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """What the index step builds at this size, timed through the app's own searcher on one thread."""
    import faiss

    from build.indexing.vector_index import IndexSpec
    from build.indexing.builder import build_index
    from imagesearch.store.searchers import make_searcher

    started = time.perf_counter()
    built = build_index(vectors, IndexSpec("auto"), text_queries=queries)
    build_s = time.perf_counter() - started
    if built.info["type"] == "ivf":
        built.index.make_direct_map()  # as the app loads it
    searcher = make_searcher(built.index)
    faiss.omp_set_num_threads(2)
    p50_2, p95_2 = latencies_ms(lambda q: searcher.search(q, K), queries)
    faiss.omp_set_num_threads(1)
    found = np.vstack([searcher.search(q.reshape(1, -1), K)[1] for q in queries])
    p50, p95 = latencies_ms(lambda q: searcher.search(q, K), queries)
    print(f"through the app's searcher with SEARCH_THREADS=2: p50 {p50_2:.3f} ms, p95 {p95_2:.3f} ms")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    flat_p50, _ = latencies_ms(lambda q: flat.search(q, K), queries[:200])
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    params = ", ".join(f"{k} {v}" for k, v in sorted(built.info["params"].items()) if k != "nprobe_tuned")
    for other in built.info.get("candidates", []):  # what the index step compared before it chose
        print(f"index step candidate {other['type']}: nprobe {other['nprobe']}, recall@5 {other['recall_at_5']}, "
              f"p50 {other['p50_ms']} ms, p95 {other['p95_ms']} ms (its own timing, one thread)")
    return {"rows": len(vectors), "index": built.info["type"] + (f" ({params})" if params else ""),
            "recall_at_5_text": round(recall_of(found, truth), 4), "p50_ms": round(p50, 3),
            "p95_ms": round(p95, 3), "flat_p50_ms": round(flat_p50, 3), "build_s": round(build_s, 1),
            "peak_rss_mb": round(peak_rss_mb())}


def composed_set(rows: int, texts: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` composed seed-caption vectors and ``texts`` encoded query-like texts drawn from them."""
    from benchmarks.embed import SEED_CSV, seed_sentences
    from benchmarks.ivf_recall import compose
    from build.indexing.query_texts import query_like_texts
    from imagesearch.models.encoder import MINILM, TextEncoder
    from imagesearch.store.records import Record

    sentences, per_text = seed_sentences(SEED_CSV)
    encoder = TextEncoder.load(MINILM)
    sentence_vectors = encoder.encode(sentences, batch_size=64)
    weights = np.array([len(encoder.model.tokenizer(s)["input_ids"]) for s in sentences], dtype=np.float32)
    rng = np.random.default_rng(rows)
    picks = rng.integers(0, len(sentences), size=(rows, per_text))
    sample = [Record(i, "seed-like", str(i), "", "images/0.jpg", " ".join(sentences[j] for j in picks[i]))
              for i in range(min(rows, 20000))]
    queries = encoder.encode(query_like_texts(sample, texts, seed=2), batch_size=64)
    return compose(sentence_vectors, weights, picks), np.ascontiguousarray(queries, dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ann", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--texts", type=int, default=500, help="query-like texts, the queries measured")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated, or empty for none")
    parser.add_argument("--json", action="store_true", help="end with the picked index's figures as one JSON line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    wanted = [c for c in args.candidates.split(",") if c]
    unknown = sorted(set(wanted) - set(CANDIDATES))
    if unknown:
        print(f"error: --candidates {unknown[0]!r}: choose from {', '.join(CANDIDATES)}", file=sys.stderr)
        return 2
    import faiss

    vectors, queries = composed_set(args.rows, args.texts)
    truth = exact_topk(vectors, queries, K)
    figures = picked(vectors, queries, truth)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, faiss {faiss.__version__}; {args.rows:,} composed "
          f"rows, {len(queries)} query-like texts (MiniLM); recall@5 against exact search")
    print(f"\nThe index step picks {figures['index']}: recall@5 {figures['recall_at_5_text']}, p50 {figures['p50_ms']} ms, "
          f"p95 {figures['p95_ms']} ms through the app's searcher on one thread (a plain flat scan: "
          f"{figures['flat_p50_ms']} ms), built and tuned in {figures['build_s']} s, peak RSS {figures['peak_rss_mb']} MB.")
    if wanted:
        print("\n| candidate | params | recall@5, texts | p50 / p95 ms, 1 thread | p50 / p95 ms, 2 threads | build + tune s |")
        print("|---|---|---|---|---|---|")
        for name in wanted:
            log.info("%s", name)
            row = candidate(name, vectors, queries, truth)
            params = ", ".join(f"{k} {v}" for k, v in row["params"].items())
            print(f"| {name} | {params} | {row['recall_at_5_text']:.3f} | {row['p50_ms_1t']:.2f} / {row['p95_ms_1t']:.2f} "
                  f"| {row['p50_ms_2t']:.2f} / {row['p95_ms_2t']:.2f} | {row['build_s']:.0f} |")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
