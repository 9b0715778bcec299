"""manifest.json: what an artifact set holds, how it was built, and checksums.

The manifest is written last by every build step (atomically), so a folder
whose manifest checks out is a complete, consistent set.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path, PurePosixPath
from typing import Any

from imagesearch.errors import ArtifactError, build_command
from imagesearch.store.fileio import Staging, atomic_write_bytes, sha256_file
from imagesearch.store.records import Record, RowSummary

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
DESCRIPTIONS = "description.csv"
EMBEDDING = "embedding.pkl"
INDEX = "index.faiss"
LEXICAL = "lexical.npz"
HAND_WRITTEN = "hand-written"  # captioner.model of a set whose descriptions were written by hand (the demo)
IMPORTED = "imported"  # captioner.model of a set whose descriptions came with the collection (build import)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def new_manifest(captioner: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": now_iso(),
        "count": 0,
        "captioner": captioner,
        "embedding": None,
        "index": None,
        "files": {},
    }


def embedding_section(model: str, dimension: int, probe: dict[str, Any]) -> dict[str, Any]:
    """The manifest's description of embedding.pkl."""
    return {"file": EMBEDDING, "model": model, "dimension": dimension, "normalized": True, "dtype": "float32",
            "probe": probe}


def index_section(info: dict[str, Any]) -> dict[str, Any]:
    """The manifest's description of index.faiss, from what build_index measured."""
    return dict(info, file=INDEX)


def set_files(manifest: dict[str, Any]) -> list[str]:
    """The set's own files besides images and the manifest: CSV, vectors, index, lexical index (where built)."""
    names = [DESCRIPTIONS]
    for section in ("embedding", "index", "lexical"):
        if manifest.get(section):
            names.append(manifest[section]["file"])
    return names


# Weight of the lexical score in hybrid search (0 = dense only, 1 = lexical only) until
# `python -m build evaluate` measures one for the set. 0.5 is within 0.005 nDCG@10 of the best weight on both
# sets measured (the seed's 147 real captions with 40 written queries: best 0.6; the labelled demo: best 0.7)
# and above dense on both (README, "Evaluation").
DEFAULT_LEXICAL_WEIGHT = 0.5


def lexical_section(previous: dict[str, Any] | None, nbytes: int) -> dict[str, Any]:
    """The manifest's description of lexical.npz; a weight measured earlier by `evaluate` is kept."""
    from imagesearch.store.lexical import K1, B

    previous = previous or {}
    measured = previous.get("weight_source", "").startswith("evaluate")
    return {"file": LEXICAL, "method": "BM25 (bm25s, lucene)", "k1": K1, "b": B,
            "terms": "description + label + dataset; lower-cased, English stop words dropped, Snowball stems",
            "bytes_in_memory": nbytes,
            "weight": previous["weight"] if measured else DEFAULT_LEXICAL_WEIGHT,
            "weight_source": previous["weight_source"] if measured else "default"}


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    fix = f"rebuild the set with {build_command('all --artifacts DIR')}"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; is {folder} an artifact folder? ({fix})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{MANIFEST}: not valid JSON ({exc}); {fix}") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{MANIFEST}: expected a JSON object; {fix}")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{MANIFEST}: schema_version {version!r} is not supported (this code reads {SCHEMA_VERSION}); {fix}"
        )
    for key in ("count", "captioner", "files"):
        if key not in manifest:
            raise ArtifactError(f"{MANIFEST}: missing key {key!r}; {fix}")
    if not isinstance(manifest["files"], dict):
        raise ArtifactError(f"{MANIFEST}: 'files' must be an object of path -> checksum; {fix}")
    return manifest


def load_or_create(folder: Path, captioner: dict[str, Any] | None = None) -> dict[str, Any]:
    if (Path(folder) / MANIFEST).exists():
        return read_manifest(folder)
    return new_manifest(captioner or {"model": "unspecified"})


def write_manifest(folder: Path, manifest: dict[str, Any], records: list[Record] | RowSummary,
                   stage: Staging | None = None) -> dict[str, Any]:
    """Recompute counts and checksums of every file in the set (staged versions where
    ``stage`` holds them), then write the manifest: into ``stage``, or atomically.

    ``records`` may be the rows themselves or, for a step that streams them, their RowSummary."""
    folder = Path(folder)
    if isinstance(records, RowSummary):
        count, images = records.count, records.images
    else:
        count, images = len(records), {record.image for record in records}
    files: dict[str, dict[str, Any]] = {}
    names = set_files(manifest)
    names.extend(sorted(images))
    for name in names:
        path = stage.current(name) if stage else folder / name
        files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = dict(manifest, count=count, files=files, updated_at=now_iso())
    if stage is not None:
        stage.path(MANIFEST).write_bytes(manifest_bytes(manifest))
    else:
        atomic_write_bytes(folder / MANIFEST, manifest_bytes(manifest))
    return manifest


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def rewrite_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write a manifest whose files have not changed (new figures or settings): its checksums stand, no file is
    read again."""
    atomic_write_bytes(Path(folder) / MANIFEST, manifest_bytes(manifest))


def _check_one(folder: Path, name: str, entry: Any, parents: dict[str, bool]) -> str | None:
    """The one-line problem with one listed file, or None when it matches its sha256."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or "\\" in name or not relative.parts:
        return f"{MANIFEST}: file entry {name!r} points outside the artifact folder; rebuild the set"
    parent = str(relative.parent)
    if parent not in parents:  # each folder resolved once: a symlinked folder must not lead outside
        parents[parent] = folder == (folder / parent).resolve() or folder in (folder / parent).resolve().parents
    if not parents[parent]:
        return f"{MANIFEST}: file entry {name!r} points outside the artifact folder; rebuild the set"
    try:
        actual = sha256_file(folder / name, follow_symlinks=False)
    except FileNotFoundError:
        return f"{name}: listed in {MANIFEST} but missing from {folder}; rebuild or re-download the set"
    except OSError:
        return f"{name}: listed in {MANIFEST} but not a readable plain file in {folder}; rebuild or re-download the set"
    expected = entry.get("sha256") if isinstance(entry, dict) else None
    if actual != expected:
        return (f"{name}: sha256 {actual[:12]}... does not match {MANIFEST} ({str(expected)[:12]}...); "
                "the file changed after the build: rebuild or re-download the set")
    return None


def verify_checksums(folder: Path, manifest: dict[str, Any], images: bool = True, skip: frozenset[str] = frozenset()) -> None:
    """Check every file listed in the manifest exists and matches its sha256; the first problem is reported.
    ``images=False``: the set's own files only (its images are read on demand and checked one by one then);
    ``skip``: files the caller does not read (the app never reads embedding.pkl).

    Each folder is resolved once, not each file: at 100,000 thumbnails that made the check 5 s instead of 17 s here.
    """
    folder = Path(folder).resolve()
    parents: dict[str, bool] = {}
    entries = manifest["files"] if images else {name: manifest["files"].get(name) for name in set_files(manifest)}
    for name, entry in entries.items():
        if name in skip:
            continue
        problem = _check_one(folder, name, entry, parents)
        if problem:
            raise ArtifactError(problem)
