"""What a search returns: each result with its scores, band and the words it matched, and the answer around them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from imagesearch.serve.request import Request
from imagesearch.store.lexical import segments


@dataclass(frozen=True)
class SearchResult:
    rank: int
    id: int
    score: float  # the score the ranking used: cosine (dense, more like this), coverage (lexical) or fused (hybrid)
    dataset: str
    source: str
    label: str
    description: str
    image: str | None  # the image file on the server (the artifact folder's images/); None: it cannot be shown
    dense_score: float | None = None  # cosine similarity of the description to the query
    lexical_score: float | None = None  # BM25 coverage of the query's words (0..1); None where not computed
    matched: list[str] = field(default_factory=list)  # words of the description/label the query shares
    band: str | None = None  # strong / fair / weak, cut on dense_score (imagesearch.serve.bands); None: no cuts
    # the description cut into pieces, each True where it is a word the query matched (the page marks them)
    pieces: tuple[tuple[str, bool], ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The result as the public API returns it (the pieces are the page's business)."""
        shown = asdict(self)
        del shown["pieces"]
        return shown


@dataclass(frozen=True)
class Answer:
    request: Request  # what was searched, as cleaned: the page's link and cards are built from it
    results: list[SearchResult]

    @property
    def nothing_matches_well(self) -> bool:
        """Every result is banded weak: the set has nothing close to what was asked."""
        return bool(self.results) and all(r.band == "weak" for r in self.results)


def mark_matches(query_text: str | None, description: str, label: str) -> tuple[tuple[tuple[str, bool], ...], list[str]]:
    """The description's pieces, and the distinct words of description and label (as written) the query matched."""
    if not query_text:
        return ((description, False),), []
    pieces = tuple(segments(description, query_text))
    found: dict[str, str] = {}
    for piece, matched in (*pieces, *segments(label, query_text)):
        if matched:
            found.setdefault(piece.lower(), piece)
    return pieces, list(found.values())
