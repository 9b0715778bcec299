"""Query-like texts drawn from a set's own rows, to measure an approximate index the way users use it.

People type short phrases ("a woman in a navy coat", "pikachu"), not the
three-sentence descriptions the vectors were made from. These are drawn from
the set itself: the label of a labelled row ("a photo of a beagle"), and a
short run of words (4 to 8) from one sentence of a row's description.
"""

from __future__ import annotations

import random
import re
from typing import Sequence

from imagesearch.records import Record

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def phrase_from(description: str, rng: random.Random) -> str | None:
    """A 4-8 word run from one sentence of ``description``, or None when it has no sentence that long."""
    sentences = [s.strip(" .") for s in _SENTENCE.split(description) if len(s.split()) >= 4]
    if not sentences:
        return None
    words = rng.choice(sentences).split()
    length = rng.randint(4, min(8, len(words)))
    start = rng.randint(0, len(words) - length)
    return " ".join(words[start:start + length]).strip(",;:").lower()


def query_like_texts(records: Sequence[Record], count: int = 500, seed: int = 0) -> list[str]:
    """Up to ``count`` distinct short queries: about a quarter from labels (where rows have them), the rest from descriptions."""
    rng = random.Random(seed)
    labels = sorted({r.label.strip() for r in records if r.label.strip()})
    texts: list[str] = []
    seen: set[str] = set()

    def add(text: str | None) -> None:
        if text and text not in seen:
            seen.add(text)
            texts.append(text)

    for label in rng.sample(labels, min(len(labels), count // 4)):
        add(f"a photo of a {label}")
    attempts = 0
    while len(texts) < count and attempts < count * 10:
        attempts += 1
        add(phrase_from(records[rng.randrange(len(records))].description, rng))
    return texts
