"""The caption step's reader: each batch of images decoded and thumbnailed while the one before it is captioned.

One reader thread is enough: decoding a photo takes milliseconds, a caption a second or more; what it saves is
the model waiting on the disk and the JPEG decoder between batches. Batches come back in order, so the journal
and the ids are exactly what a reader without a thread would give.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imagesearch.errors import first_line
from imagesearch.models.images import BadImage, decode, save_thumbnail
from imagesearch.store.records import IMAGES_DIR


def _prepare(plans: list[Any], folder: Path, max_side: int, summary: Any, progress: tqdm):
    """Decode and thumbnail one batch; an image that cannot be read is noted and left out."""
    batch, images = [], []
    for planned in plans:
        try:
            image = decode(planned.item.read())
            save_thumbnail(image, folder / IMAGES_DIR / f"{planned.sha[:32]}.jpg", max_side=max_side)
        except BadImage as exc:
            summary.note("skipped", planned.item, str(exc))
            progress.update(1)
            continue
        except Exception as exc:  # noqa: BLE001
            summary.note("failed", planned.item, first_line(exc, 120))
            progress.update(1)
            continue
        batch.append(planned)
        images.append(image)
    return batch, images


def prefetched(batches: list[list[Any]], folder: Path, max_side: int, summary: Any, progress: tqdm):
    """Each batch decoded, in order, while the one before it is being captioned (one reader thread)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-reader") as reader:
        pending = reader.submit(_prepare, batches[0], folder, max_side, summary, progress) if batches else None
        for position in range(len(batches)):
            ready = pending.result()
            if position + 1 < len(batches):
                pending = reader.submit(_prepare, batches[position + 1], folder, max_side, summary, progress)
            yield ready
