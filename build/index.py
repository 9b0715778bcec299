"""Index step: embedding.pkl -> index.faiss, exact by default."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagesearch import manifest as mf
from imagesearch.fileio import staged
from imagesearch.artifacts import check_vectors
from imagesearch.errors import ArtifactError
from imagesearch.records import read_records
from imagesearch.safe_pickle import load_array
from imagesearch.vector_index import IndexSpec, build_index, write_index

from .messages import next_step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexConfig:
    artifacts: Path
    spec: IndexSpec = IndexSpec()


def run_index(config: IndexConfig) -> dict[str, Any]:
    folder = Path(config.artifacts)
    manifest = mf.read_manifest(folder)
    embedding = manifest.get("embedding")
    if not embedding:
        raise ArtifactError(f"{mf.MANIFEST}: no embedding yet; run `python -m build embed --artifacts {folder}` first")
    records = read_records(folder / mf.DESCRIPTIONS)
    vectors = load_array(folder / embedding["file"])
    check_vectors(vectors, len(records), embedding["dimension"], embedding["file"])
    built = build_index(vectors, config.spec)
    manifest["index"] = mf.index_section(built.info)
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        write_index(stage.path(mf.INDEX), built.index)
        manifest = mf.write_manifest(folder, manifest, records, stage)
    info = manifest["index"]
    params = ", ".join(f"{k} {v}" for k, v in sorted(info["params"].items()))
    kind = "exact" if info.get("exact") else f"approximate, recall@5 {info['recall_at_5']}"
    print(f"indexed {len(records):,} vectors -> {folder / mf.INDEX} ({info['type']}{', ' + params if params else ''}, "
          f"{kind}); next: {next_step('index', folder)}")
    return manifest
