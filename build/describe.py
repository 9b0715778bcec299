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

import argparse
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imagesearch.errors import ArtifactError, first_line, in_words
from imagesearch.models.captioner import (CLEANER_VERSION, OFFLINE_CAPTIONER, Captioner,
                                          choose_runtime, default_export_cache)
from imagesearch.models.caption_text import says_something
from imagesearch.models.fit import check_captioner_fits
from imagesearch.models.families import family_of
from imagesearch.models.model_source import require_model
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import remove_if_empty, staged
from imagesearch.store.records import IMAGES_DIR, Record, write_records

from .caption_cache import CACHE_DIR, CaptionCache, fingerprint
from . import preflight
from .caption_reader import prefetched
from .describe_settings import DescribeConfig, add_describe_arguments, describe_config
from .cli import Env, Step, Stopped, add_artifacts, add_device
from .messages import next_step, warnings_once
from .processes import Processes, Shard
from .row_ids import assign_ids, ids_to_keep
from .sources import SEED_DATASETS, LoadReport, SourceItem, iter_sources, refuse_missing

log = logging.getLogger(__name__)
SILENT_AFTER = 8  # images tried before a captioner that writes nothing for most of them stops the run


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


# Not part of a caption's key: the family (the model decides it), and the runtime and number format, which are
# chosen to keep the captions (imagesearch.models.runtime): changing either never recaptions a journalled image.
NOT_KEYED = ("family", "dtype", "runtime")


