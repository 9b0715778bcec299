"""Embedding on Ray: description chunks encoded by a pool of sentence-transformers actors (one per GPU, else one
per CPU slot), so a cluster build never funnels millions of descriptions through one process's encoder. The
driver reads the chunks and writes the vectors in id order as they come back; a few chunks per actor are in
flight at once, so its memory stays a few chunks whatever the set's size. An actor that dies is restarted by
Ray and its chunk sent again."""

from __future__ import annotations

import os
from collections import deque
from typing import Iterable, Iterator

import numpy as np

from imagesearch.errors import ArtifactError

from build import ray_session
from build.engine_flags import EngineConfig

IN_FLIGHT = 2  # chunks queued per actor


class EncodeWorker:
    """One encoder per actor, loaded once."""

    def __init__(self, model_id: str, device: str | None, threads: int):
        import torch

        from imagesearch.models.encoder import load_encoder

        if device in (None, "cpu") and not torch.cuda.is_available():
            torch.set_num_threads(threads)
        self.encoder = load_encoder(model_id, device)
        self.name = f"{os.uname().nodename}:{os.getpid()}"

    def encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, str]:
        return self.encoder.encode(texts, batch_size=batch_size), self.name


def encoded_on_ray(chunks: Iterable[list[str]], model_id: str, batch_size: int, device: str | None,
                   engine: EngineConfig) -> Iterator[np.ndarray]:
    """Each chunk's vectors, in the chunks' order, encoded by the actor pool."""
    import ray

    pool = ray_session.start(engine.address, engine.workers, device)
    try:
        remote = ray.remote(max_restarts=-1, max_task_retries=-1, **pool.resources)(EncodeWorker)
        actors = [remote.remote(model_id, device, pool.threads) for _ in range(pool.workers)]
        pending: deque = deque()
        for number, texts in enumerate(chunks):
            pending.append(actors[number % len(actors)].encode.remote(texts, batch_size))
            if len(pending) >= IN_FLIGHT * len(actors):
                yield _vectors(pending.popleft())
        while pending:
            yield _vectors(pending.popleft())
    finally:
        ray_session.stop(pool)


def _vectors(reference) -> np.ndarray:
    import ray

    try:
        vectors, _ = ray.get(reference)
    except Exception as exc:
        if type(exc).__module__.startswith("ray"):
            raise ArtifactError(ray_session.explain(exc, "text encoder")) from None
        raise
    return vectors
