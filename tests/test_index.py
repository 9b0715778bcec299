"""The index step: FAISS and BM25 written together, match bands measured on the set's own query-like texts."""

import numpy as np
import pytest

from build.index import IndexConfig, run_index, score_bands
from build.vector_index import IndexSpec
from imagesearch.errors import ArtifactError
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import load_artifact_set
from testkit.factory import make_set, rewrite_manifest, unit_rows


def test_bands_are_the_median_and_tenth_percentile_of_each_querys_best_cosine():
    vectors = unit_rows(np.eye(4))
    queries = np.array([[1, 0, 0, 0]] * 5 + [[0.6, 0.8, 0, 0]] * 5, dtype=np.float32)  # best cosines: 1.0 and 0.8
    bands = score_bands(vectors, queries)
    assert bands["strong"] == pytest.approx(0.9) and bands["weak"] == pytest.approx(0.8)
    assert "10 query-like texts" in bands["basis"]


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
