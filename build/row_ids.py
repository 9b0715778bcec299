"""Stable row ids: a row keeps its id for as long as its item (dataset + source) is in the set; the id of a
removed row is never given to another (the manifest's ``next_id``); new rows get ids after the largest ever
given, in the order they come. A build from an empty folder keeps the ids of the set it replaces when told
which (--ids-from: a local set, or the published one on the Hub)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Sequence

from imagesearch.errors import ArtifactError
from imagesearch.hub.errors import hub_call
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records

log = logging.getLogger(__name__)

Item = tuple[str, str]  # (dataset, source): what an id names


def previous_ids(csv_path: Path) -> dict[Item, int]:
    """The ids of an existing description.csv (none when there is none, or it cannot be read)."""
    if not csv_path.exists():
        return {}
    try:
        return {(r.dataset, r.source): r.id for r in read_records(csv_path)}
    except ArtifactError as exc:
        log.warning("ignoring the existing %s for id stability: %s", csv_path.name, exc)
        return {}


def assign_ids(items: Sequence[Item], previous: dict[Item, int], next_id: int) -> tuple[list[int], list[int], int]:
    """Order and ids for ``items``: (positions of ``items`` in row order, their ids, the new next_id). Kept
    items come first in their old id order, then new ones in the order given."""
    next_id = max([next_id, *(i + 1 for i in previous.values())])
    kept = sorted((i for i, item in enumerate(items) if item in previous), key=lambda i: previous[items[i]])
    new = [i for i, item in enumerate(items) if item not in previous]
    ids = [previous[items[i]] for i in kept] + list(range(next_id, next_id + len(new)))
    return kept + new, ids, max([next_id, *(i + 1 for i in ids)])


def ids_to_keep(folder: Path, ids_from: str | None = None, offline: bool = False) -> tuple[dict[Item, int], int]:
    """(item -> id, next_id) that a build of ``folder`` keeps: its own previous set first, then, for items it does
    not hold yet, the set named by ``ids_from`` (--ids-from: an artifact folder, a description.csv, or a Hub
    dataset ``REPO[@REVISION]``, the published set this build will replace)."""
    keep = previous_ids(Path(folder) / mf.DESCRIPTIONS)
    next_id = int(mf.load_or_create(folder).get("next_id", 0))
    if ids_from:
        theirs, their_next = _read_ids_from(ids_from, offline)
        used = set(keep.values())
        for item, row_id in sorted(theirs.items(), key=lambda pair: pair[1]):
            if item not in keep and row_id not in used:
                keep[item] = row_id
                used.add(row_id)
        next_id = max(next_id, their_next)
        log.info("--ids-from %s: %d items keep the ids they have there", ids_from, len(theirs))
    return keep, next_id


def _read_ids_from(source: str, offline: bool) -> tuple[dict[Item, int], int]:
    path = Path(source).expanduser()
    if path.is_dir():
        csv, manifest = path / mf.DESCRIPTIONS, path / mf.MANIFEST
    elif path.is_file():
        csv, manifest = path, None
    elif re.fullmatch(r"[\w.-]+/[\w.-]+(@\S+)?", source) and not source.startswith((".", "~")):
        csv, manifest = _download_ids(source, offline)
    else:
        raise ArtifactError(f"--ids-from {source}: not found; give the artifact folder of the set this build "
                            f"replaces, its {mf.DESCRIPTIONS}, or a Hub dataset repo (owner/name[@revision])")
    if not csv.is_file():
        raise ArtifactError(f"--ids-from {source}: {csv} not found; give the folder of the set this build replaces")
    try:
        ids = {(r.dataset, r.source): r.id for r in read_records(csv)}
    except ArtifactError as exc:
        raise ArtifactError(f"--ids-from {source}: {exc}") from None
    next_id = max([0, *(i + 1 for i in ids.values())])
    if manifest is not None and manifest.is_file():
        next_id = max(next_id, int(json.loads(manifest.read_text(encoding="utf-8")).get("next_id", 0)))
    return ids, next_id


def _download_ids(source: str, offline: bool) -> tuple[Path, Path | None]:
    """description.csv and manifest.json of a published set, into the Hugging Face cache."""
    repo, _, revision = source.partition("@")
    if offline:
        raise ArtifactError(f"--ids-from {source}: HF_HUB_OFFLINE=1 cannot read a Hub repo; give a local copy of the "
                            f"set (its folder or {mf.DESCRIPTIONS})")
    from huggingface_hub import hf_hub_download

    with hub_call("reading the ids of", repo):
        csv = hf_hub_download(repo, mf.DESCRIPTIONS, repo_type="dataset", revision=revision or None)
        manifest = hf_hub_download(repo, mf.MANIFEST, repo_type="dataset", revision=revision or None)
    return Path(csv), Path(manifest)


def add_ids_from(parser) -> None:
    parser.add_argument("--ids-from", default=None, metavar="SET",
                        help="the set this build replaces (its artifact folder, description.csv, or the published Hub "
                             "dataset owner/name[@revision]): items it holds keep their ids, so shared links stay true")
