"""Captioning and embedding on Ray (a real local Ray, the tiny captioners of every family, on CPU): the same
description.csv as the local engine, and a run stopped any way resumes from the journal and ends the same."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import psutil
import pytest

from build.caption.cache import CACHE_DIR
from build.caption.settings import DescribeConfig
from build.describe import run_describe
from build.engine_flags import EngineConfig
from imagesearch.models.captioner import GenerationSettings
from imagesearch.store import manifest as mf
from testkit.paths import REPO

ray = pytest.importorskip("ray")
slow = pytest.mark.slow  # the default run keeps one family's byte-for-byte run and the flag check

SETTINGS = GenerationSettings(max_new_tokens=16)
RAY = EngineConfig("ray", workers=2)


@pytest.fixture(scope="module")
def cluster():
    """One local Ray for the module (2 CPUs, as this machine has); the CLI runs below join it by address."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def many_photos(photo_folder, tmp_path_factory):
    """24 distinct photos (the 8 real ones at three sizes), so a run lasts long enough to be stopped midway."""
    from PIL import Image

    root = tmp_path_factory.mktemp("many") / "photos"
    for path in sorted(photo_folder.rglob("*.*")):
        for side in (320, 256, 200):
            target = root / path.parent.name / f"{path.stem}-{side}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(path) as image:
                image.convert("RGB").resize((side, side * image.height // image.width)).save(target)
    return root


def _config(folder, source, model, engine=EngineConfig(), batch=2):
    return DescribeConfig(folder, datasets=(str(source),), captioner=str(model), caption_batch_size=batch,
                          generation=SETTINGS, device="cpu", offline=True, runtime="torch", dtype="float32",
                          engine=engine)


@pytest.mark.parametrize("family", [pytest.param("instructblip", marks=slow), pytest.param("blip", marks=slow),
                                    "florence2", pytest.param("idefics3", marks=slow)])
def test_two_ray_workers_write_the_local_engines_description_csv_byte_for_byte(family, cluster, tiny_captioners,
                                                                             photo_folder, tmp_path, capsys):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    run_describe(_config(local, photo_folder, tiny_captioners[family]))
    run_describe(_config(on_ray, photo_folder, tiny_captioners[family], RAY))
    assert (on_ray / mf.DESCRIPTIONS).read_bytes() == (local / mf.DESCRIPTIONS).read_bytes()
    assert sorted(p.name for p in (on_ray / "images").iterdir()) == sorted(p.name for p in (local / "images").iterdir())
    for thumb in (local / "images").iterdir():
        assert (on_ray / "images" / thumb.name).read_bytes() == thumb.read_bytes()
    assert _worker_shares(capsys.readouterr().err) == 8


@slow
def test_all_on_ray_captions_embeds_and_indexes_the_set_the_local_engine_would(cluster, tiny_captioners, photo_folder,
                                                                              tmp_path):
    from build.cli import main
    from imagesearch.store.artifacts import load_artifact_set

    run_describe(_config(tmp_path / "local", photo_folder, tiny_captioners["florence2"]))
    assert main(["all", "--artifacts", str(tmp_path / "ray"), "--datasets", str(photo_folder), "--captioner",
                 str(tiny_captioners["florence2"]), "--caption-batch-size", "2", "--max-new-tokens", "16", "--device",
                 "cpu", "--runtime", "torch", "--dtype", "float32", "--engine", "ray", "--workers", "2",
                 "--embedder", "sentence-transformers/all-MiniLM-L6-v2"]) == 0
    assert (tmp_path / "ray" / mf.DESCRIPTIONS).read_bytes() == (tmp_path / "local" / mf.DESCRIPTIONS).read_bytes()
    served = load_artifact_set(tmp_path / "ray")  # embedded on the actor pool, indexed, checked as the app checks
    assert served.count == 8 and served.vectors_of(np.arange(8)).shape == (8, 384)


def _worker_shares(stderr):
    """The images in the closing summary's line per worker ("worker HOST:PID: N images in S s ..."), summed."""
    lines = [line for line in stderr.splitlines() if line.startswith("worker ")]
    assert lines
    return sum(int(line.split(": ")[1].split()[0].replace(",", "")) for line in lines)


def _cli(folder, source, model, address, *extra):
    return [sys.executable, "-m", "build", "describe", "--artifacts", str(folder), "--datasets", str(source),
            "--captioner", str(model), "--max-new-tokens", "24", "--caption-batch-size", "1", "--device", "cpu",
            "--runtime", "torch", "--dtype", "float32", "--engine", "ray", "--ray-address", address, "--workers", "2",
            *extra]


def _lines(path):
    return path.read_bytes().splitlines() if path.exists() else []


@pytest.fixture(scope="module")
def whole(cluster, many_photos, tiny_captioners, tmp_path_factory):
    """The local engine's description.csv of the 24 photos: what every stopped and resumed Ray run must end with."""
    folder = tmp_path_factory.mktemp("whole")
    run_describe(replace(_config(folder, many_photos, tiny_captioners["florence2"], batch=1),
                         generation=GenerationSettings(max_new_tokens=24)))
    return (folder / mf.DESCRIPTIONS).read_bytes()


def _env():
    """This process's environment as it is now: ray.init set RAY_AUTH_MODE=token, which a driver joining the
    cluster needs (with the token Ray saved in ~/.ray/auth_token)."""
    return dict(os.environ, HF_HUB_OFFLINE="1")


def _stop_midway(folder, args, stop):
    """Start a Ray run, call ``stop(process)`` once two captions are journalled, and wait for it to end."""
    journal = folder / CACHE_DIR / "captions.jsonl"
    process = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while len(_lines(journal)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if process.poll() is not None:
        pytest.fail(f"the run ended before it could be stopped: {process.communicate()[1][-1500:]}")
    stop(process)
    out, err = process.communicate(timeout=180)
    return process.returncode, err, journal


def _main(args, capfd):
    """The same command run again, in this process (a driver of the same cluster): exit code, stdout, stderr."""
    from build.cli import main

    capfd.readouterr()
    code = main(args[3:])  # without `python -m build`
    out, err = capfd.readouterr()
    return code, out, err


def _resumed(folder, args, journal, whole, capfd):
    kept = len(_lines(journal))
    code, out, err = _main(args, capfd)
    assert code == 0, err[-2000:]
    assert (folder / mf.DESCRIPTIONS).read_bytes() == whole
    keys = [json.loads(line)["key"] for line in _lines(journal)]
    assert len(keys) == len(set(keys)) == 24  # nothing journalled twice, nothing lost
    return kept, out, err


@slow
def test_ctrl_c_to_the_driver_is_one_line_and_the_rerun_ends_identical(cluster, whole, many_photos, tiny_captioners,
                                                                      tmp_path, capfd):
    folder = tmp_path / "set"
    args = _cli(folder, many_photos, tiny_captioners["florence2"], cluster)
    code, err, journal = _stop_midway(folder, args, lambda p: p.send_signal(signal.SIGINT))
    assert code == 130 and "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("stopped after ")
    kept, out, err = _resumed(folder, args, journal, whole, capfd)
    assert 2 <= kept < 24, kept
    assert f"captioned {24 - kept}, from cache {kept}," in out  # only what the journal lacked
    assert "captioning on ray" in err and "workers=" in err  # the driver's progress
    assert _worker_shares(err) == 24 - kept


@slow
def test_a_ctrl_c_while_the_driver_journals_a_batch_ends_ray_datas_executor_before_ray_is_left(
        cluster, many_photos, tiny_captioners, tmp_path, monkeypatch):
    # A Ctrl-C that lands in the driver's own loop, not in its wait for Ray: Ray Data's executor thread kept running
    # past the disconnect, and Ray ended the process with exit code 1 instead of 130 (seen once in CI).
    from build.caption.engines import ray as engine
    from build.step import Stopped

    batches = []

    def ctrl_c_on_the_second_batch(*args):
        batches.append(args)
        if len(batches) == 2:
            raise KeyboardInterrupt
        return refuse(*args)

    running_when_left = []

    def stop(pool):  # this test's process owns the cluster, so the real stop() leaves it up: look at the moment
        running_when_left.extend(t.name for t in threading.enumerate() if t.name.startswith("StreamingExecutor"))
        leave(pool)

    refuse, leave = engine.refuse_a_silent_captioner, engine.ray_session.stop
    monkeypatch.setattr(engine, "refuse_a_silent_captioner", ctrl_c_on_the_second_batch)
    monkeypatch.setattr(engine.ray_session, "stop", stop)
    with pytest.raises(Stopped, match="stopped after 2 of 24 images"):
        run_describe(_config(tmp_path / "set", many_photos, tiny_captioners["florence2"], RAY, batch=1))
    assert len(batches) == 2 and running_when_left == []


@slow
def test_a_killed_driver_resumes_from_the_journal_and_ends_identical(cluster, whole, many_photos, tiny_captioners,
                                                                     tmp_path, capfd):
    folder = tmp_path / "set"
    args = _cli(folder, many_photos, tiny_captioners["florence2"], cluster)
    code, _, journal = _stop_midway(folder, args, lambda p: p.kill())
    assert code == -signal.SIGKILL
    kept, _, _ = _resumed(folder, args, journal, whole, capfd)
    assert 2 <= kept < 24, kept


def _workers():
    return [p for p in psutil.Process().children(recursive=True)
            if "CaptionWorker" in " ".join(p.cmdline() if p.is_running() else [])]


@slow
def test_a_worker_killed_by_pid_is_replaced_and_the_run_ends_identical(cluster, whole, many_photos, tiny_captioners,
                                                                       tmp_path, capfd):
    folder = tmp_path / "set"
    args = _cli(folder, many_photos, tiny_captioners["florence2"], cluster)
    killed = []

    def kill_a_worker(process):
        deadline = time.monotonic() + 30
        while not (found := _workers()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert found, "no captioner worker to kill"
        found[0].kill()
        killed.append(found[0].pid)

    code, err, journal = _stop_midway(folder, args, kill_a_worker)
    assert killed
    if code == 0:  # Ray restarted the actor and retried its batch: the run itself ended whole
        assert (folder / mf.DESCRIPTIONS).read_bytes() == whole
        keys = [json.loads(line)["key"] for line in _lines(journal)]
        assert len(keys) == len(set(keys)) == 24  # the retried batch journalled once
    else:  # or it stopped with one line, and the same command finishes it
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: a captioner worker")
        _resumed(folder, args, journal, whole, capfd)


@slow
def test_a_worker_that_cannot_load_the_captioner_stops_the_run_in_one_line(cluster, many_photos, tiny_captioners,
                                                                           tmp_path, capfd):
    import shutil

    model = tmp_path / "broken"
    shutil.copytree(tiny_captioners["florence2"], model)
    (model / "model.safetensors").write_bytes(b"not a safetensors file")
    code, _, err = _main(_cli(tmp_path / "set", many_photos, model, cluster), capfd)
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: a captioner worker could not load its model: "), err[-1500:]
    assert "Traceback" not in err


@slow
def test_embedding_on_two_ray_workers_equals_the_local_engines_within_float32_rounding(cluster, tmp_path, monkeypatch):
    import shutil

    import build.embed as embed
    from build.embed import EmbedConfig, run_embed
    from imagesearch.store.safe_pickle import load_array
    from testkit.paths import DEMO_ARTIFACTS

    monkeypatch.setattr(embed, "CHUNK_ROWS", 5)  # the demo's 23 descriptions in 5 chunks over both workers
    vectors = {}
    for name, engine in (("local", EngineConfig()), ("ray", RAY)):
        shutil.copytree(DEMO_ARTIFACTS, tmp_path / name)
        (tmp_path / name / mf.EMBEDDING).unlink()
        run_embed(EmbedConfig(tmp_path / name, "sentence-transformers/all-MiniLM-L6-v2", device="cpu", offline=True,
                              engine=engine))
        vectors[name] = load_array(tmp_path / name / mf.EMBEDDING)
    assert vectors["ray"].shape == vectors["local"].shape == (23, 384)
    np.testing.assert_allclose(vectors["ray"], vectors["local"], atol=1e-6)
    assert np.array_equal(np.argmax(vectors["ray"] @ vectors["local"].T, axis=1), np.arange(23))  # id order kept


def test_ray_flags_without_the_ray_engine_are_refused_in_one_line(capsys):
    from build.cli import main

    assert main(["describe", "--artifacts", "x", "--datasets", "pets", "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --ray-address and --workers apply to --engine ray only (this "
                                               "run: --engine local)")
