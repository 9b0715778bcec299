"""The embedded demo: real photographs from installed wheels, hand-written descriptions, real MiniLM."""

import csv
import json

import numpy as np
import pytest

from imagesearch.models.encoder import MINILM, check_probe
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.serve.search import SearchEngine
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.safe_pickle import load_array
from testkit.paths import REPO


@pytest.fixture(scope="module")
def demo_engine(minilm):
    return SearchEngine(load_artifact_set(DEMO_ARTIFACTS), lambda text: minilm.encode([text])[0])


def test_demo_set_is_complete_small_and_hand_written():
    manifest = json.loads((DEMO_ARTIFACTS / mf.MANIFEST).read_text())
    assert manifest["count"] >= 20
    assert manifest["captioner"]["model"] == "hand-written"
    assert manifest["embedding"]["model"] == MINILM
    assert len(manifest["captioner"]["licenses"]) == manifest["count"]
    size = sum(p.stat().st_size for p in DEMO_ARTIFACTS.rglob("*") if p.is_file())
    assert size < 5 * 1024 * 1024


def test_demo_loads_and_its_model_matches_the_probe(minilm):
    loaded = load_artifact_set(DEMO_ARTIFACTS)
    assert set(loaded.datasets) == {"scikit-image", "scikit-learn"}
    check_probe(minilm, loaded.manifest["embedding"])


@pytest.mark.parametrize(
    "query, source",
    [
        ("a cat with green eyes", "chelsea"),
        ("a rocket on the launch pad at night", "rocket"),
        ("an orange flower", "flower"),
        ("galaxies in deep space", "hubble_deep_field"),
        ("a cup of coffee", "coffee"),
        ("a woman astronaut in a spacesuit", "astronaut"),
        ("a temple in china", "china"),
    ],
)
def test_demo_queries_find_the_right_photo_first(demo_engine, query, source):
    assert demo_engine.search(query, 5)[0].source == source


def test_demo_rebuild_reproduces_the_committed_set_loading_its_encoder_once(tmp_path, monkeypatch):
    from build.demo import DemoConfig, run_demo
    from imagesearch.models import encoder

    loads, load = [], encoder.TextEncoder.load.__func__
    monkeypatch.setattr(encoder.TextEncoder, "load", classmethod(lambda cls, *a, **k: loads.append(a) or load(cls, *a, **k)))
    encoder._shared.cache_clear()  # as in a fresh process
    run_demo(DemoConfig(out=tmp_path / "demo"))  # embeds, indexes (query-like texts) and evaluates
    assert len(loads) == 1
    encoder._shared.cache_clear()  # the counting wrapper's encoder is not kept for later tests
    rebuilt = (tmp_path / "demo" / mf.DESCRIPTIONS).read_text()
    assert rebuilt == (DEMO_ARTIFACTS / mf.DESCRIPTIONS).read_text()
    old = load_array(DEMO_ARTIFACTS / mf.EMBEDDING)
    new = load_array(tmp_path / "demo" / mf.EMBEDDING)
    assert np.allclose(old, new, atol=1e-4)
    with open(REPO / "demo" / "descriptions.csv", newline="") as handle:
        sources = [row["source"] for row in csv.DictReader(handle)]
    assert [r.source for r in load_artifact_set(tmp_path / "demo").records] == sources
