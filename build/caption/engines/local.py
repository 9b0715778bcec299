"""The local engine: this process captions its images (its shard of them under torchrun or accelerate launch),
each batch decoded by the prefetching reader while the one before it is captioned."""

from __future__ import annotations

from dataclasses import replace

from tqdm import tqdm

from imagesearch.models.captioner import Captioner, default_export_cache

from build.messages import warnings_once

from ..plan import batches_of
from ..reader import prefetched
from ..results import journal_entries, refuse_a_silent_captioner
from . import Job

NAME = "local"


def caption(job: Job):
    """Caption ``job.todo`` in batches, journalling each before the next; the config as it ran."""
    config, captioner, summary = job.config, job.captioner, job.summary
    silent: list[str] = []  # images the captioner wrote no words for
    with tqdm(total=len(job.todo), desc="captioning", unit="img") as progress:  # closed before any message after
        for batch, images in prefetched(batches_of(job.todo, config.caption_batch_size), job.folder,
                                        config.max_side, summary, progress):
            if not batch:
                continue
            if captioner is None:
                with warnings_once():  # loading runs the processor once (the export's probe image)
                    captioner = Captioner.load(config.captioner, config.generation, config.device, config.dtype,
                                               config.runtime, config.exports or default_export_cache(),
                                               config.caption_batch_size)
            if (captioner.runtime.runtime, captioner.runtime.dtype) != (config.runtime, config.dtype):
                config = replace(config, runtime=captioner.runtime.runtime, dtype=captioner.runtime.dtype)  # as it ran
            with warnings_once():
                results = captioner.describe_each(images, config.prompts, config.read_text)
            job.cache.append(journal_entries(batch, results, captioner.runtime.label, summary, silent))
            progress.update(len(batch))
            refuse_a_silent_captioner(config, silent, summary.captioned + len(silent), len(job.todo))
    return config
