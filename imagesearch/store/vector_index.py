"""FAISS indexes over L2-normalised vectors (inner product = cosine).

- ``flat`` is exact: the default, and what ``auto`` picks up to
  ``AUTO_FLAT_MAX`` vectors.
- ``ivf`` is approximate. Unless nprobe is given, it is tuned at build time
  until recall@5 against exact search reaches the target on two kinds of
  queries: stored vectors (their own id excluded) and, when given, encoded
  query-like texts. Stored vectors sit inside their own cluster and flatter
  IVF; short text queries fall between clusters (at 100,000 rows nprobe 64
  gave 0.988 for one and 0.908 for the other), so the stricter of the two
  decides, and both are returned for the manifest. ``--index ivf
  --nlist 3 --nprobe 1`` reproduces the seed's index for comparison.

Reading an index file is guarded: the header is parsed and checked against
the manifest *before* FAISS sees the file, and the loaded index is checked
for type, metric, dimension and count after.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.errors import ArtifactError, first_line
from imagesearch.store.fileio import atomic_write_with

log = logging.getLogger(__name__)

AUTO_FLAT_MAX = 250_000
RECALL_TARGET = 0.99
RECALL_K = 5
KINDS = ("auto", "flat", "ivf")

# fourcc -> (kind, faiss metric) for the index types this project writes.
_FOURCC = {b"IxFI": ("flat", faiss.METRIC_INNER_PRODUCT), b"IwFl": ("ivf", None)}
_HEADER = struct.Struct("<4siqqq?i")  # fourcc, d, ntotal, dummy, dummy, is_trained, metric


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


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute-force top-k ids by inner product, in numpy (the ground truth)."""
    scores = queries @ vectors.T
    k = min(k, vectors.shape[0])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, order, axis=1)


def held_out_recall(index: Any, vectors: np.ndarray, query_ids: np.ndarray, k: int = RECALL_K) -> float:
    """Recall@k of ``index`` against exact search, each query row's own id excluded."""
    queries = vectors[query_ids]
    k = min(k, vectors.shape[0] - 1)
    if k <= 0:
        return 1.0
    truth = exact_topk(vectors, queries, k + 1)
    _, got = index.search(queries, k + 1)
    hits = 0
    for qid, t_row, g_row in zip(query_ids, truth, got):
        t = [i for i in t_row if i != qid][:k]
        g = [i for i in g_row if i != qid and i >= 0][:k]
        hits += len(set(t) & set(g))
    return hits / (k * len(query_ids))


def text_recall(index: Any, vectors: np.ndarray, queries: np.ndarray, k: int = RECALL_K) -> float:
    """Recall@k of ``index`` against exact search for query vectors that are not rows of the index."""
    k = min(k, vectors.shape[0])
    truth = exact_topk(vectors, queries, k)
    _, got = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    hits = sum(len(set(t) & set(g[g >= 0])) for t, g in zip(truth, got))
    return hits / (k * len(queries))


def resolve_kind(kind: str, n: int) -> str:
    """``auto`` -> flat (exact) up to AUTO_FLAT_MAX vectors, ivf above."""
    if kind == "auto":
        return "flat" if n <= AUTO_FLAT_MAX else "ivf"
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose from {', '.join(KINDS)}")
    return kind


def measure_recall(index: Any, vectors: np.ndarray, query_ids: np.ndarray,
                   text_queries: np.ndarray | None) -> dict[str, float]:
    """recall@5 for stored-vector queries and (when given) text queries; ``strict`` is the lower."""
    found = {"stored": held_out_recall(index, vectors, query_ids)}
    if text_queries is not None and len(text_queries):
        found["text"] = text_recall(index, vectors, text_queries)
    found["strict"] = min(found.values())
    return found


