"""What a publish sends and what the repo holds: the set staged as the repo's files (:func:`stage`, after the
app's own startup checks) and the repo's head read back (:func:`read_remote`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ArtifactError
from imagesearch.hub.errors import hub_call
from imagesearch.serve.startup import open_verified
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import sha256_file
from imagesearch.store.image_locations import LOCATIONS
from imagesearch.store.records import read_records

from .card import CARD, dataset_card
from .plan import LocalFile, RemoteFile
from .shards import SHARD_BYTES, shard_locations, shard_section, write_shards

log = logging.getLogger(__name__)

PUBLISHED_LAYOUT = 3  # 1: one file per image; 2: parquet shards; 3: shards + a table of where each image lies
# in them and its sha256 (the manifest then lists the set's own files only)


@dataclass(frozen=True)
class Staged:
    shards: list[LocalFile]
    set_files: list[LocalFile]
    count: int
    items: dict[int, tuple[str, str]]  # what each id names: (dataset, source)

    @property
    def keys(self) -> set[tuple[str, str]]:
        return set(self.items.values())


@dataclass(frozen=True)
class Remote:
    head: str | None
    files: dict[str, RemoteFile]
    items: dict[int, tuple[str, str]] | None = None  # what each id names at head, when it has a description.csv

    @property
    def keys(self) -> set[tuple[str, str]] | None:
        return None if self.items is None else set(self.items.values())


def stage(folder: Path, staging: Path, repo: str, shard_bytes: int = SHARD_BYTES) -> Staged:
    """Validate the set like the app does, then write every file the repo will hold into ``staging``."""
    artifacts, _ = open_verified(folder)
    shards = write_shards(artifacts.folder, artifacts.records, staging, shard_bytes)
    files = artifacts.manifest["files"]
    located = staging / LOCATIONS
    located.write_bytes(shard_locations(shards, artifacts.records, [files[r.image]["sha256"] for r in artifacts.records]))
    images = {"file": LOCATIONS, "sha256": sha256_file(located), "bytes": located.stat().st_size,
              "count": artifacts.count}
    # the images' checksums travel in the table: the manifest a Space reads first stays small at any size
    own = {name: files[name] for name in mf.set_files(artifacts.manifest)}
    manifest = dict(artifacts.manifest, files=own, published={"layout": PUBLISHED_LAYOUT, "images": images,
                                                              "shards": shard_section(shards)})
    (staging / mf.MANIFEST).write_bytes(mf.manifest_bytes(manifest))
    (staging / CARD).write_text(dataset_card(repo, manifest, artifacts.records, [s.path for s in shards]), encoding="utf-8")
    # the set's own files were just verified against these checksums: no need to hash them again
    names = mf.set_files(manifest)
    set_files = [LocalFile(n, artifacts.folder / n, manifest["files"][n]["bytes"], manifest["files"][n]["sha256"]) for n in names]
    for name in (mf.MANIFEST, CARD, LOCATIONS):
        path = staging / name
        set_files.append(LocalFile(name, path, path.stat().st_size, sha256_file(path)))
    shard_files = [LocalFile(s.path, s.local, s.size, s.sha256) for s in shards]
    items = {r.id: (r.dataset, r.source) for r in artifacts.records}
    return Staged(shard_files, sorted(set_files, key=lambda f: f.path), artifacts.count, items)


def read_remote(api, repo: str, token: str | None, scratch: Path) -> Remote:
    """The repo's head, its files with their checksums, and the rows it publishes."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.hf_api import RepoFile

    with hub_call("reading", repo):
        head = api.repo_info(repo, repo_type="dataset", token=token).sha
        files = {}
        for entry in api.list_repo_tree(repo, repo_type="dataset", revision=head, recursive=True, token=token):
            if isinstance(entry, RepoFile):
                lfs = entry.lfs
                files[entry.path] = RemoteFile(entry.path, entry.size, lfs.sha256 if lfs else None, None if lfs else entry.blob_id)
        items = None
        if mf.DESCRIPTIONS in files:
            path = hf_hub_download(repo, mf.DESCRIPTIONS, repo_type="dataset", revision=head, token=token,
                                   local_dir=str(scratch / "head"))
            try:
                items = {r.id: (r.dataset, r.source) for r in read_records(Path(path))}
            except ArtifactError as exc:
                log.warning("%s at %s: %s; the shrink and id checks are skipped", mf.DESCRIPTIONS, head[:12], exc)
    return Remote(head, files, items)
