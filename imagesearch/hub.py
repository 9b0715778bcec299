"""Fetch an artifact set from a Hub dataset repo, pinned to a revision.

Only the files the app serves are fetched, into a plain folder per repo and
revision (``local_dir``): the Hub cache's symlinks would point outside the
images folder, which is all Gradio may serve. huggingface_hub retries
transient failures itself and verifies sizes; the manifest's sha256 checks
then run on the result like on any local folder, so a half-downloaded or
tampered set is never served and the next start downloads again. With
HF_HUB_OFFLINE=1 and a warm folder, no network call is attempted.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .errors import ArtifactError, first_line
from .manifest import DESCRIPTIONS, EMBEDDING, INDEX, MANIFEST

log = logging.getLogger(__name__)

SERVED_PATTERNS = [MANIFEST, DESCRIPTIONS, EMBEDDING, INDEX, "images/*"]
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


def is_pinned(revision: str) -> bool:
    return bool(_FULL_SHA.match(revision))


def local_folder(cache_root: Path, repo: str, revision: str) -> Path:
    return Path(cache_root) / repo.replace("/", "--") / revision.replace("/", "--")


def download_artifacts(repo: str, revision: str, cache_root: Path, token: str | None = None) -> Path:
    from huggingface_hub import snapshot_download

    if not is_pinned(revision):
        log.warning("ARTIFACTS_REVISION=%s is not a commit sha: the set can change on restart", revision)
    try:
        folder = snapshot_download(
            repo,
            repo_type="dataset",
            revision=revision,
            allow_patterns=SERVED_PATTERNS,
            token=token or None,
            local_dir=str(local_folder(cache_root, repo, revision)),
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes one actionable line
        raise ArtifactError(
            f"{repo}@{revision}: could not download the artifact set ({first_line(exc)}); "
            "check ARTIFACTS_REPO, ARTIFACTS_REVISION, HF_TOKEN for a private repo, and the network"
        ) from None
    return Path(folder)
