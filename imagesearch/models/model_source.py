"""Find out in seconds whether a model can be had, before a library spends minutes retrying.

Loading a hub id that cannot be reached makes transformers and
sentence-transformers retry every file download with backoff: about 70 s of
"Retrying in Ns" lines here before the error, which then names the wrong
flag. :func:`require_model` answers first, from what is on disk (a folder, a
packaged copy, the Hugging Face cache) and, only if needed, one metadata
request with a short timeout. With HF_HUB_OFFLINE=1 it never touches the
network and fails at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from imagesearch.errors import ArtifactError, first_line
from imagesearch.models.encoder import packaged_path

log = logging.getLogger(__name__)

TIMEOUT_S = 8.0


def _cached(model_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    for name in ("config.json", "modules.json"):
        try:
            if isinstance(try_to_load_from_cache(model_id, name), str):
                return True
        except Exception:  # noqa: BLE001 - an id the cache cannot even name is not cached
            return False
    return False


def require_model(model_id: str, flag: str, offline: bool, alternative: str) -> None:
    """Return if ``model_id`` can be loaded; else raise one line naming it, ``flag`` and what works offline."""
    if Path(model_id).is_dir() or packaged_path(model_id) is not None or _cached(model_id):
        return
    if Path(model_id).exists() or model_id.startswith((".", "/", "~")) or model_id.count("/") > 1:
        raise ArtifactError(f"{flag} {model_id}: no such folder; give a model folder or a hub id, or {alternative}")
    if offline:
        raise ArtifactError(f"{flag} {model_id}: not a folder and not in the Hugging Face cache, and HF_HUB_OFFLINE=1 "
                            f"forbids downloading it; {alternative}")
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(model_id, timeout=TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - unreachable, unknown, gated, private: one line, no retries
        raise ArtifactError(f"{flag} {model_id}: cannot be downloaded ({first_line(exc, 160)}); check the name and the "
                            f"network, or {alternative}") from None
    log.info("%s %s: reachable on the Hub", flag, model_id)
