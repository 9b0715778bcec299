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

from imagesearch.store.records import Record

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


_NOUN_PHRASE = re.compile(r"\b(?:an?|two|three|several)\s+[a-z][a-z-]*(?:\s+[a-z][a-z-]*){1,12}")
_WEAK_ENDINGS = {"a", "an", "the", "and", "of", "in", "on", "with", "to", "at", "by", "for", "is", "are", "her", "his",
                 "its", "their", "which", "who", "that", "as", "while"}


def example_phrase(description: str) -> str | None:
    """The first plain noun phrase of a description's first sentence, 3 to 8 words ("a man wearing a suit and bow tie")."""
    first = _SENTENCE.split(description.strip(), maxsplit=1)[0]
    match = _NOUN_PHRASE.search(first.lower())
    if not match:
        return None
    words = match.group(0).split()  # the phrase runs to the next punctuation: a whole clause, never cut mid-way
    while words and words[-1] in _WEAK_ENDINGS:
        words.pop()
    return " ".join(words) if 3 <= len(words) <= 8 else None


def example_queries(records: Sequence[Record], count: int = 5, seed: int = 0) -> list[str]:
    """Example queries for the UI, from the set itself: up to two label names, the rest short noun phrases
    of descriptions, drawn across the set (never the demo's examples on a set they do not fit)."""
    rng = random.Random(seed)
    labels = sorted({part.strip() for r in records for part in r.label.split(",") if part.strip()})
    examples = rng.sample(labels, min(2, len(labels), count))
    order = list(range(len(records)))
    rng.shuffle(order)
    for position in order[:2000]:
        if len(examples) >= count:
            break
        phrase = example_phrase(records[position].description)
        if phrase and phrase not in examples:
            examples.append(phrase)
    return examples
