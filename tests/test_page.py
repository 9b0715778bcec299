"""What the page says and links, for any set: titles, counts, names, examples, links, bands."""

import json

import numpy as np

from build.indexing.query_texts import example_queries
from imagesearch.serve.page import TITLE, _about, build_blocks
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.records import Record
from testkit.factory import make_set, rewrite_manifest, unit_rows


def test_the_title_is_the_products_name_as_in_the_readme():
    from testkit.paths import REPO

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










def test_a_set_without_examples_never_shows_the_demos(tmp_path):
    folder = make_set(tmp_path / "s", unit_rows(np.eye(3)), descriptions=["a red car parked outside", "x", "y"])
    rewrite_manifest(folder, examples=None)
    blocks = build_blocks(SearchEngine(load_artifact_set(folder), lambda t: None))
    config = json.dumps(blocks.get_config_file(), default=str)
    assert "pikachu" not in config and "a cat with green eyes" not in config
    rewrite_manifest(folder, examples=["a red car"])
    config = json.dumps(build_blocks(SearchEngine(load_artifact_set(folder), lambda t: None)).get_config_file(), default=str)
    assert "a red car" in config
