"""Which approximate index a set gets: each candidate built on the same trained lists, tuned to the recall target,
timed on one thread on the set's own query-like texts, and the fastest that reaches the target kept.

"Fastest" is the median time of one query at a time (after a warm-up), the way the app searches; p95 is
recorded beside it. The manifest keeps the chosen index's figures and every candidate's, so the choice can be
checked later (``index.candidates``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import faiss
import numpy as np

from build.indexing.vector_index import RECALL_K, RECALL_TARGET, BuiltIndex, Truth, approximate_index, tune

log = logging.getLogger(__name__)

TIMED_QUERIES = 300


def latency_ms(index: Any, queries: np.ndarray, threads: int = 1) -> tuple[float, float]:
    """p50 and p95 milliseconds of one query at a time on ``threads`` threads (one query's lists shared among them,
    as the app's searcher does), after a warm-up."""
    lists = faiss.extract_index_ivf(index)
    before, mode = faiss.omp_get_max_threads(), lists.parallel_mode
    faiss.omp_set_num_threads(threads)
    lists.parallel_mode = 1
    try:
        index.search(queries[:1], RECALL_K)
        times = []
        for row in queries[:TIMED_QUERIES]:
            started = time.perf_counter()
            index.search(row.reshape(1, -1), RECALL_K)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        faiss.omp_set_num_threads(before)
        lists.parallel_mode = mode
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _better(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Does candidate ``a`` beat ``b``: reaching the target first, then the faster median, then the higher recall."""
    reach_a, reach_b = a["recall_at_5"] >= RECALL_TARGET, b["recall_at_5"] >= RECALL_TARGET
    if reach_a != reach_b:
        return reach_a
    if not reach_a:
        return a["recall_at_5"] > b["recall_at_5"]
    return a["latency_ms"]["p50"] < b["latency_ms"]["p50"]


def choose(kinds: Sequence[str], vectors: np.ndarray, quantizer: Any, truth: Truth, nprobe: int | None,
           seed: int = 0) -> BuiltIndex:
    """Build, tune and time each of ``kinds``; return the best with every candidate's figures in its info."""
    timed = truth.text_queries if truth.text_queries is not None else vectors[truth.query_ids]
    best: BuiltIndex | None = None
    figures = []
    for kind in kinds:
        started = time.perf_counter()
        index = approximate_index(kind, vectors, quantizer, seed)
        info = tune(kind, index, vectors, truth, nprobe)
        p50, p95 = latency_ms(index, timed)
        info["latency_ms"] = {"p50": round(p50, 3), "p95": round(p95, 3), "threads": 1,
                              "queries": "query-like texts" if truth.text_queries is not None else "stored vectors"}
        info["build_s"] = round(time.perf_counter() - started, 1)
        log.info("%s: recall@5 %.4f at nprobe %d, p50 %.2f ms, p95 %.2f ms on one thread", kind, info["recall_at_5"],
                 info["params"]["nprobe"], p50, p95)
        figures.append({"type": kind, "nprobe": info["params"]["nprobe"], "recall_at_5": info["recall_at_5"],
                        "p50_ms": info["latency_ms"]["p50"], "p95_ms": info["latency_ms"]["p95"]})
        if best is None or _better(info, best.info):
            best = BuiltIndex(index, info)
        else:
            del index
    assert best is not None
    p50, p95 = latency_ms(best.index, timed, threads=2)  # does a second thread pay (SEARCH_THREADS=2)?
    best.info["latency_ms_2_threads"] = {"p50": round(p50, 3), "p95": round(p95, 3)}
    if len(figures) > 1:
        best.info["candidates"] = figures
        log.info("index: %s kept (the fastest reaching recall@5 %.2f on one thread)", best.info["type"], RECALL_TARGET)
    return best
