"""A captioner that cannot fit this machine without a GPU is refused in seconds, naming a small one instead."""

import json
import os
import time

import pytest

from imagesearch.errors import ArtifactError
from imagesearch.models.fit import SMALL_CAPTIONER, check_captioner_fits, check_fits, memory_bytes, public_name
from testkit.commands import run_build


@pytest.fixture
def huge_model(tmp_path):
    """A model folder whose weights claim 4x this machine's memory (a sparse file: no disk is used)."""
    folder = tmp_path / "huge-captioner"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "instructblip"}))
    with open(folder / "model.safetensors", "wb") as handle:
        os.truncate(handle.fileno(), 4 * memory_bytes())
    return folder


def test_weights_that_double_past_memory_are_refused_and_anything_fits_on_a_gpu_or_when_unknown():
    check_fits("org/small", 10, cuda=False, memory=20)
    check_fits("org/big", 10**12, cuda=True, memory=1)
    check_fits("org/unknown", None, cuda=False, memory=1)
    with pytest.raises(ArtifactError, match=rf"--captioner org/big: .* more than this machine's .*--captioner {SMALL_CAPTIONER}"):
        check_fits("org/big", 11 * 2**30, cuda=False, memory=20 * 2**30)


def test_a_local_model_too_large_for_the_cpu_is_refused_before_loading(huge_model):
    with pytest.raises(ArtifactError, match=r"huge-captioner: .* GB of weights need about .*README, \"Search your own photos\""):
        check_captioner_fits(str(huge_model), "cpu", offline=True)
    check_captioner_fits(str(huge_model), "cuda:0", offline=True)  # a GPU run is its own judge
    assert public_name(str(huge_model)) == "huge-captioner"


def test_describe_with_a_captioner_that_cannot_fit_ends_in_seconds_with_one_line(huge_model, photo_folder, tmp_path):
    started = time.perf_counter()
    result = run_build("describe", "--artifacts", tmp_path / "set", "--datasets", photo_folder, "--captioner", huge_model,
                       "--device", "cpu", check=False, timeout=120)
    assert result.returncode == 2 and time.perf_counter() - started < 120  # a hang guard, not a benchmark
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "huge-captioner" in line and SMALL_CAPTIONER in line and not (tmp_path / "set").exists()
