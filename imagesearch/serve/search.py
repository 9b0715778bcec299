"""The search function: query text in, ranked and explained results out.

Both the Gradio UI and the ``/search`` API call :meth:`SearchEngine.search`,
so inputs are validated here, on the server, whatever the caller skipped.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from imagesearch.store.artifacts import ArtifactSet
from imagesearch.errors import QueryError
from imagesearch.store.lexical import matched_words

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
    dense_score: float | None = None  # cosine similarity of the description to the query
    lexical_score: float | None = None  # BM25 over the query's best BM25 (0..1); None where not computed
    matched: list[str] = field(default_factory=list)  # words of the description/label the query shares

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


MODES = ("hybrid", "dense", "lexical")
DEFAULT_MODE = "hybrid"
MIN_CANDIDATES = 64


def clean_mode(mode: Any) -> str:
    if mode is None or (isinstance(mode, str) and not mode.strip()):
        return DEFAULT_MODE
    if not isinstance(mode, str) or mode.strip().lower() not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, got {str(mode)[:20]!r}.")
    return mode.strip().lower()


def clean_id(value: Any) -> int:
    """A result id from an API caller: an integer (or its decimal text)."""
    if isinstance(value, bool):
        raise QueryError("id must be the integer `id` of a search result.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 20:
        value = int(value.strip())
    if not isinstance(value, int):
        raise QueryError(f"id must be the integer `id` of a search result, got {str(value)[:20]!r}.")
    return value


@dataclass(frozen=True)
class _Ranked:
    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray  # cosine similarity of each row
    lexical: np.ndarray  # BM25 score of each row over the best BM25 score of the query (0..1); NaN when not used


class SearchEngine:
    """Dense (cosine over the vectors), lexical (BM25) and hybrid search, all behind one validated entry point.

    Hybrid score = (1 - w) * cosine + w * BM25 / (the query's best BM25), w from the manifest (measured by
    ``python -m build evaluate``). Candidates are the dense top C and the lexical top C; a row in neither
    list cannot score above (1 - w) * (C-th cosine) + w * (C-th BM25), so when the k-th result is at least
    that, the top k is exactly the top k of the fused score over all rows; otherwise C grows.
    """

    def __init__(self, artifacts: ArtifactSet, encode: Encode, max_query_chars: int = MAX_QUERY_CHARS,
                 weight: float | None = None):
        self.artifacts = artifacts
        self.encode = encode
        self.max_query_chars = max_query_chars
        lexical_info = artifacts.manifest.get("lexical") or {}
        self.weight = float(weight if weight is not None else lexical_info.get("weight", 0.0))
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"fusion weight {self.weight} must be between 0 and 1")

    @property
    def datasets(self) -> tuple[str, ...]:
        return self.artifacts.datasets

    @property
    def labels(self) -> tuple[str, ...]:
        return self.artifacts.labels

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.artifacts.lexical is not None else ("dense",)

    @staticmethod
    def _names(value: Any, what: str) -> list[str]:
        if value is None or isinstance(value, str) and not value.strip():
            return []
        if isinstance(value, str):
            value = [value]
        wanted = list(value)
        if not all(isinstance(name, str) for name in wanted):
            raise QueryError(f"{what} must be a list of {what[:-1]} names.")
        return wanted

    def _allowed_rows(self, datasets: Iterable[str] | None, labels: Iterable[str] | None = None) -> np.ndarray | None:
        allowed = None
        names = self._names(datasets, "datasets")
        if names:
            self._known(names, self.datasets, "dataset")
            codes = [self.datasets.index(name) for name in set(names)]
            if len(codes) < len(self.datasets):
                allowed = np.isin(self.artifacts.dataset_of_row, codes)
        names = self._names(labels, "labels")
        if names:
            self._known(names, self.labels, "label")
            mask = np.zeros(self.artifacts.count, dtype=bool)
            for name in set(names):
                mask[self.artifacts.label_rows[name]] = True
            allowed = mask if allowed is None else allowed & mask
        return allowed

    @staticmethod
    def _known(names: list[str], known: tuple[str, ...], what: str) -> None:
        unknown = sorted(set(names) - set(known))
        if unknown:
            choices = (", ".join(known[:30]) + (", ..." if len(known) > 30 else "")) if known else f"this set has no {what}s"
            raise QueryError(f"Unknown {what} {unknown[0][:60]!r}; choose from: {choices}.")

    def _dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> _Ranked:
        scores, ids = self.artifacts.searcher.search(vector, min(k, self.artifacts.count), allowed)
        keep = (ids[0] >= 0) & (ids[0] < self.artifacts.count)
        rows, scores = ids[0][keep], scores[0][keep]
        rows, first = np.unique(rows, return_index=True)  # FAISS never repeats a row; guard anyway
        order = np.argsort(-scores[first], kind="stable")
        rows, scores = rows[order], scores[first][order]
        return _Ranked(rows, scores, scores, np.full(len(rows), np.nan, dtype=np.float32))

    def _lexical_scores(self, text: str, allowed: np.ndarray | None) -> np.ndarray:
        """BM25 of every row over the query's best, 0..1; rows outside the filter at -1."""
        raw = self.artifacts.lexical.scores(text)
        best = float(raw.max()) if len(raw) else 0.0
        normalised = raw / best if best > 0 else raw
        return normalised if allowed is None else np.where(allowed, normalised, np.float32(-1))

    @staticmethod
    def _top(values: np.ndarray, c: int) -> np.ndarray:
        c = min(c, len(values))
        part = np.argpartition(-values, c - 1)[:c]
        return part[np.argsort(-values[part], kind="stable")]

    def _lexical(self, text: str, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> _Ranked:
        lex = self._lexical_scores(text, allowed)
        rows = self._top(lex, k)
        rows = rows[lex[rows] > 0]  # a row with none of the words is not a lexical match
        dense = self.artifacts.vectors_of(rows) @ vector[0]
        order = np.lexsort((-dense, -lex[rows]))  # ties in BM25 broken by meaning
        rows = rows[order]
        return _Ranked(rows, lex[rows], dense[order], lex[rows])

    def _hybrid(self, text: str, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> _Ranked:
        lex = self._lexical_scores(text, allowed)
        w = self.weight
        if w == 0.0 or not (lex > 0).any():  # no word of the query is in any allowed row: exactly dense search
            ranked = self._dense(vector, k, allowed)
            return _Ranked(ranked.rows, ranked.scores, ranked.dense, np.zeros(len(ranked.rows), dtype=np.float32))
        pool = self.artifacts.count if allowed is None else int(allowed.sum())
        c = max(MIN_CANDIDATES, 4 * k)
        while True:
            dense_top = self._dense(vector, c, allowed)
            lex_top = self._top(lex, c)
            lex_top = lex_top[lex[lex_top] >= 0]
            rows = np.union1d(dense_top.rows, lex_top)
            dense = self.artifacts.vectors_of(rows) @ vector[0]
            fused = (1 - w) * dense + w * lex[rows]
            order = np.lexsort((rows, -fused))[:k]
            complete = len(dense_top.rows) >= pool or c >= pool
            if not complete and len(order) == min(k, pool):
                bound = (1 - w) * float(dense_top.scores[-1]) + w * float(lex[lex_top[-1]])
                complete = float(fused[order[-1]]) >= bound
            if complete:
                return _Ranked(rows[order], fused[order], dense[order], lex[rows][order])
            c *= 4

    def _results(self, ranked: _Ranked, query_text: str | None) -> list[SearchResult]:
        results: list[SearchResult] = []
        for row, score, dense, lexical in zip(ranked.rows, ranked.scores, ranked.dense, ranked.lexical):
            record = self.artifacts.records[int(row)]
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
                    dense_score=round(float(dense), 4),
                    lexical_score=None if np.isnan(lexical) else round(float(lexical), 4),
                    matched=matched_words(query_text, f"{record.description} {record.label}") if query_text else [],
                )
            )
        return results

    def _encode(self, text: str) -> np.ndarray:
        vector = np.asarray(self.encode(text), dtype=np.float32).reshape(1, -1)
        if not np.isfinite(vector).all():
            raise QueryError("The query could not be encoded; try different words.")
        return vector

    def search(self, query: Any, k: Any = DEFAULT_K, datasets: Sequence[str] | None = None, mode: Any = DEFAULT_MODE,
               labels: Sequence[str] | None = None) -> list[SearchResult]:
        text = clean_query(query, self.max_query_chars)
        k = clamp_k(k)
        mode = clean_mode(mode)
        allowed = self._allowed_rows(datasets, labels)
        if allowed is not None and not allowed.any():
            return []
        if self.artifacts.lexical is None:
            if mode == "lexical":
                raise QueryError("This set has no lexical index; search in dense mode, or rebuild it with "
                                 "`python -m build index`.")
            mode = "dense"
        vector = self._encode(text)
        if mode == "dense":
            ranked = self._dense(vector, k, allowed)
        elif mode == "lexical":
            ranked = self._lexical(text, vector, k, allowed)
        else:
            ranked = self._hybrid(text, vector, k, allowed)
        return self._results(ranked, text if self.artifacts.lexical is not None else None)

    def similar(self, item_id: Any, k: Any = DEFAULT_K, datasets: Sequence[str] | None = None,
                labels: Sequence[str] | None = None) -> list[SearchResult]:
        """The k rows nearest to row ``item_id``'s stored vector (no encoding), the row itself left out."""
        item_id = clean_id(item_id)
        k = clamp_k(k)
        row = (self.artifacts.row_of_id or {}).get(item_id)
        if row is None:
            raise QueryError(f"No image has id {item_id}; use the `id` of a search result.")
        allowed = self._allowed_rows(datasets, labels)
        if allowed is None:
            allowed = np.ones(self.artifacts.count, dtype=bool)
        allowed = allowed.copy()
        allowed[row] = False
        if not allowed.any():
            return []
        ranked = self._dense(self.artifacts.vectors_of(np.array([row])).reshape(1, -1), k, allowed)
        return self._results(ranked, None)
