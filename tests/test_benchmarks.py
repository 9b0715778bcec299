"""The benchmark scripts run (their figures are printed, never asserted)."""

import torch

from benchmarks.caption import instructblip_config
from benchmarks.caption import main as caption_main


def test_vicuna_7b_shapes_have_the_real_parameter_count():
    from transformers import InstructBlipForConditionalGeneration

    with torch.device("meta"):
        model = InstructBlipForConditionalGeneration(instructblip_config("vicuna-7b"))
    assert 7.85e9 < sum(p.numel() for p in model.parameters()) < 7.95e9


def test_caption_benchmark_prints_a_row_per_batch_size(capsys):
    assert caption_main(["--batches", "1,4", "--images", "4", "--new-tokens", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "x |" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "4"]


def test_hub_start_benchmark_counts_a_bounded_cold_start_and_a_request_free_warm_one(tmp_path, capsys):
    from benchmarks.hub_start import main as hub_start_main

    assert hub_start_main(["--rows", "40", "--workdir", str(tmp_path)]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 40 |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "1" and cells[5] == "12 (6 files)"  # HEAD + GET for manifest, CSV, pickle, index, lexical index, 1 shard
    assert cells[8] == "0"  # warm: no request
