"""Everything the app checks before it serves a set, and the one way a served set is opened.

:func:`open_served_set` is the start: a local folder as it is, or a published set as a verified local copy
(imagesearch.hub.download.verified_copy: fetched when needed, checked here, marked complete) whose images are
read when shown (imagesearch.hub.remote_images). The publish
step runs the same checks (:func:`open_verified`) before it uploads anything.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from imagesearch.errors import ArtifactError, build_command
from imagesearch.hub.download import verified_copy
from imagesearch.hub.remote_images import HubSource, RemoteImages, on_demand
from imagesearch.models.encoder import TextEncoder, canonical_model_id, check_probe, load_encoder
from imagesearch.serve.config import AppConfig
from imagesearch.store.artifacts import ArtifactSet, load_artifact_set
from imagesearch.store import manifest as mf


def open_verified(folder: Path, embedder: str | None = None, device: str | None = None,
                  manifest: dict[str, Any] | None = None, images_on_demand: bool = False,
                  serving: bool = False) -> tuple[ArtifactSet, TextEncoder]:
    """Load and validate the set, load its query encoder, and prove the encoder made its vectors. ``serving``:
    the app's start (embedding.pkl is not read: search uses the index's own vectors, which are checked)."""
    artifacts = load_artifact_set(folder, manifest, images_on_demand, serving)
    model_id = artifacts.manifest["embedding"]["model"]
    if embedder and canonical_model_id(embedder) != model_id:
        raise ArtifactError(
            f"manifest.json: vectors were made with {model_id!r} but EMBEDDER is {embedder!r}; "
            f"unset EMBEDDER or re-embed with {build_command('embed --embedder ...')}"
        )
    encoder = load_encoder(model_id, device)
    check_probe(encoder, artifacts.manifest["embedding"])
    return artifacts, encoder


def open_served_set(config: AppConfig) -> tuple[ArtifactSet, TextEncoder]:
    """The set the app serves, checked whole, with its encoder. Raises ArtifactError (one line)."""

    def check(folder: Path, manifest: dict[str, Any] | None, source: HubSource) -> tuple[ArtifactSet, TextEncoder]:
        manifest = mf.read_manifest(folder) if manifest is None else manifest
        if not on_demand(manifest):  # published before image locations: its images were unpacked into the folder
            return open_verified(folder, config.embedder, manifest=manifest, serving=True)
        artifacts, encoder = open_verified(folder, config.embedder, manifest=manifest, images_on_demand=True,
                                           serving=True)
        images = RemoteImages.open(folder, manifest, artifacts.records, source, config.image_cache_mb * 2**20)
        return replace(artifacts, images=images), encoder

    if config.artifacts_repo:
        artifacts, encoder = verified_copy(config.artifacts_repo, config.artifacts_revision, config.artifacts_cache,
                                           check, config.hf_token, config.hub_offline)
    else:
        artifacts, encoder = open_verified(config.artifacts_dir, config.embedder, serving=True)
    return replace(artifacts, manifest=served_manifest(artifacts.manifest)), encoder


def served_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as the running app keeps it: the images' checksums were checked at startup (or are held by
    the remote images as 32 bytes a row), so only the set's own files stay (about 400 MB less at 1M rows)."""
    files = {name: manifest["files"][name] for name in mf.set_files(manifest) if name in manifest["files"]}
    return dict(manifest, files=files)
