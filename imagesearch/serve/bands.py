"""Match bands (strong, fair, weak): how well a result's description means what was asked.

The band is cut on the result's cosine, its ``dense_score``, which the card shows beside the band as
"meaning" whenever the ranking score differs from it. It is not cut on the hybrid score on purpose: that
score adds the share of the query's words a row holds, and every query-like text drawn from a set holds all
its words, so cuts measured on it called nearly every typed query weak (the demo's coins, 0.52 for "coins on
a table", fell under a weak cut of 0.77), while the cosine is as honest for "a feline" as for "a cat".

A set's cuts are measured by ``index`` (build/score_bands.py) and kept in the manifest's ``score_bands``:
``strong`` and ``weak`` from the best cosine each query-like text drawn from the set gets (strong at or above
their median, weak below their 10th percentile), and ``similar`` the same from the best cosine of sampled rows
to another row, for "more like this", whose scores compare two descriptions. Where fewer than
MIN_BAND_QUERIES texts (or rows, for ``similar``) could be drawn there are no cuts, and no band is shown rather
than one measured on a handful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

BANDS = ("strong", "fair", "weak")
MIN_BAND_QUERIES = 100


@dataclass(frozen=True)
class Cuts:
    strong: float  # at or above: strong
    weak: float  # below: weak

    def band(self, score: float) -> str:
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
    """A set's cuts: ``query`` for a search's results, ``similar`` for "more like this"; None where unmeasured."""

    query: Cuts | None = None
    similar: Cuts | None = None

    def band(self, cosine: float, similar: bool = False) -> str | None:
        cuts = self.similar if similar else self.query
        return cuts.band(cosine) if cuts is not None else None

    @classmethod
    def from_manifest(cls, section: Any) -> "Bands":
        if not isinstance(section, Mapping):
            return cls()
        return cls(Cuts.read(section), Cuts.read(section.get("similar")))
