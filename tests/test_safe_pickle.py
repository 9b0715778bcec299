import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from imagesearch.errors import ArtifactError
from imagesearch.store.safe_pickle import dump_array, dump_array_chunks, load_array
from testkit.factory import RunsEval, RunsShell
from testkit.paths import REPO


def test_float32_matrix_round_trips(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    dump_array(tmp_path / "e.pkl", vectors)
    loaded = load_array(tmp_path / "e.pkl")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, vectors)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_numpy_pickles_of_every_protocol_load(tmp_path, protocol):
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    (tmp_path / "e.pkl").write_bytes(pickle.dumps(vectors, protocol=protocol))
    assert np.array_equal(load_array(tmp_path / "e.pkl"), vectors)


@pytest.mark.parametrize("payload", [RunsShell, RunsEval])
def test_pickle_calling_code_is_refused_before_it_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    (tmp_path / "e.pkl").write_bytes(pickle.dumps(payload(marker)))
    with pytest.raises(ArtifactError, match="refused global"):
        load_array(tmp_path / "e.pkl")
    assert not marker.exists()


def test_payload_hidden_inside_an_array_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "e.pkl").write_bytes(pickle.dumps([np.zeros(3, np.float32), RunsShell(marker)]))
    with pytest.raises(ArtifactError):
        load_array(tmp_path / "e.pkl")
    assert not marker.exists()


def test_object_array_is_refused(tmp_path):
    (tmp_path / "e.pkl").write_bytes(pickle.dumps(np.array(["a", 1, None], dtype=object)))
    with pytest.raises(ArtifactError):
        load_array(tmp_path / "e.pkl")


def test_dataframe_pickle_is_refused(tmp_path):
    pd.DataFrame({"a": [1.0, 2.0]}).to_pickle(tmp_path / "e.pkl")
    with pytest.raises(ArtifactError, match="refused global pandas"):
        load_array(tmp_path / "e.pkl")


def test_truncated_pickle_is_refused_with_one_line(tmp_path):
    data = pickle.dumps(np.zeros((50, 8), np.float32), protocol=4)
    (tmp_path / "e.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError) as info:
        load_array(tmp_path / "e.pkl")
    assert "\n" not in str(info.value) and "e.pkl" in str(info.value)


def test_pickled_list_is_not_an_array(tmp_path):
    (tmp_path / "e.pkl").write_bytes(pickle.dumps([[1.0, 2.0]]))
    with pytest.raises(ArtifactError, match="holds a list"):
        load_array(tmp_path / "e.pkl")


class Calls:
    """Pickles to ``function(*args)``: how a hostile file asks numpy for a huge array."""

    def __init__(self, function, *args):
        self.call = (function, args)

    def __reduce__(self):
        return self.call


HUGE_PICKLES = {  # each a few dozen bytes asking for gigabytes
    "ndarray call": pickle.dumps(Calls(np.ndarray, (10**9,), "f8")),
    "reconstruct": pickle.dumps(Calls(np._core.multiarray._reconstruct, np.ndarray, (10**9,), "f8")),
    "huge dtype": pickle.dumps(Calls(np.ndarray, (1,), np.dtype("V2000000000"))),
}


@pytest.mark.parametrize("name", sorted(HUGE_PICKLES))
def test_an_array_larger_than_its_file_is_refused_before_numpy_allocates_it(tmp_path, monkeypatch, name):
    import tracemalloc

    (tmp_path / "e.pkl").write_bytes(HUGE_PICKLES[name])
    assert len(HUGE_PICKLES[name]) < 200
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match=r"^e.pkl: not a plain numpy array pickle \(asks for an array of [\d,]+ bytes from a file of \d+ bytes\)"):
            load_array(tmp_path / "e.pkl")
        assert tracemalloc.get_traced_memory()[1] < 10_000_000  # nothing near the asked-for size was allocated
    finally:
        tracemalloc.stop()


def test_memory_error_while_loading_is_one_line(tmp_path, monkeypatch):
    import imagesearch.store.safe_pickle as module

    dump_array(tmp_path / "e.pkl", np.ones((4, 4), dtype=np.float32))

    def out_of_memory(self):
        raise MemoryError()

    monkeypatch.setattr(module._ArrayOnlyUnpickler, "load", out_of_memory)
    with pytest.raises(ArtifactError, match=r"^e.pkl: not enough memory to load it \(\d+ bytes\)"):
        load_array(tmp_path / "e.pkl")


@pytest.mark.parametrize("rows", [3, 5000])
def test_array_written_from_chunks_is_byte_identical_to_the_whole_array_pickled(tmp_path, rows):
    array = np.random.default_rng(rows).normal(size=(rows, 384)).astype(np.float32)
    path = tmp_path / "embedding.pkl"
    dump_array_chunks(path, array.shape, np.float32, (array[i:i + 700] for i in range(0, rows, 700)))
    assert path.read_bytes() == pickle.dumps(array, protocol=5)
    assert np.array_equal(load_array(path), array)


@pytest.mark.parametrize("rows", [10, 4999, 5001])
def test_chunks_that_do_not_fill_the_announced_shape_leave_no_file(tmp_path, rows):
    path = tmp_path / "embedding.pkl"
    with pytest.raises(ValueError, match="announced"):
        dump_array_chunks(path, (5000, 384), np.float32, (np.zeros((1, 384)) for _ in range(rows)))
    assert list(tmp_path.iterdir()) == []


def test_streamed_write_of_a_large_array_keeps_memory_flat(tmp_path):
    """800 MB written from 4 MB chunks: the process grows by far less than the array."""
    script = f"""
import resource, numpy as np
from imagesearch.store.safe_pickle import dump_array_chunks
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
chunk = np.ones((2600, 384), np.float32)
dump_array_chunks({str(tmp_path / 'big.pkl')!r}, (2600 * 200, 384), np.float32, (chunk for _ in range(200)))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    grown_mb = int(subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout.split()[-1])
    assert (tmp_path / "big.pkl").stat().st_size > 2600 * 200 * 384 * 4
    assert grown_mb < 100, f"grew {grown_mb} MB writing an 800 MB array"


def _doubling_pickle(levels: int) -> bytes:
    """encode(encode(...encode(16 bytes, "hex")..., "hex"), "hex"): each level doubles, 6 bytes of pickle each."""
    stream = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00hexq\x010"  # the callable and "hex" memoised
    stream += b"h\x00" * levels + b"C\x10" + b"A" * 16
    stream += b"h\x01\x86R" * levels
    return stream + b"."


def test_codecs_encode_cannot_make_the_loader_allocate_more_than_the_file(tmp_path):
    import tracemalloc

    path = tmp_path / "embedding.pkl"
    path.write_bytes(_doubling_pickle(24))  # about 180 bytes; 16 * 2**24 = 268 MB if each call ran
    assert len(path.read_bytes()) < 200
    tracemalloc.start()
    with pytest.raises(ArtifactError, match="embedding.pkl: not a plain numpy array pickle .*refused _codecs.encode"):
        load_array(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20
