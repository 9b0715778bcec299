"""Match bands (strong, fair, weak): how well a result's description means what was asked, judged the way a
person would: against what a query of the same length that is about nothing in this set reaches.

The band is cut on the result's cosine, its ``dense_score`` (the card names it beside the band as "meaning"
whenever the ranking score differs). A cosine means little on its own: a one-word query scores far lower against a
three-sentence description than a paraphrase does, and each set sits at its own level. So ``index`` measures, for
each query length of 1 to MAX_LENGTH content words, the best cosine that random queries of that many everyday
words the set never uses reach on it (build/indexing/null_queries.py, build/indexing/score_bands.py), and keeps per length:

- ``weak``: their 95th percentile. Below it a result is weak: as close as a query about nothing here gets.
- ``strong``: their 99th percentile plus STRONG_MARGIN. At or above it a result is strong.

A result whose description or label holds every word of the query is at least fair, and strong once its cosine
clears the weak cut: the words themselves are the evidence ("green eyes" on the one cat with green eyes).

"More like this" has its own cuts (``similar``: the best cosine of sampled rows to another row, median and 10th
percentile), since it compares two descriptions. A set indexed before the cuts per length keeps its one pair of
cuts (``strong``, ``weak``) for every query. Where no cuts were measured no band is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from imagesearch.store.lexical import term, words

BANDS = ("strong", "fair", "weak")
MIN_BAND_QUERIES = 100
MAX_LENGTH = 5  # query lengths measured: 1..5 content words; a longer query is judged as one of 5
STRONG_MARGIN = 0.1  # above the 99th percentile of queries about nothing: clearly about the query


def content_length(text: str) -> int:
    """How many words of ``text`` carry meaning (stop words and single letters left out), at least 1."""
    return max(1, sum(1 for word in words(text) if term(word) is not None))


@dataclass(frozen=True)
class Cuts:
    strong: float  # at or above: strong
    weak: float  # below: weak

    def band(self, score: float, holds_every_word: bool = False) -> str:
        if holds_every_word:
            return "strong" if score >= self.weak else "fair"
        return "strong" if score >= self.strong else "weak" if score < self.weak else "fair"

    @classmethod
    def read(cls, entry: Any) -> "Cuts | None":
        if not isinstance(entry, Mapping):
            return None
        try:
            strong, weak = float(entry["strong"]), float(entry["weak"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(strong, weak) if weak <= strong else None


@dataclass(frozen=True)
class Bands:
    """A set's cuts: ``by_length`` (index L-1: a query of L content words) for a search's results, ``query`` the
    single pair of a set indexed before those, ``similar`` for "more like this"; None or () where unmeasured."""

    query: Cuts | None = None
    similar: Cuts | None = None
    by_length: tuple[Cuts, ...] = ()

    def band(self, cosine: float, similar: bool = False, length: int = 1, holds_every_word: bool = False) -> str | None:
        if similar:
            return self.similar.band(cosine) if self.similar is not None else None
        if self.by_length:
            return self.by_length[min(max(length, 1), len(self.by_length)) - 1].band(cosine, holds_every_word)
        return self.query.band(cosine) if self.query is not None else None

    @classmethod
    def from_manifest(cls, section: Any) -> "Bands":
        if not isinstance(section, Mapping):
            return cls()
        lengths = section.get("by_length")
        by_length = tuple(Cuts.read(lengths.get(str(n))) for n in range(1, MAX_LENGTH + 1)) \
            if isinstance(lengths, Mapping) else ()
        if not all(by_length):
            by_length = ()
        return cls(Cuts.read(section), Cuts.read(section.get("similar")), by_length)  # type: ignore[arg-type]
