"""Everything the app checks before it serves a set; the publish step runs the same checks."""

from __future__ import annotations

from pathlib import Path

from imagesearch.store.artifacts import ArtifactSet, load_artifact_set
from imagesearch.models.encoder import TextEncoder, canonical_model_id, check_probe
from imagesearch.errors import ArtifactError


def open_verified(folder: Path, embedding_model: str | None = None, device: str | None = None) -> tuple[ArtifactSet, TextEncoder]:
    """Load and validate the set, load its query encoder, and prove the encoder made its vectors."""
    artifacts = load_artifact_set(folder)
    model_id = artifacts.manifest["embedding"]["model"]
    if embedding_model and canonical_model_id(embedding_model) != model_id:
        raise ArtifactError(
            f"manifest.json: vectors were made with {model_id!r} but EMBEDDING_MODEL is {embedding_model!r}; "
            "unset EMBEDDING_MODEL or re-embed with `python -m build embed --embedder ...`"
        )
    encoder = TextEncoder.load(model_id, device=device)
    check_probe(encoder, artifacts.manifest["embedding"])
    return artifacts, encoder
