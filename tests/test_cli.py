"""The build steps through their real command line, from the repository root."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imagesearch.models.encoder import MINILM, check_probe, packaged_path
from imagesearch.serve.search import SearchEngine
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.records import Record, read_records, write_records
from imagesearch.store.safe_pickle import load_array
from testkit.commands import run_build
from testkit.factory import write_images
from testkit.paths import REPO


@pytest.mark.parametrize("step", ["embed", "index", "all", "import-seed", "demo"])
def test_every_step_has_help_from_this_repos_build_package(step):
    result = run_build(step, "--help")
    assert "usage: python -m build" in result.stdout and step in result.stdout


def test_missing_description_csv_is_one_clear_line(tmp_path):
    result = run_build("embed", "--artifacts", tmp_path, "--embedder", packaged_path(MINILM), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'description.csv'}: file not found")


def test_index_before_embed_says_what_to_run(tmp_path):
    write_images(tmp_path, 1)
    write_records(tmp_path / mf.DESCRIPTIONS, [Record(0, "d", "s", "", "images/0.jpg", "x")])
    mf.write_manifest(tmp_path, mf.new_manifest({"model": "hand-written"}), [Record(0, "d", "s", "", "images/0.jpg", "x")])
    result = run_build("index", "--artifacts", tmp_path, check=False)
    assert result.returncode == 2 and "run `python -m build embed" in result.stderr


@pytest.fixture(scope="module")
def seed_set(tmp_path_factory, seed_csv):
    """The seed's 147 real InstructBLIP descriptions, imported, embedded and indexed."""
    root = tmp_path_factory.mktemp("seed")
    images = root / "seed_images"
    write_images(images.parent, 147)
    (root / "images").rename(images)
    folder = root / "set"
    run_build("import-seed", "--csv", seed_csv, "--artifacts", folder, "--images", images)
    run_build("all", "--no-describe", "--artifacts", folder, "--embedder", packaged_path(MINILM), "--embed-batch-size", 16)
    return folder


