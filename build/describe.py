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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imagesearch.errors import ArtifactError, ConfigError, first_line, in_words
from imagesearch.models.captioner import (CLEANER_VERSION, DEFAULT_CAPTIONER, DTYPES, OFFLINE_CAPTIONER, Captioner,
                                          GenerationSettings)
from imagesearch.models.fit import check_captioner_fits
from imagesearch.models.families import FAMILIES, family_of
from imagesearch.models.images import BadImage, decode, save_thumbnail
from imagesearch.models.model_source import require_model
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import remove_if_empty, staged
from imagesearch.store.records import IMAGES_DIR, Record, write_records

from .caption_cache import CACHE_DIR, CaptionCache, fingerprint
from .cli import Env, Step, add_artifacts, add_device, add_renamed, positive
from .messages import next_step, warnings_once
from .processes import Processes, Shard
from .row_ids import add_ids_from, assign_ids, ids_to_keep
from .sources import SEED_DATASETS, LoadReport, SourceItem, iter_sources, refuse_missing

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class DescribeConfig:
    artifacts: Path
    datasets: tuple[str, ...] = tuple(SEED_DATASETS)
    limit: int | None = None
    captioner: str = DEFAULT_CAPTIONER
    prompts: tuple[str, ...] | None = None  # None: the captioner family's own (the seed's two for InstructBLIP)
    caption_batch_size: int = 4
    max_side: int = 512
    generation: GenerationSettings = GenerationSettings()
    shard: Shard = Shard()
    device: str | None = None
    allow_missing: tuple[str, ...] = ()  # datasets that may fail to load; any other failure stops the build
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the captioner
    family: str = ""  # the captioner's model_type, read from its config when the run starts
    dtype: str = "auto"  # the captioner's weights: auto (bfloat16 on CUDA, float32 on a CPU), bfloat16, float16, float32
    read_text: bool = False  # also ask for the words written in each image (signs, labels, packaging)
    ids_from: str | None = None  # the set this build replaces, whose items keep their ids (build/row_ids.py)


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
    """How the captions were made; all but the family (the model decides it) and the dtype key the caption cache."""
    return {
        "model": config.captioner,
        "family": config.family,
        "dtype": config.dtype,
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
    records = []
    for row_id, planned in zip(ids, (captioned[i] for i in rows)):
        entry = cache.get(planned.key)
        records.append(Record(row_id, planned.item.dataset, planned.item.source, planned.item.label,
                              entry["image"], entry["description"]))
    if not records:
        if summary.reasons:
            raise ArtifactError(f"{folder}: no image could be captioned ({summary.skipped} skipped, {summary.failed} failed: "
                                "the reasons are above)")
        raise ArtifactError(f"{folder}: the datasets given hold no image ({', '.join(config.datasets)}); "
                            "check --datasets")
    manifest["next_id"] = next_id
    manifest["captioner"] = captioner_manifest(config)
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


def _describe(config: DescribeConfig, folder: Path, captioner: Captioner | None) -> Summary:
    if captioner is None:
        require_model(config.captioner, "--captioner", config.offline, OFFLINE_CAPTIONER)
        check_captioner_fits(config.captioner, config.device, config.offline)  # in seconds, before any loading
    family = captioner.family if captioner is not None else family_of(config.captioner)
    config = replace(config, prompts=family.prompts(config.prompts), family=family.model_type)
    if config.read_text:
        family.reading_prompt()  # refused in one line before any work when the family cannot be asked
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    cache = CaptionCache(folder / CACHE_DIR, config.shard.part)
    key_suffix = fingerprint({k: v for k, v in captioner_manifest(config).items() if k not in ("family", "dtype")})
    report, summary = LoadReport(), Summary()
    order, todo = _plan(config, cache, key_suffix, report, summary)
    refuse_missing(report, config.allow_missing)

    progress = tqdm(total=len(todo), desc="captioning", unit="img")
    for start in range(0, len(todo), config.caption_batch_size):
        batch, images = [], []
        for planned in todo[start:start + config.caption_batch_size]:
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
            captioner = Captioner.load(config.captioner, config.generation, config.device, config.dtype)
        entries = []
        with warnings_once():
            results = captioner.describe_each(images, config.prompts, config.read_text)
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


def describe_in_processes(config: DescribeConfig, processes: Processes, sharded_by_hand: bool) -> None:
    """Caption this process's shard; under a launcher the main process then merges every shard's journal into
    the description.csv one process would write (the others wait)."""
    run_describe(config)
    if processes.count > 1 and not sharded_by_hand:
        processes.wait_for_everyone()  # every shard's journal is complete
        if processes.is_main:
            run_describe(replace(config, shard=Shard()))


def add_describe_arguments(parser: argparse.ArgumentParser, alone: bool = True) -> None:
    """The captioner's flags: the same names in ``describe`` and ``all``."""
    parser.add_argument("--datasets", default=",".join(SEED_DATASETS),
                        help=f"comma-separated built-in names ({', '.join(SEED_DATASETS)}) and/or local image folders "
                             "(label = sub-folder name); default: all six")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="NAME",
                        help="build even if this dataset cannot be loaded (repeatable); otherwise any dataset that "
                             "fails to load stops the build")
    parser.add_argument("--limit", type=positive, default=None, help="at most N images per dataset")
    parser.add_argument("--captioner", default=DEFAULT_CAPTIONER,
                        help=f"hub id or local folder of a supported captioner family ({', '.join(sorted(FAMILIES))}), read "
                             f"from its config (default {DEFAULT_CAPTIONER})")
    parser.add_argument("--prompts", nargs="+", default=None, metavar="PROMPT",
                        help="prompts asked of every image, answers joined with one space (default: the captioner "
                             "family's own: the seed's two for InstructBLIP; refused for a caption-only family)")
    parser.add_argument("--caption-batch-size", type=positive, default=4, help="images per generate() call (default 4)")
    parser.add_argument("--max-new-tokens", type=positive, default=256, help="tokens generated per answer (default 256)")
    parser.add_argument("--num-beams", type=positive, default=1, help="beam search width (default 1: greedy, as the seed)")
    parser.add_argument("--max-side", type=positive, default=512, help="longest side of the saved thumbnails (default 512)")
    parser.add_argument("--dtype", choices=DTYPES, default="auto", help="captioner weights (auto: bf16 on CUDA, else fp32)")
    parser.add_argument("--read-text", action="store_true", help="add the words written in each image to its description")
    add_ids_from(parser)
    parser.add_argument("--quantization", choices=("none", "4bit", "8bit"), default="none",
                        help="load the captioner in 4 or 8 bit (needs bitsandbytes; slower than bf16)")
    parser.add_argument("--shard", type=Shard.parse, default=None,
                        help="caption only shard i of n (i/n); default: one shard per process under torchrun or "
                             "accelerate launch")
    if alone:  # the names this step had before; in `all` they would be ambiguous
        add_renamed(parser, "captioner")
        add_renamed(parser, "caption_batch_size", positive)


def describe_config(args: argparse.Namespace, processes: Processes, env: Env) -> DescribeConfig:
    datasets = tuple(name.strip() for name in args.datasets.split(",") if name.strip())
    if not datasets:
        raise ConfigError("--datasets is empty; name at least one dataset or folder")
    return DescribeConfig(
        artifacts=args.artifacts, datasets=datasets, limit=args.limit, captioner=args.captioner,
        prompts=tuple(args.prompts) if args.prompts else None, caption_batch_size=args.caption_batch_size, max_side=args.max_side,
        generation=GenerationSettings(max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
                                      quantization=args.quantization),
        shard=Shard(*args.shard) if args.shard else processes.shard(), device=args.device or processes.device,
        allow_missing=tuple(name.strip() for value in args.allow_missing for name in value.split(",") if name.strip()),
        offline=env.offline, dtype=args.dtype, read_text=args.read_text, ids_from=args.ids_from)


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
