"""The Ray engine: the batches of a run captioned by a pool of captioner actors on a Ray cluster (Ray Data's
batch inference: a stateful class per worker, map_batches over an actor pool, one actor per GPU or per CPU
slot). The driver stays the only writer: it plans, sends each batch (a folder's images as their paths, which
every node must reach at the same place; others as their bytes; typed Arrow columns both ways, so nothing
that crosses the cluster is unpickled by this code), and writes each answer's thumbnails and
journal entries the moment it arrives. So the journal, its resume and the caption cache are the local
engine's, and a batch holds the same images as there: greedy captions, and the description.csv, are the same.
A worker that dies is restarted by Ray and its batch retried; a driver stopped at any point resumes from the
journal."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

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

    def __call__(self, table):
        """Batches in (WORK's columns), answers out (ANSWER's): typed Arrow columns both ways, no Python objects."""
        return _answer_table([(row["batch"], self.caption(list(zip(row["sha"], row["path"], row["data"]))))
                              for row in table.to_pylist()])

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


@functools.cache  # one pair of schemas per process, not one per batch
def _schemas():
    import pyarrow as pa

    strings = pa.list_(pa.string())
    work = pa.schema([("batch", pa.int64()), ("sha", strings), ("path", strings), ("data", pa.list_(pa.binary()))])
    answer = pa.schema([("batch", pa.int64()), ("kind", strings), ("text", strings), ("thumb", pa.list_(pa.binary())),
                        ("worker", pa.string()), ("seconds", pa.float64()), ("runtime", strings)])
    return work, answer


def _work_table(index: int, batch) -> Any:
    """One batch of the run as a one-row Arrow table: each image's sha256 and its path (or its bytes)."""
    import pyarrow as pa

    sha, path, data = zip(*(_work(planned) for planned in batch))
    return pa.Table.from_pylist([{"batch": index, "sha": sha, "path": path, "data": data}], schema=_schemas()[0])


def _answer_table(answers: list[tuple[int, dict[str, Any]]]) -> Any:
    import pyarrow as pa

    rows = [{"batch": index, "kind": [o[0] for o in a["outcomes"]], "text": [o[1] for o in a["outcomes"]],
             "thumb": [o[2] for o in a["outcomes"]], "worker": a["worker"], "seconds": a["seconds"],
             "runtime": list(a["runtime"])} for index, a in answers]
    return pa.Table.from_pylist(rows, schema=_schemas()[1])


def _answer(row: dict[str, Any]) -> dict[str, Any]:
    """An answer row back into what the worker's caption() returned."""
    return {"outcomes": list(zip(row["kind"], row["text"], row["thumb"])), "worker": row["worker"],
            "seconds": row["seconds"], "runtime": tuple(row["runtime"])}


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
                work = [_work_table(index, batch) for index, batch in enumerate(batches)]  # a block each
                answers = ray.data.from_arrow(work).map_batches(
                    CaptionWorker, fn_constructor_args=(settings,), batch_size=1, batch_format="pyarrow",
                    compute=ray.data.ActorPoolStrategy(size=pool.workers), **pool.resources)
                with tqdm(total=len(job.todo), desc="captioning on ray", unit="img") as progress:
                    rows_out = iter(answers.iter_batches(batch_size=None, batch_format="pyarrow"))
                    for row in (row for table in rows_out for row in table.to_pylist()):
                        batch, answer = batches[row["batch"]], _answer(row)
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
