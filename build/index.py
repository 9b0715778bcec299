"""Index step: embedding.pkl -> index.faiss (exact by default), and description.csv -> lexical.npz (BM25)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagesearch.errors import ArtifactError, build_command
from imagesearch.models.encoder import load_encoder
from imagesearch.models.model_source import require_model
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import check_vectors, load_artifact_set
from imagesearch.store.fileio import staged
from imagesearch.store.index_file import write_index
from imagesearch.store.lexical import build_lexical, lexical_documents, write_lexical
from imagesearch.store.records import read_records
from imagesearch.store.safe_pickle import load_array

from build.step import Env, Step, add_artifacts, positive
from build.indexing.hybrid_recall import hybrid_recall
from build.messages import next_step, warnings_once
from build.indexing.query_texts import example_queries, query_like_texts
from build.indexing.null_queries import null_texts
from build.indexing.score_bands import measure_bands
from build.indexing.vector_index import KINDS, IndexSpec, is_exact
from build.indexing.builder import build_index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexConfig:
    artifacts: Path
    spec: IndexSpec = IndexSpec()
    device: str | None = None
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the embedder
    text_queries: int = 500  # query-like texts encoded to measure an IVF index


def encoded_query_texts(records: list, model_id: str, config: IndexConfig) -> tuple[list[str], np.ndarray]:
    """Query-like texts drawn from the set's rows and their vectors by its own embedder (IVF recall, bands)."""
    require_model(model_id, f"{mf.MANIFEST} embedding.model", config.offline,
                  "the set's own embedder measures the index (ivf recall) and the score bands on query-like "
                  "texts: make the model available, or use --index flat (exact; the UI then shows no bands)")
    texts = query_like_texts(records, config.text_queries)
    encoder = load_encoder(model_id, config.device)
    log.info("encoding %d query-like texts to measure the set, e.g. %r", len(texts), texts[:3])
    with warnings_once():
        return texts, encoder.encode(texts, batch_size=64)


def null_vectors(records: list, model_id: str, config: IndexConfig) -> dict[int, np.ndarray]:
    """The vectors of random queries about nothing in the set, by length (the bands' cuts per query length)."""
    texts = null_texts(lexical_documents(records))
    encoder = load_encoder(model_id, config.device)
    log.info("encoding %d queries about nothing in the set to cut its bands, e.g. %r",
             sum(len(t) for t in texts.values()), texts[2][:2])
    with warnings_once():
        return {length: encoder.encode(group, batch_size=64) for length, group in texts.items()}


def run_index(config: IndexConfig) -> dict[str, Any]:
    folder = Path(config.artifacts)
    manifest = mf.read_manifest(folder)
    embedding = manifest.get("embedding")
    if not embedding:
        raise ArtifactError(f"{mf.MANIFEST}: no embedding yet; run {build_command(f'embed --artifacts {folder}')} first")
    records = read_records(folder / mf.DESCRIPTIONS)
    vectors = load_array(folder / embedding["file"])
    check_vectors(vectors, len(records), embedding["dimension"], embedding["file"])
    ivf = not is_exact(config.spec.kind, len(vectors))  # an approximate index: ivf, ivf-sq8 or ivf-pq
    try:
        texts, queries = encoded_query_texts(records, embedding["model"], config)
    except ArtifactError as exc:
        if ivf:  # an IVF index is not built unmeasured
            raise
        log.warning("no score bands for this set (the UI will not mark strong and weak matches): %s", exc)
        texts, queries = [], None
    built = build_index(vectors, config.spec, text_queries=queries if ivf else None)
    manifest["index"] = mf.index_section(built.info)
    lexical = build_lexical(lexical_documents(records))
    manifest["score_bands"] = measure_bands(vectors, queries, null_vectors(records, embedding["model"], config)) \
        if queries is not None else None
    manifest["lexical"] = mf.lexical_section(manifest.get("lexical"), lexical.nbytes)
    if manifest.get("examples_source") != mf.HAND_WRITTEN:  # the UI's example queries come from the set itself
        manifest["examples"] = example_queries(records)
        manifest["examples_source"] = "drawn from the set's labels and descriptions"
    with staged(folder) as stage:  # a failed write leaves the previous set whole
        write_index(stage.path(mf.INDEX), built.index)
        write_lexical(stage.path(mf.LEXICAL), lexical)
        manifest = mf.write_manifest(folder, manifest, records, stage)
    if ivf:  # hybrid is exact only where dense search is: on this index, measure it as the app will run it
        weight = float(manifest["lexical"].get("weight", mf.DEFAULT_LEXICAL_WEIGHT))
        recall = hybrid_recall(load_artifact_set(folder), vectors, texts, queries, weight)
        manifest["index"].update(hybrid_recall_at_5_text=round(recall, 4), hybrid_recall_weight=weight)
        mf.rewrite_manifest(folder, manifest)  # a figure added: every checksum stands
    info = manifest["index"]
    params = ", ".join(f"{k} {v}" for k, v in sorted(info["params"].items()))
    kind = "exact" if info.get("exact") else (
        f"approximate, recall@5 {info['recall_at_5']}: stored vectors {info['recall_at_5_stored']}, "
        f"query-like texts {info.get('recall_at_5_text', 'not measured')}; hybrid on query-like texts "
        f"{info.get('hybrid_recall_at_5_text', 'not measured')}; p50 {info['latency_ms']['p50']} ms, "
        f"p95 {info['latency_ms']['p95']} ms on one thread")
    for other in info.get("candidates", []):
        log.info("candidate %s: nprobe %d, recall@5 %.4f, p50 %.2f ms, p95 %.2f ms", other["type"], other["nprobe"],
                 other["recall_at_5"], other["p50_ms"], other["p95_ms"])
    print(f"indexed {len(records):,} vectors -> {folder / mf.INDEX} ({info['type']}{', ' + params if params else ''}, "
          f"{kind}); next: {next_step('index', folder)}")
    return manifest


def add_index_arguments(parser) -> None:
    """The index's flags: the same names in ``index`` and ``all``."""
    parser.add_argument("--index", choices=KINDS, default="auto",
                        help="auto (exact flat up to 250,000 vectors; above, the fastest of ivf, ivf-sq8 and ivf-pq "
                             "as measured), flat (exact), ivf, ivf-sq8 or ivf-pq (approximate: float32 lists, or "
                             "8-bit or 4-bit product-code lists re-scored with a float16 copy)")
    parser.add_argument("--nlist", type=positive, default=None,
                        help="ivf, ivf-sq8, ivf-pq: number of clusters (default 4*sqrt(N), at least 39 points each)")
    parser.add_argument("--nprobe", type=positive, default=None,
                        help="ivf, ivf-sq8, ivf-pq: clusters searched per query (default: tuned until recall@5 >= 0.99)")


def _arguments(parser) -> None:
    add_artifacts(parser)
    add_index_arguments(parser)


def index_config(args, env: Env) -> IndexConfig:
    return IndexConfig(args.artifacts, IndexSpec(args.index, args.nlist, args.nprobe), getattr(args, "device", None),
                       env.offline)


STEP = Step("index", "embedding.pkl -> index.faiss + lexical.npz",
            "Build the FAISS index (exact by default) and the BM25 lexical index.", _arguments,
            lambda args, env: run_index(index_config(args, env)))