def build_index(vectors: np.ndarray, spec: IndexSpec, seed: int = 0,
                text_queries: np.ndarray | None = None) -> BuiltIndex:
    """Build the index; for IVF, ``text_queries`` (encoded query-like texts) join the nprobe tuning."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    kind = resolve_kind(spec.kind, n)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(vectors)
        return BuiltIndex(index, {"type": "flat", "metric": "inner_product", "params": {}, "exact": True,
                                  "recall_at_5": 1.0})
    nlist = spec.nlist or default_nlist(n)
    if nlist < 1 or nlist > n:
        raise ValueError(f"--nlist {nlist} must be between 1 and the number of vectors ({n})")
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(vectors)
    index.add(vectors)
    index.own_fields = True
    quantizer.this.disown()
    rng = np.random.default_rng(seed)
    query_ids = rng.choice(n, size=min(n, 1000), replace=False)
    if spec.nprobe is not None:
        if not 1 <= spec.nprobe <= nlist:
            raise ValueError(f"--nprobe {spec.nprobe} must be between 1 and nlist ({nlist})")
        index.nprobe = spec.nprobe
        recall = measure_recall(index, vectors, query_ids, text_queries)
        tuned = False
    else:
        nprobe = 1
        while True:
            index.nprobe = nprobe
            recall = measure_recall(index, vectors, query_ids, text_queries)
            log.info("ivf nlist=%d nprobe=%d recall@5 %s", nlist, nprobe,
                     ", ".join(f"{name} {value:.4f}" for name, value in recall.items()))
            if recall["strict"] >= RECALL_TARGET or nprobe >= nlist:
                break
            nprobe = min(nlist, nprobe * 2)
        tuned = True
    if recall["strict"] < RECALL_TARGET:
        log.warning("ivf index returns only %.1f%% of the exact top-5 (nlist=%d, nprobe=%d)",
                    100 * recall["strict"], nlist, index.nprobe)
    info = {
        "type": "ivf",
        "metric": "inner_product",
        "params": {"nlist": nlist, "nprobe": int(index.nprobe), "nprobe_tuned": tuned},
        "exact": False,
        "recall_at_5": round(recall["strict"], 4),  # the stricter of the measurements below
        "recall_at_5_stored": round(recall["stored"], 4),
        "recall_queries": int(len(query_ids)),
    }
    if "text" in recall:
        info["recall_at_5_text"] = round(recall["text"], 4)
        info["recall_text_queries"] = int(len(text_queries))
    return BuiltIndex(index, info)


def write_index(path: Path, index: Any) -> None:
    atomic_write_with(Path(path), lambda tmp: faiss.write_index(index, str(tmp)))


def _check_header(path: Path, kind: str, dimension: int, count: int) -> None:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(_HEADER.size)
    if len(raw) < _HEADER.size:
        raise ArtifactError(f"{path.name}: truncated FAISS file ({size} bytes); rebuild it with `python -m build index`")
    fourcc, d, ntotal, _, _, _, metric = _HEADER.unpack(raw)
    if fourcc not in _FOURCC:
        raise ArtifactError(f"{path.name}: not a flat or IVF-flat FAISS index (magic {fourcc!r}); rebuild it with `python -m build index`")
    file_kind, file_metric = _FOURCC[fourcc]
    if file_kind != kind:
        raise ArtifactError(f"{path.name}: holds a {file_kind} index but the manifest says {kind}; rebuild it with `python -m build index`")
    if metric != faiss.METRIC_INNER_PRODUCT:
        raise ArtifactError(f"{path.name}: metric {metric} is not inner product; rebuild it with `python -m build index`")
    if d != dimension or ntotal != count:
        raise ArtifactError(
            f"{path.name}: header says {ntotal} vectors of dimension {d}, the manifest says {count} x {dimension}; "
            "rebuild it with `python -m build index`"
        )
    payload = _HEADER.size + 8 + count * dimension * 4
    if file_kind == "flat" and size != payload:
        raise ArtifactError(f"{path.name}: {size} bytes, expected {payload} for {count} x {dimension}; rebuild it with `python -m build index`")
    if file_kind == "ivf" and size < payload:
        raise ArtifactError(f"{path.name}: {size} bytes is too small for {count} x {dimension}; rebuild it with `python -m build index`")


def read_index(path: Path, kind: str, dimension: int, count: int) -> Any:
    """Read an index this project wrote, refusing anything that does not fit the manifest."""
    path = Path(path)
    _check_header(path, kind, dimension, count)
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ArtifactError(f"{path.name}: FAISS cannot read it ({first_line(exc)}); rebuild it with `python -m build index`") from None
    expected = faiss.IndexFlatIP if kind == "flat" else faiss.IndexIVFFlat
    if not isinstance(index, expected) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ArtifactError(f"{path.name}: loaded {type(index).__name__}, expected {expected.__name__} with inner product")
    if index.d != dimension or index.ntotal != count:
        raise ArtifactError(f"{path.name}: {index.ntotal} x {index.d} vectors, the manifest says {count} x {dimension}")
    return index


def search_index(index: Any, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Search, optionally only among rows where ``allowed`` (a bool mask) is True.

    Returns FAISS's raw (scores, ids); callers drop the -1 padding.
    """
    params = None
    if allowed is not None:
        bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        if isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
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
    """Plain FAISS search (IVF): approximate, with its measured recall in the manifest."""

    def __init__(self, index: Any):
        self.index = index
        self.fallbacks = 0

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return search_index(self.index, np.asarray(query, dtype=np.float32).reshape(1, -1), k, allowed)


def make_searcher(index: Any) -> FlatSearcher | IndexSearcher:
    return FlatSearcher(index) if isinstance(index, faiss.IndexFlatIP) else IndexSearcher(index)
