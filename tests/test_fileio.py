"""Atomic writes, staged commits and checksums: a failed write never leaves a half file or a temporary one."""

import hashlib
import os

import pytest

from imagesearch.store.fileio import atomic_write_bytes, atomic_write_with, sha256_file, staged


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".staged")))


def test_an_atomic_write_replaces_the_file_whole_and_readable_by_others(tmp_path):
    target = tmp_path / "a" / "file.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second" and oct(target.stat().st_mode & 0o777) == "0o644"
    assert _leftovers(target.parent) == []


def test_a_writer_that_fails_half_way_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"previous")

    def half(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write_with(target, half)
    assert target.read_bytes() == b"previous" and _leftovers(tmp_path) == []


def test_staged_files_appear_together_manifest_last_or_not_at_all(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with staged(tmp_path) as stage:
        stage.path("a.txt").write_text("new a")
        stage.path("manifest.json").write_text("{}")
        assert (tmp_path / "a.txt").read_text() == "old a"  # nothing visible before the commit
        assert stage.current("a.txt").read_text() == "new a" and stage.current("b.txt") == tmp_path / "b.txt"
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "manifest.json").read_text() == "{}"
    with pytest.raises(RuntimeError):
        with staged(tmp_path) as stage:
            stage.path("a.txt").write_text("newer a")
            raise RuntimeError("disk full")
    assert (tmp_path / "a.txt").read_text() == "new a" and _leftovers(tmp_path) == []


def test_sha256_matches_hashlib_and_can_refuse_a_symlink(tmp_path):
    data = os.urandom(3 * (1 << 20) + 7)  # more than one read chunk
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "link").symlink_to(tmp_path / "f")
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest() == sha256_file(tmp_path / "link")
    with pytest.raises(OSError):
        sha256_file(tmp_path / "link", follow_symlinks=False)
