"""Measure a set's match bands (imagesearch/serve/bands.py): cuts on the cosine, from its own texts and rows.

Exact over every row, in chunks of rows so memory stays flat whatever the set's size: per query length, the best
cosine of each random query about nothing in the set (build/indexing/null_queries.py; the cuts a search's results are
banded on); the best cosine of each query-like text (kept as the set's single pair of cuts, which a reader
without the cuts per length falls back to); and the best cosine from each of up to SIMILAR_SAMPLE rows drawn from
the set to another row (cuts for "more like this").
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np

from imagesearch.serve.bands import MIN_BAND_QUERIES, STRONG_MARGIN

log = logging.getLogger(__name__)
ROW_CHUNK, SIMILAR_SAMPLE = 65536, 500


def _cuts(best: np.ndarray) -> dict[str, float]:
    return {"strong": round(float(np.percentile(best, 50)), 4), "weak": round(float(np.percentile(best, 10)), 4)}


def best_cosines(vectors: np.ndarray, queries: np.ndarray, leave_out: list[int] | None = None) -> np.ndarray:
    """Each query's best cosine over every row; query i never matches row ``leave_out[i]``."""
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), ROW_CHUNK):
        cosine = queries @ vectors[start:start + ROW_CHUNK].T
        for i, row in enumerate(leave_out or ()):
            if start <= row < start + ROW_CHUNK:
                cosine[i, row - start] = -np.inf
        best = np.maximum(best, cosine.max(axis=1))
    return best


def length_cuts(best: np.ndarray) -> dict[str, float]:
    """One length's cuts from the best cosines of its queries about nothing: weak below their 95th percentile,
    strong from their 99th plus STRONG_MARGIN."""
    return {"weak": round(float(np.percentile(best, 95)), 4),
            "strong": round(float(np.percentile(best, 99)) + STRONG_MARGIN, 4)}


def measure_bands(vectors: np.ndarray, queries: np.ndarray | None,
                  null: dict[int, np.ndarray] | None = None, seed: int = 0) -> dict[str, Any] | None:
    """The manifest's ``score_bands``: cuts per query length from ``null`` (the vectors of random queries about
    nothing in the set, by length), the single pair from ``queries`` (query-like texts, when at least
    MIN_BAND_QUERIES), and "more like this" cuts; None when neither could be measured."""
    vectors = np.asarray(vectors, dtype=np.float32)
    bands: dict[str, Any] = {}
    if null:
        bands["by_length"] = {str(length): length_cuts(best_cosines(vectors, np.asarray(texts, dtype=np.float32)))
                              for length, texts in sorted(null.items())}
        bands["null_queries"] = sum(len(texts) for texts in null.values())
        bands["basis"] = ("per query length: the best cosine of random queries of that many everyday words the set "
                          f"never uses; weak below their 95th percentile, strong from their 99th + {STRONG_MARGIN}")
    if queries is not None and len(queries) >= MIN_BAND_QUERIES:
        bands.update(_cuts(best_cosines(vectors, np.asarray(queries, dtype=np.float32))), queries=len(queries))
        bands.setdefault("basis", f"best cosine of {len(queries)} query-like texts drawn from the set: median and "
                                  "10th percentile")
    elif not null:
        log.warning("no match bands for this set: only %d query-like texts could be drawn from it (at least %d "
                    "are needed to measure them)", 0 if queries is None else len(queries), MIN_BAND_QUERIES)
        return None
    if len(vectors) > MIN_BAND_QUERIES:
        rows = sorted(random.Random(seed).sample(range(len(vectors)), min(SIMILAR_SAMPLE, len(vectors))))
        bands["similar"] = {**_cuts(best_cosines(vectors, vectors[rows], rows)), "rows": len(rows)}
    return bands
