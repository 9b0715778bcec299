"""Build the index a set is served from: exact (flat) at once, or IVF lists trained and tuned per kind, the
kind ``auto`` keeps chosen by measurement (index_choice.py). Above both modules, so neither imports the other."""

from __future__ import annotations

import faiss
import numpy as np

from .index_choice import choose
from .vector_index import (APPROXIMATE, PQ_CENTROIDS, BuiltIndex, IndexSpec, default_nlist, exact_truth, resolve_kind,
                           trained_lists)


def build_index(vectors: np.ndarray, spec: IndexSpec, seed: int = 0,
                text_queries: np.ndarray | None = None) -> BuiltIndex:
    """Build the index; for the approximate kinds, ``text_queries`` (encoded query-like texts) join the nprobe
    tuning, and ``auto`` keeps the fastest kind that reaches the target (index_choice.py)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    kind = resolve_kind(spec.kind, n)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(vectors)
        return BuiltIndex(index, {"type": "flat", "metric": "inner_product", "params": {}, "exact": True,
                                  "recall_at_5": 1.0})
    if kind == "ivf-pq" and n < PQ_CENTROIDS:
        raise ValueError(f"--index ivf-pq needs at least {PQ_CENTROIDS} vectors to train its 4-bit codes (this set has "
                         f"{n}); use --index flat")
    nlist = spec.nlist or default_nlist(n)
    if nlist < 1 or nlist > n:
        raise ValueError(f"--nlist {nlist} must be between 1 and the number of vectors ({n})")
    if spec.nprobe is not None and not 1 <= spec.nprobe <= nlist:
        raise ValueError(f"--nprobe {spec.nprobe} must be between 1 and nlist ({nlist})")
    quantizer = trained_lists(vectors, nlist, seed)
    truth = exact_truth(vectors, text_queries, seed)
    kinds = APPROXIMATE if kind == "approximate" else (kind,)
    return choose(kinds, vectors, quantizer, truth, spec.nprobe, seed)
