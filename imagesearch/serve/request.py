"""A search request as callers send it, cleaned once into a :class:`Request` that travels with the answer.

Every public entry point (the page, /search, /similar, /search_by_image, MCP) goes through
:func:`clean_query`, :func:`clamp_k`, :func:`clean_mode` and :func:`clean_id` exactly once, in
:class:`imagesearch.serve.search.SearchEngine`; what comes out (the text actually searched, the k actually
used, ...) is returned inside the answer, so the page builds its link and its cards from it without
cleaning anything again.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any

from imagesearch.errors import QueryError

MAX_QUERY_CHARS = 512
MIN_K, MAX_K, DEFAULT_K = 1, 20, 5
MAX_OFFSET = 180  # results 181..200 at most: a ranking deeper than that is not worth paging through
MODES = ("hybrid", "dense", "lexical")
DEFAULT_MODE = "hybrid"


@dataclass(frozen=True)
class Request:
    """What was searched, after cleaning: ``text`` for a words search, ``like`` for "more like this"."""

    k: int
    mode: str = DEFAULT_MODE
    datasets: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    text: str | None = None
    like: int | None = None
    offset: int = 0  # results offset+1 .. offset+k of the ranking
    refine: str | None = None  # search by image: the words that refine the upload's description


def clean_query(query: Any, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Strip control characters and outer space; cap the length; refuse empty."""
    if not isinstance(query, str):
        raise QueryError(f"The query must be text, got {type(query).__name__}.")
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in query[: max_chars * 4])
    text = " ".join(kept.split())[:max_chars].strip()
    if not text:
        raise QueryError("Type a few words describing the image you are looking for.")
    return text


def _number(value: Any, refusal: str) -> int | float:
    """A finite number as an API caller sent it (or its decimal text); ``refusal`` (one line) for anything else."""
    if isinstance(value, bool):
        raise QueryError(f"{refusal}.")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise QueryError(f"{refusal}, got {value[:20]!r}.") from None
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise QueryError(f"{refusal}.")
    return value


def clamp_k(k: Any) -> int:
    """k as a whole number in [MIN_K, MAX_K]; anything else (0, -3, 21, 2.5, "many") is refused in one line."""
    if k is None:
        return DEFAULT_K
    return _whole(k, MIN_K, MAX_K, f"k must be a whole number of results from {MIN_K} to {MAX_K}")


def _whole(value: Any, low: int, high: int, refusal: str) -> int:
    value = _number(value, refusal)
    if isinstance(value, float) and not value.is_integer() or not low <= value <= high:
        raise QueryError(f"{refusal}, got {value:g}." if isinstance(value, float) else f"{refusal}, got {value}.")
    return int(value)


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


def clean_names(value: Any, what: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A dataset or label filter: None, one name or a list of names, each one the set has."""
    if value is None or isinstance(value, str) and not value.strip():
        return ()
    if isinstance(value, str):
        value = [value]
    try:
        wanted = list(value)
    except TypeError:
        raise QueryError(f"{what}s must be a list of {what} names.") from None
    if not all(isinstance(name, str) for name in wanted):
        raise QueryError(f"{what}s must be a list of {what} names.")
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        choices = (", ".join(known[:30]) + (", ..." if len(known) > 30 else "")) if known else f"this set has no {what}s"
        raise QueryError(f"Unknown {what} {unknown[0][:60]!r}; choose from: {choices}.")
    return tuple(dict.fromkeys(wanted))


def clean_offset(offset: Any) -> int:
    """An offset as a whole number in [0, MAX_OFFSET]; anything else is refused in one line."""
    if offset is None or (isinstance(offset, str) and not offset.strip()):
        return 0
    return _whole(offset, 0, MAX_OFFSET, f"offset must be a whole number from 0 to {MAX_OFFSET}")
