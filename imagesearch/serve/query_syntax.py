"""What a query asks beyond its words: ``-word`` leaves out rows that hold the word, ``"a red dress"`` keeps only
rows that hold those words in that order.

``-word`` is matched as the lexical index matches words (lower-cased, stemmed: ``-dress`` also leaves out
"dresses") against each row's description, label and dataset name; a stop word ("-the") leaves nothing out.
A quoted phrase is matched as written, case aside, in the description or label: its words in that order,
separated by spaces, commas or hyphens but not by a sentence's end. ``-"a red dress"`` leaves out the
phrase. Everything else is the text searched for, meaning and words; quoted words count there too.
A hyphen inside a word ("t-shirt") is part of the word.

What a filter costs is bounded by the lexical index: a phrase is looked for only in the rows that hold all of its
words (the index's postings) and are still allowed; a phrase made only of stop words or single letters filters
nothing, as ``-the`` leaves nothing out (matching it would mean reading every row); and a query holds at most
MAX_FILTERS phrases and -words, more being refused in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from imagesearch.errors import QueryError
from imagesearch.store.lexical import LexicalIndex, words

TextOf = Callable[[int], str]  # a row's description and label, as one text

_TOKEN = re.compile(r'(?P<minus>(?<!\S)-)?"(?P<phrase>[^"]*)"?|(?<!\S)-(?P<excluded>[^\s"]+)|(?P<word>[^\s"]+)')
_SEPARATOR = r"[^\w.!?;:]+"  # between a phrase's words: anything but a word character or a sentence's end
MAX_FILTERS = 8  # quoted phrases and -words in one query
HELP = 'Leave words out with a minus: dress -red. Keep an exact phrase in double quotes: "white dots".'


@dataclass(frozen=True)
class QueryParts:
    text: str  # what is searched for: the query without its -words and quote marks
    phrases: tuple[str, ...] = ()  # rows must hold each of these, words in order
    excluded: tuple[str, ...] = ()  # rows must not hold these words (stemmed) or quoted phrases

    @property
    def filters(self) -> bool:
        return bool(self.phrases or self.excluded)


def parse_query(text: str) -> QueryParts:
    """Split a cleaned query into the text searched for, the phrases required and the words excluded."""
    kept: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    for match in _TOKEN.finditer(text):
        if match.group("phrase") is not None:
            phrase = " ".join(words(match.group("phrase")))
            if not phrase:
                continue
            if match.group("minus"):
                excluded.append(f'"{phrase}"')
            else:
                phrases.append(phrase)
                kept.append(phrase)
        elif match.group("excluded") is not None:
            parts = words(match.group("excluded"))
            if len(parts) > 1:  # "-t-shirt" leaves out the phrase "t shirt", not every row with "shirt"
                excluded.append(f'"{" ".join(parts)}"')
            elif parts:
                excluded.append(parts[0])
        else:
            kept.append(match.group("word"))
    searched = " ".join(kept).strip()
    if not searched:
        raise QueryError("Add words to search for: a minus only leaves words out (\"dress -red\").")
    phrases, excluded = list(dict.fromkeys(phrases)), list(dict.fromkeys(excluded))
    if len(phrases) + len(excluded) > MAX_FILTERS:
        raise QueryError(f"A query takes at most {MAX_FILTERS} quoted phrases and -words together; this one has "
                         f"{len(phrases) + len(excluded)}: keep the ones that matter.")
    return QueryParts(searched, tuple(phrases), tuple(excluded))


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + _SEPARATOR.join(re.escape(w) for w in words(phrase)) + r"(?!\w)", re.IGNORECASE)


def _rows_holding_all(lexical: LexicalIndex, phrase: str) -> np.ndarray | None:
    """The rows whose documents hold every content word of ``phrase`` (None: it has none, any row may)."""
    rows = None
    for word in words(phrase):
        found = lexical.rows_with(word)
        if found is not None:
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
    return rows


def phrase_rows(lexical: LexicalIndex, text_of: TextOf, phrase: str, among: np.ndarray) -> np.ndarray | None:
    """Rows of ``among`` (a mask of the rows still allowed) whose text (description and label) holds ``phrase``:
    candidates from the lexical index, then the phrase's pattern on each candidate's text. None: the phrase has
    only stop words or single letters, and filters nothing."""
    candidates = _rows_holding_all(lexical, phrase)
    if candidates is None:
        return None
    pattern = phrase_pattern(phrase)
    return np.array([row for row in candidates[among[candidates]].tolist() if pattern.search(text_of(row))],
                    dtype=np.int64)


def allowed_rows(parts: QueryParts, lexical: LexicalIndex, text_of: TextOf) -> np.ndarray:
    """The rows a query's phrases and exclusions allow (a boolean mask over every row)."""
    mask = np.ones(lexical.count, dtype=bool)
    for phrase in parts.phrases:
        found = phrase_rows(lexical, text_of, phrase, mask)
        if found is not None:
            mask = np.zeros(lexical.count, dtype=bool)
            mask[found] = True
    for item in parts.excluded:
        if item.startswith('"'):
            held = phrase_rows(lexical, text_of, item.strip('"'), mask)
            if held is not None:
                mask[held] = False
        else:
            found = lexical.rows_with(item)
            if found is not None:  # a stop word leaves nothing out
                mask[found] = False
    return mask
