import struct

import faiss
import numpy as np
import pytest

from imagesearch.errors import ArtifactError
from build.vector_index import IndexSpec, build_index, exact_topk
from imagesearch.store import searchers
from imagesearch.store.index_file import read_index, write_index
from imagesearch.store.searchers import FlatSearcher, search_index
from testkit.factory import unit_rows


def _embedding_like(n, d=64, clusters=200, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    x = centres[rng.integers(0, clusters, n)] + 1.2 * rng.normal(size=(n, d))
    return unit_rows(x)


def test_flat_search_gives_the_exact_scores_of_tiny_vectors():
    vectors = unit_rows([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    index = build_index(vectors, IndexSpec()).index
    scores, ids = search_index(index, unit_rows([[1, 0, 0]]), 4)
    assert ids[0].tolist() == [0, 2, 1, 3] or ids[0].tolist() == [0, 2, 3, 1]
    assert scores[0][:2] == pytest.approx([1.0, 1 / np.sqrt(2)], abs=1e-6)
    assert scores[0][2:] == pytest.approx([0.0, 0.0], abs=1e-6)


def test_default_index_equals_numpy_brute_force():
    vectors = _embedding_like(3000)
    queries = _embedding_like(50, seed=1)
    built = build_index(vectors, IndexSpec())
    assert built.info["type"] == "flat" and built.info["exact"]
    _, ids = search_index(built.index, queries, 5)
    assert np.array_equal(ids, exact_topk(vectors, queries, 5))


def test_k_larger_than_the_corpus_pads_with_minus_one():
    vectors = unit_rows([[1, 0], [0, 1]])
    _, ids = search_index(build_index(vectors, IndexSpec()).index, unit_rows([[1, 0]]), 5)
    assert ids[0].tolist() == [0, 1, -1, -1, -1]


def test_one_row_corpus():
    vectors = unit_rows([[0.3, 0.4]])
    scores, ids = search_index(build_index(vectors, IndexSpec()).index, vectors, 1)
    assert ids.tolist() == [[0]] and scores[0][0] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_filter_returns_the_brute_force_top_k_of_the_allowed_rows(kind):
    vectors = _embedding_like(2000)
    allowed = np.zeros(len(vectors), bool)
    allowed[::7] = True
    built = build_index(vectors, IndexSpec(kind))
    queries = _embedding_like(20, seed=3)
    _, ids = search_index(built.index, queries, 5, allowed)
    subset = np.flatnonzero(allowed)
    truth = subset[exact_topk(vectors[subset], queries, 5)]
    assert allowed[ids[ids >= 0]].all()
    if kind == "flat":
        assert np.array_equal(ids, truth)


def test_filter_that_matches_nothing_returns_only_padding():
    vectors = _embedding_like(100)
    index = build_index(vectors, IndexSpec()).index
    _, ids = search_index(index, vectors[:1], 5, np.zeros(100, bool))
    assert (ids == -1).all()


def test_ivf_tunes_nprobe_until_recall_reaches_the_target():
    vectors = _embedding_like(6000)
    built = build_index(vectors, IndexSpec("ivf"))
    assert built.info["recall_at_5"] >= 0.99
    assert built.info["params"]["nprobe_tuned"]
    assert built.info["params"]["nlist"] == min(int(4 * np.sqrt(6000)), 6000 // 39)


def test_ivf_tuning_counts_queries_that_fall_between_clusters():
    rng = np.random.default_rng(3)
    centres = unit_rows(rng.normal(size=(60, 32)))
    vectors = unit_rows(centres[rng.integers(0, 60, 6000)] + 0.1 * rng.normal(size=(6000, 32)))
    pairs = rng.integers(0, 60, size=(300, 2))
    # like a short text query: between clusters, near no single one
    between = unit_rows(centres[pairs[:, 0]] + centres[pairs[:, 1]] + 0.3 * rng.normal(size=(300, 32)))
    stored_only = build_index(vectors, IndexSpec("ivf", nlist=60))
    both = build_index(vectors, IndexSpec("ivf", nlist=60), text_queries=between)
    info = both.info
    assert info["recall_at_5"] == min(info["recall_at_5_stored"], info["recall_at_5_text"])
    assert info["recall_text_queries"] == 300 and "recall_at_5_text" not in stored_only.info
    assert info["recall_at_5"] >= 0.99 or info["params"]["nprobe"] == info["params"]["nlist"]
    assert info["params"]["nprobe"] > stored_only.info["params"]["nprobe"]
    # the recall written down is what the chosen nprobe really gives on those queries
    truth = exact_topk(vectors, between, 5)
    _, got = both.index.search(between, 5)
    measured = np.mean([len(set(t) & set(g)) / 5 for t, g in zip(truth, got)])
    assert measured == pytest.approx(info["recall_at_5_text"], abs=1e-4)
    # and at the nprobe tuned on stored vectors alone, those queries lose results
    both.index.nprobe = stored_only.info["params"]["nprobe"]
    _, got = both.index.search(between, 5)
    assert np.mean([len(set(t) & set(g)) / 5 for t, g in zip(truth, got)]) < 0.99


def test_seed_design_stays_reachable_and_its_recall_is_measured():
    vectors = _embedding_like(6000)
    built = build_index(vectors, IndexSpec("ivf", nlist=3, nprobe=1))
    assert built.info["params"] == {"nlist": 3, "nprobe": 1, "nprobe_tuned": False}
    assert built.info["recall_at_5"] < 0.99


def _write(tmp_path, vectors, kind="flat"):
    path = tmp_path / "index.faiss"
    write_index(path, build_index(vectors, IndexSpec(kind)).index)
    return path


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_written_index_reads_back_and_searches_the_same(tmp_path, kind):
    vectors = _embedding_like(500)
    index = read_index(_write(tmp_path, vectors, kind), kind, 64, 500)
    _, ids = index.search(vectors[:3], 1)
    assert ids[:, 0].tolist() == [0, 1, 2]


def test_header_patched_to_a_huge_count_is_refused_before_faiss_reads_it(tmp_path):
    path = _write(tmp_path, _embedding_like(50))
    data = bytearray(path.read_bytes())
    data[8:16] = struct.pack("<q", 10**12)
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="1000000000000 vectors"):
        read_index(path, "flat", 64, 50)
    with pytest.raises(ArtifactError, match="bytes, expected"):
        read_index(path, "flat", 64, 10**12)


@pytest.mark.parametrize("mangle", [lambda b: b[:20], lambda b: b[: len(b) - 100], lambda b: b"\x00" * len(b), lambda b: b"IxFI" + b"\xff" * 60])
def test_truncated_or_garbage_index_is_refused(tmp_path, mangle):
    path = _write(tmp_path, _embedding_like(50))
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(ArtifactError):
        read_index(path, "flat", 64, 50)


def test_wrong_dimension_type_or_metric_is_refused(tmp_path):
    path = _write(tmp_path, _embedding_like(50))
    with pytest.raises(ArtifactError, match="dimension 64"):
        read_index(path, "flat", 32, 50)
    with pytest.raises(ArtifactError, match="holds a flat index"):
        read_index(path, "ivf", 64, 50)
    l2 = faiss.IndexFlatL2(64)
    l2.add(_embedding_like(50))
    faiss.write_index(l2, str(path))
    with pytest.raises(ArtifactError, match="not a flat or IVF-flat"):
        read_index(path, "flat", 64, 50)


@pytest.fixture(scope="module")
def corpus():
    vectors = _embedding_like(20000, d=96, clusters=500, seed=4)
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
