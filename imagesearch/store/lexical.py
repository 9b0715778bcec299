"""The lexical index: BM25 over each row's description, label and dataset name.

Why BM25 (bm25s) beside the vectors: a sentence encoder places "pikachu" near
other cartoon words, but a row whose *label* is pikachu and whose caption says
"a yellow cartoon mouse" is only found by the exact word. bm25s is a small,
pure-Python BM25 whose scores are one sparse-matrix lookup per query term
(milliseconds at 100,000 rows), with no server to run.

Words are lower-cased, English stop words dropped, and stemmed with the
Snowball stemmer (PyStemmer), so "beagles" finds "beagle". The same
:func:`terms` tokenises documents, queries and the words marked in a result.

What search fuses is :meth:`LexicalIndex.coverage`: a row's BM25 over what a row holding every query word
could reach, squared, so a row holding one common word of several scores far below one holding them all
(dividing by the best BM25 any row got made such a row a full match whenever no row held more).

Stored as ``lexical.npz``: plain arrays only (the score matrix in CSC form and
the vocabulary as a unicode array), read with ``allow_pickle=False`` after
every member's header is checked against its size in the file, so a hostile
file can neither run code nor ask for more memory than it holds.
"""

from __future__ import annotations

import logging
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from imagesearch.errors import ArtifactError, build_command
from imagesearch.store.fileio import atomic_path

LEXICAL = "lexical.npz"
K1, B = 1.5, 0.75  # BM25's usual values (Lucene's defaults)
COVERAGE_POWER = 2  # coverage is squared: half the query's weighted words score a quarter (measured: docs/build.md)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
_WORD = re.compile(r"[^\W_]+")  # letters and digits: underscores and hyphens split words
_ARRAYS = ("data", "indices", "indptr", "vocab")


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


_STOP = _stopwords()


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_STEM = _stemmer()


def words(text: str) -> list[str]:
    """The words of ``text`` as written (underscores and hyphens split words)."""
    return _WORD.findall(text)


def term(word: str) -> str | None:
    """A word's index term (lower-cased stem), or None for a stop word or a single letter."""
    lowered = word.lower()
    if lowered in _STOP or (len(lowered) < 2 and not lowered.isdigit()):
        return None
    return _STEM.stemWord(lowered)


def terms(text: str) -> list[str]:
    return [t for t in (term(w) for w in words(text)) if t]


def document(description: str, label: str, dataset: str) -> str:
    """The text a row is found by: its description, its label and its dataset's name."""
    return f"{description} {label} {dataset}"


def segments(text: str, query: str | None) -> list[tuple[str, bool]]:
    """``text`` cut into pieces that join back to it, each marked True where it is a word sharing a term
    with ``query``: the one place that decides which words of a description matched."""
    wanted = set(terms(query)) if query else set()
    pieces, last = [], 0
    for match in _WORD.finditer(text):
        if match.start() > last:
            pieces.append((text[last:match.start()], False))
        pieces.append((match.group(0), bool(wanted) and term(match.group(0)) in wanted))
        last = match.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return pieces


def unseen_term_score(count: int) -> float:
    """The BM25 a term no row has would give a row that had it once at average length: the rarest term's
    idf (lucene's, for one row in ``count``) times tf 1 over (1 + K1). What an unknown query word could add."""
    return math.log(1 + (count - 0.5) / 1.5) / (1 + K1)


