"""Do the bands agree with a person? On a set's own evaluation queries: the share of right first results called
strong, fair and weak (a person calls a right answer at least fair); on made-up words: the share answered with
every result weak, so the page says nothing matches well (a person expects exactly that)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from imagesearch.serve.search import SearchEngine

SHOWN = 5  # results per query, as the page shows them


def band_agreement(engine: SearchEngine, queries: Iterable[tuple[str, frozenset[int]]],
                   nonsense: list[str]) -> dict[str, Any] | None:
    """The shares, or None where the set has no bands."""
    if engine.bands.by_length == () and engine.bands.query is None:
        return None
    right: Counter[str] = Counter()
    for query, relevant in queries:
        results = engine.search(query, SHOWN)
        if results and results[0].id in relevant:
            right[str(results[0].band)] += 1
    silent = sum(all(r.band == "weak" for r in engine.search(query, SHOWN)) for query in nonsense)
    count = sum(right.values())
    return {"right_first": count, **{f"right_first_{band}": round(right[band] / max(count, 1), 3)
                                     for band in ("strong", "fair", "weak")},
            "nonsense": len(nonsense), "nonsense_all_weak": round(silent / max(len(nonsense), 1), 3),
            "nonsense_examples": nonsense[:3]}


def band_lines(agreement: dict[str, Any] | None) -> list[str]:
    if agreement is None:
        return ["Bands: none measured for this set."]
    return [f"Bands: of {agreement['right_first']} right first results, {agreement['right_first_strong']:.0%} strong, "
            f"{agreement['right_first_fair']:.0%} fair, {agreement['right_first_weak']:.0%} weak; of "
            f"{agreement['nonsense']} made-up queries ({', '.join(agreement['nonsense_examples'])}, ...), "
            f"{agreement['nonsense_all_weak']:.0%} answered all weak (\"nothing matches well\")."]

