"""Building and tuning FAISS indexes over L2-normalised vectors (inner product = cosine).

- ``flat`` is exact: the default, and what ``auto`` picks up to
  ``AUTO_FLAT_MAX`` vectors.
- ``ivf`` (IVF lists of float32 vectors), ``ivf-sq8`` (the same lists
  holding 8-bit codes, the best 4*k candidates re-scored with a float16
  copy of every vector: about 1.15 KB a 384-d row where ``ivf`` needs
  1.5 KB) and ``ivf-pq`` (the same lists holding 4-bit product-quantizer
  codes, two dimensions a code, scanned with FAISS's fast-scan SIMD
  kernels; the best 64*k re-scored with the float16 copy: 0.86 KB a row)
  are approximate. Unless nprobe is given, each is
  tuned at build time until recall@5 against exact search reaches the
  target on two kinds of queries: stored vectors (their own id excluded)
  and, when given, encoded query-like texts (doubled until it reaches it,
  then the last gap halved twice: at 1,000,000 rows 256 fell short and 512
  overshot). Stored vectors sit inside
  their own cluster and flatter IVF; short text queries fall between
  clusters (at 100,000 rows nprobe 64 gave 0.988 for one and 0.908 for the
  other), so the stricter of the two decides, and both are returned for the
  manifest. ``--index ivf --nlist 3 --nprobe 1`` reproduces the seed's index
  for comparison.
- Above ``AUTO_FLAT_MAX``, ``auto`` builds the three approximate kinds on one
  trained set of lists, tunes each, times each on one thread, and keeps the
  fastest that reaches the target (build/indexing/index_choice.py); the manifest
  records every candidate's figures.

Writing and guarded reading: imagesearch.store.index_file; searching: imagesearch.store.searchers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

log = logging.getLogger(__name__)

AUTO_FLAT_MAX = 250_000
RECALL_TARGET = 0.99
RECALL_K = 5
KINDS = ("auto", "flat", "ivf", "ivf-sq8", "ivf-pq")
APPROXIMATE = ("ivf", "ivf-sq8", "ivf-pq")
BISECTIONS = 2  # after doubling nprobe past the target, halve the gap this many times (each is one measurement)
# candidates re-scored with the float16 copy, per result asked for: 8-bit codes rank almost as float32 does; 4-bit
# product codes need 64 (at 200,000 rows 16 fell to 0.986 of exact where 64 matched the lists' own 0.993)
REFINE_K_FACTOR = {"ivf-sq8": 4, "ivf-pq": 64}
PQ_CENTROIDS = 16  # a 4-bit code's values, each a centroid the training needs a row for
PQ_TRAIN_ROWS = 200_000  # rows the product quantizer is trained on (a sample, drawn with the build's seed)


@dataclass(frozen=True)
class IndexSpec:
    kind: str = "auto"
    nlist: int | None = None
    nprobe: int | None = None


@dataclass(frozen=True)
class BuiltIndex:
    index: Any
    info: dict[str, Any] = field(default_factory=dict)


def default_nlist(n: int) -> int:
    """4*sqrt(N), capped so each centroid gets at least 39 training points."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


EXACT_CHUNK_SCORES = 1 << 25  # scores held at once by exact_topk (128 MB of float32)


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute-force top-k ids by inner product, in numpy (the ground truth), a block of queries at a time: at
    1,000,000 rows all 1,000 queries at once held a 4 GB score matrix and an 8 GB partition."""
    k = min(k, vectors.shape[0])
    step = max(1, EXACT_CHUNK_SCORES // max(1, vectors.shape[0]))
    found = []
    for start in range(0, len(queries), step):
        scores = queries[start:start + step] @ vectors.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        found.append(np.take_along_axis(part, order, axis=1))
    return np.concatenate(found) if found else np.empty((0, k), dtype=np.int64)


def held_out_recall(index: Any, vectors: np.ndarray, query_ids: np.ndarray, k: int = RECALL_K,
                    truth: np.ndarray | None = None) -> float:
    """Recall@k of ``index`` against exact search, each query row's own id excluded (``truth``: the exact
    top k+1 of the query rows, when already computed)."""
    queries = vectors[query_ids]
    k = min(k, vectors.shape[0] - 1)
    if k <= 0:
        return 1.0
    truth = exact_topk(vectors, queries, k + 1) if truth is None else truth
    _, got = index.search(queries, k + 1)
    hits = 0
    for qid, t_row, g_row in zip(query_ids, truth, got):
        t = [i for i in t_row if i != qid][:k]
        g = [i for i in g_row if i != qid and i >= 0][:k]
        hits += len(set(t) & set(g))
    return hits / (k * len(query_ids))


def recall_of(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true top-k ids (one row per query) that ``found`` holds (-1: nothing found)."""
    return sum(len(set(t) & set(g[g >= 0])) for t, g in zip(truth, found)) / truth.size


