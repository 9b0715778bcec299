"""Queries that match nothing in a set: what a band's cuts are measured against, and nonsense to evaluate them.

A cosine means little on its own: a one-word query scores far lower against a three-sentence description than a
paraphrase does, and every set sits at its own level. So a set's cuts are measured per query length, on queries
of that many words that are about nothing the set holds: random sequences of everyday English words that none
of its descriptions or labels uses (OUTSIDE_WORDS, less the set's own vocabulary by stem). A result whose cosine
beats what nearly all of those reach is about the query, not a coincidence of wording.

Where a set's vocabulary covers nearly all of OUTSIDE_WORDS (a very large set), the words it uses least stand in.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Iterable

from imagesearch.serve.bands import MAX_LENGTH
from imagesearch.store.lexical import term, words

PER_LENGTH = 200  # random queries per length
MIN_OUTSIDE = 40  # fewer unused words than this: the set's rarest ones are added

OUTSIDE_WORDS = tuple("""
    apple bank battery bicycle blanket bottle bread bridge bucket butter button candle carpet ceiling chain
    chair cheese chicken chimney church cloud coat collar comb computer cookie corn cotton cow crown cup curtain
    desk diamond doctor door drawer dress drum egg elbow engine envelope factory farm feather fence finger fish
    flag floor fork fountain frog garden gate glove goat gold guitar hammer hat heart helmet highway hill horse
    hospital house ice island jacket jam jelly kettle key kitchen knee knife ladder lamp leather lemon letter
    library lion lock map market match milk mirror monkey mountain mouse mouth nail needle nest net newspaper
    nose nurse ocean office oil onion orange oven owl paint pan paper parcel pen pencil piano pig pillow pin
    pipe plane plate pocket potato prison pump rabbit rail rain ribbon rice ring river road roof rope rose salt
    sand school scissors sheep shelf ship shirt shoe skirt snake snow soap sock soup spoon square stamp star
    station steam stick stone street sugar sun table tail teeth thread thumb ticket tiger toe tongue tooth towel
    town toy train tray tree truck umbrella village violin wagon wallet watch water wheel whistle window wine
    wing wire wool worm yard angry bitter blue brave bright broken busy calm cheap clean cold cool crazy dark
    deep dirty dry early easy empty fast fat flat fresh friendly full funny gentle giant golden green happy hard
    heavy high hot huge hungry kind large late lazy light little loud lucky modern narrow new noisy old pink
    polite poor proud purple quick quiet rare raw rich round rough sad salty sharp shiny short shy silent silver
    simple slow small smooth soft sour strange strong sweet tall thick thin tiny ugly warm wet wide wild wise
    wooden yellow young jumping running singing sleeping swimming dancing cooking reading writing flying driving
    climbing painting laughing crying eating drinking walking fishing skiing
""".split())


def outside_words(documents: Iterable[str]) -> list[str]:
    """OUTSIDE_WORDS none of ``documents`` uses (by stem); topped up with the least used where too few remain."""
    used = Counter(t for document in documents for t in {term(w) for w in words(document)} if t)
    unused = [w for w in OUTSIDE_WORDS if term(w) not in used]
    if len(unused) >= MIN_OUTSIDE:
        return unused
    rarest = sorted((w for w in OUTSIDE_WORDS if term(w) in used), key=lambda w: used[term(w)])
    return unused + rarest[:MIN_OUTSIDE - len(unused)]


def null_texts(documents: Iterable[str], seed: int = 0) -> dict[int, list[str]]:
    """PER_LENGTH random sequences of ``length`` unused words, for each length 1..MAX_LENGTH."""
    pool = outside_words(documents)
    rng = random.Random(seed)
    return {length: [" ".join(rng.sample(pool, length)) for _ in range(PER_LENGTH)]
            for length in range(1, MAX_LENGTH + 1)}


def nonsense_queries(count: int = 40, seed: int = 7) -> list[str]:
    """Made-up words (\"qwxz blorf\"), one to three of them: queries a set can only answer weakly."""
    rng = random.Random(seed)
    consonants, vowels = "bcdfghjklmnpqrstvwxz", "aeiouy"

    def made_up() -> str:
        return "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 3))) + rng.choice(consonants)

    return [" ".join(made_up() for _ in range(rng.randint(1, 3))) for _ in range(count)]
