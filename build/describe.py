"""Caption step: images of the chosen datasets -> images/ + description.csv.

It reads as the stage does (build/caption/): plan.py hashes every image in source order, so the work left is
known up front and cached captions are skipped; an engine (caption/engines/: local, or ray) decodes,
thumbnails and captions the rest in batches, journalling each batch before the next (caption/cache.py);
writer.py assembles description.csv from the journal in source order, so a killed and resumed run, a sharded
one and one on any engine write exactly what an uninterrupted local one would.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from imagesearch.models.captioner import OFFLINE_CAPTIONER, Captioner, choose_runtime
from imagesearch.models.families import family_of
from imagesearch.models.fit import check_captioner_fits
from imagesearch.models.model_source import require_model
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import remove_if_empty
from imagesearch.store.records import IMAGES_DIR

from build.caption import preflight
from build.caption.cache import CACHE_DIR, CaptionCache, fingerprint
from build.caption.engines import Job, engine
from build.caption.plan import NOT_KEYED, Summary, captioner_manifest, plan
from build.caption.processes import Processes, Shard
from build.caption.settings import DescribeConfig, add_describe_arguments, describe_config
from build.caption.sources import LoadReport, refuse_missing
from build.caption.writer import write_descriptions
from build.messages import next_step
from build.step import Env, Step, Stopped, add_artifacts, add_device

log = logging.getLogger(__name__)


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
    if captioner is None:
        # refused now, not after the hashing pass
        choose_runtime(family, config.device, config.dtype, config.runtime, config.caption_batch_size)
    preflight.writable(folder)
    preflight.disk_room(folder, preflight.images_expected(config.datasets, config.limit), config.max_side)
    config = replace(config, prompts=family.prompts(config.prompts), family=family.model_type)
    if config.read_text:
        family.reading_prompt()  # refused in one line before any work when the family cannot be asked
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    cache = CaptionCache(folder / CACHE_DIR, config.shard.part)
    key_suffix = fingerprint({k: v for k, v in captioner_manifest(config).items() if k not in NOT_KEYED})
    report, summary = LoadReport(), Summary()
    order, todo = plan(config, cache, key_suffix, report, summary)
    refuse_missing(report, config.allow_missing)

    try:
        config = engine(config.engine.name).caption(Job(config, folder, todo, cache, summary, captioner))
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
        records = write_descriptions(folder, order, cache, config, summary)
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
            "Caption every image; resumable, cached, batched and shardable, on this machine or a Ray cluster.",
            _arguments, _run)
