"""Bands a person agrees with: a right first result to a one- to three-word query is never weak, made-up words are
always weak with the "nothing matches well" banner, and the API and the card give one judgement. Built the way a
new user builds a set: twelve photos imported with real descriptions, embedded with the real MiniLM, indexed."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from build.embed import EmbedConfig, run_embed
from build.import_descriptions import ImportConfig, run_import
from build.index import IndexConfig, run_index
from build.indexing.null_queries import OUTSIDE_WORDS, null_texts, outside_words
from imagesearch.models.encoder import MINILM
from imagesearch.serve.bands import Bands, Cuts, content_length
from imagesearch.serve.cards import cards_html
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set
from testkit.paths import DEMO_ARTIFACTS

TWELVE = ("astronaut", "chelsea", "coffee", "coins", "horse", "hubble_deep_field", "moon", "motorcycle_left", "rocket",
          "flower", "china", "page")
QUERIES = {  # 1-3 content words, as a new user typed them, and the photos a person calls right
    "coffee": {"coffee"}, "kitten": {"chelsea"}, "a cat": {"chelsea"}, "green eyes": {"chelsea"}, "coins": {"coins"},
    "a horse": {"horse"}, "the moon": {"moon"}, "galaxies": {"hubble_deep_field"}, "a motorbike": {"motorcycle_left"},
    "rocket launch": {"rocket"}, "an astronaut": {"astronaut"}, "a flower": {"flower"}, "a temple": {"china"},
    "a textbook page": {"page"}, "space -rocket": {"astronaut", "hubble_deep_field", "moon"}, "pets": {"chelsea"},
}
NONSENSE = ("qwxz blorf", "zzkrp vlemt", "flibber jabbow snark", "kkkkk")


@pytest.fixture(scope="module")
def twelve(tmp_path_factory, minilm):
    """A folder of twelve photos with their real descriptions, imported, embedded and indexed by the build."""
    root = tmp_path_factory.mktemp("twelve")
    photos = root / "photos"
    photos.mkdir()
    demo = {record.source: record for record in load_artifact_set(DEMO_ARTIFACTS).records}
    with open(root / "mine.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("image", "description", "label"))
        for source in TWELVE:  # the demo's photo and its hand-written description
            shutil.copy(DEMO_ARTIFACTS / demo[source].image, photos / f"{source}.jpg")
            writer.writerow((f"{source}.jpg", demo[source].description, ""))
    folder = root / "set"
    run_import(ImportConfig(root / "mine.csv", photos, folder, skip_bad=False))
    run_embed(EmbedConfig(folder, MINILM, offline=True))
    run_index(IndexConfig(folder, offline=True))
    artifacts = load_artifact_set(folder)
    return SearchEngine(artifacts, lambda text: minilm.encode([text])[0])


def test_the_set_is_cut_per_query_length_on_queries_about_nothing_it_holds(twelve):
    bands = twelve.artifacts.manifest["score_bands"]
    assert sorted(bands["by_length"]) == ["1", "2", "3", "4", "5"] and bands["null_queries"] == 1000
    assert all(0 < cuts["weak"] < cuts["strong"] < 1 for cuts in bands["by_length"].values())


def test_a_right_first_result_to_a_short_query_is_never_weak_nor_under_the_banner(twelve):
    right = 0
    for query, expected in QUERIES.items():
        results = twelve.search(query, 5)
        if results[0].source.removesuffix(".jpg") not in expected:  # an imported photo's source is its file
            continue
        right += 1
        assert results[0].band in ("strong", "fair"), (query, results[0].dense_score, results[0].band)
        assert not all(r.band == "weak" for r in results), query
    assert right >= len(QUERIES) - 2, "the set must answer nearly all of these right for the test to mean anything"


@pytest.mark.parametrize("query", NONSENSE)
def test_made_up_words_are_always_weak_with_the_banner(twelve, query):
    answer = twelve.answer(query, 5)
    assert [r.band for r in answer.results] == ["weak"] * 5 and answer.nothing_matches_well


def test_green_eyes_on_the_demo_is_the_one_cat_and_not_called_weak(minilm):
    engine = SearchEngine(load_artifact_set(DEMO_ARTIFACTS), lambda text: minilm.encode([text])[0])
    first = engine.search("green eyes", 5)[0]
    assert first.source == "chelsea" and first.matched == ["green", "eyes"]
    # its cosine (0.37) is fair on its own for two words; holding both words makes it strong
    assert first.band == "strong" and engine.bands.band(first.dense_score, length=2) == "fair"
    assert engine.answer("qwxz blorf", 5).nothing_matches_well


def test_the_card_shows_the_band_the_api_returns(twelve):
    results = twelve.search("kitten", 3)
    html = cards_html(results, 3)
    for result in results:
        assert f"{result.band} match" in html
    assert [r.as_dict()["band"] for r in results] == [r.band for r in results]


def test_a_row_holding_every_word_is_at_least_fair_and_strong_once_past_the_weak_cut():
    bands = Bands(by_length=(Cuts(0.5, 0.3), Cuts(0.45, 0.28)))
    assert [bands.band(s, length=2) for s in (0.5, 0.3, 0.2)] == ["strong", "fair", "weak"]
    assert [bands.band(s, length=2, holds_every_word=True) for s in (0.3, 0.2)] == ["strong", "fair"]
    assert bands.band(0.46, length=1) == "fair" and bands.band(0.46, length=9) == "strong"  # 9 words: cut as 2


def test_a_manifest_without_cuts_per_length_keeps_its_one_pair():
    old = Bands.from_manifest({"strong": 0.6, "weak": 0.35})
    assert old.by_length == () and [old.band(s, length=1) for s in (0.6, 0.4, 0.3)] == ["strong", "fair", "weak"]
    partial = Bands.from_manifest({"strong": 0.6, "weak": 0.35, "by_length": {"1": {"strong": 0.5, "weak": 0.3}}})
    assert partial.by_length == ()  # every length or none


def test_queries_about_nothing_use_no_word_of_the_set_and_are_topped_up_when_a_set_uses_nearly_all():
    documents = ["a red apple on a wooden table", "a cat"]
    texts = null_texts(documents)
    assert sorted(texts) == [1, 2, 3, 4, 5] and all(len(group) == 200 for group in texts.values())
    used = {"apple", "wooden", "table", "red", "cat"}
    assert not used & {word for group in texts.values() for text in group for word in text.split()}
    assert all(content_length(text) == length for length, group in texts.items() for text in group)
    everything = [" ".join(OUTSIDE_WORDS)]
    assert len(outside_words(everything)) == 40  # all used: the least used stand in


def test_content_length_counts_words_that_carry_meaning():
    assert [content_length(q) for q in ("a cup of coffee", "the", "green eyes", "an old tower by a lake")] == [2, 1, 2, 3]
    assert np.isfinite(content_length("qwxz blorf"))
