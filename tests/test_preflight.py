"""A caption run checks what it will need before its first image: the embedder of `all`, the folder, the disk,
and what a run without --datasets would cost. Each refusal is one line, in seconds, with nothing captioned."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from build.caption import preflight
from imagesearch.errors import ArtifactError
from testkit.paths import REPO


def _build(*args, timeout=120):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "build", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    return done, time.monotonic() - started


def _error(done):
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("embedder, words", [("/no/such/encoder", "--embedder /no/such/encoder: no such folder"),
                                             ("someone/not-cached", "--embedder someone/not-cached: not a folder")])
def test_all_with_an_embedder_it_cannot_load_stops_before_any_image_is_captioned(tmp_path, photo_folder,
                                                                                tiny_captioner_path, embedder, words):
    done, _ = _build("all", "--artifacts", tmp_path / "set", "--datasets", photo_folder, "--captioner",
                     tiny_captioner_path, "--embedder", embedder, "--runtime", "torch", "--dtype", "float32")
    assert done.returncode == 2 and words in _error(done)
    assert "captioning" not in done.stderr and "hashing images" not in done.stderr
    assert not (tmp_path / "set").exists()


def test_a_run_without_datasets_says_what_the_default_would_cost_and_asks_for_the_flag(tmp_path):
    done, _ = _build("describe", "--artifacts", tmp_path / "set")
    line = _error(done)
    assert done.returncode == 2 and "no --datasets given" in line and "about 2,339 images" in line
    assert "fashionpedia 1,158" in line and "Salesforce/instructblip-vicuna-7b (about 16 GB" in line
    assert line.endswith("or pass --yes to caption all six") and not (tmp_path / "set").exists()
    done, _ = _build("all", "--artifacts", tmp_path / "set", "--captioner", "my/captioner")
    assert "no --datasets given" in _error(done) and "with my/captioner;" in _error(done)


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path, photo_folder, tiny_captioner_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ArtifactError, match=rf"^{blocker}/set: cannot write here \(.*\); choose another --artifacts"):
        preflight.writable(blocker / "set")
    done, _ = _build("describe", "--artifacts", blocker / "set", "--datasets", photo_folder, "--captioner",
                     tiny_captioner_path, "--runtime", "torch", "--dtype", "float32")
    assert done.returncode == 2 and "cannot write here" in _error(done) and "hashing images" not in done.stderr


def test_a_disk_too_small_for_the_thumbnails_is_refused_with_both_sizes(tmp_path, monkeypatch, photo_folder):
    import shutil
    from collections import namedtuple

    assert preflight.images_expected((str(photo_folder), "pets"), None) == 8 + 150
    assert preflight.images_expected((str(photo_folder), "pets"), 5) == 5 + 5
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 20 * 2**20, 20 * 2**20))
    with pytest.raises(ArtifactError, match=r"20 MB free on its disk, about 79 MB needed for 158 thumbnails"):
        preflight.disk_room(tmp_path, 158, 512)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 0, 10**11))
    preflight.disk_room(tmp_path, 158, 512)
