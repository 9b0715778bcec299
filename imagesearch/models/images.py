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
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")  # 16- and 32-bit pixels
SHRINKS_WHILE_DECODING = ("JPEG", "MPO")  # PIL's draft() decodes these at 1/2, 1/4 or 1/8 scale
MAX_ASPECT = 20  # a side more than 20 times the other is refused where the result is shrunk (no photo is that thin)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, P, L, LA, CMYK, I;16, I, F, 1) to 8-bit RGB.

    Transparent pixels become white; 16-bit and float images are rescaled to
    their own range so they do not come out black or white.
    """
    if image.mode == "RGB":
        return image
    if image.mode in WIDE_MODES:
        array = np.asarray(image)
        low, high = float(array.min()), float(array.max())
        if high <= low:
            return Image.new("RGB", image.size)
        scaled = (array.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))  # never float64
        return Image.fromarray(scaled.round().astype(np.uint8), mode="L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def thumbnail_bytes(image: Image.Image, max_side: int = DEFAULT_MAX_SIDE, quality: int = 85) -> bytes:
    """``image`` as the bytes of an RGB JPEG whose longest side is at most ``max_side``."""
    rgb = to_rgb(image)
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def save_thumbnail(image: Image.Image, path: Path, max_side: int = DEFAULT_MAX_SIDE, quality: int = 85) -> None:
    """Save ``image`` as an RGB JPEG whose longest side is at most ``max_side`` (atomic)."""
    write_atomic(Path(path), thumbnail_bytes(image, max_side, quality))


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


class BadImage(ValueError):
    pass


def decode(data: bytes, min_side: int = MIN_SIDE, max_side: int | None = None,
           max_full_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode and check an image; BadImage says why one cannot be captioned (or, with ``min_side`` 1, shown).

    With ``max_side`` the result is at most that many pixels on its longest side, and memory stays bounded by the
    file's header, before anything is decoded: at most ``max_full_pixels`` are ever decoded. A JPEG up to
    MAX_PIXELS is decoded already shrunk (draft), but draft() shrinks by the shorter side, so what it would
    decode is what is bounded; a progressive JPEG holds every coefficient of the full image while it decodes,
    so it may have at most ``max_full_pixels`` in all; any other format is decoded whole, then shrunk before any
    widening. A side over MAX_ASPECT times the other is refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            pixels = image.width * image.height
            shrinks = max_side is not None and image.format in SHRINKS_WHILE_DECODING
            limit = max_full_pixels if max_side is not None and not shrinks else MAX_PIXELS
            if pixels > limit:
                kind = f" for a {image.format}; a JPEG may have {MAX_PIXELS / 1e6:.0f}" if limit < MAX_PIXELS else ""
                raise BadImage(f"too large ({image.width}x{image.height} pixels; up to {limit / 1e6:.0f} million{kind})")
            if max_side is not None:
                _refuse_unbounded(image, max_side, max_full_pixels, shrinks)
            if shrinks:
                image.draft("RGB" if image.mode not in ("L", "RGB") else image.mode, (max_side, max_side))
            image.load()
            if max_side is not None:
                image = shrink(image, max_side)
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


def drafted_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size PIL's JPEG draft() decodes at for a (max_side, max_side) request: 1/8, 1/4, 1/2 or 1 of the
    image, the largest reduction that keeps both sides at least max_side (so the shorter side decides)."""
    scale = min(width // max_side, height // max_side)
    step = next((s for s in (8, 4, 2) if scale >= s), 1)
    return -(-width // step), -(-height // step)


def _refuse_unbounded(image: Image.Image, max_side: int, max_full_pixels: int, shrinks: bool) -> None:
    """Refuse, from the header alone, a file whose decoding would hold more than ``max_full_pixels``."""
    width, height = image.size
    if max(width, height) > MAX_ASPECT * max(1, min(width, height)) and max(width, height) > max_side:
        raise BadImage(f"too elongated ({width}x{height} pixels; one side may be up to {MAX_ASPECT} times the other)")
    if not shrinks:
        return
    if image.info.get("progressive") or image.info.get("progression"):
        if width * height > max_full_pixels:
            raise BadImage(f"too large for a progressive JPEG ({width}x{height} pixels; up to "
                           f"{max_full_pixels / 1e6:.0f} million; a baseline JPEG may have {MAX_PIXELS / 1e6:.0f})")
        return
    drafted = drafted_size(width, height, max_side)
    if drafted[0] * drafted[1] > max_full_pixels:
        raise BadImage(f"too large ({width}x{height} pixels would be decoded at {drafted[0]}x{drafted[1]}; up to "
                       f"{max_full_pixels / 1e6:.0f} million)")


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` with its longest side at most ``max_side``, in its own mode (a 16-bit image stays 16-bit, so the
    widening to 8-bit RGB that follows touches only the small copy). Its info (EXIF) is kept."""
    if max(image.size) <= max_side:
        return image
    if image.mode in WIDE_MODES:  # PIL box-filters 16- and 32-bit pixels in their own mode
        scale = max_side / max(image.size)
        size = (max(1, min(max_side, round(image.width * scale))), max(1, min(max_side, round(image.height * scale))))
        return image.resize(size, Image.Resampling.BOX)
    step = max(image.size) // max_side
    if step > 1:  # an integer reduction first: box-averaged where PIL can, nearest pixels otherwise (palettes)
        image = image.reduce(step) if image.mode in ("L", "LA", "RGB", "RGBA") else image.resize(
            (max(1, image.width // step), max(1, image.height // step)), Image.Resampling.NEAREST)
    else:
        image = image.copy()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def upright(image: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: a camera's EXIF orientation applied (a phone photo shot sideways is
    stored sideways with a tag saying so); an image without the tag, or with a damaged one, as it is."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block never costs the image
        return image
