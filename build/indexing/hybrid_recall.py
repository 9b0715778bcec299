"""How close hybrid search on an approximate (IVF) index comes to exact hybrid search, on query-like texts.

Hybrid search is certified exact only where dense search is: on a flat index, the bound that proves the top k
uses the true k-th cosine. On an IVF index the dense candidates come from the probed lists, so a row the
probes miss can also be missed by hybrid search. This measures it with the app's own SearchEngine on the set
as the app loads it, against brute force over every row: (1 - w) * cosine + w * coverage, top 5, ties by row.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import ArtifactSet

RECALL_K = 5
_SYNTAX = re.compile(r'"|(?<!\S)-')  # quote marks and leading minus: drawn texts are searched as plain words


def plain(text: str) -> str:
    return " ".join(_SYNTAX.sub(" ", text).split())


def hybrid_recall(artifacts: ArtifactSet, vectors: np.ndarray, texts: Sequence[str], queries: np.ndarray,
                  weight: float, k: int = RECALL_K) -> float:
    """recall@k of the app's hybrid search on ``artifacts`` against exact hybrid over every row of ``vectors``."""
    texts = [plain(t) for t in texts]
    keep = [i for i, t in enumerate(texts) if t]
    by_text = {texts[i]: queries[i] for i in keep}
    engine = SearchEngine(artifacts, by_text.__getitem__, lexical_weight=weight)
    ids = np.array([r.id for r in artifacts.records])
    found = 0
    for i in keep:
        fused = (1 - weight) * (vectors @ queries[i]) + weight * artifacts.lexical.coverage(texts[i])
        exact = set(ids[np.lexsort((np.arange(len(fused)), -fused))[:k]].tolist())
        found += len(exact & {r.id for r in engine.search(texts[i], k, mode="hybrid")})
    return found / (k * len(keep)) if keep else 1.0
