"""The lexical index: BM25 built, written as plain arrays, read back guarded; a hostile file is one line."""

import zipfile

import numpy as np
import pytest

from imagesearch.errors import ArtifactError
from imagesearch.store.lexical import COVERAGE_POWER, build_lexical, read_lexical, unseen_term_score, write_lexical


def _lexical_file(tmp_path):
    path = tmp_path / "lexical.npz"
    write_lexical(path, build_lexical(["a red dress", "a blue car", "a dog"]))
    return path


def test_lexical_index_round_trips(tmp_path):
    original = build_lexical(["a red dress", "a blue car", "a dog"])
    path = _lexical_file(tmp_path)
    loaded = read_lexical(path, 3)
    assert loaded.scores("red dress").tolist() == original.scores("red dress").tolist()
    assert loaded.scores("red")[0] > 0 and loaded.scores("red")[1:].tolist() == [0, 0]


def test_coverage_is_bm25_over_what_a_row_holding_every_query_word_could_score(tmp_path):
    documents = ["a red dress on a table", "a wooden table", "a table and a chair", "two old coins on a table",
                 "a red table", "coins"]
    index = read_lexical(_written(tmp_path, documents), len(documents))
    raw = index.scores("coins table")
    reach = index.scores("coins").max() + index.scores("table").max()  # each word's best row, added
    assert index.coverage("coins table") == pytest.approx((raw / reach) ** COVERAGE_POWER)
    coverage = index.coverage("coins table")
    assert coverage[3] > 0.3 and coverage[3] > 10 * coverage[[0, 1, 2, 4]].max()  # both words vs the common one
    assert coverage[[0, 1, 2, 4]].max() < 0.03  # one common word of two: nowhere near a full match
    assert index.coverage("table table coins").tolist() == index.coverage("coins table").tolist()  # a repeat counts once
    # a word no row has still counts in what a full match would reach, as the rarest possible word
    unknown = index.coverage("coins table zxqv")
    assert unknown == pytest.approx((raw / (reach + unseen_term_score(len(documents)))) ** COVERAGE_POWER)
    assert index.coverage("zxqv").tolist() == [0.0] * len(documents) == index.coverage("the a").tolist()


def test_an_unseen_word_counts_as_a_word_in_one_row_once_at_average_length(tmp_path):
    documents = ["aa bb", "cc dd", "ee ff", "gg hh"]  # every row two terms long: the average
    index = build_lexical(documents)
    assert index.scores("aa").max() == pytest.approx(unseen_term_score(len(documents)), rel=1e-6)


def test_rows_with_a_word_are_found_stemmed_and_stop_words_find_none(tmp_path):
    index = build_lexical(["red dresses", "a blue dress", "a red car"])
    assert index.rows_with("dress").tolist() == [0, 1]
    assert index.rows_with("Dresses").tolist() == [0, 1]
    assert index.rows_with("zebra").tolist() == []
    assert index.rows_with("the") is None


def _written(tmp_path, documents):
    path = tmp_path / "lexical.npz"
    write_lexical(path, build_lexical(documents))
    return path


def _rewrite(path, **arrays):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name, value in arrays.items():
        members[f"{name}.npy"] = value
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array, allow_pickle=False):
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.mark.parametrize("tamper, message", [
    (lambda p: _rewrite(p, vocab=_npy(np.array([object()], dtype=object), allow_pickle=True)), "holds objects"),
    (lambda p: _rewrite(p, data=_npy(np.zeros(10**6, np.float32))[:200]), "claims more data than it holds"),
    (lambda p: _rewrite(p, indices=_npy(np.array([0, 1, 99], np.int32))), "do not fit together|beyond the set"),
    (lambda p: p.write_bytes(b"PK\x03\x04 not a zip"), "not a lexical index"),
    (lambda p: _rewrite(p, extra=_npy(np.zeros(1))), "expected data, indices, indptr, vocab"),
])
def test_a_tampered_lexical_file_is_refused_with_one_line(tmp_path, tamper, message):
    path = _lexical_file(tmp_path)
    tamper(path)
    with pytest.raises(ArtifactError, match=message):
        read_lexical(path, 3)


def _npy_claiming(shape) -> bytes:
    """A .npy whose header claims ``shape`` of float32 and whose data is 16 bytes."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 16


@pytest.mark.parametrize("shape", [(2**32, 2**32), (2**62, 4), (-1, 4), (-(2**32), -(2**32))])
def test_a_shape_whose_size_overflows_or_is_negative_is_one_line_and_allocates_nothing(tmp_path, shape):
    import tracemalloc

    path = _lexical_file(tmp_path)
    _rewrite(path, data=_npy_claiming(shape))
    tracemalloc.start()
    with pytest.raises(ArtifactError, match="lexical.npz: .*(claims more data than it holds|not a lexical index)"):
        read_lexical(path, 3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2**20
