"""Searching a loaded FAISS index: certified-exact two-stage search over a flat index, plain FAISS
search over an IVF one, both optionally restricted to allowed rows (a bool mask).

A filter on an IVF index: a few allowed rows (up to SCAN_ROWS) are each scored, exactly; more are searched
through the lists with FAISS's selector, widening nprobe until min(k, allowed) rows are found (at nprobe = nlist
every list is visited). The first probe is the index's nprobe scaled by the share of rows the filter keeps, so a
filtered search looks at about as many allowed rows as an unfiltered one looks at rows."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np


SCAN_ROWS = 16_384  # a filter allowing at most this many rows of an IVF index scores each of them
SCAN_CHUNK = 4_096  # rows read back and scored at a time


def search_index(index: Any, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                 nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Search, optionally only among rows where ``allowed`` (a bool mask) is True (an IVF index probing
    ``nprobe`` lists, default its own).

    Returns FAISS's raw (scores, ids); callers drop the -1 padding.
    """
    params = None
    if allowed is not None:
        bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        if isinstance(index, faiss.IndexRefine):  # ivf-sq8, ivf-pq: the lists pick filtered candidates, the copy re-scores
            inner = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe or faiss.extract_index_ivf(index).nprobe)
            params = faiss.IndexRefineSearchParameters(k_factor=index.k_factor, base_index_params=inner)
            params._inner = inner
        elif isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe or index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
        # keep the bitmap and selector alive for the duration of the call
        params._keep = (bitmap, selector)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


# fp16 rounding moves an inner product of unit vectors by at most 2**-11
# (Cauchy-Schwarz on the per-component relative error), plus float32
# accumulation error; 2e-3 leaves a wide margin over both.
FP16_SCORE_BOUND = 2e-3
MIN_CANDIDATES = 64


class FlatSearcher:
    """Exact top-k over a flat index, at half the memory traffic per query.

    A float16 copy of the vectors picks candidates; they are re-scored with
    the float32 vectors (viewed in place inside the flat index, not copied).
    The result is certified exact: every row left out has an fp16 score no
    higher than the lowest candidate's, so its true score is at most that plus
    FP16_SCORE_BOUND; when the k-th re-scored candidate is not above that
    bound, the query falls back to a full float32 scan. ``fallbacks`` counts those.
    """

    def __init__(self, flat: Any):
        self.flat = flat
        n, d = flat.ntotal, flat.d
        self.vectors = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
        self.coarse = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        self.coarse.add(self.vectors)
        self.fallbacks = 0

    @property
    def ntotal(self) -> int:
        return self.flat.ntotal

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact (scores, ids) of one query row, padded with -inf / -1 like FAISS."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        pool = self.ntotal if allowed is None else int(allowed.sum())
        wanted = min(k, pool)
        scores = np.full((1, k), -np.inf, dtype=np.float32)
        ids = np.full((1, k), -1, dtype=np.int64)
        if wanted == 0:
            return scores, ids
        n_candidates = min(pool, max(4 * k, MIN_CANDIDATES))
        approx, candidates = search_index(self.coarse, query, n_candidates, allowed)
        keep = candidates[0] >= 0
        candidates, approx = candidates[0][keep], approx[0][keep]
        exact = self.vectors[candidates] @ query[0]
        order = np.argsort(-exact, kind="stable")[:wanted]
        complete = len(candidates) >= pool
        if not complete and exact[order[-1]] < approx.min() + FP16_SCORE_BOUND:
            self.fallbacks += 1
            return search_index(self.flat, query, k, allowed)
        scores[0, :wanted] = exact[order]
        ids[0, :wanted] = candidates[order]
        return scores, ids


class IndexSearcher:
    """Plain FAISS search (ivf, ivf-sq8, ivf-pq): approximate, with its measured recall in the manifest. Filtered: exact
    over a few allowed rows, else as many lists as it takes to find min(k, allowed) rows (``widened`` counts those)."""

    def __init__(self, index: Any):
        self.index = index
        self.lists = faiss.extract_index_ivf(index)  # the IVF part (the index itself, or the refine wrapper's base)
        # one query's probed lists are shared among FAISS's threads (SEARCH_THREADS); FAISS's default splits a batch
        # by query, which leaves a single query on one thread however many are allowed
        self.lists.parallel_mode = 1
        self.fallbacks = 0
        self.widened = 0

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is None:
            return search_index(self.index, query, k)
        rows = np.flatnonzero(allowed)
        if len(rows) <= SCAN_ROWS:
            return self.scan(query, k, rows)
        nlist = self.lists.nlist
        # as many lists as hold, on average, the allowed rows an unfiltered search would look at
        nprobe = min(nlist, -(-self.lists.nprobe * len(allowed) // len(rows)))
        while True:
            scores, ids = search_index(self.index, query, k, allowed, nprobe)
            if int((ids[0] >= 0).sum()) >= min(k, len(rows)) or nprobe >= nlist:
                return scores, ids
            nprobe = min(nlist, nprobe * 2)
            self.widened += 1

    def scan(self, query: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact top-k of ``rows`` (ivf-sq8, ivf-pq: scored on the float16 copy), their stored vectors read back a chunk
        at a time; padded like FAISS."""
        best_scores = np.empty(0, dtype=np.float32)
        best_rows = np.empty(0, dtype=np.int64)
        for start in range(0, len(rows), SCAN_CHUNK):
            chunk = rows[start:start + SCAN_CHUNK]
            scores = self.index.reconstruct_batch(chunk) @ query[0]
            best_scores = np.concatenate([best_scores, scores.astype(np.float32)])
            best_rows = np.concatenate([best_rows, chunk])
            if len(best_rows) > k:
                keep = np.lexsort((best_rows, -best_scores))[:k]
                best_scores, best_rows = best_scores[keep], best_rows[keep]
        order = np.lexsort((best_rows, -best_scores))[:k]
        scores = np.full((1, k), -np.inf, dtype=np.float32)
        ids = np.full((1, k), -1, dtype=np.int64)
        scores[0, :len(order)], ids[0, :len(order)] = best_scores[order], best_rows[order]
        return scores, ids


PAYS = 0.75  # a second thread is used where it brought the median to at most this share of one thread's


def threads_that_pay(index_info: dict[str, Any], cores: int) -> int:
    """FAISS threads per query by the index step's own measurement: 2 where the chosen approximate index's median
    with two threads was at most PAYS of its one-thread median and the machine has two cores; else 1."""
    one, two = index_info.get("latency_ms") or {}, index_info.get("latency_ms_2_threads") or {}
    if cores < 2 or not one.get("p50") or not two.get("p50"):
        return 1
    return 2 if two["p50"] <= PAYS * one["p50"] else 1


def make_searcher(index: Any) -> FlatSearcher | IndexSearcher:
    return FlatSearcher(index) if isinstance(index, faiss.IndexFlatIP) else IndexSearcher(index)
