"""The index step: FAISS and BM25 written together, match bands measured on the set's own query-like texts."""

import numpy as np
import pytest

from build.index import IndexConfig, run_index
from build.indexing.score_bands import measure_bands
from build.indexing.vector_index import IndexSpec
from imagesearch.errors import ArtifactError
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import load_artifact_set
from testkit.factory import make_set, rewrite_manifest, unit_rows


def test_bands_are_the_median_and_tenth_percentile_of_each_querys_best_cosine():
    vectors = unit_rows(np.eye(4))
    queries = np.array([[1, 0, 0, 0]] * 50 + [[0.6, 0.8, 0, 0]] * 50, dtype=np.float32)  # best cosines: 1.0 and 0.8
    bands = measure_bands(vectors, queries)
    assert bands["strong"] == pytest.approx(0.9) and bands["weak"] == pytest.approx(0.8)
    assert "100 query-like texts" in bands["basis"] and "similar" not in bands  # 4 rows: too few to measure


def test_a_set_with_fewer_than_100_query_like_texts_gets_no_bands_rather_than_guessed_ones():
    vectors = unit_rows(np.eye(4))
    assert measure_bands(vectors, np.repeat(vectors[:1], 99, axis=0)) is None


def test_more_like_this_cuts_come_from_each_sampled_rows_best_other_row():
    rng = np.random.default_rng(0)
    base = unit_rows(rng.normal(size=(60, 8)))
    vectors = np.concatenate([base, base])  # every row has an exact twin: its best other row is at cosine 1
    vectors[60:] = unit_rows(vectors[60:] + 0.05 * rng.normal(size=(60, 8)))
    bands = measure_bands(vectors, unit_rows(rng.normal(size=(100, 8))))
    twin = float(np.min(np.sum(vectors[:60] * vectors[60:], axis=1)))
    assert bands["similar"]["rows"] == 120 and bands["similar"]["weak"] >= twin - 1e-4
    assert bands["similar"]["strong"] < 1.0  # a row is never its own neighbour


def test_reindexing_writes_a_loadable_set_with_its_lexical_index_and_examples(tmp_path, capsys):
    descriptions = ["a red car parked outside a house", "a dog asleep on a blue sofa", "two cats on a wall"]
    folder = make_set(tmp_path / "s", unit_rows(np.eye(3)), descriptions=descriptions)
    rewrite_manifest(folder, examples=None, lexical=None)
    run_index(IndexConfig(folder, offline=True))  # the fake embedder cannot be had: no bands, the rest is built
    artifacts = load_artifact_set(folder)
    assert artifacts.lexical is not None and artifacts.manifest["index"]["exact"]
    assert artifacts.manifest["score_bands"] is None and artifacts.manifest["examples"]
    assert capsys.readouterr().out.startswith(f"indexed 3 vectors -> {folder / mf.INDEX} (flat, exact)")


def test_an_ivf_index_is_never_built_unmeasured(tmp_path):
    folder = make_set(tmp_path / "s", unit_rows(np.random.default_rng(0).normal(size=(100, 8))))
    with pytest.raises(ArtifactError, match="use --index flat"):
        run_index(IndexConfig(folder, IndexSpec("ivf"), offline=True))