def text_recall(index: Any, vectors: np.ndarray, queries: np.ndarray, k: int = RECALL_K,
                truth: np.ndarray | None = None) -> float:
    """Recall@k of ``index`` against exact search for query vectors that are not rows of the index."""
    k = min(k, vectors.shape[0])
    truth = exact_topk(vectors, queries, k) if truth is None else truth
    _, got = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return recall_of(got, truth)


def resolve_kind(kind: str, n: int) -> str:
    """``auto`` -> flat (exact) up to AUTO_FLAT_MAX vectors, ``approximate`` above (the kinds build_index compares)."""
    if kind == "auto":
        return "flat" if n <= AUTO_FLAT_MAX else "approximate"
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose from {', '.join(KINDS)}")
    return kind


def is_exact(kind: str, n: int) -> bool:
    return resolve_kind(kind, n) == "flat"


@dataclass(frozen=True)
class Truth:
    """The exact answers the tuning compares with, computed once per build."""
    query_ids: np.ndarray
    stored: np.ndarray  # exact top 6 of each query row (its own id among them)
    text_queries: np.ndarray | None
    text: np.ndarray | None  # exact top 5 of each text query


def exact_truth(vectors: np.ndarray, text_queries: np.ndarray | None, seed: int = 0) -> Truth:
    n = len(vectors)
    query_ids = np.random.default_rng(seed).choice(n, size=min(n, 1000), replace=False)
    stored = exact_topk(vectors, vectors[query_ids], min(RECALL_K, n - 1) + 1) if n > 1 else np.empty((0, 1), np.int64)
    texts = None if text_queries is None or not len(text_queries) else np.ascontiguousarray(text_queries, np.float32)
    return Truth(query_ids, stored, texts, None if texts is None else exact_topk(vectors, texts, min(RECALL_K, n)))


def measure_recall(index: Any, vectors: np.ndarray, query_ids: np.ndarray,
                   text_queries: np.ndarray | None, truth: Truth | None = None) -> dict[str, float]:
    """recall@5 for stored-vector queries and (when given) text queries; ``strict`` is the lower."""
    found = {"stored": held_out_recall(index, vectors, query_ids, truth=None if truth is None else truth.stored)}
    if text_queries is not None and len(text_queries):
        found["text"] = text_recall(index, vectors, text_queries, truth=None if truth is None else truth.text)
    found["strict"] = min(found.values())
    return found


def ivf_of(index: Any) -> Any:
    """The IVF part of an approximate index (itself for ``ivf``; the base of the refine wrapper of the others)."""
    return faiss.extract_index_ivf(index)


# k-means samples at most this many rows per list (FAISS's default is 256): at 1,000,000 rows and 4,000 lists a
# quarter of the k-means time, for recall@5 on the texts within 0.003 of the full sample's at nprobe 256, 384, 512
LIST_TRAINING_POINTS = 64


def trained_lists(vectors: np.ndarray, nlist: int, seed: int) -> Any:
    """The coarse quantizer (nlist centroids by k-means on a sample), trained once and shared by every candidate."""
    d = vectors.shape[1]
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = seed
    ivf.cp.max_points_per_centroid = LIST_TRAINING_POINTS
    ivf.train(vectors)
    return faiss.clone_index(ivf.quantizer)


def pq_subquantizers(d: int) -> int:
    """ivf-pq: one 4-bit code per two dimensions (per dimension where d is odd)."""
    return d // 2 if d % 2 == 0 else d


