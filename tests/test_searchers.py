"""Searching an index: certified-exact two-stage search over a flat index, filters, padding."""

import numpy as np
import pytest

from build.indexing.vector_index import IndexSpec, exact_topk
from build.indexing.builder import build_index
from imagesearch.store import searchers
from imagesearch.store.searchers import FlatSearcher
from testkit.factory import embedding_like, unit_rows


@pytest.fixture(scope="module")
def corpus():
    vectors = embedding_like(20000, d=96, clusters=500, seed=4)
    flat = build_index(vectors, IndexSpec("flat")).index
    queries = unit_rows(vectors[:40] + 0.3 * np.random.default_rng(2).normal(size=(40, 96)))
    return vectors, flat, queries


def test_flat_searcher_equals_brute_force_with_and_without_filter(corpus):
    vectors, flat, queries = corpus
    searcher = FlatSearcher(flat)
    allowed = np.random.default_rng(0).random(len(vectors)) < 0.2
    subset = np.flatnonzero(allowed)
    for query, truth, truth_sub in zip(queries, exact_topk(vectors, queries, 10), subset[exact_topk(vectors[subset], queries, 10)]):
        scores, ids = searcher.search(query, 10)
        assert ids[0].tolist() == truth.tolist()
        assert scores[0] == pytest.approx(vectors[truth] @ query, abs=1e-5)
        assert searcher.search(query, 10, allowed)[1][0].tolist() == truth_sub.tolist()
    assert searcher.fallbacks == 0


def test_flat_searcher_falls_back_to_a_full_scan_when_it_cannot_certify(corpus, monkeypatch):
    vectors, flat, queries = corpus
    monkeypatch.setattr(searchers, "FP16_SCORE_BOUND", 10.0)
    searcher = FlatSearcher(flat)
    _, ids = searcher.search(queries[0], 5)
    assert searcher.fallbacks == 1
    assert ids[0].tolist() == exact_topk(vectors, queries[:1], 5)[0].tolist()


def test_flat_searcher_pads_when_fewer_rows_are_allowed_than_asked(corpus):
    vectors, flat, queries = corpus
    allowed = np.zeros(len(vectors), bool)
    allowed[[3, 99]] = True
    scores, ids = FlatSearcher(flat).search(queries[0], 5, allowed)
    assert sorted(ids[0][:2].tolist()) == [3, 99] and ids[0][2:].tolist() == [-1, -1, -1]
    assert np.isneginf(scores[0][2:]).all()
    assert (FlatSearcher(flat).search(queries[0], 5, np.zeros(len(vectors), bool))[1] == -1).all()


def _near_ties(*above: float):
    """300 rows whose cosines to the query (e1) are 0.5 + i * 1e-6: distinct in float32, one value in float16; then
    rows at each of ``above``. Returns (the searcher over them, the query)."""
    a = np.concatenate([0.5 + np.arange(300) * 1e-6, above])
    vectors = np.zeros((len(a), 8), dtype=np.float32)
    vectors[:, 0], vectors[:, 1] = a, np.sqrt(1 - a**2)
    query = np.zeros(8, dtype=np.float32)
    query[0] = 1.0
    return FlatSearcher(build_index(vectors, IndexSpec("flat")).index), query


def test_near_ties_that_fp16_cannot_order_are_still_answered_exactly():
    """Adversarial: 300 rows whose float16 scores are all equal, the true best last. The fp16 pass keeps the first
    candidates it met; only the certificate (FP16_SCORE_BOUND) sends this query to the float32 scan."""
    searcher, query = _near_ties()
    _, ids = searcher.search(query, 5)
    assert ids[0].tolist() == [299, 298, 297, 296, 295] and searcher.fallbacks == 1
    allowed = np.ones(300, bool)
    allowed[299] = False
    assert searcher.search(query, 3, allowed)[1][0].tolist() == [298, 297, 296]


def test_the_certificate_is_on_the_kth_result_not_the_first():
    """One clear winner above the 300 near-ties: the winner is far above the bound, the 5th is not, so only a
    certificate on the k-th result sends the query to the float32 scan."""
    searcher, query = _near_ties(0.99)
    _, ids = searcher.search(query, 5)
    assert ids[0].tolist() == [300, 299, 298, 297, 296] and searcher.fallbacks == 1


def test_a_second_thread_per_query_is_used_only_where_the_index_step_measured_it_paying():
    from imagesearch.store.searchers import threads_that_pay

    measured = {"latency_ms": {"p50": 8.6}, "latency_ms_2_threads": {"p50": 4.5}}
    assert threads_that_pay(measured, cores=2) == 2
    assert threads_that_pay(measured, cores=1) == 1  # nothing to share a query with
    assert threads_that_pay({"latency_ms": {"p50": 8.6}, "latency_ms_2_threads": {"p50": 7.9}}, cores=2) == 1
    assert threads_that_pay({"type": "flat", "exact": True}, cores=2) == 1  # not measured: one thread


def test_an_ivf_sq8_query_on_two_threads_finds_what_it_finds_on_one():
    import faiss

    from build.indexing.vector_index import IndexSpec
    from build.indexing.builder import build_index
    from imagesearch.store.searchers import IndexSearcher

    vectors = embedding_like(3000)
    searcher = IndexSearcher(build_index(vectors, IndexSpec("ivf-sq8", nlist=32, nprobe=16)).index)
    before = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(1)
        one = [searcher.search(q, 5)[1].tolist() for q in vectors[:20]]
        faiss.omp_set_num_threads(2)
        two = [searcher.search(q, 5)[1].tolist() for q in vectors[:20]]
    finally:
        faiss.omp_set_num_threads(before)
    assert one == two and searcher.lists.parallel_mode == 1
