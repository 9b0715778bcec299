"""Measure a set's match bands (imagesearch/serve/bands.py): cuts on the cosine, from its own texts and rows.

Exact over every row, in chunks of rows so memory stays flat whatever the set's size: the best cosine of
each query-like text (cuts for a search's results), and the best cosine from each of up to SIMILAR_SAMPLE
rows drawn from the set to another row (cuts for "more like this").
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np

from imagesearch.serve.bands import MIN_BAND_QUERIES

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


def measure_bands(vectors: np.ndarray, queries: np.ndarray, seed: int = 0) -> dict[str, Any] | None:
    """The manifest's ``score_bands``, or None when fewer than MIN_BAND_QUERIES query-like texts were drawn."""
    if len(queries) < MIN_BAND_QUERIES:
        log.warning("no match bands for this set: only %d query-like texts could be drawn from it (at least %d "
                    "are needed to measure them)", len(queries), MIN_BAND_QUERIES)
        return None
    vectors, queries = np.asarray(vectors, dtype=np.float32), np.asarray(queries, dtype=np.float32)
    bands: dict[str, Any] = {
        **_cuts(best_cosines(vectors, queries)), "queries": len(queries),
        "basis": f"best cosine of {len(queries)} query-like texts drawn from the set: median and 10th percentile"}
    if len(vectors) > MIN_BAND_QUERIES:
        rows = sorted(random.Random(seed).sample(range(len(vectors)), min(SIMILAR_SAMPLE, len(vectors))))
        bands["similar"] = {**_cuts(best_cosines(vectors, vectors[rows], rows)), "rows": len(rows)}
    return bands
