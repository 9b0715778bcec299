"""The build as a person runs it: flags, fast offline failures, closing lines, and several processes on CPU."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from imagesearch.models.encoder import MINILM, packaged_path
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records
from testkit.paths import REPO
from testkit.ports import free_port

UNREACHABLE_HUB = "http://127.0.0.1:9"  # the discard port on loopback: refused at once, nothing leaves the machine


def build(*args, env=None, timeout=600):
    environment = dict(os.environ, **(env or {}))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "build", *map(str, args)], cwd=REPO, env=environment,
                            capture_output=True, text=True, timeout=timeout)
    return result, time.perf_counter() - started


def errors(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("offline", [True, False])
@pytest.mark.parametrize("step, flag", [("embed", "--embedder"), ("describe", "--captioner")])
def test_a_model_that_cannot_be_had_fails_at_once_with_one_line(tmp_path, photo_folder, step, flag, offline):
    env = {"HF_HUB_OFFLINE": "1"} if offline else {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": UNREACHABLE_HUB}
    model = "sentence-transformers/all-mpnet-base-v2" if step == "embed" else "Salesforce/instructblip-vicuna-7b"
    if step == "embed":
        shutil.copytree(DEMO_ARTIFACTS, tmp_path / "set")
        args = ["embed", "--artifacts", tmp_path / "set", flag, model]
    else:
        args = ["describe", "--artifacts", tmp_path / "set", "--datasets", photo_folder, flag, model]
    result, seconds = build(*args, env=env, timeout=60)  # a hang guard, not a benchmark
    assert result.returncode == 2
    [line] = errors(result)
    assert f"{flag} {model}" in line and ("HF_HUB_OFFLINE=1" in line) == offline
    assert (MINILM in line) if step == "embed" else ("local captioner folder" in line)
    assert "Retrying" not in result.stderr
    assert step == "embed" or not (tmp_path / "set").exists()


def test_old_flag_names_still_work_with_a_notice_and_are_refused_where_ambiguous(tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    result, _ = build("embed", "--artifacts", folder, "--model", packaged_path(MINILM), "--batch-size", 8)
    assert result.returncode == 0, result.stderr[-1000:]
    assert "note: --model is deprecated in `embed`; use --embedder" in result.stderr
    assert "note: --batch-size is deprecated in `embed`; use --embed-batch-size" in result.stderr
    result, _ = build("all", "--no-describe", "--artifacts", folder, "--model", "x")
    assert result.returncode == 2
    assert errors(result) == ["error: --model is ambiguous in `all` (captioner or text encoder?); use --captioner or --embedder"]


def test_every_step_ends_with_one_plain_line_on_stdout(tmp_path, photo_folder, tiny_captioner_path):
    folder = tmp_path / "set"
    result, _ = build("describe", "--artifacts", folder, "--datasets", photo_folder, "--captioner", tiny_captioner_path,
                      "--max-new-tokens", 4, "--device", "cpu", env={"HF_HUB_OFFLINE": "1"})
    assert result.stdout.strip().splitlines() == [
        f"described 8 images -> {folder / mf.DESCRIPTIONS} (captioned 8, from cache 0, skipped 0, failed 0); "
        f"next: python -m build embed --artifacts {folder}"]
    assert result.stderr.count("`max_length` is ignored") == 1  # 2 batches x 2 prompts raise it; shown once
    result, _ = build("embed", "--artifacts", folder, "--embedder", packaged_path(MINILM), env={"HF_HUB_OFFLINE": "1"})
    [line] = result.stdout.strip().splitlines()
    assert line.startswith("embedded 8 descriptions") and line.endswith(f"next: python -m build index --artifacts {folder}")
    result, _ = build("index", "--artifacts", folder)
    [line] = result.stdout.strip().splitlines()
    assert line.startswith(f"indexed 8 vectors -> {folder / mf.INDEX} (flat, exact); next: ARTIFACTS_DIR={folder}")
    assert "{}" not in line


def torchrun(*args, processes=2, env=None, timeout=600):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_addr",
               "127.0.0.1", "--master_port", str(free_port()), "-m", "build", *map(str, args)]
    environment = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_two_processes_on_cpu_caption_one_shard_each_and_merge_to_the_single_process_csv(tmp_path, photo_folder,
                                                                                           tiny_captioner_path):
    common = ["--datasets", photo_folder, "--captioner", tiny_captioner_path, "--max-new-tokens", 6,
              "--caption-batch-size", 1]
    single, _ = build("describe", "--artifacts", tmp_path / "single", *common, "--device", "cpu", env={"HF_HUB_OFFLINE": "1"})
    assert single.returncode == 0, single.stderr[-2000:]
    launched = torchrun("describe", "--artifacts", tmp_path / "two", *common)
    assert launched.returncode == 0, launched.stderr[-3000:]
    journals = sorted(p.name for p in (tmp_path / "two" / "caption-cache").iterdir())
    assert journals == ["captions-0-of-2.jsonl", "captions-1-of-2.jsonl"]  # each process captioned its own shard
    assert "process 0 of 2" in launched.stderr and "process 1 of 2" in launched.stderr
    described = [line for line in launched.stdout.splitlines() if line.startswith("described ")]
    assert len(described) == 1  # only the main process merged
    assert (tmp_path / "two" / mf.DESCRIPTIONS).read_bytes() == (tmp_path / "single" / mf.DESCRIPTIONS).read_bytes()


@pytest.mark.slow
def test_all_under_a_launcher_embeds_and_indexes_once_on_the_main_process(tmp_path, photo_folder, tiny_captioner_path):
    folder = tmp_path / "set"
    launched = torchrun("all", "--artifacts", folder, "--datasets", photo_folder, "--captioner", tiny_captioner_path,
                        "--max-new-tokens", 4, "--embedder", packaged_path(MINILM))
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert sum(line.startswith("embedded ") for line in launched.stdout.splitlines()) == 1
    assert sum(line.startswith("indexed ") for line in launched.stdout.splitlines()) == 1
    manifest = mf.read_manifest(folder)
    assert manifest["count"] == 8 == len(read_records(folder / mf.DESCRIPTIONS))
    assert manifest["index"]["type"] == "flat"