def captioner_manifest(config: DescribeConfig) -> dict[str, Any]:
    """How the captions were made; all but NOT_KEYED key the caption cache. runtime and dtype are this run's (as
    it ran, once a captioner was loaded); the manifest's made_with counts the captions each runtime wrote."""
    return {
        "model": config.captioner,
        "family": config.family,
        "dtype": config.dtype,
        "runtime": config.runtime,
        "prompts": list(config.prompts or ()),
        "generation": config.generation.as_dict(),
        "cleaner_version": CLEANER_VERSION,
        "joined_with": " ",
        **({"read_text": True} if config.read_text else {}),  # absent when off: earlier journals keep their key
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


def _assemble(folder: Path, order: list[Planned], cache: CaptionCache, config: DescribeConfig, summary: Summary) -> list[Record]:
    """description.csv from the journal: previous rows keep their ids, new ones follow in source order."""
    captioned = [p for p in order if p.key in cache]
    manifest = mf.load_or_create(folder)
    rows, ids, next_id = assign_ids([(p.item.dataset, p.item.source) for p in captioned],
                                    *ids_to_keep(folder, config.ids_from, config.offline))
    records, made_with = [], Counter()
    for row_id, planned in zip(ids, (captioned[i] for i in rows)):
        entry = cache.get(planned.key)
        made_with[entry.get("runtime", "unrecorded")] += 1
        records.append(Record(row_id, planned.item.dataset, planned.item.source, planned.item.label,
                              entry["image"], entry["description"]))
    if not records:
        if summary.reasons:
            raise ArtifactError(f"{folder}: no image could be captioned ({summary.skipped} skipped, {summary.failed} failed: "
                                "the reasons are above)")
        raise ArtifactError(f"{folder}: the datasets given hold no image ({', '.join(config.datasets)}); "
                            "check --datasets")
    manifest["next_id"] = next_id
    manifest["captioner"] = {**captioner_manifest(config), "made_with": dict(made_with.most_common())}
    manifest["sources"] = {name: SEED_DATASETS[name].repo if name in SEED_DATASETS else "local folder"
                           for name in config.datasets}
    manifest["embedding"] = None  # the vectors no longer match: run embed and index again
    manifest["index"] = None
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        write_records(stage.path(mf.DESCRIPTIONS), records)
        mf.write_manifest(folder, manifest, records, stage)
    return records


def run_describe(config: DescribeConfig, captioner: Captioner | None = None) -> Summary:
    folder = Path(config.artifacts)
    fresh = not folder.exists()
    try:
        return _describe(config, folder, captioner)
    except BaseException:
        if fresh:
            remove_if_empty(folder)  # a run that wrote nothing leaves no empty artifact folder behind
        raise


def _caption(config: DescribeConfig, folder: Path, todo: list[Planned], cache: CaptionCache, summary: Summary,
             captioner: Captioner | None) -> DescribeConfig:
    """Pass 2: caption ``todo`` in batches, journalling each before the next; the config as it ran."""
    silent: list[str] = []  # images the captioner wrote no words for
    batches = [todo[start:start + config.caption_batch_size] for start in range(0, len(todo), config.caption_batch_size)]
    with tqdm(total=len(todo), desc="captioning", unit="img") as progress:  # closed before any message that follows
        for batch, images in prefetched(batches, folder, config.max_side, summary, progress):
            if not batch:
                continue
            if captioner is None:
                with warnings_once():  # loading runs the processor once (the export's probe image)
                    captioner = Captioner.load(config.captioner, config.generation, config.device, config.dtype,
                                               config.runtime, config.exports or default_export_cache())
            if (captioner.runtime.runtime, captioner.runtime.dtype) != (config.runtime, config.dtype):
                config = replace(config, runtime=captioner.runtime.runtime, dtype=captioner.runtime.dtype)  # as it ran
            entries = []
            with warnings_once():
                results = captioner.describe_each(images, config.prompts, config.read_text)
            for planned, result in zip(batch, results):
                if isinstance(result, Exception):
                    summary.note("failed", planned.item, f"captioning: {first_line(result, 120)}")
                elif not says_something(result):
                    summary.note("failed", planned.item, f"captioning: the captioner wrote no words ({result!r})")
                    silent.append(f"{planned.item.dataset}/{planned.item.source}")
                else:
                    entries.append({"key": planned.key, "image": f"{IMAGES_DIR}/{planned.sha[:32]}.jpg",
                                    "description": result, "dataset": planned.item.dataset,
                                    "source": planned.item.source, "runtime": captioner.runtime.label})
            cache.append(entries)
            summary.captioned += len(entries)
            progress.update(len(batch))
            _refuse_a_silent_captioner(config, silent, summary.captioned + len(silent), len(todo))
    return config


def _refuse_a_silent_captioner(config: DescribeConfig, silent: list[str], tried: int, total: int) -> None:
    """Stop once most images came back without a word: the model or its prompts are wrong, and the rest would be
    hours spent on blank rows."""
    if tried >= min(SILENT_AFTER, total) and len(silent) * 2 > tried:
        raise ArtifactError(f"{config.captioner}: the captioner wrote no words for {len(silent)} of {tried} images "
                            f"(first: {silent[0]}); check --captioner and --prompts (nothing blank was kept; the "
                            "same command continues after the fix)")


def _describe(config: DescribeConfig, folder: Path, captioner: Captioner | None) -> Summary:
    if captioner is None:
        require_model(config.captioner, "--captioner", config.offline, OFFLINE_CAPTIONER)
        check_captioner_fits(config.captioner, config.device, config.offline)  # in seconds, before any loading
    family = captioner.family if captioner is not None else family_of(config.captioner)
    if captioner is None:
        choose_runtime(family, config.device, config.dtype, config.runtime)  # refused now, not after the hashing pass
    preflight.writable(folder)
    preflight.disk_room(folder, preflight.images_expected(config.datasets, config.limit), config.max_side)
    config = replace(config, prompts=family.prompts(config.prompts), family=family.model_type)
    if config.read_text:
        family.reading_prompt()  # refused in one line before any work when the family cannot be asked
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    cache = CaptionCache(folder / CACHE_DIR, config.shard.part)
    key_suffix = fingerprint({k: v for k, v in captioner_manifest(config).items() if k not in NOT_KEYED})
    report, summary = LoadReport(), Summary()
    order, todo = _plan(config, cache, key_suffix, report, summary)
    refuse_missing(report, config.allow_missing)

    try:
        config = _caption(config, folder, todo, cache, summary, captioner)
    except KeyboardInterrupt:
        raise Stopped(f"stopped after {summary.captioned:,} of {len(todo):,} images; rerun the same command to "
                      "continue (every caption made so far is kept)") from None

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


def describe_in_processes(config: DescribeConfig, processes: Processes, sharded_by_hand: bool) -> None:
    """Caption this process's shard; under a launcher the main process then merges every shard's journal into
    the description.csv one process would write (the others wait)."""
    run_describe(config)
    if processes.count > 1 and not sharded_by_hand:
        processes.wait_for_everyone()  # every shard's journal is complete
        if processes.is_main:
            run_describe(replace(config, shard=Shard()))


def _arguments(parser: argparse.ArgumentParser) -> None:
    add_artifacts(parser)
    add_describe_arguments(parser)
    add_device(parser)


def _run(args: argparse.Namespace, env: Env) -> None:
    processes = Processes.start()
    describe_in_processes(describe_config(args, processes, env), processes, args.shard is not None)
    processes.wait_for_everyone()


STEP = Step("describe", "images -> images/ + description.csv (a captioner)",
            "Caption every image; resumable, cached, batched and shardable.", _arguments, _run)
