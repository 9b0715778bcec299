"""Build small artifact sets for tests through the real build code paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from build.indexing.vector_index import IndexSpec
from imagesearch.store import manifest as mf
from imagesearch.store.records import Record
from testkit.vector_set import write_vector_set

FAKE_MODEL = "test/fake-encoder"


class RunsShell:
    """Pickles to a call of os.system that would create ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    """Pickles to a call of builtins.eval that would create ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def unit_rows(matrix: Sequence[Sequence[float]]) -> np.ndarray:
    vectors = np.asarray(matrix, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_images(folder: Path, count: int, names: Sequence[str] | None = None) -> list[str]:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rel = f"images/{names[i] if names else i}.jpg"
        image = Image.new("RGB", (8, 8), ((37 * i) % 256, (91 * i) % 256, 120))
        for bit in range(16):  # the index, written in black and white pixels: every picture differs, JPEG or not
            image.putpixel((bit % 8, 6 + bit // 8), (255, 255, 255) if (i >> bit) & 1 else (0, 0, 0))
        image.save(folder / rel, quality=95)
        paths.append(rel)
    return paths


def make_set(
    folder: Path,
    vectors: np.ndarray,
    descriptions: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    spec: IndexSpec = IndexSpec("flat"),
    model: str = FAKE_MODEL,
    probe: dict | None = None,
    sources: Sequence[str] | None = None,
) -> Path:
    """Write a complete, valid artifact set for ``vectors`` (already normalised)."""
    folder = Path(folder)
    n, d = vectors.shape
    images = write_images(folder, n)
    descriptions = list(descriptions or [f"description {i}" for i in range(n)])
    datasets = list(datasets or ["alpha"] * n)
    sources = list(sources or [f"src-{i}" for i in range(n)])
    records = [Record(i, datasets[i], sources[i], "", images[i], descriptions[i]) for i in range(n)]
    probe = probe or {"text": "x", "vector": [0.0] * d}
    write_vector_set(folder, records, vectors, model, probe, {"model": mf.HAND_WRITTEN}, spec)
    return folder


def rewrite_manifest(folder: Path, **changes) -> None:
    """Edit manifest.json in place (no checksum refresh): simulates tampering."""
    path = Path(folder) / mf.MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def refresh_checksums(folder: Path) -> None:
    """Recompute the manifest's checksums after a test altered a file on purpose,
    so that the check under test is the one that fires, not the checksum check."""
    from imagesearch.store.fileio import sha256_file

    path = Path(folder) / mf.MANIFEST
    manifest = json.loads(path.read_text())
    for name, entry in manifest["files"].items():
        entry["sha256"] = sha256_file(Path(folder) / name)
    path.write_text(json.dumps(manifest))


def embedding_like(n: int, d: int = 64, clusters: int = 200, seed: int = 0) -> np.ndarray:
    """Unit vectors clustered the way sentence embeddings are (for index and searcher tests)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    return unit_rows(centres[rng.integers(0, clusters, n)] + 1.2 * rng.normal(size=(n, d)))
