"""What the page says and links, for any set: titles, counts, names, examples, links, bands."""

import json

import numpy as np

from imagesearch.store.artifacts import load_artifact_set
from build.query_texts import example_queries
from imagesearch.store.records import Record
from imagesearch.serve.search import SearchEngine, SearchResult, mark_matches
from imagesearch.serve.cards import alt_text, band, cards_html
from imagesearch.serve.links import search_link
from imagesearch.serve.page import TITLE, _about, build_blocks
from testkit.factory import make_set, rewrite_manifest, unit_rows


def test_the_title_is_the_products_name_as_in_the_readme():
    from tests.conftest import REPO

    assert f"# {TITLE}:" in (REPO / "README.md").read_text() and f"title: {TITLE}" in (REPO / "README.md").read_text()


def test_counts_are_singular_or_plural_and_no_local_path_is_shown(tmp_path):
    folder = make_set(tmp_path / "s", unit_rows(np.eye(3)), datasets=["only"] * 3, model="/home/me/models/my-minilm")
    rewrite_manifest(folder, captioner={"model": "/srv/weights/secret/instructblip-local", "prompts": ["p"]})
    text = _about(SearchEngine(load_artifact_set(folder), lambda t: None))
    assert "from 1 dataset through" in text and "1 datasets" not in text
    assert "my-minilm" in text and "/home/me" not in text
    assert "instructblip-local" in text and "/srv/weights" not in text


def test_example_queries_come_from_the_set_itself():
    descriptions = ["The image features a man wearing a suit and bow tie, standing by a door.",
                    "A small dog sleeps on a green sofa. It is brown.", "Cars."]
    records = [Record(i, "d", str(i), ["beagle", "", ""][i], f"images/{i}.jpg", d) for i, d in enumerate(descriptions)]
    examples = example_queries(records, count=5)
    assert examples[0] == "beagle"
    assert "a man wearing a suit and bow tie" in examples and "a small dog sleeps on a green sofa" in examples
    assert all("pikachu" not in e for e in examples)


def test_a_link_carries_the_whole_search():
    assert search_link("a cat") == "?q=a+cat"
    assert search_link("a cat", 8, "dense", ["pets", "snacks"], ["beagle"]) == \
        "?q=a+cat&k=8&mode=dense&dataset=pets&dataset=snacks&label=beagle"
    assert search_link(k=8, like=17) == "?like=17&k=8"


def _result(score, description="a cat", image="/x/images/0.jpg", query="cat"):
    pieces, matched = mark_matches(query, description, "")
    return SearchResult(1, 0, score, "d", "s", "", description, image, dense_score=score, matched=matched,
                        pieces=pieces)


def test_bands_come_from_the_sets_measured_cuts_and_are_written_out():
    bands = {"strong": 0.6, "weak": 0.35}
    assert [band(_result(s), bands) for s in (0.9, 0.6, 0.5, 0.34)] == ["strong", "strong", "fair", "weak"]
    assert band(_result(0.9), None) is None
    html = cards_html([_result(0.9), _result(0.2)], bands, 5)
    assert html.count("strong match") == 1 and html.count("weak match") == 1  # words, not only colour


def test_cards_escape_every_text_and_give_each_image_alternative_text():
    hostile = '<img src=x onerror="alert(1)"> a "quoted" cat ' + "word " * 60
    html = cards_html([_result(0.5, hostile, '/x/images/a"b.jpg')], None, 5)
    assert "<img src=x" not in html and "&lt;img src=x" in html and 'a&quot;b.jpg' in html
    assert "<mark>cat</mark>" in html
    alt = alt_text(hostile)
    assert len(alt) <= 161 and alt.endswith("…") and f'alt="{alt.replace(chr(34), "&quot;").replace("<", "&lt;").replace(">", "&gt;")}"' in html


def test_a_set_without_examples_never_shows_the_demos(tmp_path):
    folder = make_set(tmp_path / "s", unit_rows(np.eye(3)), descriptions=["a red car parked outside", "x", "y"])
    rewrite_manifest(folder, examples=None)
    blocks = build_blocks(SearchEngine(load_artifact_set(folder), lambda t: None))
    config = json.dumps(blocks.get_config_file())
    assert "pikachu" not in config and "a cat with green eyes" not in config
    rewrite_manifest(folder, examples=["a red car"])
    config = json.dumps(build_blocks(SearchEngine(load_artifact_set(folder), lambda t: None)).get_config_file())
    assert "a red car" in config
