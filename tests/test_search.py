"""The search function, with a fake encoder: the tests are about ranking and input checks."""

import numpy as np
import pytest

from imagesearch.errors import QueryError
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set
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








def test_query_encoding_to_nan_is_refused(artifacts):
    engine, _ = _engine(artifacts, np.full(16, np.nan, np.float32))
    with pytest.raises(QueryError, match="could not be encoded"):
        engine.search("x", 5)


def test_the_answer_carries_the_request_as_cleaned_and_the_query_is_encoded_once(artifacts):
    engine, encoder = _engine(artifacts)
    answer = engine.answer("  a\tcat\x00 ", " 20 ", ("snacks", "pets", "snacks"), " DENSE ")
    assert (answer.request.text, answer.request.k, answer.request.mode) == ("a cat", 20, "dense")
    assert answer.request.datasets == ("snacks", "pets") and answer.request.like is None
    assert len(answer.results) == 20 and encoder.calls == ["a cat"]
    similar = engine.answer_similar("3", 2.0)
    assert (similar.request.like, similar.request.k, similar.request.text) == (3, 2, None)
    assert [r.id for r in similar.results] == [r.id for r in engine.similar(3, 2)] and 3 not in [r.id for r in similar.results]


def test_the_api_dict_of_a_result_leaves_out_the_pieces_the_page_marks(artifacts):
    engine, _ = _engine(artifacts)
    top = engine.search("description", 1)[0]
    assert "".join(piece for piece, _ in top.pieces) == top.description
    assert [piece for piece, matched in top.pieces if matched] == ["description"] == top.matched
    assert set(top.as_dict()) == {"rank", "id", "score", "dataset", "source", "label", "description", "image",
                                  "dense_score", "lexical_score", "matched", "band"}
