"""The FAISS file format: what is written reads back the same; a bad file is refused, the huge header before FAISS reads it."""
import struct

import faiss
import pytest

from build.indexing.vector_index import IndexSpec
from build.indexing.builder import build_index
from imagesearch.errors import ArtifactError
from imagesearch.store.index_file import read_index, write_index
from testkit.factory import embedding_like


def _write(tmp_path, vectors, kind="flat"):
    path = tmp_path / "index.faiss"
    write_index(path, build_index(vectors, IndexSpec(kind)).index)
    return path


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivf-sq8", "ivf-pq"])
def test_written_index_reads_back_and_searches_the_same(tmp_path, kind):
    vectors = embedding_like(500)
    built = build_index(vectors, IndexSpec(kind))
    write_index(tmp_path / "index.faiss", built.index)
    index = read_index(tmp_path / "index.faiss", kind, 64, 500, built.info["params"])
    _, ids = index.search(vectors[:3], 1)
    assert ids[:, 0].tolist() == [0, 1, 2]


def test_header_patched_to_a_huge_count_is_refused_before_faiss_reads_it(tmp_path):
    path = _write(tmp_path, embedding_like(50))
    data = bytearray(path.read_bytes())
    data[8:16] = struct.pack("<q", 10**12)
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="1000000000000 vectors"):
        read_index(path, "flat", 64, 50)
    with pytest.raises(ArtifactError, match="bytes, expected"):
        read_index(path, "flat", 64, 10**12)


@pytest.mark.parametrize("mangle", [lambda b: b[:20], lambda b: b[: len(b) - 100], lambda b: b"\x00" * len(b), lambda b: b"IxFI" + b"\xff" * 60])
def test_truncated_or_garbage_index_is_refused(tmp_path, mangle):
    path = _write(tmp_path, embedding_like(50))
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(ArtifactError):
        read_index(path, "flat", 64, 50)


def test_wrong_dimension_type_or_metric_is_refused(tmp_path):
    path = _write(tmp_path, embedding_like(50))
    with pytest.raises(ArtifactError, match="dimension 64"):
        read_index(path, "flat", 32, 50)
    with pytest.raises(ArtifactError, match="holds a flat index"):
        read_index(path, "ivf", 64, 50)
    l2 = faiss.IndexFlatL2(64)
    l2.add(embedding_like(50))
    faiss.write_index(l2, str(path))
    with pytest.raises(ArtifactError, match="not a flat, IVF, IVF-SQ8 or IVF-PQ"):
        read_index(path, "flat", 64, 50)


def test_a_refine_index_of_other_parts_than_its_kind_with_a_float16_copy_is_refused(tmp_path):
    vectors = embedding_like(500)
    base = faiss.IndexIVFFlat(faiss.IndexFlatIP(64), 64, 8, faiss.METRIC_INNER_PRODUCT)
    base.train(vectors)
    other = faiss.IndexRefineFlat(base)  # float32 copy over IVF-flat lists: the same magic, other parts
    other.add(vectors)
    path = tmp_path / "index.faiss"
    faiss.write_index(other, str(path))
    with pytest.raises(ArtifactError, match=r"expected IndexRefine / IndexIVFScalarQuantizer / IndexScalarQuantizer"):
        read_index(path, "ivf-sq8", 64, 500)
    with pytest.raises(ArtifactError, match=r"expected IndexRefine / IndexIVFPQFastScan / IndexScalarQuantizer"):
        read_index(path, "ivf-pq", 64, 500)
    with pytest.raises(ArtifactError, match="holds a ivf-sq8 or ivf-pq index but the manifest says ivf"):
        read_index(path, "ivf", 64, 500)
    sq8 = build_index(vectors, IndexSpec("ivf-sq8", nlist=8, nprobe=8)).index  # the other refine kind
    faiss.write_index(sq8, str(path))
    with pytest.raises(ArtifactError, match=r"loaded IndexRefine / IndexIVFScalarQuantizer / IndexScalarQuantizer, "
                                            r"expected IndexRefine / IndexIVFPQFastScan"):
        read_index(path, "ivf-pq", 64, 500)


def _ivf_pq(tmp_path, change):
    """An ivf-pq file with one stored search parameter changed, and the manifest's params saying the same."""
    built = build_index(embedding_like(500), IndexSpec("ivf-pq", nlist=8, nprobe=4))
    params = dict(built.info["params"])
    change(built.index, params)
    path = tmp_path / "index.faiss"
    faiss.write_index(built.index, str(path))
    return path, params


@pytest.mark.parametrize("name, change, words", [
    ("nprobe", lambda index, p: (setattr(faiss.extract_index_ivf(index), "nprobe", 10**9), p.update(nprobe=10**9)),
     "nprobe 1000000000 / nlist 8"),
    ("k_factor", lambda index, p: (setattr(index, "k_factor", 900), p.update(k_factor=900)), "k_factor 900 is out"),
    ("nlist", lambda index, p: p.update(nlist=4), "stores nlist 8, the manifest says 4"),
])
def test_a_search_parameter_asking_for_unbounded_work_is_refused_at_load_even_when_the_manifest_agrees(
        tmp_path, name, change, words):
    path, params = _ivf_pq(tmp_path, change)
    with pytest.raises(ArtifactError, match=words) as refused:
        read_index(path, "ivf-pq", 64, 500, params)
    assert "\n" not in str(refused.value) and "rebuild it with" in str(refused.value)


def test_a_stored_nprobe_other_than_the_manifests_is_refused(tmp_path):
    path, params = _ivf_pq(tmp_path, lambda index, p: setattr(faiss.extract_index_ivf(index), "nprobe", 8))
    with pytest.raises(ArtifactError, match="stores nprobe 8, the manifest says 4"):
        read_index(path, "ivf-pq", 64, 500, params)
    path, params = _ivf_pq(tmp_path, lambda index, p: None)
    assert read_index(path, "ivf-pq", 64, 500, params).ntotal == 500
