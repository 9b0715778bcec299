"""ONNX Runtime's int8 vision encoder on the tiny model of every family: it keeps the features and the first logits
of float32 torch, a photo's features do not depend on the photos beside it, the export is reused, rebuilt when
damaged, and when it cannot be used auto chooses again (OpenVINO's encoder) while a named --runtime onnx is refused."""

from __future__ import annotations

import logging

import pytest
import torch

from imagesearch.errors import ArtifactError
from imagesearch.models.captioner import Captioner, GenerationSettings
from imagesearch.models.vision_export import tower_of
from testkit.caption_agreement import MIN_COSINE, agreement, outputs

EXPORTABLE = ("florence2", "blip", "instructblip", "idefics3")
TOKENS = 8
AVX2 = frozenset({"avx", "avx2", "fma"})


@pytest.fixture(scope="module")
def photos():
    from benchmarks.caption import photos as shipped

    return shipped(3)


def load(folder, tmp_path, runtime="onnx", dtype="int8", batch=4):
    return Captioner.load(str(folder), GenerationSettings(max_new_tokens=TOKENS), runtime=runtime, dtype_name=dtype,
                          export_cache=tmp_path / "exports", batch=batch)


@pytest.fixture
def avx2_cpu(monkeypatch):
    """This machine seen as a CPU without bfloat16, where auto takes ONNX Runtime's int8 encoder."""
    from imagesearch.models import captioner as captioner_module

    monkeypatch.setattr(captioner_module, "cpu_flags", lambda: AVX2)


@pytest.mark.parametrize("family", EXPORTABLE)
def test_onnx_int8_keeps_the_features_and_the_first_logits_of_float32_torch(family, tiny_captioners, photos,
                                                                           tmp_path):
    reference = load(tiny_captioners[family], tmp_path, "torch", "float32")
    expected = outputs(reference, photos, TOKENS)
    captioner = load(tiny_captioners[family], tmp_path)
    assert captioner.runtime.label == "onnx-int8" and captioner.export.feature_cosine >= MIN_COSINE
    assert type(tower_of(captioner.model, captioner.family.vision_tower)).__name__ == "OnnxTower"
    assert not any(isinstance(module, torch.nn.Linear) for module in captioner.model.modules())  # text side int8
    found = agreement(expected, outputs(captioner, photos, TOKENS))
    # Measured on the tiny models: feature cosine 0.998-1.0, first-step logits within 0.005-0.06 of their spread;
    # blip and instructblip write float32 torch's descriptions word for word, florence2 and idefics3 one token of
    # 24 otherwise (a tiny random model's logits are nearly flat, so int8 rounding can flip a greedy token).
    assert found["feature_cosine"] >= MIN_COSINE and found["logits_max_rel_error"] < 0.1
    assert found["token_agreement"] >= 0.75


def test_a_photo_gets_the_same_features_alone_or_in_a_batch(tiny_captioners, photos, tmp_path):
    captioner = load(tiny_captioners["florence2"], tmp_path)
    tower = tower_of(captioner.model, captioner.family.vision_tower)
    pixels = captioner.family.inputs(captioner.processor, photos, "describe")["pixel_values"]
    together = tower(pixels).last_hidden_state
    alone = torch.cat([tower(pixels[i:i + 1]).last_hidden_state for i in range(len(pixels))])
    # one range per call for the activations: a photo beside brighter ones would get coarser steps if they shared it
    assert torch.equal(together, alone)
    assert captioner.describe(photos) == [captioner.describe([photo])[0] for photo in photos]


def test_an_onnx_export_is_reused_then_rebuilt_when_its_file_is_damaged(tiny_captioners, photos, tmp_path):
    first = load(tiny_captioners["blip"], tmp_path)
    expected = first.describe(photos)
    assert not first.export.reused and first.export.folder.name.startswith("blip-onnx-int8-")
    again = load(tiny_captioners["blip"], tmp_path)
    assert again.export.reused and again.export.seconds == 0 and again.export.folder == first.export.folder
    graph = first.export.folder / "vision.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte of a weight: ONNX Runtime would run it and answer wrong features
    graph.write_bytes(bytes(data))
    rebuilt = load(tiny_captioners["blip"], tmp_path)
    assert not rebuilt.export.reused and rebuilt.describe(photos) == expected
    assert not list(first.export.folder.parent.glob(".*"))  # no half-written export left beside it


def test_auto_takes_the_int8_encoder_on_a_cpu_without_bfloat16_and_a_batch_changes_no_caption(
        tiny_captioners, photos, tmp_path, avx2_cpu):
    captioner = load(tiny_captioners["florence2"], tmp_path, "auto", "auto")
    assert captioner.runtime.label == "onnx-int8"
    assert load(tiny_captioners["florence2"], tmp_path, "auto", "auto", batch=1).runtime.label == "onnx-int8"


def test_when_the_onnx_export_disagrees_auto_takes_openvino_and_a_named_runtime_is_refused(
        tiny_captioners, tmp_path, monkeypatch, caplog, avx2_cpu):
    from imagesearch.models import onnx_export

    monkeypatch.setattr(onnx_export, "MIN_COSINE", 1.5)  # no export can reach it: the check must act
    with pytest.raises(ArtifactError) as refused:
        load(tiny_captioners["blip"], tmp_path)
    message = str(refused.value)
    assert "--runtime onnx" in message and "cosine" in message and "--runtime openvino or torch" in message
    assert "\n" not in message
    with caplog.at_level(logging.WARNING):
        captioner = load(tiny_captioners["blip"], tmp_path, "auto", "auto")
    assert captioner.runtime.label == "openvino-fp32+int8" and "choosing again without ONNX Runtime" in caplog.text


def test_an_encoder_onnx_cannot_hold_is_left_to_openvino_under_auto(tiny_captioners, tmp_path, monkeypatch, caplog,
                                                                    avx2_cpu):
    from imagesearch.models import onnx_export

    monkeypatch.setattr(onnx_export, "MAX_FLOAT_BYTES", 1000)  # as InstructBLIP-7B's 4 GB ViT-g is for one file
    with pytest.raises(ArtifactError, match="over an ONNX file's 2 GB"):
        load(tiny_captioners["instructblip"], tmp_path)
    with caplog.at_level(logging.WARNING):
        assert load(tiny_captioners["instructblip"], tmp_path, "auto", "auto").runtime.label == "openvino-fp32+int8"
    assert not (tmp_path / "exports").exists() or not list((tmp_path / "exports").glob("instructblip-onnx-*"))
