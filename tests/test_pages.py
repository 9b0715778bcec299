"""Pages of a ranking never repeat or skip a result, whatever the ties: every mode and "more like this" rank by
(score, row) with one tie-break that does not depend on how many results were asked for."""

from __future__ import annotations

import numpy as np
import pytest

from imagesearch.serve.search import SearchEngine
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.records import Record
from testkit.factory import unit_rows, write_images
from testkit.vector_set import write_vector_set

COLOURS = ("red", "blue", "green", "black", "white")
ITEMS = ("cotton t-shirt", "wool sweater", "denim jacket", "linen dress")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """400 rows, each one of 20 catalogue lines (colour x item), repeated 20 times: identical descriptions and
    identical vectors, so every score ties with 19 others."""
    folder = tmp_path_factory.mktemp("catalogue")
    lines = [f"a {colour} {item} on a white background" for colour in COLOURS for item in ITEMS]
    rng = np.random.default_rng(7)
    line_vectors = unit_rows(rng.normal(size=(len(lines), 16)))
    order = rng.permutation(np.repeat(np.arange(len(lines)), 20))  # the copies spread over the rows
    descriptions = [lines[i] for i in order]
    images = write_images(folder, len(order))
    records = [Record(i, "shop", f"sku-{i}", "", images[i], descriptions[i]) for i in range(len(order))]
    write_vector_set(folder, records, line_vectors[order], "test/fake-encoder",
                     {"text": "x", "vector": [0.0] * 16}, {"model": mf.HAND_WRITTEN})
    artifacts = load_artifact_set(folder)
    query = unit_rows((line_vectors[0] + 0.6 * line_vectors[6] + 0.3 * rng.normal(size=16))[None])[0]
    return SearchEngine(artifacts, lambda text: query)


def _pages(fetch, size=5, pages=4):
    return [result.id for offset in range(0, size * pages, size) for result in fetch(size, offset)]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_pages_of_five_are_exactly_the_top_twenty_in_every_mode(catalogue, mode):
    query = "red cotton t-shirt"
    whole = [result.id for result in catalogue.search(query, 20, mode=mode)]
    paged = _pages(lambda k, offset: catalogue.search(query, k, mode=mode, offset=offset))
    assert len(set(paged)) == len(paged), "a page repeated a result"
    assert paged == whole


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_page_size_cuts_the_same_ranking(catalogue, mode):
    query = "blue wool sweater"
    whole = [result.id for result in catalogue.search(query, 20, mode=mode)]
    for k in (1, 3, 7, 13):
        assert [result.id for result in catalogue.search(query, k, mode=mode)] == whole[:k]
    ties = [result.score for result in catalogue.search(query, 20, mode=mode)]
    assert len(set(ties)) < len(ties), "the set must put ties inside the ranking for this test to mean anything"


def test_more_like_this_pages_are_exactly_its_top_twenty(catalogue):
    whole = [result.id for result in catalogue.similar(0, 20)]
    paged = _pages(lambda k, offset: catalogue.similar(0, k, offset=offset))
    assert paged == whole and len(set(paged)) == 20 and 0 not in paged


def test_ties_are_broken_by_row_so_the_order_is_the_same_on_every_call(catalogue):
    first = catalogue.search("black denim jacket", 20, mode="dense")
    scores = [result.score for result in first]
    tied = [result.id for result in first if result.score == scores[0]]
    assert tied == sorted(tied) and len(tied) > 1
