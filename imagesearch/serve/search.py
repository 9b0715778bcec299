"""The search function: query text in, ranked and explained results out.

The page and every public endpoint call :meth:`SearchEngine.answer` (or ``answer_similar``, ``answer_image``):
inputs are cleaned here, once, on the server, whatever the caller skipped, and the cleaned request travels
back with the results in an :class:`Answer`. Each result carries the pieces of its description with the
words the query matched marked (imagesearch.store.lexical.segments) and its band (imagesearch.serve.bands).
A query's ``-words`` and quoted phrases (imagesearch.serve.query_syntax) narrow the rows searched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from imagesearch.errors import QueryError, build_command
from imagesearch.serve.bands import Bands, content_length
from imagesearch.serve.query_syntax import QueryParts, allowed_rows, parse_query
from imagesearch.serve.request import (DEFAULT_K, DEFAULT_MODE, MAX_QUERY_CHARS, MODES, Request, clamp_k, clean_id,
                                       clean_mode, clean_names, clean_offset, clean_query)
from imagesearch.serve.results import Answer, SearchResult, mark_matches
from imagesearch.store.artifacts import ArtifactSet
from imagesearch.store.lexical import document, terms

Encode = Callable[[str], np.ndarray]
__all__ = ["Answer", "SearchEngine", "SearchResult", "mark_matches"]


MIN_CANDIDATES = 64


@dataclass(frozen=True)
class _Ranked:
    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray  # cosine similarity of each row
    lexical: np.ndarray  # lexical coverage of each row (0..1); NaN when not used


class SearchEngine:
    """Dense (cosine over the vectors), lexical (BM25) and hybrid search, all behind one validated entry point.

    Hybrid score = (1 - w) * cosine + w * coverage (LexicalIndex.coverage), w from the manifest (measured by
    ``python -m build evaluate``). Candidates are the dense top C and the lexical top C; a row in neither list
    cannot score above (1 - w) * (C-th cosine) + w * (C-th coverage), so when the k-th result is at least that,
    the top k is exactly the top k of the fused score over all rows; otherwise C grows. Exact where the dense
    search is (a flat index); on IVF the C-th cosine is the probed lists' (build/indexing/hybrid_recall.py measures it).
    """

    def __init__(self, artifacts: ArtifactSet, encode: Encode, max_query_chars: int = MAX_QUERY_CHARS,
                 lexical_weight: float | None = None):
        self.artifacts = artifacts
        self.encode = encode
        self.max_query_chars = max_query_chars
        lexical_info = artifacts.manifest.get("lexical") or {}
        chosen = lexical_weight if lexical_weight is not None else lexical_info.get("weight", 0.0)
        self.lexical_weight = float(chosen)  # the manifest's lexical.weight unless given
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError(f"lexical weight {self.lexical_weight} must be between 0 and 1")
        self.bands = Bands.from_manifest(artifacts.manifest.get("score_bands"))

    @property
    def datasets(self) -> tuple[str, ...]:
        return self.artifacts.datasets

    @property
    def labels(self) -> tuple[str, ...]:
        return self.artifacts.labels

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.artifacts.lexical is not None else ("dense",)

    def _allowed_rows(self, datasets: tuple[str, ...], labels: tuple[str, ...]) -> np.ndarray | None:
        allowed = None
        if datasets and len(datasets) < len(self.datasets):
            allowed = np.isin(self.artifacts.dataset_of_row, [self.datasets.index(name) for name in datasets])
        if labels:
            mask = np.zeros(self.artifacts.count, dtype=bool)
            for name in labels:
                mask[self.artifacts.label_rows[name]] = True
            allowed = mask if allowed is None else allowed & mask
        return allowed

    def _dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> _Ranked:
        """The k nearest rows by (cosine, row): rows tying with the k-th are all fetched before the cut, so a
        page of a ranking is the same rows whatever k the caller asked for."""
        n = min(k, self.artifacts.count)
        c = min(n + 1, self.artifacts.count)
        while True:
            scores, ids = self.artifacts.searcher.search(vector, c, allowed)
            keep = (ids[0] >= 0) & (ids[0] < self.artifacts.count)
            rows, scores = ids[0][keep], scores[0][keep]
            rows, first = np.unique(rows, return_index=True)  # FAISS never repeats a row; guard anyway
            scores = scores[first]
            order = np.lexsort((rows, -scores))
            rows, scores = rows[order], scores[order]
            if len(rows) < c or c >= self.artifacts.count or scores[-1] < scores[n - 1]:
                break
            c = min(self.artifacts.count, 4 * c)  # the last fetched still ties with the n-th: fetch past the tie
        rows, scores = rows[:n], scores[:n]
        return _Ranked(rows, scores, scores, np.full(len(rows), np.nan, dtype=np.float32))

    def _lexical_scores(self, text: str, allowed: np.ndarray | None) -> np.ndarray:
        """Lexical coverage of every row, 0..1; rows outside the filter at -1."""
        coverage = self.artifacts.lexical.coverage(text)
        return coverage if allowed is None else np.where(allowed, coverage, np.float32(-1))

    @staticmethod
    def _top(values: np.ndarray, c: int) -> np.ndarray:
        c = min(c, len(values))
        part = np.argpartition(-values, c - 1)[:c]
        return part[np.argsort(-values[part], kind="stable")]

    def _lexical(self, text: str, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> _Ranked:
        """Rows by (words, meaning, row): every row tying with the k-th on its words is weighed on its meaning
        before the cut, so a page is the same rows whatever k was asked for."""
        lex = self._lexical_scores(text, allowed)
        top = self._top(lex, k)
        cut = float(lex[top].min()) if len(top) else 0.0
        rows = np.flatnonzero(lex >= cut) if cut > 0 else np.flatnonzero(lex > 0)  # no words: not a lexical match
        dense = self.artifacts.vectors_of(rows) @ vector[0]
        order = np.lexsort((rows, -dense, -lex[rows]))[:k]
        rows = rows[order]
        return _Ranked(rows, lex[rows], dense[order], lex[rows])

    def _hybrid(self, text: str, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> _Ranked:
        lex = self._lexical_scores(text, allowed)
        w = self.lexical_weight
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
            if not complete and len(order) == min(k, pool) and len(dense_top.rows) and len(lex_top):
                bound = (1 - w) * float(dense_top.scores[-1]) + w * float(lex[lex_top[-1]])
                complete = float(fused[order[-1]]) >= bound
            if complete:
                return _Ranked(rows[order], fused[order], dense[order], lex[rows][order])
            c *= 4

    def _holds_every_word(self, row: int, wanted: set[str]) -> bool:
        """Whether the row's description, label or dataset name holds every term in ``wanted`` (none: False). Read
        from the row's own text, so it costs the same on any size of set."""
        record = self.artifacts.records[row]
        return bool(wanted) and wanted <= set(terms(document(record.description, record.label, record.dataset)))

    def _results(self, ranked: _Ranked, request: Request, marked_text: str | None,
                 similar: bool = False, length: int = 1) -> list[SearchResult]:
        """The results from offset+1 on, each banded on its cosine against the cuts for a query of ``length``
        content words, a row holding every word of ``marked_text`` at least fair (``similar``: on the cuts
        between descriptions)."""
        wanted = set(terms(marked_text)) if marked_text and not similar else set()
        results: list[SearchResult] = []
        images = self.artifacts.image_paths([int(row) for row in ranked.rows[request.offset:]])
        for row, score, dense, lexical, image in zip(ranked.rows[request.offset:], ranked.scores[request.offset:],
                                                     ranked.dense[request.offset:], ranked.lexical[request.offset:], images):
            record = self.artifacts.records[int(row)]
            pieces, matched = mark_matches(marked_text, record.description, record.label)
            score = round(float(score), 4)
            results.append(SearchResult(
                rank=request.offset + len(results) + 1, id=record.id, score=score, dataset=record.dataset,
                source=record.source, label=record.label, description=record.description,
                image=image, dense_score=round(float(dense), 4),
                lexical_score=None if np.isnan(lexical) else round(float(lexical), 4), matched=matched,
                band=self.bands.band(float(dense), similar, length, self._holds_every_word(int(row), wanted)),
                pieces=pieces))
        return results

    def _encode(self, text: str) -> np.ndarray:
        vector = np.asarray(self.encode(text), dtype=np.float32).reshape(1, -1)
        if not np.isfinite(vector).all():
            raise QueryError("The query could not be encoded; try different words.")
        return vector

    def _text_of(self, row: int) -> str:
        record = self.artifacts.records[row]
        return f"{record.description}. {record.label}"

    def _narrowed(self, allowed: np.ndarray | None, parts: QueryParts) -> np.ndarray | None:
        """The filters' rows narrowed by the query's phrases and -words."""
        if not parts.filters:
            return allowed
        if self.artifacts.lexical is None:
            raise QueryError("This set has no lexical index, so -words and quoted phrases cannot be matched; "
                             f"search without them, or rebuild it with {build_command('index')}.")
        mask = allowed_rows(parts, self.artifacts.lexical, self._text_of)
        return mask if allowed is None else mask & allowed

    def _ranked(self, mode: str, text: str, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> _Ranked:
        if mode == "dense":
            return self._dense(vector, n, allowed)
        if mode == "lexical":
            return self._lexical(text, vector, n, allowed)
        return self._hybrid(text, vector, n, allowed)

    def request(self, query: Any, k: Any = DEFAULT_K, datasets: Any = None, mode: Any = DEFAULT_MODE,
                labels: Any = None, offset: Any = 0) -> Request:
        """Clean a words search as any caller sent it (one line for what cannot be searched)."""
        text, k, mode = clean_query(query, self.max_query_chars), clamp_k(k), clean_mode(mode)
        datasets = clean_names(datasets, "dataset", self.datasets)
        labels = clean_names(labels, "label", self.labels)
        if self.artifacts.lexical is None:
            if mode == "lexical":
                raise QueryError("This set has no lexical index; search in dense mode, or rebuild it with "
                                 f"{build_command('index')}.")
            mode = "dense"
        return Request(k, mode, datasets, labels, text=text, offset=clean_offset(offset))

    def _answer(self, request: Request, parts: QueryParts, vector: Callable[[], np.ndarray], lexical_text: str,
                encoded_text: str) -> Answer:
        """Rank for ``request``: ``vector`` is called only when some row is allowed (nothing is encoded for none)."""
        allowed = self._narrowed(self._allowed_rows(request.datasets, request.labels), parts)
        if allowed is not None and not allowed.any():
            return Answer(request, [])
        ranked = self._ranked(request.mode, lexical_text, vector(), request.offset + request.k, allowed)
        _refuse_past_the_end(request, ranked)
        marked = lexical_text if self.artifacts.lexical is not None else None
        return Answer(request, self._results(ranked, request, marked, length=content_length(encoded_text)))

    def answer(self, query: Any, k: Any = DEFAULT_K, datasets: Any = None, mode: Any = DEFAULT_MODE,
               labels: Any = None, offset: Any = 0) -> Answer:
        """Results offset+1..offset+k for a words query, with the request as cleaned."""
        request = self.request(query, k, datasets, mode, labels, offset)
        parts = parse_query(request.text)
        return self._answer(request, parts, lambda: self._encode(parts.text), parts.text, parts.text)

    def search(self, query: Any, k: Any = DEFAULT_K, datasets: Sequence[str] | None = None, mode: Any = DEFAULT_MODE,
               labels: Sequence[str] | None = None, offset: Any = 0) -> list[SearchResult]:
        return self.answer(query, k, datasets, mode, labels, offset).results

    def answer_image(self, description: str, words: Any = None, k: Any = DEFAULT_K, datasets: Any = None,
                     mode: Any = DEFAULT_MODE, labels: Any = None) -> Answer:
        """Search with an upload's description, refined by optional words ("like this but red"): the query
        vector is the description's and the words' vectors added (equal parts), the words alone are matched
        lexically and marked, and their -words and phrases narrow the rows."""
        request = self.request(description, k, datasets, mode, labels)
        refine = None if words is None or (isinstance(words, str) and not words.strip()) else \
            clean_query(words, self.max_query_chars)
        if refine is None:
            return self._answer(request, QueryParts(request.text), lambda: self._encode(request.text), request.text,
                                request.text)
        parts = parse_query(refine)

        def blended() -> np.ndarray:
            vector = self._encode(request.text) + self._encode(parts.text)
            return vector / max(float(np.linalg.norm(vector)), 1e-12)

        return self._answer(Request(request.k, request.mode, request.datasets, request.labels, text=request.text,
                                    refine=refine), parts, blended, parts.text, request.text)

    def answer_similar(self, item_id: Any, k: Any = DEFAULT_K, datasets: Any = None, labels: Any = None,
                       offset: Any = 0) -> Answer:
        """Results offset+1..offset+k nearest to row ``item_id``'s stored vector (no encoding), the row left out."""
        item_id, k = clean_id(item_id), clamp_k(k)
        row = (self.artifacts.row_of_id or {}).get(item_id)
        if row is None:
            raise QueryError(f"No image has id {item_id}; use the `id` of a search result.")
        request = Request(k, "dense", clean_names(datasets, "dataset", self.datasets),
                          clean_names(labels, "label", self.labels), like=item_id, offset=clean_offset(offset))
        allowed = self._allowed_rows(request.datasets, request.labels)
        allowed = np.ones(self.artifacts.count, dtype=bool) if allowed is None else allowed.copy()
        allowed[row] = False
        if not allowed.any():
            return Answer(request, [])
        vector = self.artifacts.vectors_of(np.array([row])).reshape(1, -1)
        ranked = self._dense(vector, request.offset + k, allowed)
        _refuse_past_the_end(request, ranked)
        return Answer(request, self._results(ranked, request, None, similar=True))

    def similar(self, item_id: Any, k: Any = DEFAULT_K, datasets: Sequence[str] | None = None,
                labels: Sequence[str] | None = None, offset: Any = 0) -> list[SearchResult]:
        return self.answer_similar(item_id, k, datasets, labels, offset).results


def _refuse_past_the_end(request: Request, ranked: _Ranked) -> None:
    """A page that starts after the last result says so (the ranking holds every result there is)."""
    if request.offset and len(ranked.rows) <= request.offset:
        raise QueryError(f"No more results: this search has {len(ranked.rows)}, and offset {request.offset} starts "
                         "past the last one.")
