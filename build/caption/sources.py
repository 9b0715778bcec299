"""Where images come from: the six seed datasets on the Hub, or local folders.

Every source yields ``SourceItem``s lazily, in a fixed order (so ids, shards
and resumes are reproducible); an item reads its raw image bytes on demand,
never a decoded image: hashing the bytes is what the caption cache is keyed on.

Hub datasets are tried in order: the repo as it is, then the Hub's parquet
conversion (``refs/convert/parquet`` + the config as data_dir: datasets 4 and
later refuse loading scripts), then raw files in the repo. A dataset that
cannot be loaded at all is reported by name with each attempt's reason.
"""

from __future__ import annotations

import itertools
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from imagesearch.errors import ArtifactError, first_line

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
PARQUET_REVISION = "refs/convert/parquet"


@dataclass(frozen=True)
class SourceItem:
    dataset: str
    source: str  # the item's identifier inside its dataset
    label: str
    read: Callable[[], bytes]
    path: Path | None = None  # a file in a folder: what a worker elsewhere reads it by (the same path on every node)


@dataclass(frozen=True)
class HubDataset:
    name: str
    repo: str
    split: str
    config: str | None = None  # parquet-conversion folder (data_dir), for script-based repos
    id_column: str | None = None
    label_column: str | None = None
    objects_column: str | None = None  # detection datasets: label = the distinct categories of the image's objects
    raw_zip: str | None = None  # fallback: a zip of images (+ COCO json) inside the repo
    license: str = ""
    images: int = 0  # how many images the split holds (its card), for the size of a run before anything downloads


SEED_DATASETS: dict[str, HubDataset] = {
    d.name: d
    for d in (
        HubDataset("fashionpedia", "detection-datasets/fashionpedia", "val", id_column="image_id",
                   objects_column="objects", license="CC-BY-4.0", images=1158),
        HubDataset("nfl", "keremberke/nfl-object-detection", "test", config="mini", id_column="image_id",
                   objects_column="objects", raw_zip="data/valid-mini.zip", license="public domain",
                   images=3),
        HubDataset("planes", "keremberke/plane-detection", "train", config="mini", id_column="image_id",
                   objects_column="objects", license="CC-BY-4.0", images=3),
        HubDataset("snacks", "Matthijs/snacks", "validation", config="default", label_column="label", license="CC-BY-4.0",
                   images=955),
        HubDataset("pets", "rokmr/pets", "test", label_column="label", license="MIT", images=150),
        HubDataset("pokemon", "keremberke/pokemon-classification", "train", config="mini", label_column="labels",
                   license="public domain", images=70),
    )
}


@dataclass
class LoadReport:
    """Which sources loaded and why the others did not (for the end-of-run summary)."""

    loaded: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def _label_names(features, column: str | None) -> Callable[[object], str]:
    if not column or column not in features:
        return lambda value: ""
    feature = features[column]
    names = getattr(feature, "names", None)
    if names:
        return lambda value: names[int(value)] if isinstance(value, int) and 0 <= value < len(names) else str(value)
    return lambda value: "" if value is None else str(value)


def _class_names(feature) -> list[str] | None:
    """The names of the ClassLabel called ``category`` inside an objects feature (dict, Sequence or List of dict)."""
    if getattr(feature, "names", None) is not None and not isinstance(feature, dict):
        return list(feature.names)
    if isinstance(feature, dict):
        return _class_names(feature.get("category")) if "category" in feature else None
    inner = getattr(feature, "feature", None)
    return _class_names(inner) if inner is not None else None


def _object_labels(features, column: str | None) -> Callable[[object], str]:
    """A row's objects -> their distinct category names, in order of first appearance: "dress, shoe, bag"."""
    if not column or column not in features:
        return lambda value: ""
    names = _class_names(features[column])
    if not names:
        log.warning("%s: no ClassLabel 'category' in its features; images get no object labels", column)
        return lambda value: ""

    def label(value: object) -> str:
        if isinstance(value, dict):  # Sequence of dict: a dict of lists
            categories = value.get("category") or []
        elif isinstance(value, list):  # List of dict
            categories = [item.get("category") for item in value if isinstance(item, dict)]
        else:
            categories = []
        seen: list[str] = []
        for category in categories:
            name = names[category] if isinstance(category, int) and 0 <= category < len(names) else None
            if name and name not in seen:
                seen.append(name)
        return ", ".join(seen)

    return label