def test_seed_descriptions_go_through_embed_and_index(seed_set, minilm):
    manifest = json.loads((seed_set / mf.MANIFEST).read_text())
    assert manifest["count"] == 147
    assert manifest["embedding"]["model"] == MINILM  # the package folder is recorded by its hub id
    assert manifest["index"]["type"] == "flat" and manifest["index"]["recall_at_5"] == 1.0
    assert manifest["captioner"]["model"] == "Salesforce/instructblip-vicuna-7b"
    vectors = load_array(seed_set / mf.EMBEDDING)
    assert vectors.shape == (147, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    check_probe(minilm, manifest["embedding"])


def test_imported_seed_rows_read_like_the_captioners_cleaned_output(seed_set, seed_csv):
    from imagesearch.store.records import read_seed_csv

    raw = dict(read_seed_csv(seed_csv))
    records = read_records(seed_set / mf.DESCRIPTIONS)
    assert sum(text.startswith((". The image", ", including")) for text in raw.values()) == 147  # what the seed wrote
    for record in records:
        assert record.description[:1].isupper(), record.description[:40]
        assert record.description in " ".join(raw[int(record.source)].split())  # only the echo in front was cut
    including = [r for r in records if raw[int(r.source)].startswith(", including")]
    assert including and all(not r.description.lower().startswith("including") for r in including)


@pytest.mark.parametrize(
    "query, words",
    [
        ("a man in a suit and bow tie", ["bow tie"]),
        ("a model walking down the runway at a fashion show", ["runway"]),
        ("a woman wearing a plaid shirt", ["plaid"]),
        ("a person holding an umbrella", ["umbrella"]),
    ],
)
def test_fashion_queries_find_matching_seed_descriptions(seed_set, minilm, query, words):
    engine = SearchEngine(load_artifact_set(seed_set), lambda text: minilm.encode([text])[0])
    results = engine.search(query, 5)
    assert len(results) == 5
    assert all(word in results[0].description.lower() for word in words), results[0].description


@pytest.mark.slow
def test_seed_index_design_loses_results_on_the_real_seed_captions_dense_and_hybrid(seed_set, tmp_path):
    copy = tmp_path / "ivf"
    subprocess.run(["cp", "-r", str(seed_set), str(copy)], check=True)
    run_build("index", "--artifacts", copy, "--index", "ivf", "--nlist", "3", "--nprobe", "1")
    info = json.loads((copy / mf.MANIFEST).read_text())["index"]
    assert info["params"]["nlist"] == 3 and info["params"]["nprobe"] == 1
    assert info["recall_at_5"] < 1.0
    assert info["recall_at_5"] == min(info["recall_at_5_stored"], info["recall_at_5_text"])
    # hybrid is measured too, as the app runs it, against exact hybrid: lossy with one list of three probed ...
    assert 0 < info["hybrid_recall_at_5_text"] < 1 and info["hybrid_recall_weight"] == 0.5
    # ... and exactly right with every list probed, where the IVF index finds what a flat one would
    out = run_build("index", "--artifacts", copy, "--index", "ivf", "--nlist", "3", "--nprobe", "3").stdout
    assert "hybrid on query-like texts 1.0" in out
    assert json.loads((copy / mf.MANIFEST).read_text())["index"]["hybrid_recall_at_5_text"] == 1.0
    assert load_artifact_set(copy).index.nprobe == 3


def test_an_ivf_sq8_set_is_built_by_the_index_step_and_served_with_search_similar_and_filters(seed_set, tmp_path, minilm):
    copy = tmp_path / "sq8"
    subprocess.run(["cp", "-r", str(seed_set), str(copy)], check=True)
    out = run_build("index", "--artifacts", copy, "--index", "ivf-sq8", "--nlist", "3").stdout
    info = json.loads((copy / mf.MANIFEST).read_text())["index"]
    assert info["type"] == "ivf-sq8" and info["recall_at_5"] >= 0.99 and "ms on one thread" in out
    assert 0 < info["latency_ms"]["p50"] <= info["latency_ms"]["p95"]
    flat = SearchEngine(load_artifact_set(seed_set), lambda text: minilm.encode([text])[0])
    sq8 = SearchEngine(load_artifact_set(copy, serving=True), lambda text: minilm.encode([text])[0])
    query = "a woman in a red dress"
    assert [r.id for r in sq8.search(query, 5)] == [r.id for r in flat.search(query, 5)]
    assert max(abs(a.score - b.score) for a, b in zip(sq8.search(query, 5), flat.search(query, 5))) < 2e-3
    first = flat.search(query, 1)[0].id
    assert [r.id for r in sq8.answer_similar(first, 3).results] == [r.id for r in flat.answer_similar(first, 3).results]
    assert info["hybrid_recall_at_5_text"] >= 0.95


def test_ivf_without_the_sets_embedder_is_one_line_naming_the_exact_alternative(seed_set, tmp_path):
    copy = tmp_path / "ivf"
    subprocess.run(["cp", "-r", str(seed_set), str(copy)], check=True)
    manifest = json.loads((copy / mf.MANIFEST).read_text())
    manifest["embedding"]["model"] = "nobody/not-a-model"
    (copy / mf.MANIFEST).write_text(json.dumps(manifest))
    result = run_build("index", "--artifacts", copy, "--index", "ivf", check=False,
                       env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: manifest.json embedding.model nobody/not-a-model") and "--index flat" in line


def test_this_repos_build_wins_over_an_installed_pypa_build(tmp_path):
    fake = tmp_path / "site" / "build"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("print('PyPA build')")
    env = dict(__import__("os").environ, PYTHONPATH=str(tmp_path / "site"))
    result = subprocess.run([sys.executable, "-m", "build", "--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert "usage: python -m build" in result.stdout and "PyPA" not in result.stdout
