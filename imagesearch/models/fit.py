"""Will a captioner fit this machine? Answered from the size of its weights in seconds, before minutes of
downloading or loading: without a GPU a model runs in float32, so its bf16/fp16 weight files about double."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from imagesearch.errors import ArtifactError

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
SMALL_CAPTIONER = "florence-community/Florence-2-base"  # model_type florence2: 0.23 B parameters, 0.9 GB in float32
ADVICE = (f"pick a small captioner that runs on a CPU, e.g. --captioner {SMALL_CAPTIONER} (a florence2 model; README, "
          "\"Search your own photos\"), or run on a GPU")


def public_name(model: str) -> str:
    """What visitors see of a model: its hub id, or only a local folder's name (never a path)."""
    path = Path(model)
    if model.startswith(("/", ".", "~")) or path.is_dir():
        return path.name
    return model


def weights_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.suffix in WEIGHT_SUFFIXES)


def local_copy(model_id: str) -> Path | None:
    """The model's folder: itself, or its copy in the Hugging Face cache; None when it is not on this machine."""
    if Path(model_id).is_dir():
        return Path(model_id)
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # noqa: BLE001 - an id the cache cannot even name is not cached
        return None
    return Path(cached).parent if isinstance(cached, str) else None


def hub_weights_bytes(model_id: str, timeout: float = 8.0) -> int | None:
    """The size of a hub model's weight files from one metadata request; None when it cannot be asked."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(model_id, files_metadata=True, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - unknown size: the load itself will say what is wrong
        log.info("size of %s unknown (%s)", model_id, exc)
        return None
    return sum(s.size or 0 for s in info.siblings or () if s.rfilename.endswith(WEIGHT_SUFFIXES)) or None


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(model: str, size: int | None, cuda: bool, memory: int, flag: str = "--captioner") -> None:
    """Refuse, in one line, a model whose weights would not fit in memory without a GPU (size None: unknown)."""
    if cuda or size is None or size * 2 <= memory:
        return
    raise ArtifactError(f"{flag} {public_name(model)}: {size / 2**30:.1f} GB of weights need about "
                        f"{2 * size / 2**30:.0f} GB on a CPU, more than this machine's {memory / 2**30:.0f} GB; {ADVICE}")


def check_captioner_fits(model_id: str, device: str | None, offline: bool) -> None:
    """Before a captioner is loaded (or downloaded) for a run without CUDA: refuse it in seconds if it cannot fit."""
    import torch

    if device.startswith("cuda") if device else torch.cuda.is_available():
        return
    local = local_copy(model_id)
    size = weights_bytes(local) if local else (None if offline else hub_weights_bytes(model_id))
    check_fits(model_id, size, False, memory_bytes())
