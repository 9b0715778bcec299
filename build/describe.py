"""Caption step: images of the chosen datasets -> images/ + description.csv.

Two passes. The first walks every source in order and hashes each image, so
the work left is known up front (a progress bar with a real ETA) and cached
captions are skipped. The second decodes, thumbnails and captions the rest
in batches, journalling each batch before the next (see caption_cache). The
CSV is assembled from the journal at the end, in source order, so a killed
and resumed run writes exactly what an uninterrupted one would. Rows already
in an existing description.csv keep their ids; new images are appended.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imagesearch.store import manifest as mf
from imagesearch.models.captioner import CLEANER_VERSION, DEFAULT_CAPTIONER, OFFLINE_CAPTIONER, SEED_PROMPTS, Captioner, GenerationSettings
from imagesearch.errors import ArtifactError, first_line, in_words
from imagesearch.store.fileio import staged
from imagesearch.models.images import BadImage, decode, save_thumbnail
from imagesearch.models.model_source import require_model
from imagesearch.store.records import IMAGES_DIR, Record, read_records, write_records

from .caption_cache import CACHE_DIR, CaptionCache, fingerprint
from .messages import next_step, warnings_once
from .sources import SEED_DATASETS, LoadReport, SourceItem, iter_sources

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def owns(self, position: int) -> bool:
        return position % self.count == self.index

    @property
    def part(self) -> str:
        return "captions" if self.count == 1 else f"captions-{self.index}-of-{self.count}"


@dataclass(frozen=True)
class DescribeConfig:
    artifacts: Path
    datasets: tuple[str, ...] = tuple(SEED_DATASETS)
    limit: int | None = None
    model: str = DEFAULT_CAPTIONER
    prompts: tuple[str, ...] = SEED_PROMPTS
    batch_size: int = 4
    max_side: int = 512
    generation: GenerationSettings = GenerationSettings()
    shard: Shard = Shard()
    device: str | None = None
    allow_missing: tuple[str, ...] = ()  # datasets that may fail to load; any other failure stops the build
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the captioner


@dataclass
class Summary:
    captioned: int = 0
    cached: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)

    def note(self, kind: str, item: SourceItem, reason: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        line = f"{item.dataset}/{item.source}: {kind}: {in_words(reason)}"
        self.reasons.append(line)
        log.warning(line)


@dataclass(frozen=True)
class Planned:
    item: SourceItem
    sha: str
    key: str


def captioner_manifest(config: DescribeConfig) -> dict[str, Any]:
    return {
        "model": config.model,
        "prompts": list(config.prompts),
        "generation": config.generation.as_dict(),
        "cleaner_version": CLEANER_VERSION,
        "joined_with": " ",
    }


def _plan(config: DescribeConfig, cache: CaptionCache, key_suffix: str, report: LoadReport, summary: Summary):
    """Pass 1: every item in order with its content key; which ones this shard must caption."""
    order: list[Planned] = []
    todo: list[Planned] = []
    items = iter_sources(list(config.datasets), config.limit, report)
    for position, item in enumerate(tqdm(items, desc="hashing images", unit="img")):
        if not config.shard.owns(position):
            continue
        try:
            data = item.read()
        except Exception as exc:  # noqa: BLE001 - a broken item never aborts the run
            summary.note("failed", item, f"cannot read ({first_line(exc, 120)})")
            continue
        sha = hashlib.sha256(data).hexdigest()
        planned = Planned(item, sha, f"{sha}:{key_suffix}")
        order.append(planned)
        if planned.key in cache:
            summary.cached += 1
        else:
            todo.append(planned)
    return order, todo


def _caption_batch(captioner: Captioner, prompts, batch, images) -> list[str | Exception]:
    try:
        return list(captioner.describe(images, prompts))
    except Exception as exc:  # noqa: BLE001 - retry one by one so one bad image fails alone
        if len(batch) == 1:
            return [exc]
        log.warning("batch of %d failed (%s); retrying one image at a time", len(batch), exc)
        results: list[str | Exception] = []
        for image in images:
            try:
                results.append(captioner.describe([image], prompts)[0])
            except Exception as single:  # noqa: BLE001
                results.append(single)
        return results


def _assemble(folder: Path, order: list[Planned], cache: CaptionCache, config: DescribeConfig, summary: Summary) -> list[Record]:
    """description.csv from the journal: previous rows keep their ids, new ones follow in source order."""
    captioned = [p for p in order if p.key in cache]
    previous: dict[tuple[str, str], int] = {}
    csv_path = folder / mf.DESCRIPTIONS
    if csv_path.exists():
        try:
            previous = {(r.dataset, r.source): r.id for r in read_records(csv_path)}
        except ArtifactError as exc:
            log.warning("ignoring the existing %s for id stability: %s", mf.DESCRIPTIONS, exc)
    manifest = mf.load_or_create(folder)
    kept = sorted((p for p in captioned if (p.item.dataset, p.item.source) in previous),
                  key=lambda p: previous[(p.item.dataset, p.item.source)])
    new = [p for p in captioned if (p.item.dataset, p.item.source) not in previous]
    # ids of removed rows are never reused: a stale link to one finds nothing rather than another image
    next_id = max([manifest.get("next_id", 0), *(i + 1 for i in previous.values())])
    ids = [previous[(p.item.dataset, p.item.source)] for p in kept] + list(range(next_id, next_id + len(new)))
    records = []
    for row_id, planned in zip(ids, kept + new):
        entry = cache.get(planned.key)
        records.append(Record(row_id, planned.item.dataset, planned.item.source, planned.item.label,
                              entry["image"], entry["description"]))
    if not records:
        if summary.reasons:
            raise ArtifactError(f"{folder}: no image could be captioned ({summary.skipped} skipped, {summary.failed} failed: "
                                "the reasons are above)")
        raise ArtifactError(f"{folder}: the datasets given hold no image ({', '.join(config.datasets)}); "
                            "check --datasets")
    manifest["next_id"] = max(next_id, records[-1].id + 1)
    manifest["captioner"] = captioner_manifest(config)
    manifest["sources"] = {name: SEED_DATASETS[name].repo if name in SEED_DATASETS else "local folder"
                           for name in config.datasets}
    manifest["embedding"] = None  # the vectors no longer match: run embed and index again
    manifest["index"] = None
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        write_records(stage.path(mf.DESCRIPTIONS), records)
        mf.write_manifest(folder, manifest, records, stage)
    return records


def refuse_missing(report: LoadReport, allowed: tuple[str, ...]) -> None:
    """A dataset that was asked for and did not load stops the build, unless it was allowed to be missing."""
    missing = {name: reason for name, reason in report.failed.items() if name not in allowed}
    if missing:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in missing.items())
        flags = " ".join(f"--allow-missing {name}" for name in missing)
        raise ArtifactError(f"{len(missing)} dataset{'s' if len(missing) > 1 else ''} could not be loaded ({reasons}); "
                            f"no image was captioned. Fix the source, or pass {flags} to build without it")


def run_describe(config: DescribeConfig, captioner: Captioner | None = None) -> Summary:
    folder = Path(config.artifacts)
    fresh = not folder.exists()
    try:
        return _describe(config, folder, captioner)
    except BaseException:
        if fresh:
            remove_if_empty(folder)  # a run that wrote nothing leaves no empty artifact folder behind
        raise


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it holds no file at all (only empty sub-folders)."""
    if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)


