"""Stable row ids: a row keeps its id for as long as its item (dataset + source) is in the set; the id of a
removed row is never given to another (the manifest's ``next_id``); new rows get ids after the largest ever
given, in the order they come."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from imagesearch.errors import ArtifactError
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
