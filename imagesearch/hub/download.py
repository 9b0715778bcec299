"""Fetch a published artifact set from a Hub dataset repo, pinned to a commit.

The repo holds a handful of files (see build/publish.py): the manifest, the
CSV, the pickle, the index, the lexical index, image_locations.npy and the
parquet shards that carry the images. Startup resolves the revision to a
commit sha (no request when it already is one), then fetches manifest.json
and exactly the files search needs: two requests per file (HEAD + GET),
never one per image, never the pickle (search reads the index's own
vectors) and never the shards: each shown image is read on demand
(imagesearch.hub.remote_images). A set published before
image_locations.npy existed has its shards fetched whole, each checked
against its sha256 and unpacked into images/. :func:`verified_copy` then
runs the app's startup checks on the folder (every checksum of the manifest
included, on the manifest already read), and only a folder that passed them
is marked complete.

A folder marked complete is served with no request at all (a warm restart);
a folder that later fails its checks is unmarked, so the next start fetches
it again. With HF_HUB_OFFLINE=1 a tag or branch is resolved from the sha
recorded by the last online start.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from tqdm import tqdm

from imagesearch.errors import ArtifactError, build_command, first_line
from imagesearch.hub.errors import HubError, status_of
from imagesearch.hub.remote_images import HubSource, on_demand
from imagesearch.store.fileio import atomic_write_bytes, sha256_file
from imagesearch.store.image_locations import locations_entry
from imagesearch.store.manifest import EMBEDDING, MANIFEST, read_manifest, set_files
from imagesearch.store.records import check_image_path

log = logging.getLogger(__name__)
T = TypeVar("T")

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SET_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SHARD_NAME = re.compile(r"^data/[A-Za-z0-9_.-]+\.parquet$")
COMPLETE = ".complete"  # holds the sha256 of the manifest it certifies
REFS = "refs"


def is_pinned(revision: str) -> bool:
    return bool(_FULL_SHA.match(revision))


def repo_folder(cache_root: Path, repo: str) -> Path:
    return Path(cache_root) / repo.replace("/", "--")


def local_folder(cache_root: Path, repo: str, sha: str) -> Path:
    return repo_folder(cache_root, repo) / sha


def is_complete(folder: Path) -> bool:
    marker, manifest = folder / COMPLETE, folder / MANIFEST
    return marker.is_file() and manifest.is_file() and marker.read_text().strip() == sha256_file(manifest)


def invalidate(folder: Path) -> None:
    """Forget that ``folder`` was complete: the next start fetches the set again."""
    (Path(folder) / COMPLETE).unlink(missing_ok=True)


def _ref_file(cache_root: Path, repo: str, revision: str) -> Path:
    return repo_folder(cache_root, repo) / REFS / revision.replace("/", "--")


def resolve(repo: str, revision: str, cache_root: Path, token: str | None, offline: bool) -> str:
    """The commit sha ``revision`` names: itself, one API call, or (offline, or when that call fails) the last one
    seen here."""
    if is_pinned(revision):
        return revision
    ref = _ref_file(cache_root, repo, revision)
    if offline:
        if ref.is_file():
            sha = ref.read_text().strip()
            log.warning("HF_HUB_OFFLINE=1: serving %s@%s as last resolved (%s)", repo, revision, sha)
            return sha
        raise HubError(f"{repo}@{revision}: could not download the artifact set (offline, and {revision!r} was never "
                       "resolved here); check ARTIFACTS_REPO, ARTIFACTS_REVISION: pin it to a commit sha, or start once online")
    from huggingface_hub import HfApi

    try:
        sha = HfApi().repo_info(repo, repo_type="dataset", revision=revision, token=token).sha
    except Exception as exc:  # noqa: BLE001 - one line whatever the client raised
        if ref.is_file():  # a tag being moved, a Hub outage: keep serving what it named last time
            sha = ref.read_text().strip()
            log.warning("%s@%s cannot be resolved now (%s); serving the last commit it named, %s", repo, revision,
                        first_line(exc, 120), sha)
            return sha
        raise HubError(_download_error(repo, revision, exc)) from None
    log.warning("ARTIFACTS_REVISION=%s is not a commit sha: it resolved to %s; pin that to keep the set fixed", revision, sha)
    ref.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(ref, sha.encode())
    return sha


def _download_error(repo: str, revision: str, exc: BaseException) -> str:
    status = status_of(exc)
    fix = ("set HF_TOKEN to a token that can read the repo (a Space secret)" if status in (401, 403) else
           "check ARTIFACTS_REPO, ARTIFACTS_REVISION, HF_TOKEN for a private repo, and the network; "
           "the next start tries again")
    return f"{repo}@{revision}: could not download the artifact set ({first_line(exc, 200)}); {fix}"


def iter_images(path: Path, batch_rows: int = 100) -> Iterator[tuple[str, bytes]]:
    """(image path, bytes) of every row of a parquet shard, a row group at a time (bounded memory)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(str(path)) as parquet:
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=["image"]):
            for cell in batch.column("image").to_pylist():
                yield cell["path"], cell["bytes"]


