"""Import step: descriptions a collection already has (a catalogue, alt text, the seed's CSV) become an artifact
set without any captioner: images/ thumbnails + description.csv + manifest, then embed and index as usual.

The CSV has a header with ``image`` (a path under --images) and ``description``, and optionally ``label``,
``dataset`` and ``source`` (default: --dataset and the image path). Every row is checked before anything is
written: a missing or unreadable image, an empty description, an image or an item (dataset + source) given
twice are each one line naming the CSV line; they stop the import unless --skip-bad leaves those rows out.
Rows keep the ids they had in the folder's previous description.csv (build/row_ids.py).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from tqdm import tqdm

from imagesearch.errors import ArtifactError, ConfigError, build_command
from imagesearch.models.images import BadImage, decode, save_thumbnail
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.records import IMAGES_DIR, Record, write_records

from build.step import Step, add_artifacts, positive
from build.messages import next_step
from build.row_ids import add_ids_from, assign_ids, ids_to_keep

log = logging.getLogger(__name__)

REQUIRED = ("image", "description")
OPTIONAL = ("label", "dataset", "source")


@dataclass(frozen=True)
class Row:
    """One description to import, and where it came from (for the one-line reports)."""

    where: str  # "FILE line N"
    image: str  # as the CSV gives it: a path under the images folder
    description: str
    label: str = ""
    dataset: str = "imported"
    source: str = ""


@dataclass(frozen=True)
class ImportConfig:
    csv: Path
    images: Path
    artifacts: Path
    dataset: str = "imported"
    skip_bad: bool = False
    max_side: int = 512
    ids_from: str | None = None  # the set this import replaces, whose items keep their ids (build/row_ids.py)
    offline: bool = False


def read_rows(path: Path, images: Path, dataset: str) -> list[Row]:
    """The rows of an import CSV; a file without the needed columns is one line."""
    try:
        handle = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--csv {path}: file not found") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise ConfigError(f"{path.name}: no {' or '.join(missing)} column (header: {','.join(columns)[:80]}); the "
                              f"header needs image and description, and may add {', '.join(OPTIONAL)}")
        rows = []
        for number, raw in enumerate(reader, start=2):
            raw = {(key or "").strip(): (value or "").strip() for key, value in raw.items()}
            rows.append(Row(f"{path.name} line {number}", raw["image"], raw["description"],
                            raw.get("label", ""), raw.get("dataset") or dataset, raw.get("source") or raw["image"]))
    return rows


def _problem(row: Row, images: Path, seen_images: dict[str, str], seen_items: dict[tuple[str, str], str],
             min_side: int) -> tuple[str | None, str | None]:
    """(why the row cannot be imported, or None; the image's sha256 when it can)."""
    if not row.description:
        return "empty description", None
    relative, path = PurePosixPath(row.image), images / row.image
    if relative.is_absolute() or ".." in relative.parts or not path.resolve().is_relative_to(images.resolve()):
        return f"image {relative} is outside the images folder {images}", None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return f"image {relative} not found in {images}", None
    except OSError as exc:
        return f"image {relative} cannot be read ({exc.strerror})", None
    try:
        decode(data, min_side=min_side)
    except BadImage as exc:
        return f"image {relative} is {exc}", None
    sha = hashlib.sha256(data).hexdigest()
    if sha in seen_images:
        return f"image {relative} is the same picture as {seen_images[sha]}", None
    if (row.dataset, row.source) in seen_items:
        return f"item {row.dataset}/{row.source} was already given on {seen_items[(row.dataset, row.source)]}", None
    seen_images[sha] = row.where
    seen_items[(row.dataset, row.source)] = row.where
    return None, sha


def import_rows(rows: Iterable[Row], images: Path, folder: Path, captioner: dict[str, Any], skip_bad: bool = False,
                max_side: int = 512, min_side: int = 1, ids_from: str | None = None, offline: bool = False) -> list[Record]:
    """Check every row, then write the thumbnails, description.csv and the manifest (staged: all or nothing)."""
    rows = list(rows)
    seen_images: dict[str, str] = {}
    seen_items: dict[tuple[str, str], str] = {}
    good, bad = [], []
    for row in tqdm(rows, desc="checking rows", unit="row"):
        problem, sha = _problem(row, images, seen_images, seen_items, min_side)
        if problem:
            bad.append(f"{row.where}: {problem}")
            tqdm.write(f"{'skipped' if skip_bad else 'bad row'}: {row.where}: {problem}", file=sys.stderr)
        else:
            good.append((row, sha))
    if bad and not skip_bad:
        raise ArtifactError(f"{len(bad)} of {len(rows)} rows cannot be imported (first: {bad[0]}); nothing was written. "
                            "Fix them, or pass --skip-bad to import the rest")
    if not good:
        raise ArtifactError(f"{images}: no row could be imported ({len(bad)} bad); nothing was written")
    manifest = mf.load_or_create(folder)
    order, ids, next_id = assign_ids([(row.dataset, row.source) for row, _ in good],
                                     *ids_to_keep(folder, ids_from, offline))
    records = []
    for row_id, (row, sha) in zip(ids, (good[i] for i in order)):
        image = f"{IMAGES_DIR}/{sha[:32]}.jpg"
        if not (folder / image).is_file():
            save_thumbnail(decode((images / row.image).read_bytes(), min_side=min_side), folder / image, max_side=max_side)
        records.append(Record(row_id, row.dataset, row.source, row.label, image, row.description))
    manifest.update(next_id=next_id, captioner=captioner, embedding=None, index=None)  # the vectors must be remade
    with staged(folder) as stage:
        write_records(stage.path(mf.DESCRIPTIONS), records)
        mf.write_manifest(folder, manifest, records, stage)
    return records


def run_import(config: ImportConfig) -> list[Record]:
    images = Path(config.images)
    if not images.is_dir():
        raise ConfigError(f"--images {images}: not a folder; give the folder the CSV's image paths are relative to")
    rows = read_rows(Path(config.csv), images, config.dataset)
    records = import_rows(rows, images, Path(config.artifacts),
                          {"model": mf.IMPORTED, "prompts": [], "source": f"imported from {Path(config.csv).name}"},
                          config.skip_bad, config.max_side, ids_from=config.ids_from, offline=config.offline)
    skipped = len(rows) - len(records)
    print(f"imported {len(records):,} descriptions -> {Path(config.artifacts) / mf.DESCRIPTIONS}"
          f"{f' ({skipped:,} bad rows skipped)' if skipped else ''}; next: {next_step('describe', config.artifacts)}")
    return records


def _arguments(parser) -> None:
    parser.add_argument("--csv", type=Path, required=True,
                        help="CSV with a header: image, description (required), label, dataset, source (optional)")
    parser.add_argument("--images", type=Path, required=True, help="the folder the CSV's image paths are relative to")
    add_artifacts(parser)
    parser.add_argument("--dataset", default="imported", help="dataset name of rows without one (default imported)")
    parser.add_argument("--skip-bad", action="store_true", help="leave out bad rows (each reported) instead of stopping")
    parser.add_argument("--max-side", type=positive, default=512, help="longest side of the saved thumbnails (default 512)")
    add_ids_from(parser)


STEP = Step("import", "your own descriptions -> images/ + description.csv, no captioner",
            "Import descriptions a collection already has (CSV: image, description, optional label, dataset, source) "
            f"with their images; then {build_command('all --no-describe')} embeds and indexes them.", _arguments,
            lambda args, env: run_import(ImportConfig(args.csv, args.images, args.artifacts, args.dataset,
                                                      args.skip_bad, args.max_side, args.ids_from, env.offline)))
