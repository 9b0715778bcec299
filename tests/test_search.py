"""The search function, with a fake encoder: the tests are about ranking and input checks."""

import numpy as np
import pytest

from imagesearch.store.artifacts import load_artifact_set
from imagesearch.errors import QueryError
from imagesearch.serve.search import MAX_K, SearchEngine, clamp_k, clean_query
from testkit.factory import make_set, unit_rows

VECTORS = unit_rows(np.random.default_rng(1).normal(size=(30, 16)))
DATASETS = ["pets"] * 10 + ["snacks"] * 15 + ["planes"] * 5


class FakeEncoder:
    """Encodes every query as a fixed vector and remembers what it was asked."""

    def __init__(self, vector):
        self.vector = vector
        self.calls = []

    def __call__(self, text):
        self.calls.append(text)
        return self.vector


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return load_artifact_set(make_set(tmp_path_factory.mktemp("s"), VECTORS, datasets=DATASETS))


def _engine(artifacts, vector=None):
    encoder = FakeEncoder(VECTORS[0] if vector is None else vector)
    return SearchEngine(artifacts, encoder), encoder


def test_results_are_the_exact_top_k_in_score_order(artifacts):
    query = unit_rows([np.random.default_rng(5).normal(size=16)])[0]
    engine, _ = _engine(artifacts, query)
    results = engine.search("anything", 5)
    expected = np.argsort(-(VECTORS @ query))[:5]
    assert [r.id for r in results] == expected.tolist()
    assert [r.rank for r in results] == [1, 2, 3, 4, 5]
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert results[0].score == pytest.approx(float(VECTORS[expected[0]] @ query), abs=1e-4)


def test_each_result_carries_what_explains_it(artifacts):
    engine, _ = _engine(artifacts)
    top = engine.search("x", 1)[0]
    assert (top.id, top.dataset, top.source, top.description) == (0, "pets", "src-0", "description 0")
    assert top.image.endswith("images/0.jpg") and top.score == pytest.approx(1.0, abs=1e-4)


def test_filter_keeps_only_the_chosen_datasets(artifacts):
    engine, _ = _engine(artifacts)
    results = engine.search("x", 20, ["planes"])
    assert len(results) == 5 and {r.dataset for r in results} == {"planes"}
    both = engine.search("x", 20, ["planes", "pets"])
    assert len(both) == 15 and {r.dataset for r in both} == {"planes", "pets"}


def test_k_beyond_the_matching_rows_returns_no_padding_or_duplicates(artifacts):
    engine, _ = _engine(artifacts)
    results = engine.search("x", 20, ["planes"])
    ids = [r.id for r in results]
    assert -1 not in ids and len(ids) == len(set(ids))


def test_unknown_dataset_gets_a_clear_message(artifacts):
    engine, _ = _engine(artifacts)
    with pytest.raises(QueryError, match="Unknown dataset 'cars'; choose from: pets, planes, snacks"):
        engine.search("x", 5, ["cars"])


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "\x00\x01", None, 42, ["a"]])
def test_empty_or_non_text_query_gets_a_clear_message(artifacts, query):
    engine, encoder = _engine(artifacts)
    with pytest.raises(QueryError):
        engine.search(query, 5)
    assert encoder.calls == []


def test_long_query_is_capped_and_control_characters_removed():
    assert clean_query("a\x00b\u200fc  \n d" + "z" * 2000, max_chars=20) == "a b c d" + "z" * 13
    assert len(clean_query("word " * 1000)) <= 512


@pytest.mark.parametrize("k, expected", [(0, 1), (-1, 1), (10**9, MAX_K), (7.9, 7), ("3", 3), (None, 5)])
def test_k_is_clamped(k, expected):
    assert clamp_k(k) == expected


@pytest.mark.parametrize("k", [float("nan"), float("inf"), "many", True, [3]])
def test_k_that_is_not_a_number_is_refused(k):
    with pytest.raises(QueryError, match="k must be"):
        clamp_k(k)


def test_query_encoding_to_nan_is_refused(artifacts):
    engine, _ = _engine(artifacts, np.full(16, np.nan, np.float32))
    with pytest.raises(QueryError, match="could not be encoded"):
        engine.search("x", 5)