def _describe(config: DescribeConfig, folder: Path, captioner: Captioner | None) -> Summary:
    if captioner is None:
        require_model(config.model, "--captioner", config.offline, OFFLINE_CAPTIONER)
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    cache = CaptionCache(folder / CACHE_DIR, config.shard.part)
    key_suffix = fingerprint(captioner_manifest(config))
    report, summary = LoadReport(), Summary()
    order, todo = _plan(config, cache, key_suffix, report, summary)
    refuse_missing(report, config.allow_missing)

    progress = tqdm(total=len(todo), desc="captioning", unit="img")
    for start in range(0, len(todo), config.batch_size):
        batch, images = [], []
        for planned in todo[start:start + config.batch_size]:
            try:
                image = decode(planned.item.read())
                save_thumbnail(image, folder / IMAGES_DIR / f"{planned.sha[:32]}.jpg", max_side=config.max_side)
            except BadImage as exc:
                summary.note("skipped", planned.item, str(exc))
                progress.update(1)
                continue
            except Exception as exc:  # noqa: BLE001
                summary.note("failed", planned.item, first_line(exc, 120))
                progress.update(1)
                continue
            batch.append(planned)
            images.append(image)
        if not batch:
            continue
        if captioner is None:
            captioner = Captioner.load(config.model, config.generation, config.device)
        entries = []
        with warnings_once():
            results = _caption_batch(captioner, config.prompts, batch, images)
        for planned, result in zip(batch, results):
            if isinstance(result, Exception):
                summary.note("failed", planned.item, f"captioning: {first_line(result, 120)}")
                continue
            entries.append({"key": planned.key, "image": f"{IMAGES_DIR}/{planned.sha[:32]}.jpg", "description": result,
                            "dataset": planned.item.dataset, "source": planned.item.source})
        cache.append(entries)
        summary.captioned += len(entries)
        progress.update(len(batch))
    progress.close()

    for name, reason in report.failed.items():
        log.warning("dataset %s: not loaded (allowed by --allow-missing): %s", name, reason)
    counts = (f"captioned {summary.captioned:,}, from cache {summary.cached:,}, skipped {summary.skipped:,}, "
              f"failed {summary.failed:,}" + (f"; not loaded: {', '.join(report.failed)}" if report.failed else ""))
    if config.shard.count > 1:
        print(f"shard {config.shard.index} of {config.shard.count}: {counts}; the main process (or the same command "
              "without --shard) merges the shards")
    else:
        records = _assemble(folder, order, cache, config, summary)
        print(f"described {len(records):,} images -> {folder / mf.DESCRIPTIONS} ({counts}); "
              f"next: {next_step('describe', folder)}")
    return summary
