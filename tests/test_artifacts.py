"""An artifact set is served only when every part agrees; each refusal is one clear line."""

import json
import pickle

import numpy as np
import pytest

from imagesearch.errors import ArtifactError
from imagesearch.models.encoder import check_probe
from imagesearch.store import manifest as mf
from build.indexing.vector_index import IndexSpec
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.records import COLUMNS
from imagesearch.store.safe_pickle import dump_array
from testkit.factory import RunsEval, RunsShell, make_set, refresh_checksums, rewrite_manifest, unit_rows

VECTORS = unit_rows(np.random.default_rng(0).normal(size=(6, 8)))


@pytest.fixture
def good_set(tmp_path):
    return make_set(tmp_path / "set", VECTORS, datasets=["a", "a", "b", "b", "b", "c"])


def _refused(folder, match):
    with pytest.raises(ArtifactError, match=match) as info:
        load_artifact_set(folder)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_valid_set_loads_with_its_datasets(good_set):
    loaded = load_artifact_set(good_set)
    assert loaded.count == 6 and loaded.datasets == ("a", "b", "c")
    assert loaded.dataset_of_row.tolist() == [0, 0, 1, 1, 1, 2]
    assert loaded.index.ntotal == 6


def test_changed_file_is_refused_by_checksum(good_set):
    (good_set / "images" / "3.jpg").write_bytes(b"not the same image")
    _refused(good_set, "images/3.jpg: sha256")


def test_missing_image_is_refused(good_set):
    (good_set / "images" / "2.jpg").unlink()
    _refused(good_set, "images/2.jpg: listed in manifest.json but missing")


def test_manifest_count_disagreeing_with_the_rows_is_refused(good_set):
    rewrite_manifest(good_set, count=7)
    _refused(good_set, "6 rows but the manifest says 7")


def test_dimension_disagreeing_with_the_vectors_is_refused(good_set):
    manifest = json.loads((good_set / mf.MANIFEST).read_text())
    manifest["embedding"]["dimension"] = 16
    (good_set / mf.MANIFEST).write_text(json.dumps(manifest))
    _refused(good_set, r"shape \(6, 8\) disagrees with the manifest \(6 rows x 16\)")


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda v: v.__setitem__((2, 3), np.nan), "row 2 holds NaN"),
        (lambda v: v.__setitem__((4, 0), np.inf), "row 4 holds NaN or infinite"),
        (lambda v: v.__setitem__(1, 0.0), "row 1 has norm 0.0000"),
        (lambda v: v.__setitem__(5, v[5] * 3), "row 5 has norm 3.0000"),
    ],
)
def test_bad_vectors_are_refused(good_set, corrupt, match):
    vectors = VECTORS.copy()
    corrupt(vectors)
    dump_array(good_set / mf.EMBEDDING, vectors)
    refresh_checksums(good_set)
    _refused(good_set, match)


def test_rows_disagreeing_between_csv_and_vectors_are_refused(good_set):
    dump_array(good_set / mf.EMBEDDING, VECTORS[:5])
    refresh_checksums(good_set)
    _refused(good_set, r"shape \(5, 8\) disagrees")


@pytest.mark.parametrize(
    "payload, match",
    [
        (lambda m: pickle.dumps(RunsShell(m)), "refused global posix.system"),
        (lambda m: pickle.dumps(RunsEval(m)), "refused global builtins.eval"),
        (lambda m: pickle.dumps(np.array([1.0, "x"], dtype=object)), "not numeric"),
        (lambda m: pickle.dumps(__import__("pandas").DataFrame(VECTORS)), "refused global pandas"),
        (lambda m: pickle.dumps(VECTORS, protocol=4)[:100], "not a plain numpy array pickle"),
    ],
)
def test_hostile_or_broken_pickle_in_a_set_is_refused_without_running(good_set, tmp_path, payload, match):
    marker = tmp_path / "pwned"
    (good_set / mf.EMBEDDING).write_bytes(payload(marker))
    refresh_checksums(good_set)
    _refused(good_set, match)
    assert not marker.exists()


def test_index_of_other_vectors_is_refused(good_set, tmp_path):
    other = make_set(tmp_path / "other", unit_rows(np.random.default_rng(9).normal(size=(6, 8))))
    (good_set / mf.INDEX).write_bytes((other / mf.INDEX).read_bytes())
    refresh_checksums(good_set)
    _refused(good_set, "does not hold the vectors of embedding.pkl")


