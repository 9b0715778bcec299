"""Embed step: description.csv -> embedding.pkl (L2-normalised float32, id order)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagesearch import manifest as mf
from imagesearch.fileio import staged
from imagesearch.encoder import DEFAULT_MODEL, OFFLINE_EMBEDDER, TextEncoder, canonical_model_id
from imagesearch.model_source import require_model
from imagesearch.records import read_records
from imagesearch.safe_pickle import dump_array

from .messages import next_step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedConfig:
    artifacts: Path
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    device: str | None = None
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the model


def run_embed(config: EmbedConfig) -> dict[str, Any]:
    folder = Path(config.artifacts)
    records = read_records(folder / mf.DESCRIPTIONS)
    manifest = mf.load_or_create(folder)
    model_id = canonical_model_id(config.model)
    require_model(model_id, "--embedder", config.offline, OFFLINE_EMBEDDER)
    encoder = TextEncoder.load(model_id, device=config.device)
    log.info("embedding %d descriptions with %s (batch %d)", len(records), model_id, config.batch_size)
    vectors = encoder.encode([r.description for r in records], batch_size=config.batch_size, progress=True)
    manifest["embedding"] = mf.embedding_section(model_id, encoder.dimension, encoder.probe())
    manifest["index"] = None  # the old index no longer matches these vectors
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        dump_array(stage.path(mf.EMBEDDING), vectors)
        manifest = mf.write_manifest(folder, manifest, records, stage)
    print(f"embedded {len(records):,} descriptions -> {folder / mf.EMBEDDING} ({encoder.dimension}-d, {model_id}); "
          f"next: {next_step('embed', folder)}")
    return manifest
