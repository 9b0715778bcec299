"""What the fake Hub stores: repos as commits of path -> Blob, with git and LFS ids as the Hub computes them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

ENDPOINT = "https://huggingface.co"
LFS_MIN_BYTES = 10 * 1024 * 1024
LFS_SUFFIXES = (".parquet", ".pkl", ".faiss", ".jpg", ".png", ".bin", ".safetensors")


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Blob:
    data: bytes | Path  # a Path is read lazily (benchmark snapshots on disk)
    size: int
    sha256: str
    lfs: bool

    def read(self) -> bytes:
        return self.data.read_bytes() if isinstance(self.data, Path) else self.data

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes start..end inclusive, without reading the rest of a file on disk."""
        if not isinstance(self.data, Path):
            return self.data[start:end + 1]
        with open(self.data, "rb") as handle:
            handle.seek(start)
            return handle.read(end + 1 - start)

    @classmethod
    def of(cls, data: bytes, path: str) -> "Blob":
        lfs = len(data) >= LFS_MIN_BYTES or path.endswith(LFS_SUFFIXES)
        return cls(data, len(data), hashlib.sha256(data).hexdigest(), lfs)


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    commits: dict[str, dict[str, Blob]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        revision = unquote(revision)
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        return revision if revision in self.commits else None
