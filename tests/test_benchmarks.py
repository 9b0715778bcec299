"""The benchmark scripts run (their figures are printed, never asserted)."""

import torch

import json

import pytest

from benchmarks.caption import main as caption_main
from benchmarks.caption import weights_gb
from benchmarks.caption_shapes import SHAPES

PUBLISHED_PARAMETERS = {  # from each model card, in billions
    "smolvlm-256m": 0.256, "florence-2-base": 0.23, "blip-large": 0.47, "smolvlm-2.2b": 2.25, "instructblip-7b": 7.9}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMETERS))
def test_each_real_shape_has_its_published_parameter_count(name):
    count, _ = weights_gb(SHAPES[name], torch.float32)  # built on the meta device: no memory, no download
    assert abs(count / 1e9 - PUBLISHED_PARAMETERS[name]) / PUBLISHED_PARAMETERS[name] < 0.06


def test_each_real_shape_prepares_an_image_as_the_real_processor_does():
    from benchmarks.caption import photos
    from imagesearch.models.families import FAMILIES

    image = photos(1)[0]  # 512x512: SmolVLM-256M upsizes it to 2048 px, 4x4 tiles of 512 and a global view
    processor, config = SHAPES["smolvlm-256m"].build()
    inputs = FAMILIES["idefics3"].inputs(processor, [image], "describe it")
    assert tuple(inputs["pixel_values"].shape[1:]) == (17, 3, 512, 512)
    assert int((inputs["input_ids"] == config.image_token_id).sum()) == 17 * 64
    processor, config = SHAPES["florence-2-base"].build()
    inputs = FAMILIES["florence2"].inputs(processor, [image], "<MORE_DETAILED_CAPTION>")
    assert tuple(inputs["pixel_values"].shape) == (1, 3, 768, 768)
    assert int((inputs["input_ids"] == config.image_token_id).sum()) == 577