def _from_hf_dataset(spec: HubDataset, dataset) -> Iterator[SourceItem]:
    from datasets import Image

    image_column = next((c for c in ("image", "img") if c in dataset.column_names), None)
    if image_column is None:
        raise ValueError(f"no image column in {dataset.column_names}")
    dataset = dataset.cast_column(image_column, Image(decode=False))
    label_of = _label_names(dataset.features, spec.label_column)
    objects_of = _object_labels(dataset.features, spec.objects_column)
    metadata = dataset.remove_columns([image_column])
    images = dataset.select_columns([image_column])

    def read(position: int) -> bytes:  # random access: the bytes are not kept in memory
        image = images[position][image_column]
        return image.get("bytes") or Path(image["path"]).read_bytes()

    for position, row in enumerate(metadata):
        source = row.get(spec.id_column) if spec.id_column else None
        label = label_of(row.get(spec.label_column)) or objects_of(row.get(spec.objects_column))
        yield SourceItem(spec.name, str(position if source is None else source), label, lambda p=position: read(p))


def _read_member(path: str, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def _from_raw_zip(spec: HubDataset) -> Iterator[SourceItem]:
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(spec.repo, spec.raw_zip, repo_type="dataset")
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES)
    for name in names:
        yield SourceItem(spec.name, Path(name).name, "", lambda name=name: _read_member(path, name))


def load_hub(spec: HubDataset) -> Iterator[SourceItem]:
    """A Hub dataset's items, from the first loading route that yields an image."""
    from datasets import load_dataset

    attempts: list[tuple[str, Callable[[], Iterator[SourceItem]]]] = []
    if spec.config is None:
        attempts.append(("hub", lambda: _from_hf_dataset(spec, load_dataset(spec.repo, split=spec.split))))
    attempts.append(("parquet conversion", lambda: _from_hf_dataset(
        spec, load_dataset(spec.repo, split=spec.split, revision=PARQUET_REVISION, data_dir=spec.config or "default"))))
    if spec.raw_zip:
        attempts.append(("raw files", lambda: _from_raw_zip(spec)))
    reasons = []
    for route, attempt in attempts:
        try:
            items = attempt()
            first = next(items)
        except StopIteration:
            reasons.append(f"{route}: no images")
            continue
        except Exception as exc:  # noqa: BLE001 - each route may fail in its own way; report and go on
            reasons.append(f"{route}: {first_line(exc, 200)}")
            continue
        log.info("%s: loading from %s (%s)", spec.name, spec.repo, route)
        return itertools.chain([first], items)
    raise LookupError(f"{spec.repo} could not be loaded ({'; '.join(reasons)})")


def load_folder(folder: Path) -> Iterator[SourceItem]:
    """An image folder (datasets' imagefolder layout): labels from sub-folder names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LookupError(f"{folder} is neither a built-in dataset ({', '.join(SEED_DATASETS)}) nor a folder")
    name = folder.resolve().name
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for path in files:
        relative = path.relative_to(folder)
        label = relative.parts[0] if len(relative.parts) > 1 else ""
        yield SourceItem(name, relative.as_posix(), label, path.read_bytes, path)


def iter_sources(names: list[str], limit: int | None, report: LoadReport) -> Iterator[SourceItem]:
    """All items of all sources, in order, each source capped at ``limit``.

    A source that fails to load, or fails part way, is reported and skipped;
    the others still run.
    """
    for name in names:
        count = 0
        try:
            items = load_hub(SEED_DATASETS[name]) if name in SEED_DATASETS else load_folder(Path(name))
            for item in itertools.islice(items, limit):
                count += 1
                yield item
        except Exception as exc:  # noqa: BLE001 - one broken source never stops the others
            reason = str(exc) if isinstance(exc, LookupError) else first_line(exc, 200)
            report.failed[name] = reason + (f" (after {count} images)" if count else "")
            log.error("%s: skipped: %s", name, report.failed[name])
            continue
        report.loaded[name] = count


def refuse_missing(report: LoadReport, allowed: tuple[str, ...]) -> None:
    """A dataset that was asked for and did not load stops the build, unless it was allowed to be missing."""
    missing = {name: reason for name, reason in report.failed.items() if name not in allowed}
    if missing:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in missing.items())
        flags = " ".join(f"--allow-missing {name}" for name in missing)
        raise ArtifactError(f"{len(missing)} dataset{'s' if len(missing) > 1 else ''} could not be loaded ({reasons}); "
                            f"no image was captioned. Fix the source, or pass {flags} to build without it")
