"""The search function: query text in, ranked and explained results out.

Both the Gradio UI and the ``/search`` API call :meth:`SearchEngine.search`,
so inputs are validated here, on the server, whatever the caller skipped.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .artifacts import ArtifactSet
from .errors import QueryError

MAX_QUERY_CHARS = 512
MIN_K, MAX_K, DEFAULT_K = 1, 20, 5

Encode = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class SearchResult:
    rank: int
    id: int
    score: float
    dataset: str
    source: str
    label: str
    description: str
    image: str  # absolute path of the image file inside the artifact folder

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_query(query: Any, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Strip control characters and outer space; cap the length; refuse empty."""
    if not isinstance(query, str):
        raise QueryError(f"The query must be text, got {type(query).__name__}.")
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in query[: max_chars * 4])
    text = " ".join(kept.split())[:max_chars].strip()
    if not text:
        raise QueryError("Type a few words describing the image you are looking for.")
    return text


def clamp_k(k: Any) -> int:
    """Coerce k to an int in [MIN_K, MAX_K]; refuse what is not a number."""
    if k is None:
        return DEFAULT_K
    if isinstance(k, bool):
        raise QueryError(f"k must be a number of results between {MIN_K} and {MAX_K}.")
    if isinstance(k, str):
        try:
            k = float(k.strip())
        except ValueError:
            raise QueryError(f"k must be a number of results between {MIN_K} and {MAX_K}, got {k[:20]!r}.") from None
    if not isinstance(k, (int, float)) or (isinstance(k, float) and not math.isfinite(k)):
        raise QueryError(f"k must be a number of results between {MIN_K} and {MAX_K}.")
    return int(min(MAX_K, max(MIN_K, int(k))))


class SearchEngine:
    def __init__(self, artifacts: ArtifactSet, encode: Encode, max_query_chars: int = MAX_QUERY_CHARS):
        self.artifacts = artifacts
        self.encode = encode
        self.max_query_chars = max_query_chars

    @property
    def datasets(self) -> tuple[str, ...]:
        return self.artifacts.datasets

    def _allowed_rows(self, datasets: Iterable[str] | None) -> np.ndarray | None:
        if datasets is None or isinstance(datasets, str) and not datasets.strip():
            return None
        if isinstance(datasets, str):
            datasets = [datasets]
        wanted = list(datasets)
        if not wanted:
            return None
        if not all(isinstance(name, str) for name in wanted):
            raise QueryError("datasets must be a list of dataset names.")
        unknown = sorted(set(wanted) - set(self.datasets))
        if unknown:
            raise QueryError(f"Unknown dataset {unknown[0][:60]!r}; choose from: {', '.join(self.datasets)}.")
        codes = [self.datasets.index(name) for name in set(wanted)]
        if len(codes) == len(self.datasets):
            return None
        return np.isin(self.artifacts.dataset_of_row, codes)

    def search(self, query: Any, k: Any = DEFAULT_K, datasets: Sequence[str] | None = None) -> list[SearchResult]:
        text = clean_query(query, self.max_query_chars)
        k = clamp_k(k)
        allowed = self._allowed_rows(datasets)
        vector = np.asarray(self.encode(text), dtype=np.float32).reshape(1, -1)
        if not np.isfinite(vector).all():
            raise QueryError("The query could not be encoded; try different words.")
        scores, ids = self.artifacts.searcher.search(vector, min(k, self.artifacts.count), allowed)
        results: list[SearchResult] = []
        seen: set[int] = set()
        for score, row in zip(scores[0], ids[0]):
            row = int(row)
            if row < 0 or row >= self.artifacts.count or row in seen:
                continue
            seen.add(row)
            record = self.artifacts.records[row]
            results.append(
                SearchResult(
                    rank=len(results) + 1,
                    id=record.id,
                    score=round(float(score), 4),
                    dataset=record.dataset,
                    source=record.source,
                    label=record.label,
                    description=record.description,
                    image=str(self.artifacts.image_path(record)),
                )
            )
        return results
