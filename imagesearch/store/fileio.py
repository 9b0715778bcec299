"""Small file helpers: atomic writes and checksums."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

_CHUNK = 1 << 20


def sha256_file(path: Path, follow_symlinks: bool = True) -> str:
    """sha256 of a file; with ``follow_symlinks=False`` a symlink is refused (OSError) instead of followed."""
    digest = hashlib.sha256()
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    with os.fdopen(os.open(path, flags), "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    A crash or an exception (disk full included) leaves the previous file
    untouched and removes the temporary one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; artifacts are meant to be read by others
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary file, then move it into place atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


class Staging:
    """New versions of several files of one folder, made visible together.

    Every file is first written in full under a temporary name beside its
    final one; only when all writes succeeded are they renamed into place,
    manifest.json last. A failed write (a full disk, say) therefore changes
    nothing: the previous set stays whole and loadable. Renames need no space.
    """

    LAST = "manifest.json"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.staged: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """A temporary path to write ``name``'s new content to."""
        final = self.folder / name
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".staged", dir=final.parent)
        os.close(fd)
        self.staged[name] = Path(tmp)
        return Path(tmp)

    def current(self, name: str) -> Path:
        """The staged new version of ``name`` if there is one, else the live file."""
        return self.staged.get(name, self.folder / name)

    def commit(self) -> None:
        order = sorted(self.staged, key=lambda name: name == self.LAST)
        for name in order:
            with open(self.staged[name], "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(self.staged[name], 0o644)
        for name in order:
            os.replace(self.staged[name], self.folder / name)
        self.staged.clear()

    def discard(self) -> None:
        for tmp in self.staged.values():
            tmp.unlink(missing_ok=True)
        self.staged.clear()


@contextlib.contextmanager
def staged(folder: Path) -> Iterator[Staging]:
    stage = Staging(folder)
    try:
        yield stage
    except BaseException:
        stage.discard()
        raise
    stage.commit()


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it holds no file at all (only empty sub-folders)."""
    if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)
