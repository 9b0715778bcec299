"""description.csv: one row per image, row position = vector position.

``id`` is a row's stable name, not its position: ids increase down the file
and may have gaps. A row keeps its id for as long as its item (dataset +
source) stays in the set; the id of a removed row is never given to another
(the manifest's ``next_id``).

Columns (header required): id, dataset, source, label, image, description.
``image`` is a path relative to the artifact folder, always under images/.
Real CSV quoting is used, so descriptions may hold commas, quotes and newlines.

The seed system wrote a header-less ``id,description`` file with the
description unquoted; :func:`read_seed_csv` reads that format.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from imagesearch.errors import ArtifactError, build_command
from imagesearch.store.fileio import atomic_write_bytes

COLUMNS = ("id", "dataset", "source", "label", "image", "description")
IMAGES_DIR = "images"


@dataclass(frozen=True, slots=True)
class Record:
    id: int
    dataset: str
    source: str
    label: str
    image: str
    description: str


def check_image_path(value: str, where: str) -> str:
    """Return ``value`` if it is a safe relative path under images/, else raise."""
    fix = "image paths must be relative, like images/12.jpg"
    if not value or "\\" in value or "\x00" in value:
        raise ArtifactError(f"{where}: image path {value!r} is not allowed; {fix}")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or path.parts[0] != IMAGES_DIR or len(path.parts) < 2:
        raise ArtifactError(f"{where}: image path {value!r} escapes the images folder; {fix}")
    return value


def write_records(path: Path, records: list[Record]) -> None:
    """Write description.csv atomically, validating ids and image paths first."""
    previous = -1
    for position, record in enumerate(records):
        if record.id <= previous:
            raise ValueError(f"record at position {position} has id {record.id}, not above the previous {previous}")
        previous = record.id
        check_image_path(record.image, f"{Path(path).name} row {position}")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([record.id, record.dataset, record.source, record.label, record.image, record.description])
    atomic_write_bytes(Path(path), buffer.getvalue().encode("utf-8"))


def iter_records(path: Path) -> Iterator[Record]:
    """Read and validate description.csv a row at a time; every problem is one ArtifactError line.

    Only the current row is held, so a step that streams (embed) keeps its memory flat as the file grows.
    """
    path = Path(path)
    name = path.name
    try:
        handle = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found; build it with {build_command('describe')}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ArtifactError(f"{name}: file is empty; expected the header {','.join(COLUMNS)}") from None
        except csv.Error as exc:
            raise ArtifactError(f"{name}: unreadable CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ArtifactError(f"{name}: not UTF-8 text (byte {exc.start}); rewrite it as UTF-8") from None
        if tuple(header) != COLUMNS:
            missing = [c for c in COLUMNS if c not in header]
            extra = [c for c in header if c not in COLUMNS]
            detail = (f"missing {missing}" if missing else "") + (f" extra {extra}" if extra else "")
            raise ArtifactError(
                f"{name}: header is {header[:8]!r} ({detail.strip() or 'wrong order'}); "
                f"expected {','.join(COLUMNS)} (for the seed's header-less file use {build_command('import-seed')})"
            )
        last = -1
        try:
            for row in reader:
                line = reader.line_num
                if len(row) != len(COLUMNS):
                    raise ArtifactError(f"{name} line {line}: {len(row)} fields, expected {len(COLUMNS)}")
                raw_id, dataset, source, label, image, description = row
                try:
                    row_id = int(raw_id)
                except ValueError:
                    raise ArtifactError(f"{name} line {line}: id {raw_id!r} is not an integer") from None
                if row_id <= last or row_id < 0:
                    problem = "duplicated" if row_id == last else "out of order"
                    raise ArtifactError(
                        f"{name} line {line}: id {row_id} is {problem}; ids must be non-negative and increase down the file"
                    )
                last = row_id
                check_image_path(image, f"{name} line {line}")
                # a dataset or label name repeats down the file: one string each, not one per row (~100 MB at 1M)
                yield Record(row_id, sys.intern(dataset), source, sys.intern(label), image, description)
        except csv.Error as exc:
            raise ArtifactError(f"{name}: unreadable CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ArtifactError(f"{name}: not UTF-8 text (byte {exc.start}); rewrite it as UTF-8") from None
    if last < 0:
        raise ArtifactError(f"{name}: no rows; an artifact set needs at least one image")


def read_records(path: Path) -> list[Record]:
    """Read and validate the whole of description.csv."""
    return list(iter_records(path))


@dataclass(frozen=True)
class RowSummary:
    """What the manifest needs of the rows, without holding them: how many, and which image files."""

    count: int
    images: frozenset[str]


def summarize_records(path: Path) -> RowSummary:
    """One validating pass over description.csv, keeping only the count and the image paths."""
    count, images = 0, set()
    for record in iter_records(path):
        count += 1
        images.add(record.image)
    return RowSummary(count, frozenset(images))


def description_chunks(path: Path, size: int) -> Iterator[list[str]]:
    """The descriptions of description.csv, ``size`` at a time, in row order."""
    chunk: list[str] = []
    for record in iter_records(path):
        chunk.append(record.description)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_seed_csv(path: Path) -> list[tuple[int, str]]:
    """Read the seed's header-less ``id,description`` file (description unquoted).

    Each physical line is one row: the first comma splits the id from the
    description, which keeps its own commas.
    """
    rows: list[tuple[int, str]] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw_id, sep, description = line.partition(",")
        if not sep or not raw_id.strip().isdigit():
            raise ArtifactError(f"{Path(path).name} line {number}: expected `id,description`, got {line[:40]!r}")
        rows.append((int(raw_id), description.strip()))
    return rows
