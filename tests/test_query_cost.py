"""A query's cost is bounded: quoted phrases and -words are matched only where the lexical index says their
words are, a phrase of stop words filters nothing, and a query holds at most MAX_FILTERS of them."""

from __future__ import annotations

import string
import time

import numpy as np
import pytest
from PIL import Image

from imagesearch.errors import QueryError
from imagesearch.serve.query_syntax import MAX_FILTERS
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.records import IMAGES_DIR, Record
from testkit.factory import unit_rows
from testkit.vector_set import write_vector_set

ROWS = 50_000
WORDS = ("red", "blue", "shirt", "dress", "white", "dots", "cotton", "the", "a", "with", "on", "of", "and", "model")


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    rng = np.random.default_rng(3)
    (folder / IMAGES_DIR).mkdir()
    for i in range(4):
        Image.new("RGB", (32, 32), (60 * i, 90, 200)).save(folder / IMAGES_DIR / f"{i}.jpg")
    texts = [" ".join(rng.choice(WORDS, size=12)) for _ in range(ROWS)]
    records = [Record(i, "shop", str(i), "", f"{IMAGES_DIR}/{i % 4}.jpg", texts[i]) for i in range(ROWS)]
    vectors = unit_rows(rng.normal(size=(ROWS, 16)))
    write_vector_set(folder, records, vectors, "test/fake-encoder", {"text": "x", "vector": [0.0] * 16},
                     {"model": "synthetic"})
    query = vectors[0]
    return SearchEngine(load_artifact_set(folder), lambda text: query)


def _median_s(call, repeats=5):
    call()  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def _stop_word_phrases(count, minus=False):
    pairs = [f'{"-" if minus else ""}"{a} {b}"' for a in ("a", "the") for b in string.ascii_lowercase]
    return " ".join(pairs[:count])


def test_the_hostile_query_of_seventy_stop_word_phrases_is_refused_in_one_line(large):
    hostile = f"red {_stop_word_phrases(52)} {_stop_word_phrases(20, minus=True)}"[:512]
    started = time.perf_counter()
    with pytest.raises(QueryError) as refused:
        large.search(hostile, 5)
    assert f"at most {MAX_FILTERS} quoted phrases and -words" in str(refused.value)
    assert "\n" not in str(refused.value) and time.perf_counter() - started < 5


@pytest.mark.parametrize("minus", [False, True])
def test_stop_word_phrases_under_the_cap_cost_a_small_multiple_of_a_plain_query(large, minus):
    hostile = f"red shirt {_stop_word_phrases(MAX_FILTERS, minus)}"
    plain = _median_s(lambda: large.search("red shirt", 5))
    costly = _median_s(lambda: large.search(hostile, 5))
    assert costly < 3 * plain + 0.01, f"plain {plain * 1000:.1f} ms, hostile {costly * 1000:.1f} ms"


def test_a_phrase_with_words_is_still_matched_exactly_among_the_rows_that_hold_them(large):
    found = large.search('"white dots" -"red shirt"', 20)
    assert found and all("white dots" in r.description and "red shirt" not in r.description for r in found)
