"""The captioner's CPU runtime: what auto picks on which machine, one-line refusals, and the fast paths keeping
the captions on the tiny model of every family."""

from __future__ import annotations

import pytest

from imagesearch.errors import ArtifactError
from imagesearch.models.runtime import RuntimeChoice, cpu_flags, resolve

BF16 = frozenset({"avx512f", "avx512_bf16"})
PLAIN = frozenset({"avx2"})


@pytest.mark.parametrize("flags, openvino, exportable, expected", [  # batches of 4
    (BF16, True, True, "openvino-bf16"),
    (PLAIN, True, True, "openvino-fp32+int8"),
    (BF16, True, False, "torch-bf16"),
    (BF16, False, True, "torch-bf16"),
    (PLAIN, False, True, "torch-fp32"),
    (frozenset({"amx_bf16"}), True, True, "openvino-bf16"),
])
def test_auto_on_a_cpu_takes_openvino_where_it_can_in_bfloat16_where_native_else_with_an_int8_text_side(
        flags, openvino, exportable, expected):
    assert resolve("auto", "auto", False, flags, openvino, exportable, batch=4).label == expected


@pytest.mark.parametrize("flags, openvino, exportable, expected", [
    (BF16, True, True, "openvino-bf16+int8"),
    (PLAIN, True, True, "openvino-fp32+int8"),
    (BF16, True, False, "torch-bf16"),
    (PLAIN, False, True, "torch-fp32"),
])
def test_auto_gives_one_image_a_call_the_int8_text_side_wherever_openvino_runs_the_encoder(
        flags, openvino, exportable, expected):
    # one token a decode step reads every weight: int8 halves what bfloat16 reads (docs/captioning.md)
    assert resolve("auto", "auto", False, flags, openvino, exportable, batch=1).label == expected
    assert resolve("openvino", "auto", False, flags, True, True, batch=1).label.endswith("+int8")
    assert resolve("auto", "bfloat16", False, BF16, True, True, batch=1).label == "openvino-bf16"  # asked by name


def test_openvino_asked_by_name_takes_the_same_format_auto_would():
    assert resolve("openvino", "auto", False, PLAIN, True, True, batch=4).label == "openvino-fp32+int8"
    assert resolve("openvino", "auto", False, BF16, True, True, batch=4).label == "openvino-bf16"


def test_a_float_format_asked_by_name_keeps_the_text_side_in_that_format():
    assert resolve("auto", "bfloat16", False, BF16, True, True, batch=4).label == "openvino-bf16"
    assert resolve("openvino", "float32", False, PLAIN, True, True, batch=4).label == "openvino-fp32"


def test_a_gpu_keeps_torch_in_bfloat16_whatever_the_cpu_has():
    assert resolve("auto", "auto", True, BF16, True, True, batch=4) == RuntimeChoice("torch", "bfloat16")
    assert resolve("torch", "float16", True, PLAIN, True, True, batch=4).label == "torch-fp16"


def test_an_explicit_choice_is_kept_and_int8_under_auto_stays_on_torch():
    assert resolve("torch", "float32", False, BF16, True, True, batch=4).label == "torch-fp32"
    assert resolve("auto", "int8", False, BF16, True, True, batch=4).label == "torch-int8"
    assert resolve("openvino", "float32", False, BF16, True, True, batch=4).label == "openvino-fp32"


@pytest.mark.parametrize("flags, label, encoder", [(BF16, "openvino-bf16+int8", "bfloat16"),
                                                   (PLAIN, "openvino-fp32+int8", "float32")])
def test_openvino_int8_runs_the_encoder_in_the_cpus_best_float_and_names_both(flags, label, encoder):
    choice = resolve("openvino", "int8", False, flags, True, True, batch=4)
    assert (choice.label, choice.encoder_dtype, choice.dtype) == (label, encoder, "int8")


@pytest.mark.parametrize("flags, onnx, openvino, expected", [
    (PLAIN, True, True, "onnx-int8"),
    (PLAIN, True, False, "onnx-int8"),
    (PLAIN, False, True, "openvino-fp32+int8"),
    (BF16, True, True, "openvino-bf16"),
])
def test_auto_without_bfloat16_takes_onnx_runtimes_int8_encoder_where_it_is_installed(flags, onnx, openvino,
                                                                                     expected):
    # int8 matrix products run at about twice float32's rate on an AVX2 CPU in ONNX Runtime, not in OpenVINO
    assert resolve("auto", "auto", False, flags, openvino, True, batch=4, onnx_ok=onnx).label == expected
    assert resolve("auto", "auto", False, PLAIN, True, True, batch=1, onnx_ok=True).label == "onnx-int8"
    assert resolve("auto", "auto", False, PLAIN, True, False, batch=4, onnx_ok=True).label == "torch-fp32"
    assert resolve("auto", "float32", False, PLAIN, True, True, batch=4, onnx_ok=True).label == "openvino-fp32"
    assert resolve("onnx", "auto", False, BF16, True, True, batch=4, onnx_ok=True).label == "onnx-int8"  # by name


@pytest.mark.parametrize("dtype, cuda, onnx, exportable, words", [
    ("float32", False, True, True, "use --dtype int8 or auto"),
    ("bfloat16", False, True, True, "use --dtype int8 or auto"),
    ("auto", False, False, True, "pip install onnxruntime==1.32.0 onnx==1.23.2"),
    ("auto", False, True, False, "use --runtime torch"),
    ("int8", True, True, True, "on a GPU"),
])
def test_onnx_that_cannot_run_here_is_refused_in_one_line_with_the_fix(dtype, cuda, onnx, exportable, words):
    with pytest.raises(ArtifactError) as refused:
        resolve("onnx", dtype, cuda, PLAIN, True, exportable, batch=4, onnx_ok=onnx)
    assert words in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("runtime, dtype, cuda, openvino, exportable, words", [
    ("openvino", "auto", False, False, True, "pip install openvino"),
    ("openvino", "auto", False, True, False, "use --runtime torch"),
    ("openvino", "float16", False, True, True, "bfloat16, float32 or int8"),
    ("openvino", "auto", True, True, True, "on a GPU"),
    ("tensorrt", "auto", False, True, True, "choose one of auto, torch, openvino, onnx"),
])
def test_a_runtime_that_cannot_run_here_is_refused_in_one_line_with_the_fix(runtime, dtype, cuda, openvino,
                                                                          exportable, words):
    with pytest.raises(ArtifactError) as refused:
        resolve(runtime, dtype, cuda, BF16, openvino, exportable, batch=4)
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == {"fpu", "avx512f", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
