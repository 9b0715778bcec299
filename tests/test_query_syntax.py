"""What a query asks beyond its words (-word, "phrases"), paging with offset, bands on results, image + words:
each checked against brute force over a small set with known vectors, through the app's own SearchEngine."""

import json

import numpy as np
import pytest

from imagesearch.errors import QueryError
from imagesearch.serve.query_syntax import parse_query
from imagesearch.serve.request import MAX_OFFSET, clean_offset
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set
from testkit.factory import make_set, rewrite_manifest, unit_rows

DESCRIPTIONS = ["a red dress with white dots", "a woman in red dresses on a runway", "a blue dress on a hanger",
                "a white dress. Red shoes beside it", "a red car parked outside", "two dresses, red and white",
                "a t-shirt with a red print", "a plain grey t shirt"] + [f"filler row number {i}" for i in range(22)]
VECTORS = unit_rows(np.random.default_rng(3).normal(size=(len(DESCRIPTIONS), 16)))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return load_artifact_set(make_set(tmp_path_factory.mktemp("s"), VECTORS, descriptions=DESCRIPTIONS))


def _engine(artifacts, vector=None):
    vector = VECTORS[0] if vector is None else vector
    return SearchEngine(artifacts, lambda text: vector)


@pytest.mark.parametrize("query, text, phrases, excluded", [
    ("dress -red", "dress", (), ("red",)),
    ('"a red dress" -"white dots" shoes', "a red dress shoes", ("a red dress",), ('"white dots"',)),
    ("t-shirt -t-shirt", "t-shirt", (), ('"t shirt"',)),  # a hyphen inside a word is part of it
    ('"unclosed phrase', "unclosed phrase", ("unclosed phrase",), ()),
    ("a - dash -", "a - dash -", (), ()),
])
def test_a_query_is_split_into_what_is_searched_required_and_left_out(query, text, phrases, excluded):
    parts = parse_query(query)
    assert (parts.text, parts.phrases, parts.excluded) == (text, phrases, excluded)


def test_a_query_of_exclusions_only_is_refused_in_one_line():
    with pytest.raises(QueryError, match="Add words to search for"):
        parse_query("-red -dress")


def test_minus_word_leaves_out_every_row_holding_it_stemmed(artifacts):
    engine = _engine(artifacts)
    for mode in ("hybrid", "dense", "lexical"):
        found = {r.description for r in engine.search("dress -red", 20, mode=mode)}
        assert not any("red" in d.lower().split() or "red," in d.lower() for d in found), mode
        assert "a blue dress on a hanger" in found
    assert "a woman in red dresses on a runway" not in {r.description for r in engine.search("runway -dress", 20)}
    # a stop word leaves nothing out; an unknown word leaves nothing out
    assert len(engine.search("dress -the", 20, mode="dense")) == len(engine.search("dress -zxqv", 20, mode="dense")) == 20


def test_a_quoted_phrase_keeps_only_rows_with_those_words_in_that_order(artifacts):
    engine = _engine(artifacts)
    assert [r.description for r in engine.search('"red dress"', 20)] == ["a red dress with white dots"]
    # words in order across a comma or a hyphen, never across a sentence's end; case does not matter
    assert {r.description for r in engine.search('"T SHIRT"', 20, mode="dense")} == {
        "a t-shirt with a red print", "a plain grey t shirt"}
    assert "a white dress. Red shoes beside it" not in {r.description for r in engine.search('"dress red"', 20)}
    assert engine.search('"red and white"', 20)[0].description == "two dresses, red and white"
    assert engine.search('dress -"white dots"', 20, mode="dense")[0].description != "a red dress with white dots"


