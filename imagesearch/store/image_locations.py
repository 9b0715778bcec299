"""image_locations.npy: where each row's image lies inside the published parquet shards.

A published set keeps its thumbnails inside ``data/*.parquet`` (build/publishing/shards.py), each stored uncompressed, so
its bytes sit verbatim in the shard. This table gives, for every row of description.csv in order, the shard
(an index into the manifest's sorted ``published.shards``), the byte offset, the length and the image's sha256:
one HTTP range read fetches exactly one image (imagesearch.hub.remote_images), checked against that sha256.
The published manifest lists no image (a million entries were 120 MB of JSON and about 450 MB parsed): the
table, 56 bytes a row, holds their checksums instead. A plain ``.npy`` of fixed-width fields, loaded without
pickle.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from imagesearch.errors import ArtifactError, build_command

LOCATIONS = "image_locations.npy"
DTYPE = np.dtype([("id", "<i8"), ("shard", "<i4"), ("offset", "<i8"), ("length", "<i4"), ("sha256", "u1", (32,))])


def locations_bytes(ids: Sequence[int], shards: Sequence[int], offsets: Sequence[int], lengths: Sequence[int],
                    sha256s: Sequence[str]) -> bytes:
    table = np.empty(len(ids), dtype=DTYPE)
    table["id"], table["shard"], table["offset"], table["length"] = ids, shards, offsets, lengths
    table["sha256"] = np.frombuffer(b"".join(bytes.fromhex(h) for h in sha256s), dtype=np.uint8).reshape(-1, 32)
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    return buffer.getvalue()


def read_locations(path: Path, ids: Sequence[int], shard_sizes: Sequence[int]) -> np.ndarray:
    """The table at ``path``, checked against the set: one row per record in order (same ids), every range
    inside its shard. Raises ArtifactError (one line)."""
    fix = f"republish the set with {build_command('publish')}"
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{Path(path).name}: not a readable .npy table ({exc}); {fix}") from None
    if table.dtype != DTYPE or table.ndim != 1:
        raise ArtifactError(f"{Path(path).name}: holds {table.dtype} {table.shape}, expected {DTYPE.descr} rows; {fix}")
    if len(table) != len(ids) or not np.array_equal(table["id"], np.asarray(ids, dtype=np.int64)):
        raise ArtifactError(f"{Path(path).name}: its ids are not the rows of description.csv in order; {fix}")
    sizes = np.asarray(shard_sizes, dtype=np.int64)
    shard, offset, length = table["shard"], table["offset"], table["length"].astype(np.int64)
    bad = (shard < 0) | (shard >= len(sizes)) | (offset < 0) | (length < 1)
    # offset <= size - length, never offset + length > size: an offset near 2**63 would wrap the sum negative
    bad |= ~bad & (offset > sizes[np.clip(shard, 0, max(len(sizes) - 1, 0))] - length)
    if bad.any():
        row = int(np.argmax(bad))
        raise ArtifactError(f"{Path(path).name}: row {row} (id {int(table['id'][row])}) points outside its shard; {fix}")
    return table


def locations_entry(published: dict[str, Any] | None) -> dict[str, Any] | None:
    """The published manifest's record of the table (file, sha256, bytes), or None for a set whose images are
    only reachable by downloading whole shards (published before images on demand)."""
    entry = (published or {}).get("images") if isinstance(published, dict) else None
    return entry if isinstance(entry, dict) and entry.get("file") == LOCATIONS else None