def test_caption_benchmark_prints_a_row_per_batch_size_and_the_json_last(capsys):
    assert caption_main(["--batches", "1,2", "--new-tokens", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("| tiny |")]
    assert [row.split("|")[4].strip() for row in rows] == ["1", "2"]
    figures = json.loads(out[-1])
    assert [b["batch"] for b in figures["shapes"][0]["batches"]] == [1, 2]
    assert all(b["images_per_minute"] > 0 and b["peak_rss_mb"] > 0 for b in figures["shapes"][0]["batches"])


@pytest.mark.slow
def test_hub_start_benchmark_reads_no_image_before_the_first_answer_and_prints_the_json_last(tmp_path, capsys):
    from benchmarks.hub_start import main as hub_start_main

    assert hub_start_main(["--rows", "40", "--thumbnail-kb", "4", "--workdir", str(tmp_path), "--load", "20",
                           "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    [row] = [line for line in out if line.startswith("| 40 |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # HEAD + GET for manifest, CSV, index, lexical index and image table (not the pickle), then one range read a result
    assert cells[1] == "1" and cells[4] == str(2 * 5 + 5)
    assert cells[9] == "0"  # warm: no request, the first answer's images included
    assert int(cells[11]) <= 5  # a query's image reads: at most k range requests
    assert float(cells[7].replace(",", "")) >= float(cells[6].replace(",", "")) > 0  # peak after the load, not before
    figures = json.loads(out[-1])
    assert set(figures) == {"rows", "repo_bytes", "bytes_before_first_answer", "requests_before_first_answer", "cold_s",
                            "warm_s", "peak_rss_mb", "bytes_per_query"}
    assert figures["rows"] == 40 and figures["requests_before_first_answer"] == 15
    images = sum(p.stat().st_size for p in (tmp_path / "snapshot-40-4kb" / "data").iterdir())
    assert 3_000 * 40 < images < figures["repo_bytes"]  # thumbnails of about the size asked
    assert 0 < figures["bytes_per_query"] <= 5 * 8_000


def test_ann_benchmark_measures_what_the_index_step_picks_beside_a_candidate_and_prints_the_json_last(capsys):
    from benchmarks.ann import main as ann_main

    assert ann_main(["--rows", "3000", "--texts", "120", "--candidates", "hnsw32", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    figures = json.loads(out[-1])
    assert set(figures) == {"rows", "index", "recall_at_5_text", "p50_ms", "p95_ms", "flat_p50_ms", "build_s",
                            "peak_rss_mb"}
    assert figures["rows"] == 3000 and figures["index"] == "flat" and figures["recall_at_5_text"] == 1.0  # certified exact
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] and figures["peak_rss_mb"] > 0
    [row] = [line for line in out if line.startswith("| hnsw32 |")]
    assert 0.5 < float(row.split("|")[3]) <= 1.0


def test_ann_benchmark_refuses_an_unknown_candidate_in_one_line(capsys):
    from benchmarks.ann import main as ann_main

    assert ann_main(["--rows", "100", "--candidates", "lsh"]) == 2
    assert capsys.readouterr().err.strip() == "error: --candidates 'lsh': choose from ivf-flat, ivf-sq8-refine, hnsw32"


def test_caption_compare_times_bfloat16_only_where_the_cpu_has_it_and_exports_only_where_they_run():
    from benchmarks.caption_compare import runnable

    every = {"torch": True, "openvino": True, "onnx": True}
    assert runnable(True, frozenset({"avx2"}), every) == [("torch", "float32"), ("torch", "int8"),
                                                          ("openvino", "float32"), ("openvino", "int8"), ("onnx", "int8")]
    assert ("torch", "bfloat16") in runnable(True, frozenset({"avx512_bf16"}), every)
    assert ("openvino", "bfloat16") in runnable(True, frozenset({"amx_bf16"}), every)
    assert runnable(False, frozenset({"avx512_bf16"}), every) == [("torch", "float32"), ("torch", "bfloat16"),
                                                                   ("torch", "int8")]
    assert ("onnx", "int8") not in runnable(True, frozenset({"avx2"}), {**every, "onnx": False})


@pytest.mark.slow
def test_caption_compare_prints_the_issues_json_last_with_every_runtime_against_float32(capsys):
    assert caption_main(["--batches", "2", "--new-tokens", "3", "--compare", "--rounds", "2", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    result = json.loads(out[-1])
    assert set(result) == {"shape", "batch", "baseline", "best", "auto", "speedup"}
    assert (result["shape"], result["batch"], result["baseline"]["runtime"]) == ("tiny", 2, "torch-fp32")
    assert set(result["best"]) == {"runtime", "dtype", "s_per_image", "peak_rss_mb", "feature_cosine",
                                   "token_agreement", "logits_max_rel_error"}
    candidates = [line for line in out if line.startswith(("| torch-", "| openvino-", "| onnx-"))]
    assert result["best"]["feature_cosine"] >= 0.99
    assert result["auto"] in {row.split("|")[1].strip() for row in candidates}
    assert result["speedup"] == pytest.approx(result["baseline"]["s_per_image"] / result["best"]["s_per_image"], rel=0.02)
    assert any(line.startswith("layouts: 1 process x 2 threads") for line in out)
    rows = [line.split("|")[2].strip() for line in candidates]
    assert any(line.startswith("| onnx-int8 ") for line in candidates)  # the tiny shape's family exports
    for cell in rows:  # "median (round 1, round 2)": every candidate took both turns, its time their median
        median, turns = cell.rstrip(")").split(" (")
        assert float(median) == pytest.approx(sum(map(float, turns.split(", "))) / 2, abs=0.011)


@pytest.mark.slow
def test_cluster_benchmark_prints_the_issues_json_last_with_one_rate_per_worker_count(capsys):
    pytest.importorskip("ray")
    from benchmarks.cluster import main as cluster_main

    assert cluster_main(["--images", "4", "--workers", "1,2", "--new-tokens", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    result = json.loads(out[-1])
    assert list(result) == ["workers", "images_per_s", "identical"]
    assert result["workers"] == [1, 2] and len(result["images_per_s"]) == 2 and all(r > 0 for r in result["images_per_s"])
    assert result["identical"] is True  # every Ray run wrote the local engine's description.csv
    assert sum(line.startswith("tiny-florence2: ") for line in out) == 3  # the two Ray runs and the local one
