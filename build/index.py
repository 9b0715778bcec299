"""Index step: embedding.pkl -> index.faiss (exact by default), and description.csv -> lexical.npz (BM25)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagesearch import manifest as mf
from imagesearch.fileio import staged
from imagesearch.artifacts import check_vectors
from imagesearch.errors import ArtifactError
from imagesearch.records import read_records
from imagesearch.safe_pickle import load_array
from imagesearch.encoder import TextEncoder
from imagesearch.lexical import build_lexical, lexical_documents, write_lexical
from imagesearch.model_source import require_model
from imagesearch.vector_index import IndexSpec, build_index, resolve_kind, write_index

from .messages import next_step, warnings_once
from .query_texts import query_like_texts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexConfig:
    artifacts: Path
    spec: IndexSpec = IndexSpec()
    device: str | None = None
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the embedder
    text_queries: int = 500  # query-like texts encoded to measure an IVF index


def encoded_query_texts(records: list, model_id: str, config: IndexConfig) -> np.ndarray:
    """The set's embedder applied to query-like texts drawn from its rows (for IVF recall)."""
    require_model(model_id, f"{mf.MANIFEST} embedding.model", config.offline,
                  "an ivf index is measured with the set's own embedder on query-like texts: make the model "
                  "available, or use --index flat (exact)")
    texts = query_like_texts(records, config.text_queries)
    encoder = TextEncoder.load(model_id, device=config.device)
    log.info("measuring the ivf index on %d query-like texts, e.g. %r", len(texts), texts[:3])
    with warnings_once():
        return encoder.encode(texts, batch_size=64)


def run_index(config: IndexConfig) -> dict[str, Any]:
    folder = Path(config.artifacts)
    manifest = mf.read_manifest(folder)
    embedding = manifest.get("embedding")
    if not embedding:
        raise ArtifactError(f"{mf.MANIFEST}: no embedding yet; run `python -m build embed --artifacts {folder}` first")
    records = read_records(folder / mf.DESCRIPTIONS)
    vectors = load_array(folder / embedding["file"])
    check_vectors(vectors, len(records), embedding["dimension"], embedding["file"])
    queries = None
    if resolve_kind(config.spec.kind, len(vectors)) == "ivf":
        queries = encoded_query_texts(records, embedding["model"], config)
    built = build_index(vectors, config.spec, text_queries=queries)
    manifest["index"] = mf.index_section(built.info)
    lexical = build_lexical(lexical_documents(records))
    manifest["lexical"] = mf.lexical_section(manifest.get("lexical"), lexical.nbytes)
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        write_index(stage.path(mf.INDEX), built.index)
        write_lexical(stage.path(mf.LEXICAL), lexical)
        manifest = mf.write_manifest(folder, manifest, records, stage)
    info = manifest["index"]
    params = ", ".join(f"{k} {v}" for k, v in sorted(info["params"].items()))
    kind = "exact" if info.get("exact") else (
        f"approximate, recall@5 {info['recall_at_5']}: stored vectors {info['recall_at_5_stored']}, "
        f"query-like texts {info.get('recall_at_5_text', 'not measured')}")
    print(f"indexed {len(records):,} vectors -> {folder / mf.INDEX} ({info['type']}{', ' + params if params else ''}, "
          f"{kind}); next: {next_step('index', folder)}")
    return manifest