def test_csv_with_an_image_path_escaping_the_folder_is_refused(good_set):
    path = good_set / mf.DESCRIPTIONS
    path.write_text(path.read_text().replace("images/0.jpg", "../../etc/passwd"))
    refresh_checksums(good_set)
    _refused(good_set, "escapes the images folder")


def test_csv_with_a_missing_column_is_refused(good_set):
    (good_set / mf.DESCRIPTIONS).write_text(",".join(COLUMNS[:-1]) + "\n0,a,s,,images/0.jpg\n")
    refresh_checksums(good_set)
    _refused(good_set, "missing")


def test_manifest_file_entry_escaping_the_folder_is_refused(good_set):
    manifest = json.loads((good_set / mf.MANIFEST).read_text())
    manifest["files"]["../outside.txt"] = {"sha256": "0" * 64}
    (good_set / mf.MANIFEST).write_text(json.dumps(manifest))
    _refused(good_set, "points outside the artifact folder")


def test_unsupported_schema_version_is_refused(good_set):
    rewrite_manifest(good_set, schema_version=99)
    _refused(good_set, "schema_version 99 is not supported")


def test_folder_without_manifest_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", "manifest.json: not found")


def test_encoder_other_than_the_manifest_model_is_refused(minilm, tmp_path):
    probe = minilm.probe()
    embedding = {"model": minilm.model_id, "dimension": 384, "probe": probe}
    assert check_probe(minilm, embedding) > 0.999
    with pytest.raises(ArtifactError, match="made with 'sentence-transformers/all-mpnet-base-v2'"):
        check_probe(minilm, dict(embedding, model="sentence-transformers/all-mpnet-base-v2"))
    with pytest.raises(ArtifactError, match="dimension 768"):
        check_probe(minilm, dict(embedding, dimension=768))
    shuffled = dict(probe, vector=list(np.roll(probe["vector"], 7)))
    with pytest.raises(ArtifactError, match="encodes the probe sentence differently"):
        check_probe(minilm, dict(embedding, probe=shuffled))


@pytest.mark.parametrize("spec", [IndexSpec("flat"), IndexSpec("ivf", nlist=2, nprobe=2), IndexSpec("ivf-sq8", nlist=2, nprobe=2),
                                  IndexSpec("ivf-pq", nlist=2, nprobe=2)], ids=["flat", "ivf", "ivf-sq8", "ivf-pq"])
def test_serving_checks_the_index_own_vectors_and_never_reads_the_pickle(tmp_path, spec):
    """The app searches the index's vectors: it checks those (every row, in place) and does not need embedding.pkl."""
    import faiss

    from imagesearch.store.index_file import write_index

    # ivf-pq trains 16 centroids per code: it needs more rows than the others' six
    vectors = unit_rows(np.random.default_rng(0).normal(size=(40, 8))) if spec.kind == "ivf-pq" else VECTORS
    folder = make_set(tmp_path / "set", vectors, spec=spec)
    (folder / mf.EMBEDDING).unlink()
    assert load_artifact_set(folder, serving=True).count == len(vectors)
    with pytest.raises(ArtifactError, match="embedding.pkl: listed in manifest.json but missing"):
        load_artifact_set(folder)  # the build steps and publish still check the pickle

    bad = vectors.copy()
    bad[4] *= 2
    index = faiss.IndexFlatIP(8)
    if spec.kind == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(8), 8, 2, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    if spec.kind in ("ivf-sq8", "ivf-pq"):
        base = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(8), 8, 2, faiss.ScalarQuantizer.QT_8bit,
                                             faiss.METRIC_INNER_PRODUCT) if spec.kind == "ivf-sq8" else \
            faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(8), 8, 2, 4, 4, faiss.METRIC_INNER_PRODUCT)
        base.train(vectors)
        index = faiss.IndexRefine(base, faiss.IndexScalarQuantizer(8, faiss.ScalarQuantizer.QT_fp16,
                                                                   faiss.METRIC_INNER_PRODUCT))
    if spec.kind != "flat":  # the search parameters the manifest records, so that the norm check is what fires
        from build.indexing.vector_index import REFINE_K_FACTOR

        faiss.extract_index_ivf(index).nprobe = spec.nprobe
        if spec.kind in REFINE_K_FACTOR:
            index.k_factor = REFINE_K_FACTOR[spec.kind]
    index.add(bad)
    write_index(folder / mf.INDEX, index)
    dump_array(folder / mf.EMBEDDING, vectors)
    refresh_checksums(folder)
    with pytest.raises(ArtifactError, match=r"^index.faiss: row 4 has norm 2.0000, expected L2-normalised"):
        load_artifact_set(folder, serving=True)