def approximate_index(kind: str, vectors: np.ndarray, quantizer: Any, seed: int = 0) -> Any:
    """``kind`` over the trained lists of ``quantizer`` (a copy of it), holding every vector."""
    d, nlist = vectors.shape[1], quantizer.ntotal
    lists = faiss.clone_index(quantizer)
    if kind == "ivf":
        index = faiss.IndexIVFFlat(lists, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        lists.this.disown()
        index.add(vectors)
        return index
    if kind == "ivf-sq8":
        base = faiss.IndexIVFScalarQuantizer(lists, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        base.train(vectors)  # the lists are trained already: this fits the 8-bit ranges only
    else:
        base = faiss.IndexIVFPQFastScan(lists, d, nlist, pq_subquantizers(d), 4, faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if len(vectors) > PQ_TRAIN_ROWS:
            sample = vectors[np.sort(np.random.default_rng(seed).choice(len(vectors), PQ_TRAIN_ROWS, replace=False))]
        base.train(sample)  # the lists are trained already: this fits the product quantizer only
    base.own_fields = True
    lists.this.disown()
    refine = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    index = faiss.IndexRefine(base, refine)
    index.k_factor = REFINE_K_FACTOR[kind]
    index.own_fields = True
    base.this.disown()
    refine.this.disown()
    index.add(vectors)
    return index


def tune(kind: str, index: Any, vectors: np.ndarray, truth: Truth, nprobe: int | None) -> dict[str, Any]:
    """Set nprobe (given, or doubled from 1 until recall@5 reaches the target) and return the measured figures."""
    ivf = ivf_of(index)
    if nprobe is not None:
        if not 1 <= nprobe <= ivf.nlist:
            raise ValueError(f"--nprobe {nprobe} must be between 1 and nlist ({ivf.nlist})")
        ivf.nprobe = nprobe
        recall = measure_recall(index, vectors, truth.query_ids, truth.text_queries, truth)
    else:
        def measured(value: int) -> dict[str, float]:
            ivf.nprobe = value
            found = measure_recall(index, vectors, truth.query_ids, truth.text_queries, truth)
            log.info("%s nlist=%d nprobe=%d recall@5 %s", kind, ivf.nlist, value,
                     ", ".join(f"{name} {v:.4f}" for name, v in found.items()))
            return found

        low, high = 0, 1  # nprobe below the target (0: none tried), and the one tried last
        recall = measured(high)
        while recall["strict"] < RECALL_TARGET and high < ivf.nlist:
            low, high = high, min(ivf.nlist, high * 2)
            recall = measured(high)
        for _ in range(BISECTIONS if recall["strict"] >= RECALL_TARGET else 0):  # doubling overshoots: narrow it
            middle = (low + high) // 2
            if middle <= low:
                break
            tried = measured(middle)
            if tried["strict"] >= RECALL_TARGET:
                high, recall = middle, tried
            else:
                low = middle
        ivf.nprobe = high
    params = {"nlist": int(ivf.nlist), "nprobe": int(ivf.nprobe), "nprobe_tuned": nprobe is None}
    if kind == "ivf-sq8":
        params.update(k_factor=REFINE_K_FACTOR[kind], codes="sq8", refine="fp16")
    elif kind == "ivf-pq":
        params.update(k_factor=REFINE_K_FACTOR[kind], codes=f"pq{faiss.downcast_index(ivf).pq.M}x4 fast-scan", refine="fp16")
    info = {"type": kind, "metric": "inner_product", "params": params, "exact": False,
            "recall_at_5": round(recall["strict"], 4),  # the stricter of the measurements below
            "recall_at_5_stored": round(recall["stored"], 4), "recall_queries": int(len(truth.query_ids))}
    if "text" in recall:
        info["recall_at_5_text"] = round(recall["text"], 4)
        info["recall_text_queries"] = int(len(truth.text_queries))
    if recall["strict"] < RECALL_TARGET:
        log.warning("%s index returns only %.1f%% of the exact top-5 (nlist=%d, nprobe=%d)", kind,
                    100 * recall["strict"], ivf.nlist, ivf.nprobe)
    return info
