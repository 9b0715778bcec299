"""The rows of a set as parquet shards with the images inside (``data/*.parquet``).

These are the files the Hub's dataset viewer and ``datasets.load_dataset``
read, and the files the Space takes its thumbnails from at startup: a set of
any size is a few dozen files, never one file per image.

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
    with pq.ParquetWriter(str(out), schema, compression="zstd") as writer:
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
        sha = sha256_file(tmp)
        path = f"{DATA_DIR}/train-{number:05d}-{sha[:16]}.parquet"
        os.replace(tmp, out / path)
        shards.append(ParquetShard(path, out / path, (out / path).stat().st_size, sha, part[0].id, part[-1].id, len(part)))
    log.info("%d rows in %d parquet shards (%s bytes)", len(records), len(shards), f"{sum(s.size for s in shards):,}")
    return shards


def shard_section(shards: Iterable[ParquetShard]) -> dict:
    """The published manifest's record of the shards: path -> sha256, size and id range."""
    return {s.path: {"sha256": s.sha256, "bytes": s.size, "rows": s.rows, "first_id": s.first_id, "last_id": s.last_id}
            for s in shards}