def test_phrases_and_exclusions_combine_with_dataset_filters_and_a_set_without_them_is_told(artifacts, tmp_path):
    engine = _engine(artifacts)
    assert engine.search('"red dress" -dots', 20) == []
    folder = make_set(tmp_path / "plain", VECTORS[:4], descriptions=DESCRIPTIONS[:4])
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["lexical.npz"]
    rewrite_manifest(folder, lexical=None, files=manifest["files"])  # a set indexed before lexical search existed
    (folder / "lexical.npz").unlink()
    plain = SearchEngine(load_artifact_set(folder), lambda text: VECTORS[0])
    with pytest.raises(QueryError, match="no lexical index, so -words and quoted phrases"):
        plain.search("dress -red", 3)
    assert len(plain.search("dress", 3)) == 3


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_offset_gives_the_next_results_of_the_same_ranking(artifacts, mode):
    engine = _engine(artifacts, unit_rows([np.random.default_rng(9).normal(size=16)])[0])
    whole = engine.search("red dress row", 20, mode=mode)
    page = engine.search("red dress row", 4, mode=mode, offset=3)
    assert [r.id for r in page] == [r.id for r in whole[3:7]] and [r.rank for r in page] == [4, 5, 6, 7]
    assert [r.score for r in page] == [r.score for r in whole[3:7]]
    last = len(engine.search("red dress row", 20, mode=mode, offset=20)) + 20  # lexical: only rows with a word
    with pytest.raises(QueryError, match=rf"^No more results: this search has {last}, and offset {last} starts past"):
        engine.search("red dress row", 5, mode=mode, offset=last)
    similar = engine.similar(0, 3, offset=2)
    assert [r.id for r in similar] == [r.id for r in engine.similar(0, 5)[2:5]] and similar[0].rank == 3


@pytest.mark.parametrize("value, expected", [(None, 0), ("", 0), ("5", 5), (7.0, 7), (MAX_OFFSET, MAX_OFFSET)])
def test_offset_is_cleaned_once(value, expected):
    assert clean_offset(value) == expected


@pytest.mark.parametrize("value", ["five", 2.5, True, float("nan"), [1], -1, -3, MAX_OFFSET + 1, 10**9])
def test_a_bad_offset_is_one_line(value):
    with pytest.raises(QueryError, match="offset must be a whole number"):
        clean_offset(value)


def test_every_result_is_banded_on_its_cosine_and_all_weak_means_nothing_matches_well(artifacts, tmp_path):
    folder = make_set(tmp_path / "banded", VECTORS, descriptions=DESCRIPTIONS)
    rewrite_manifest(folder, score_bands={"strong": 0.9, "weak": 0.3, "similar": {"strong": 0.99, "weak": 0.98}})
    engine = SearchEngine(load_artifact_set(folder), lambda text: VECTORS[0])
    answer = engine.answer("red dress", 10)
    expected = ["strong" if r.dense_score >= 0.9 else "weak" if r.dense_score < 0.3 else "fair" for r in answer.results]
    assert [r.band for r in answer.results] == expected and expected[0] == "strong" and not answer.nothing_matches_well
    rewrite_manifest(folder, score_bands={"strong": 1.0, "weak": 0.999})  # cuts no other row can reach
    far = SearchEngine(load_artifact_set(folder), lambda text: -VECTORS[0]).answer("red dress", 3)
    assert [r.band for r in far.results] == ["weak"] * 3 and far.nothing_matches_well
    # more like this is cut on its own cuts, measured between descriptions
    assert {r.band for r in engine.similar(0, 5)} == {"weak"}
    assert SearchEngine(load_artifact_set(folder), lambda text: VECTORS[0]).similar(0, 1)[0].band is None
    assert _engine(artifacts).answer("red dress", 3).results[0].band is None  # a set without cuts shows none


def test_words_refine_an_images_description_by_meaning_words_and_filters(artifacts):
    vectors = {"the upload's description": VECTORS[2], "but red": VECTORS[1]}
    engine = SearchEngine(artifacts, lambda text: vectors[text])
    plain = engine.answer_image("the upload's description", None, 5, mode="dense")
    assert plain.results[0].description == DESCRIPTIONS[2] and plain.request.refine is None
    refined = engine.answer_image("the upload's description", "but red", 5, mode="dense")
    blend = unit_rows([VECTORS[1] + VECTORS[2]])[0]
    assert [r.id for r in refined.results] == np.argsort(-(VECTORS @ blend))[:5].tolist()
    assert refined.request.refine == "but red" and refined.request.text == "the upload's description"
    vectors["dress"] = VECTORS[4]
    filtered = engine.answer_image("the upload's description", "dress -red", 20)
    assert all("red" not in r.description.lower() for r in filtered.results)
    assert filtered.results[0].matched == ["dress"]  # the words alone are matched and marked
