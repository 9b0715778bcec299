"""Faults: a full disk while writing artifacts, a half-downloaded set (downloads dying: tests/test_publish.py)."""

import errno
import pathlib
import shutil

import pytest

from build.cli import main as build_main
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.store.artifacts import load_artifact_set
from imagesearch.store.fileio import sha256_file

REVISION = "c" * 40


def _fingerprint(folder):
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("step", ["embed", "index"])
@pytest.mark.parametrize("failing_write", [1, 2])  # the first staged file, or the manifest after it
def test_disk_full_while_writing_leaves_the_previous_set_whole(tmp_path, monkeypatch, capsys, step, failing_write):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    before = _fingerprint(folder)
    writes = {"n": 0}
    real_write_bytes = pathlib.Path.write_bytes

    def full_disk(path):
        if str(path).startswith(str(folder)):
            writes["n"] += 1
            if writes["n"] >= failing_write:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def write_bytes(self, data):
        full_disk(self)
        return real_write_bytes(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    if step == "embed":  # the pickle is streamed into its file: fail that write there
        import imagesearch.store.safe_pickle as sp

        real_dump = sp.pickle.dump

        def dump(value, handle, protocol=None):
            full_disk(handle.name)
            real_dump(value, handle, protocol=protocol)

        monkeypatch.setattr(sp.pickle, "dump", dump)
    if step == "index":  # faiss writes through its own C++ file handle: fail the staged write there
        import imagesearch.store.index_file as vi

        real_write_index = vi.faiss.write_index

        def write_index(index, path):
            full_disk(path)
            real_write_index(index, path)

        monkeypatch.setattr(vi.faiss, "write_index", write_index)
    code = build_main([step, "--artifacts", str(folder), *(["--embedder", "sentence-transformers/all-MiniLM-L6-v2"] if step == "embed" else [])])
    assert code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "No space left on device" in last and "previous artifact set is unchanged" in last
    assert _fingerprint(folder) == before  # no new file, no leftover temporary file
    load_artifact_set(folder)



