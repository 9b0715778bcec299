"""Image normalisation shared by the caption step and the demo builder."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from imagesearch.errors import first_line, in_words
from imagesearch.store.fileio import atomic_path

DEFAULT_MAX_SIDE = 512
MIN_SIDE = 16
MAX_PIXELS = 64_000_000  # larger images are refused instead of decoded (20000 x 20000 would need 1.2 GB)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, P, L, LA, CMYK, I;16, I, F, 1) to 8-bit RGB.

    Transparent pixels become white; 16-bit and float images are rescaled to
    their own range so they do not come out black or white.
    """
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = np.zeros_like(array) if high <= low else (array - low) / (high - low) * 255.0
        return Image.fromarray(scaled.round().astype(np.uint8), mode="L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def save_thumbnail(image: Image.Image, path: Path, max_side: int = DEFAULT_MAX_SIDE, quality: int = 85) -> None:
    """Save ``image`` as an RGB JPEG whose longest side is at most ``max_side`` (atomic)."""
    rgb = to_rgb(image)
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    with atomic_path(Path(path)) as tmp:
        rgb.save(tmp, format="JPEG", quality=quality, optimize=True)


class BadImage(ValueError):
    pass


def decode(data: bytes, min_side: int = MIN_SIDE) -> Image.Image:
    """Decode and check an image; BadImage says why one cannot be captioned (or, with ``min_side`` 1, shown)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise BadImage(f"too large ({image.width}x{image.height} pixels)")
            image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"too large (more than {MAX_PIXELS:,} pixels; PIL refused it unread as a possible "
                       "decompression bomb)") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not an image PIL can read (unknown or damaged format)") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for corrupt or truncated files
        raise BadImage(f"unreadable ({in_words(first_line(exc, 120))})") from None
    if min(image.size) < min_side:
        raise BadImage(f"too small ({image.width}x{image.height} pixels)")
    return to_rgb(upright(image))


def upright(image: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: a camera's EXIF orientation applied (a phone photo shot sideways is
    stored sideways with a tag saying so); an image without the tag, or with a damaged one, as it is."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block never costs the image
        return image
