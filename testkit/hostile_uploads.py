"""Twenty-three uploads a hostile or careless caller could send to /search_by_image, written in a separate process
(``python -m testkit.hostile_uploads FOLDER``) so that making them costs the test's server nothing.

Each name maps to what the server must answer: ``"described"`` (an image it can shrink and caption), or a
pattern of its one-line refusal.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from pathlib import Path

EXPECTED = {
    "png16-8000.png": "too large", "png16-4000.png": "described",
    "rgba-8000.png": "too large", "rgba-4000.png": "described",
    "palette-8000.png": "too large", "palette-4000.png": "described",
    "claims-100000.png": "too large", "bmp-claims-60000.bmp": "too large",
    "truncated.jpg": "unreadable", "truncated.png": "unreadable", "text.png": "not an image",
    "jpeg-7000.jpg": "described", "cmyk-6000.jpg": "described",
    "one-pixel.png": "too small", "animated-4000.gif": "described",
    "float-2000.tif": "described", "la-4000.png": "described", "la-4500.png": "too large",
    "webp-5500.webp": "too large", "oversized-21mb.jpg": "exceeds|too large|maximum|up to 20 MB",
    # draft() shrinks by the shorter side, and progressive decoding holds the full image's coefficients
    "progressive-65000x980.jpg": "too elongated", "baseline-65000x980.jpg": "too elongated",
    "progressive-8000.jpg": "too large for a progressive JPEG",
}


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and whose data is one empty row."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")


def _bmp_claiming(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def write(folder: Path) -> dict[str, str]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str, image, **options) -> None:
        image.save(folder / name, **options)

    ramp = (np.add.outer(np.arange(4000), np.arange(4000)) * 8).astype(np.uint16)
    save("png16-8000.png", Image.new("I;16", (8000, 8000), 1000))
    save("png16-4000.png", Image.fromarray(ramp))
    save("rgba-8000.png", Image.new("RGBA", (8000, 8000), (200, 20, 20, 128)))
    save("rgba-4000.png", Image.fromarray(np.dstack([(ramp >> 8).astype(np.uint8)] * 4)))
    save("palette-8000.png", Image.new("P", (8000, 8000), 3))
    save("palette-4000.png", Image.new("P", (4000, 4000), 3), transparency=3)
    (folder / "claims-100000.png").write_bytes(_png_claiming(100_000, 100_000))
    (folder / "bmp-claims-60000.bmp").write_bytes(_bmp_claiming(60_000, 60_000))
    jpeg = io.BytesIO()
    Image.new("RGB", (7000, 7000), (30, 90, 160)).save(jpeg, format="JPEG")
    (folder / "jpeg-7000.jpg").write_bytes(jpeg.getvalue())
    (folder / "truncated.jpg").write_bytes(jpeg.getvalue()[:400])
    (folder / "truncated.png").write_bytes((folder / "rgba-4000.png").read_bytes()[:2000])
    (folder / "text.png").write_text("this is not an image\n" * 50)
    save("cmyk-6000.jpg", Image.new("CMYK", (6000, 6000), (10, 200, 30, 5)), format="JPEG")
    save("one-pixel.png", Image.new("RGB", (1, 1)))
    frames = [Image.new("P", (4000, 4000), i) for i in range(3)]
    frames[0].save(folder / "animated-4000.gif", save_all=True, append_images=frames[1:])
    save("float-2000.tif", Image.fromarray(np.linspace(0, 1, 2000 * 2000, dtype=np.float32).reshape(2000, 2000)))
    save("la-4000.png", Image.new("LA", (4000, 4000), (90, 200)))
    save("la-4500.png", Image.new("LA", (4500, 4500), (90, 200)))
    save("webp-5500.webp", Image.new("RGB", (5500, 5000), (5, 5, 5)), quality=10)
    (folder / "oversized-21mb.jpg").write_bytes(np.random.default_rng(0).bytes(21 * 2**20))
    thin = Image.fromarray(np.tile((np.arange(65000) % 251).astype(np.uint8), (980, 1))).convert("RGB")
    save("progressive-65000x980.jpg", thin, format="JPEG", progressive=True, quality=70)
    save("baseline-65000x980.jpg", thin, format="JPEG", quality=70)
    del thin
    save("progressive-8000.jpg", Image.new("RGB", (8000, 8000), (120, 40, 200)), format="JPEG", progressive=True)
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXPECTED)
    return EXPECTED


if __name__ == "__main__":
    print(json.dumps(write(Path(sys.argv[1]))))
