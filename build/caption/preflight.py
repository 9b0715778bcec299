"""What a caption run checks before its first image, so a mistake costs seconds, not the hours of captioning
before it: the output folder can be written, the disk holds the thumbnails, and (for ``all``) the text encoder
the embed step will need loads. Each check is one line in the log when it passes and one line of error when not.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from imagesearch.errors import ArtifactError, first_line

from build.caption.sources import IMAGE_SUFFIXES, SEED_DATASETS

log = logging.getLogger(__name__)

THUMBNAIL_BYTES = 100_000  # a 512-px JPEG thumbnail at quality 85 is 20-80 KB; this bound leaves room
SPARE_BYTES = 64 * 2**20  # the journal, the CSV, the manifest and the disk's own slack


def writable(folder: Path) -> None:
    """Refuse, in one line, an artifact folder that cannot be created or written."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    try:
        if existing is None or not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ArtifactError(f"{folder}: cannot write here ({first_line(exc, 120)}); choose another --artifacts "
                            "folder") from None
    log.info("checked: %s can be written", folder)


def images_expected(datasets: tuple[str, ...], limit: int | None) -> int:
    """How many images the run may caption: a folder's image files are counted, a built-in dataset's size is
    its card's (no download)."""
    total = 0
    for name in datasets:
        if name in SEED_DATASETS:
            count = SEED_DATASETS[name].images
        elif Path(name).is_dir():
            count = sum(1 for p in Path(name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            count = 0  # refused later with its own reason
        total += min(count, limit) if limit else count
    return total


def disk_room(folder: Path, images: int, max_side: int) -> None:
    """Refuse a run whose thumbnails would not fit on the artifact folder's disk."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    need = int(images * THUMBNAIL_BYTES * max(1.0, (max_side / 512) ** 2)) + SPARE_BYTES
    free = shutil.disk_usage(existing).free
    if free < need:
        raise ArtifactError(f"{folder}: {free / 2**20:,.0f} MB free on its disk, about {need / 2**20:,.0f} MB needed for "
                            f"{images:,} thumbnails at --max-side {max_side}; free some space or choose another "
                            "--artifacts folder")
    log.info("checked: %s MB free for about %s thumbnails", f"{free / 2**20:,.0f}", f"{images:,}")


def embedder_loads(embedder: str, device: str | None, offline: bool) -> None:
    """The embed step's text encoder, found and loaded now (it stays loaded for that step)."""
    from imagesearch.models.encoder import OFFLINE_EMBEDDER, canonical_model_id, load_encoder
    from imagesearch.models.model_source import require_model

    model_id = canonical_model_id(embedder)
    require_model(model_id, "--embedder", offline, OFFLINE_EMBEDDER)
    try:
        encoder = load_encoder(model_id, device)
    except (OSError, ValueError, ImportError) as exc:
        raise ArtifactError(f"--embedder {embedder}: cannot be loaded as a sentence-transformers model "
                            f"({first_line(exc, 160)}); check the name or folder") from None
    log.info("checked: --embedder %s loads (%d-d)", model_id, encoder.dimension)
