import pickle

import numpy as np
import pandas as pd
import pytest

from imagesearch.errors import ArtifactError
from imagesearch.safe_pickle import dump_array, load_array
from tests.factory import RunsEval, RunsShell


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
    import imagesearch.safe_pickle as module

    dump_array(tmp_path / "e.pkl", np.ones((4, 4), dtype=np.float32))

    def out_of_memory(self):
        raise MemoryError()

    monkeypatch.setattr(module._ArrayOnlyUnpickler, "load", out_of_memory)
    with pytest.raises(ArtifactError, match=r"^e.pkl: not enough memory to load it \(\d+ bytes\)"):
        load_array(tmp_path / "e.pkl")