def _fetch(repo: str, sha: str, name: str, folder: Path, token: str | None) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo, name, repo_type="dataset", revision=sha, token=token, local_dir=str(folder)))


def _extract(shard: Path, folder: Path, name: str) -> int:
    """Write every thumbnail of a shard to its path under ``folder`` (paths checked; the sha256s are
    checked afterwards with the rest of the set)."""
    made: set[Path] = set()
    count = 0
    for image_path, data in iter_images(shard):
        check_image_path(image_path, f"{name} row {count}")
        target = folder / image_path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_bytes(data)
        count += 1
    return count


def fetch_set(repo: str, sha: str, folder: Path, token: str | None) -> dict[str, Any]:
    """Download the set at ``sha`` into ``folder`` (the thumbnails too, for a set without image locations) and
    return its manifest; the caller verifies every checksum (:func:`verified_copy` runs the app's checks) before
    it is marked complete."""
    shutil.rmtree(folder, ignore_errors=True)  # whatever an earlier try left is not trusted
    folder.mkdir(parents=True)
    _fetch(repo, sha, MANIFEST, folder, token)
    manifest = read_manifest(folder)
    published = manifest.get("published")
    if not isinstance(published, dict) or not isinstance(published.get("shards"), dict):
        raise ArtifactError(f"{repo}@{sha}: {MANIFEST} has no parquet shards (published by an older version?); "
                            f"republish it with {build_command('publish')}")
    names = set_files(manifest)
    for name in names:
        if not _SET_FILE_NAME.match(name):
            raise ArtifactError(f"{MANIFEST}: file name {name!r} is not a plain file name; republish the set")
    if on_demand(manifest):  # the app searches the index's vectors: embedding.pkl is for the build steps
        names = [name for name in names if name != manifest["embedding"].get("file", EMBEDDING)]
        names.append(locations_entry(published)["file"])
    for name in tqdm(names, desc="fetching the set", unit="file"):
        _fetch(repo, sha, name, folder, token)
    if on_demand(manifest):
        return manifest  # images are read when shown
    for name, entry in tqdm(sorted(published["shards"].items()), desc="fetching images (parquet shards)", unit="shard"):
        if not _SHARD_NAME.match(name):
            raise ArtifactError(f"{MANIFEST}: shard name {name!r} is not data/NAME.parquet; republish the set")
        path = _fetch(repo, sha, name, folder, token)
        if sha256_file(path) != entry.get("sha256"):
            raise ArtifactError(f"{name}: sha256 does not match {MANIFEST}; the download is damaged, start again")
        _extract(path, folder, name)
        path.unlink()
    shutil.rmtree(folder / "data", ignore_errors=True)
    return manifest


def mark_complete(folder: Path) -> None:
    """Call once the folder passed every startup check (checksums included): later starts need no request."""
    atomic_write_bytes(Path(folder) / COMPLETE, sha256_file(Path(folder) / MANIFEST).encode())


def verified_copy(repo: str, revision: str, cache_root: Path,
                  check: Callable[[Path, dict[str, Any] | None, HubSource], T],
                  token: str | None = None, offline: bool = False) -> T:
    """The set ``repo``@``revision`` as a verified local folder: fetched unless a complete copy is here (then
    no request at all), handed to ``check`` (the app's own startup checks, every checksum included; it gets
    the manifest this function already read, or None, and where the set came from), and marked complete only
    once ``check`` passed. A copy that fails its checks is unmarked, so the next start fetches it again.
    Returns what ``check`` returns."""
    sha = resolve(repo, revision, cache_root, token, offline)
    folder = local_folder(cache_root, repo, sha)
    manifest = None
    complete = is_complete(folder)
    if complete:
        log.info("%s@%s: using the complete local copy in %s", repo, sha, folder)
    elif offline:
        raise HubError(f"{repo}@{revision}: could not download the artifact set (HF_HUB_OFFLINE=1 and no complete copy "
                       f"in {folder}); check ARTIFACTS_REPO, ARTIFACTS_REVISION, or start once online")
    else:
        try:
            manifest = fetch_set(repo, sha, folder, token)
        except ArtifactError:
            raise
        except Exception as exc:  # noqa: BLE001 - HTTP, network, a half download: one line, nothing served
            raise HubError(_download_error(repo, revision, exc)) from None
    try:
        checked = check(folder, manifest, HubSource(repo, sha, token, offline))
    except ArtifactError:
        invalidate(folder)  # a copy that fails its checks is fetched again on the next start
        raise
    except Exception as exc:  # noqa: BLE001 - a file the checks could not even read: never served from here again
        invalidate(folder)
        raise ArtifactError(f"{repo}@{sha[:12]}: the downloaded set could not be checked ({first_line(exc, 160)}); "
                            "it will be downloaded again on the next start") from None
    if not complete:
        mark_complete(folder)  # checked whole: the next start serves it with no request
    return checked
