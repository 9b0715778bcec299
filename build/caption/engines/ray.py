"""The Ray engine: the batches of a run captioned by a pool of captioner actors on a Ray cluster (Ray Data's
batch inference: a stateful class per worker, map_batches over an actor pool, one actor per GPU or per CPU
slot). The driver stays the only writer: it plans, sends each batch (a folder's images as their paths, which
every node must reach at the same place; others as their bytes), and writes each answer's thumbnails and
journal entries the moment it arrives. So the journal, its resume and the caption cache are the local
engine's, and a batch holds the same images as there: greedy captions, and the description.csv, are the same.
A worker that dies is restarted by Ray and its batch retried; a driver stopped at any point resumes from the
journal."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import signal
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from imagesearch.errors import ArtifactError, first_line
from imagesearch.models.captioner import Captioner, GenerationSettings, default_export_cache
from imagesearch.models.images import BadImage, decode, thumbnail_bytes, write_atomic

from build import ray_session

from ..plan import batches_of
from ..results import image_name, journal_entries, refuse_a_silent_captioner
from . import Job

log = logging.getLogger(__name__)
NAME = "ray"


@dataclass(frozen=True)
class WorkerSettings:
    """What every captioner actor loads and asks: the local engine's settings, whole."""

    captioner: str
    generation: GenerationSettings
    device: str | None
    dtype: str
    runtime: str
    exports: str
    prompts: tuple[str, ...]
    read_text: bool
    max_side: int
    threads: int
    batch: int  # images a call describes (--caption-batch-size): auto's choice depends on it


class CaptionWorker:
    """One captioner per actor, loaded once; each call captions one batch of the run."""

    def __init__(self, settings: WorkerSettings):
        import torch

        if settings.device in (None, "cpu") and not torch.cuda.is_available():
            torch.set_num_threads(settings.threads)
        self.settings = settings
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.captioner = Captioner.load(settings.captioner, settings.generation, settings.device, settings.dtype,
                                        settings.runtime, Path(settings.exports), settings.batch)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # pickle here carries messages between this run's own driver and actors, inside a cluster that already runs
        # their code (Ray ships it pickled); never an artifact or a download, which go through store/safe_pickle
        answers = [pickle.dumps(self.caption(pickle.loads(work))) for work in rows["work"]]
        return {"batch": rows["batch"], "answer": np.array(answers, dtype=object)}

    def caption(self, work: list[tuple[str, str | None, bytes | None]]) -> dict[str, Any]:
        started = time.perf_counter()
        outcomes: list[tuple[str, str, bytes | None]] = []  # per image: (kind, text or reason, thumbnail)
        images, kept = [], []
        for position, (sha, path, data) in enumerate(work):
            try:
                data = Path(path).read_bytes() if path is not None else data
                if hashlib.sha256(data).hexdigest() != sha:
                    raise ValueError(f"{path} changed since the run was planned; rerun to caption it as it is now")
                image = decode(data)
                outcomes.append(("ok", "", thumbnail_bytes(image, self.settings.max_side)))
                images.append(image)
                kept.append(position)
            except BadImage as exc:
                outcomes.append(("skipped", str(exc), None))
            except Exception as exc:  # noqa: BLE001 - one unreadable image never stops its batch
                outcomes.append(("failed", first_line(exc, 120), None))
        results = self.captioner.describe_each(images, self.settings.prompts, self.settings.read_text) if images else []
        for position, result in zip(kept, results):
            kind, _, thumb = outcomes[position]
            outcomes[position] = ("error", first_line(result, 120), thumb) if isinstance(result, Exception) \
                else (kind, result, thumb)
        runtime = self.captioner.runtime
        return {"outcomes": outcomes, "worker": self.name, "seconds": time.perf_counter() - started,
                "runtime": (runtime.runtime, runtime.dtype, runtime.label)}


def _work(planned) -> tuple[str, str | None, bytes | None]:
    path = planned.item.path
    return (planned.sha, str(path), None) if path is not None else (planned.sha, None, planned.item.read())


def caption(job: Job):
    """Caption ``job.todo`` on a Ray actor pool, journalling each batch as it comes back; the config as it ran."""
    import ray

    config = job.config
    pool = ray_session.start(config.engine.address, config.engine.workers, config.device)
    batches = batches_of(job.todo, config.caption_batch_size)
    settings = WorkerSettings(config.captioner, config.generation, config.device, config.dtype, config.runtime,
                              str(config.exports or default_export_cache()), tuple(config.prompts or ()),
                              config.read_text, config.max_side, pool.threads, config.caption_batch_size)
    log.info("captioning %d images in %d batches on %d Ray workers (%s each)", len(job.todo), len(batches),
             pool.workers, ", ".join(f"{k.removeprefix('num_')} {v:g}" for k, v in pool.resources.items()))
    silent: list[str] = []
    per_worker: Counter = Counter()
    seconds: Counter = Counter()
    rows_out = None  # the stream of answers, closed before Ray is left, however the loop ends
    with _interrupts_seen() as interrupted:
        try:
            if batches:
                rows = [{"batch": index, "work": pickle.dumps([_work(p) for p in batch])}
                        for index, batch in enumerate(batches)]
                answers = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                    CaptionWorker, fn_constructor_args=(settings,), batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=pool.workers), **pool.resources)
                with tqdm(total=len(job.todo), desc="captioning on ray", unit="img") as progress:
                    rows_out = iter(answers.iter_rows())
                    for row in rows_out:
                        batch, answer = batches[int(row["batch"])], pickle.loads(row["answer"])
                        config = _record(job, config, batch, answer, silent)
                        per_worker[answer["worker"]] += len(batch)
                        seconds[answer["worker"]] += answer["seconds"]
                        progress.update(len(batch))
                        progress.set_postfix(workers=ray_session.alive("CaptionWorker"), refresh=False)
                        refuse_a_silent_captioner(config, silent, job.summary.captioned + len(silent), len(job.todo))
        except (KeyboardInterrupt, ArtifactError):
            raise
        except Exception as exc:
            if interrupted:  # Ray Data shuts its executor down on Ctrl-C, and may raise from there instead
                raise KeyboardInterrupt from None
            if type(exc).__module__.startswith("ray"):
                raise ArtifactError(ray_session.explain(exc, "captioner")) from None
            raise
        finally:
            ray_session.close_stream(rows_out)
            ray_session.stop(pool)
    for worker, count in sorted(per_worker.items()):
        print(f"worker {worker}: {count:,} images in {seconds[worker]:.1f} s "
              f"({count / max(seconds[worker], 1e-9):.2f} images/s)", file=sys.stderr)
    return config


@contextlib.contextmanager
def _interrupts_seen():
    """A list that holds an entry once Ctrl-C has been pressed; Ctrl-C still raises KeyboardInterrupt at once."""
    seen: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def on_interrupt(signum, frame):
        seen.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _record(job: Job, config, batch, answer: dict[str, Any], silent: list[str]):
    """One batch's answer: its thumbnails written, failures noted, captions journalled; the config as it ran."""
    runtime, dtype, label = answer["runtime"]
    kept, results = [], []
    for planned, (kind, text, thumb) in zip(batch, answer["outcomes"]):
        if kind in ("skipped", "failed"):
            job.summary.note(kind, planned.item, text)
            continue
        write_atomic(job.folder / image_name(planned), thumb)
        kept.append(planned)
        results.append(RuntimeError(text) if kind == "error" else text)
    job.cache.append(journal_entries(kept, results, label, job.summary, silent))
    return config if (config.runtime, config.dtype) == (runtime, dtype) else replace(config, runtime=runtime, dtype=dtype)
