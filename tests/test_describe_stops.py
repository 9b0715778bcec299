"""How a caption run ends when it should not go on: Ctrl-C (a real SIGINT), and a captioner that writes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from build.caption.cache import CACHE_DIR
from build.describe import DescribeConfig, run_describe
from imagesearch.errors import ArtifactError
from imagesearch.models.captioner import Captioner, GenerationSettings
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records
from testkit.paths import REPO

SETTINGS = GenerationSettings(max_new_tokens=8)


def _cli(folder, source, model):
    return [sys.executable, "-m", "build", "describe", "--artifacts", str(folder), "--datasets", str(source),
            "--captioner", str(model), "--max-new-tokens", "24", "--caption-batch-size", "1", "--device", "cpu",
            "--runtime", "torch", "--dtype", "float32"]


def _lines(path):
    return path.read_bytes().splitlines() if path.exists() else []


def _sigint_as_from_a_terminal():
    """Run in the child before it starts: SIGINT at its default and unblocked, as a terminal's shell starts a
    command. A child inherits an ignored SIGINT, and pytest launched in the background of a non-interactive shell
    (``cmd &``) has it ignored: the Ctrl-C below then never arrived and the run ended with 0."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_prints_one_line_exits_130_and_the_same_command_finishes_the_job(tmp_path, photo_folder,
                                                                              tiny_captioner_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    subprocess.run(_cli(tmp_path / "whole", photo_folder, tiny_captioner_path), cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=300)
    folder = tmp_path / "stopped"
    journal = folder / CACHE_DIR / "captions.jsonl"
    process = subprocess.Popen(_cli(folder, photo_folder, tiny_captioner_path), cwd=REPO, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_sigint_as_from_a_terminal)
    deadline = time.monotonic() + 120
    while len(_lines(journal)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("stopped after ") and last.endswith("rerun the same command to continue (every caption "
                                                               "made so far is kept)")
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    kept = _lines(journal)
    assert 2 <= len(kept) < 8 and all(json.loads(line)["description"] for line in kept)  # every line whole
    subprocess.run(_cli(folder, photo_folder, tiny_captioner_path), cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=300)
    assert (folder / mf.DESCRIPTIONS).read_bytes() == (tmp_path / "whole" / mf.DESCRIPTIONS).read_bytes()
    assert len(_lines(journal)) == 8  # nothing captioned twice


class _Blanking(Captioner):
    """The real tiny captioner, with the answers for chosen images replaced by what a broken model returns."""

    def __init__(self, inner: Captioner, blank: set[int] | None):
        self.__dict__.update(inner.__dict__)
        self.blank, self.seen = blank, 0

    def describe_each(self, images, prompts=(), read_text=False):
        answers = super().describe_each(images, prompts, read_text)
        out = []
        for answer in answers:
            out.append(" . , " if self.blank is None or self.seen in self.blank else answer)
            self.seen += 1
        return out


@pytest.fixture(scope="module")
def tiny(tiny_captioner_path):
    return Captioner.load(str(tiny_captioner_path), SETTINGS, device="cpu", runtime="torch", dtype_name="float32")


def _config(folder, source, model):
    return DescribeConfig(artifacts=folder, datasets=(str(source),), captioner=str(model), generation=SETTINGS)


def test_an_empty_caption_is_a_failed_image_with_its_reason_not_a_blank_row(tmp_path, photo_folder, tiny,
                                                                           tiny_captioner_path):
    summary = run_describe(_config(tmp_path / "set", photo_folder, tiny_captioner_path), captioner=_Blanking(tiny, {2}))
    assert (summary.captioned, summary.failed) == (7, 1)
    assert "the captioner wrote no words" in summary.reasons[0]
    rows = read_records(tmp_path / "set" / mf.DESCRIPTIONS)
    assert len(rows) == 7 and all(row.description.strip(" .,") for row in rows)


def test_a_captioner_that_writes_nothing_for_most_images_stops_the_run_in_one_line(tmp_path, photo_folder, tiny,
                                                                                 tiny_captioner_path):
    folder = tmp_path / "set"
    with pytest.raises(ArtifactError) as stopped:
        run_describe(_config(folder, photo_folder, tiny_captioner_path), captioner=_Blanking(tiny, None))
    message = str(stopped.value)
    assert "wrote no words for 8 of 8 images" in message and "--captioner" in message and "\n" not in message
    assert _lines(folder / CACHE_DIR / "captions.jsonl") == []  # nothing blank was journalled
    assert not (folder / mf.DESCRIPTIONS).exists()
