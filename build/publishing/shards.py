"""The rows of a set as parquet shards with the images inside (``data/*.parquet``).

These are the files the Hub's dataset viewer and ``datasets.load_dataset``
read, and the files the Space reads each shown thumbnail from: a set of any
size is a few dozen files, never one file per image.

The image bytes are stored uncompressed and without dictionary or statistics
(JPEG and PNG are compressed already), so each image lies verbatim in its
shard; :func:`write_shards` records where (``ParquetShard.image_ranges``)
and publish writes it down (imagesearch/store/image_locations.py). A Space
then fetches one image with one range read of exactly its bytes, whatever
the row group size.

Shards are cut greedily by image bytes in id order, so appending rows only
changes the last shard. Each shard's name holds the first 16 hex digits of
its sha256: a new build never overwrites a file that an older published
manifest refers to, and a rerun finds the shards it already uploaded under
the same names.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from tqdm import tqdm

from imagesearch.store.fileio import sha256_file
from imagesearch.store.records import Record

log = logging.getLogger(__name__)

DATA_DIR = "data"
SHARD_BYTES = 256 * 1024 * 1024  # image bytes per shard: "a few hundred MB at most"
ROW_GROUP_ROWS = 100  # small row groups: the dataset viewer reads image parquet by row group
IMAGE_BYTES = "image.bytes"  # the leaf column that holds the image files
COLUMNS = ("id", "image", "description", "dataset", "source", "label")


@dataclass(frozen=True)
class ParquetShard:
    path: str  # path in the repo, e.g. data/train-00000-0123456789abcdef.parquet
    local: Path
    size: int
    sha256: str
    first_id: int
    last_id: int
    rows: int
    image_ranges: tuple[tuple[int, int], ...] = ()  # (offset, length) of each row's image bytes inside the shard


def cut(sizes: Sequence[int], max_bytes: int = SHARD_BYTES) -> list[tuple[int, int]]:
    """Split rows into [start, stop) ranges of at most ``max_bytes`` image bytes each
    (a single larger row gets a shard of its own). Depends only on the prefix of
    ``sizes``, so appending rows never moves an earlier boundary."""
    ranges, start, total = [], 0, 0
    for position, size in enumerate(sizes):
        if position > start and total + size > max_bytes:
            ranges.append((start, position))
            start, total = position, 0
        total += size
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def _features():
    from datasets import Features, Image, Value

    return Features({"id": Value("int64"), "image": Image(), "description": Value("string"),
                     "dataset": Value("string"), "source": Value("string"), "label": Value("string")})


def _write_one(folder: Path, records: Sequence[Record], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _features().arrow_schema
    others = ["id", "image.path", "description", "dataset", "source", "label"]
    options = {"compression": dict({name: "zstd" for name in others}, **{IMAGE_BYTES: "none"}),
               "use_dictionary": others, "write_statistics": others, "write_page_index": False}
    with pq.ParquetWriter(str(out), schema, **options) as writer:
        for start in range(0, len(records), ROW_GROUP_ROWS):
            group = records[start:start + ROW_GROUP_ROWS]
            columns = {
                "id": [r.id for r in group],
                # path keeps the set's own image path, so the Space knows where each thumbnail goes
                "image": [{"bytes": (folder / r.image).read_bytes(), "path": r.image} for r in group],
                "description": [r.description for r in group],
                "dataset": [r.dataset for r in group],
                "source": [r.source for r in group],
                "label": [r.label for r in group],
            }
            writer.write_table(pa.Table.from_pydict(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)


def _locate(shard: Path, folder: Path, records: Sequence[Record]) -> tuple[tuple[int, int], ...]:
    """Where each record's image bytes lie in ``shard``: searched in order inside each row group's image column
    chunk, so a found range holds exactly the image's bytes."""
    import mmap

    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(str(shard)).metadata
    column = next(i for i in range(metadata.num_columns) if metadata.schema.column(i).path == IMAGE_BYTES)
    offsets, row = [], 0
    with open(shard, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group).column(column)
            if chunk.compression != "UNCOMPRESSED":
                raise RuntimeError(f"{shard.name}: image bytes were written {chunk.compression}")
            position, end = chunk.data_page_offset, chunk.data_page_offset + chunk.total_compressed_size
            for _ in range(metadata.row_group(group).num_rows):
                image = (folder / records[row].image).read_bytes()
                found = data.find(image, position, end)
                if found < 0:
                    raise RuntimeError(f"{shard.name}: row {row}'s image bytes were not found in its row group")
                offsets.append((found, len(image)))
                position, row = found + len(image), row + 1
    return tuple(offsets)


def write_shards(folder: Path, records: Sequence[Record], out: Path, max_bytes: int = SHARD_BYTES) -> list[ParquetShard]:
    """Write the rows of the set in ``folder`` as parquet shards under ``out``/data/."""
    folder, out = Path(folder), Path(out)
    (out / DATA_DIR).mkdir(parents=True, exist_ok=True)
    sizes = [(folder / r.image).stat().st_size for r in records]
    shards = []
    ranges = cut(sizes, max_bytes)
    for number, (start, stop) in enumerate(tqdm(ranges, desc="writing parquet shards", unit="shard")):
        part = list(records[start:stop])
        tmp = out / DATA_DIR / f".shard-{number}.tmp"
        _write_one(folder, part, tmp)
        offsets = _locate(tmp, folder, part)
        sha = sha256_file(tmp)
        path = f"{DATA_DIR}/train-{number:05d}-{sha[:16]}.parquet"
        os.replace(tmp, out / path)
        shards.append(ParquetShard(path, out / path, (out / path).stat().st_size, sha, part[0].id, part[-1].id, len(part),
                                   offsets))
    log.info("%d rows in %d parquet shards (%s bytes)", len(records), len(shards), f"{sum(s.size for s in shards):,}")
    return shards


def shard_section(shards: Iterable[ParquetShard]) -> dict:
    """The published manifest's record of the shards: path -> sha256, size and id range."""
    return {s.path: {"sha256": s.sha256, "bytes": s.size, "rows": s.rows, "first_id": s.first_id, "last_id": s.last_id}
            for s in shards}


def shard_locations(shards: Sequence[ParquetShard], records: Sequence[Record], sha256s: Sequence[str]) -> bytes:
    """image_locations.npy for ``records`` written as ``shards``: shard number (in name order), offset, length and
    the sha256 of each image (``sha256s``, in record order)."""
    from imagesearch.store.image_locations import locations_bytes

    order = {shard.path: number for number, shard in enumerate(sorted(shards, key=lambda s: s.path))}
    numbers, offsets = [], []
    for shard in shards:
        numbers.extend([order[shard.path]] * shard.rows)
        offsets.extend(shard.image_ranges)
    return locations_bytes([r.id for r in records], numbers, [o for o, _ in offsets], [n for _, n in offsets], sha256s)
