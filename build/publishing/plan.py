"""Which commits a publish makes, in order: a pure function of what is here and what is there.

1. The parquet shards the Hub does not already hold (same path, same sha256),
   in commits of at most ``Limits.max_operations`` files. Their names are
   content-addressed, so these commits only add files nobody refers to yet:
   the previously published set stays whole at every intermediate head.
2. One *set commit*: manifest.json, description.csv, embedding.pkl,
   index.faiss and the dataset card (those that changed), plus as many
   deletions of files the new set no longer has as still fit. Its sha is the
   one to pin.
3. Cleanup commits for the deletions that did not fit.

A whole folder that the new set no longer uses at all (the old images/ of a
one-file-per-image layout, say) is deleted with one folder operation.
The plan is checked against the Hub's limits after every commit: fewer than
100 operations per commit and fewer than 10,000 entries per folder.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

KEEP_REMOTE = frozenset({".gitattributes"})
GIT_OID_MAX_BYTES = 10 * 1024 * 1024  # larger files are LFS on the Hub and compared by sha256


class PlanError(ValueError):
    """The plan would break one of the Hub's limits."""


@dataclass(frozen=True)
class Limits:
    max_operations: int = 50  # the Hub asks for fewer than 100 files per commit
    max_folder_entries: int = 9_999  # and fewer than 10,000 entries per folder


@dataclass(frozen=True)
class LocalFile:
    path: str  # in the repo
    local: Path
    size: int
    sha256: str

    def git_oid(self) -> str | None:
        if self.size > GIT_OID_MAX_BYTES:
            return None
        data = self.local.read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS files only
    git_oid: str | None

    def same_as(self, local: LocalFile) -> bool:
        if self.size != local.size:
            return False
        if self.sha256 is not None:
            return self.sha256 == local.sha256
        return self.git_oid is not None and self.git_oid == local.git_oid()


@dataclass(frozen=True)
class Operation:
    op: str  # "add" or "delete"
    path: str
    size: int | None
    sha256: str | None
    local: Path | None = field(default=None, compare=False)
    folder: bool = False

    def as_json(self) -> dict:
        entry = {"op": self.op, "path": self.path + ("/" if self.folder else ""), "size": self.size, "sha256": self.sha256}
        return entry


@dataclass(frozen=True)
class PlannedCommit:
    kind: str  # "shards", "set" or "cleanup"
    message: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Plan:
    repo: str
    head: str | None
    commits: tuple[PlannedCommit, ...]
    unchanged: tuple[str, ...]  # files already on the Hub with the same content

    def as_json(self) -> dict:
        return {"repo": self.repo, "head": self.head,
                "commits": [{"kind": c.kind, "message": c.message, "operations": [op.as_json() for op in c.operations]}
                            for c in self.commits],
                "unchanged": list(self.unchanged)}

    @property
    def set_commit(self) -> int | None:
        return next((i for i, c in enumerate(self.commits) if c.kind == "set"), None)


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _deletions(remote: dict[str, RemoteFile], keep: set[str]) -> list[Operation]:
    """Deletions of every remote file not kept, whole folders collapsed to one operation."""
    gone = sorted(p for p in remote if p not in keep and p not in KEEP_REMOTE)
    kept_folders = {str(parent) for path in list(keep) + list(KEEP_REMOTE) for parent in PurePosixPath(path).parents}
    operations, covered = [], set()
    for path in gone:
        if any(str(parent) in covered for parent in PurePosixPath(path).parents):
            continue
        folders = [str(p) for p in reversed(PurePosixPath(path).parents) if str(p) != "."]
        top = next((f for f in folders if f not in kept_folders), None)
        if top is not None:
            covered.add(top)
            operations.append(Operation("delete", top, None, None, folder=True))
        else:
            entry = remote[path]
            operations.append(Operation("delete", path, entry.size, entry.sha256))
    return operations


def _entries(tree: Iterable[str]) -> Counter:
    """How many entries (files and sub-folders) each folder of ``tree`` holds."""
    entries: Counter = Counter()
    seen = set()
    for path in tree:
        parts = PurePosixPath(path).parts
        for depth in range(len(parts)):
            entry = "/".join(parts[:depth + 1])
            if entry not in seen:
                seen.add(entry)
                entries["/".join(parts[:depth])] += 1
    return entries


def _check_limits(remote: Iterable[str], commits: Sequence[PlannedCommit], limits: Limits) -> None:
    """Every commit within the operation limit, and none that grows a folder past the entry limit (a folder
    already past it, the legacy images/ of an old layout, may stay so until the commit that deletes it)."""
    tree = set(remote)
    before = _entries(tree)
    for number, commit in enumerate(commits, start=1):
        if len(commit.operations) > limits.max_operations:
            raise PlanError(f"commit {number} would hold {len(commit.operations)} operations (limit {limits.max_operations})")
        for op in commit.operations:
            if op.op == "add":
                tree.add(op.path)
            elif op.folder:
                tree = {p for p in tree if not p.startswith(op.path + "/")}
            else:
                tree.discard(op.path)
        after = _entries(tree)
        grown = [(folder, count) for folder, count in after.items()
                 if count > limits.max_folder_entries and count > before.get(folder, 0)]
        if grown:
            folder, count = max(grown, key=lambda item: item[1])
            raise PlanError(f"after commit {number}, folder {folder or '/'!r} would hold {count:,} entries "
                            f"(the Hub asks for fewer than {limits.max_folder_entries + 1:,})")
        before = after


def plan_commits(repo: str, head: str | None, shards: Sequence[LocalFile], set_files: Sequence[LocalFile],
                 remote: dict[str, RemoteFile], message: str, limits: Limits = Limits()) -> Plan:
    """The commits that turn ``remote`` (the files at ``head``) into the new set."""
    unchanged, shard_adds, set_adds = [], [], []
    for files, adds in ((shards, shard_adds), (set_files, set_adds)):
        for local in files:
            there = remote.get(local.path)
            if there is not None and there.same_as(local):
                unchanged.append(local.path)
            else:
                adds.append(Operation("add", local.path, local.size, local.sha256, local=local.local))
    if len(set_adds) > limits.max_operations:
        raise PlanError(f"the set commit would hold {len(set_adds)} files (limit {limits.max_operations})")
    deletions = _deletions(remote, {f.path for f in list(shards) + list(set_files)})

    commits: list[PlannedCommit] = []
    for number, chunk in enumerate(_chunks(shard_adds, limits.max_operations), start=1):
        total = -(-len(shard_adds) // limits.max_operations)
        commits.append(PlannedCommit("shards", f"Upload parquet shards, part {number} of {total} ({len(chunk)} files)",
                                     tuple(chunk)))
    if set_adds:
        room = limits.max_operations - len(set_adds)
        within, deletions = deletions[:room], deletions[room:]
        commits.append(PlannedCommit("set", message, tuple(set_adds) + tuple(within)))
    for number, chunk in enumerate(_chunks(deletions, limits.max_operations), start=1):
        commits.append(PlannedCommit("cleanup", f"Remove files the published set no longer uses, part {number}", tuple(chunk)))
    _check_limits(remote, commits, limits)
    return Plan(repo, head, tuple(commits), tuple(sorted(unchanged)))