@dataclass
class LexicalIndex:
    """BM25 scores of every row for a query: one sparse lookup per query term."""

    bm25: Any  # bm25s.BM25
    count: int
    term_best: np.ndarray = field(init=False, repr=False)  # each term's highest BM25 in any row

    def __post_init__(self) -> None:
        data, indptr = (np.asarray(self.bm25.scores[name]) for name in ("data", "indptr"))
        self.term_best = np.zeros(len(indptr) - 1, dtype=np.float32)
        filled = np.flatnonzero(np.diff(indptr) > 0)
        if len(filled):
            self.term_best[filled] = np.maximum.reduceat(data, indptr[filled])

    def _ids(self, query_terms: Sequence[str]) -> list[int | None]:
        columns = len(self.term_best)
        ids = (self.bm25.vocab_dict.get(t) for t in dict.fromkeys(query_terms))  # a repeated word counts once
        return [i if i is not None and i < columns else None for i in ids]

    def _scores(self, ids: list[int | None]) -> np.ndarray:
        known = [i for i in ids if i is not None]
        if not known:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def _reach(self, ids: list[int | None]) -> float:
        return float(sum(float(self.term_best[i]) if i is not None else unseen_term_score(self.count) for i in ids))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row (float32, length ``count``); all zero when no query word is indexed."""
        return self._scores(self._ids(terms(query)))

    def reach(self, query: str) -> float:
        """What a row holding every query term could score at best: each known term's highest BM25 in any
        row, plus :func:`unseen_term_score` for each word no row has (0 when the query has no terms)."""
        return self._reach(self._ids(terms(query)))

    def coverage(self, query: str) -> np.ndarray:
        """Each row's BM25 over :meth:`reach`, squared (0..1): how much of the query, weighted by rarity, the row
        holds. One common word of three scores about a ninth or less, never near a row that holds them all."""
        ids = self._ids(terms(query))  # the query's words looked up once
        reach = self._reach(ids)
        if reach <= 0:
            return np.zeros(self.count, dtype=np.float32)
        return np.minimum(self._scores(ids) / np.float32(reach), np.float32(1)) ** COVERAGE_POWER

    def rows_with(self, word: str) -> np.ndarray | None:
        """The rows whose document holds ``word``'s term (sorted), or None when it is a stop word."""
        wanted = term(word)
        if wanted is None:
            return None
        (index,) = self._ids([wanted])
        if index is None:
            return np.zeros(0, dtype=np.int64)
        indptr, indices = self.bm25.scores["indptr"], self.bm25.scores["indices"]
        return np.sort(np.asarray(indices[indptr[index]:indptr[index + 1]], dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return int(sum(self.bm25.scores[name].nbytes for name in ("data", "indices", "indptr")))


def _bm25():
    import bm25s

    return bm25s.BM25(k1=K1, b=B, method="lucene", backend="numpy", csc_backend="numpy")


def build_lexical(documents: Iterable[str]) -> LexicalIndex:
    """Index the documents (row order) with BM25."""
    tokenised = [terms(text) or [""] for text in documents]  # an empty row keeps its place, scores 0
    bm25 = _bm25()
    bm25.index(tokenised, show_progress=False)
    return LexicalIndex(bm25, len(tokenised))


def write_lexical(path: Path, index: LexicalIndex) -> None:
    columns = len(index.bm25.scores["indptr"]) - 1  # bm25s adds an empty token with no column after indexing
    vocab = sorted(((t, i) for t, i in index.bm25.vocab_dict.items() if i < columns), key=lambda item: item[1])
    if [i for _, i in vocab] != list(range(len(vocab))):
        raise ValueError("bm25s vocabulary ids are not 0..V-1")
    arrays = {name: np.asarray(index.bm25.scores[name]) for name in ("data", "indices", "indptr")}
    arrays["vocab"] = np.array([token for token, _ in vocab], dtype=str)
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # stored, not compressed: sizes in the zip are the array sizes


def _check_members(path: Path) -> None:
    """Every member is a stored .npy whose header asks for no more bytes than the member holds."""
    fix = f"rebuild it with {build_command('index')}"
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if sorted(infos) != sorted(f"{name}.npy" for name in _ARRAYS):
                raise ArtifactError(f"{path.name}: holds {sorted(infos)[:6]}, expected {', '.join(_ARRAYS)}; {fix}")
            for name, info in infos.items():
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ArtifactError(f"{path.name}: member {name} is compressed; {fix}")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(member)
                    if dtype.hasobject:
                        raise ArtifactError(f"{path.name}: member {name} holds objects; refusing to load it; {fix}")
                    if any(int(side) < 0 for side in shape) or \
                            math.prod(int(side) for side in shape) * dtype.itemsize > info.file_size:  # no overflow
                        raise ArtifactError(f"{path.name}: member {name} claims more data than it holds ({shape}); {fix}")
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"{path.name}: not a lexical index ({str(exc)[:80]}); {fix}") from None


def read_lexical(path: Path, count: int) -> LexicalIndex:
    """Read ``lexical.npz`` written by :func:`write_lexical` for ``count`` rows, refusing anything else."""
    path = Path(path)
    fix = f"rebuild it with {build_command('index')}"
    _check_members(path)
    with np.load(path, allow_pickle=False) as npz:
        data, indices, indptr, vocab = (npz[name] for name in _ARRAYS)
    if vocab.dtype.kind != "U" or data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise ArtifactError(f"{path.name}: unexpected array types; {fix}")
    if (indptr.ndim != 1 or len(indptr) != len(vocab) + 1 or indptr[0] != 0 or indptr[-1] != len(data)
            or len(indices) != len(data) or (np.diff(indptr) < 0).any()):
        raise ArtifactError(f"{path.name}: score matrix and vocabulary do not fit together; {fix}")
    if len(indices) and (indices.min() < 0 or indices.max() >= count):
        raise ArtifactError(f"{path.name}: refers to rows beyond the set's {count}; {fix}")
    if not np.isfinite(data).all():
        raise ArtifactError(f"{path.name}: holds non-finite scores; {fix}")
    bm25 = _bm25()
    bm25.scores = {"data": data.astype(np.float32, copy=False), "indices": indices.astype(np.int32, copy=False),
                   "indptr": indptr.astype(np.int64, copy=False), "num_docs": count}
    bm25.vocab_dict = {str(token): i for i, token in enumerate(vocab.tolist())}
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    bm25.nonoccurrence_array = None  # lucene BM25 has none
    return LexicalIndex(bm25, count)


def lexical_documents(records: Sequence[Any]) -> list[str]:
    return [document(r.description, r.label, r.dataset) for r in records]
