"""The fast captioning paths on the tiny model of every family: OpenVINO's exported vision encoder (alone, and beside
int8 text-side layers) and torch's bfloat16 / int8, each against float32 torch;
the export cache reused, rebuilt when damaged, never used stale."""

from __future__ import annotations

import logging

import pytest

from imagesearch.errors import ArtifactError
from imagesearch.models.captioner import Captioner, GenerationSettings
from testkit.caption_agreement import MIN_COSINE, agreement, outputs

EXPORTABLE = ("florence2", "blip", "instructblip", "idefics3")
TOKENS = 8


@pytest.fixture(scope="module")
def photos():
    from benchmarks.caption import photos as shipped

    return shipped(3)


def load(folder, tmp_path, runtime, dtype, batch=4):
    return Captioner.load(str(folder), GenerationSettings(max_new_tokens=TOKENS), runtime=runtime, dtype_name=dtype,
                          export_cache=tmp_path / "exports", batch=batch)


@pytest.fixture(scope="module")
def reference(tiny_captioners, photos, tmp_path_factory):
    """Every family's float32 torch descriptions and agreement outputs, computed once."""
    folder = tmp_path_factory.mktemp("reference")
    found = {}
    for family, path in tiny_captioners.items():
        captioner = load(path, folder, "torch", "float32")
        found[family] = (captioner.describe(photos), outputs(captioner, photos, TOKENS))
    return found


@pytest.mark.parametrize("family", EXPORTABLE)
def test_openvino_in_float32_writes_exactly_the_descriptions_of_torch_float32(family, tiny_captioners, reference,
                                                                              photos, tmp_path):
    captioner = load(tiny_captioners[family], tmp_path, "openvino", "float32")
    assert captioner.runtime.label == "openvino-fp32" and captioner.export.feature_cosine > 0.99999
    assert type(captioner.model).__name__ != "OpenVinoTower"
    if family == "florence2":  # DaViT's token transposes ran rewritten (imagesearch.models.transposes)
        assert captioner.export.transposes_rewritten > 0
    assert captioner.describe(photos) == reference[family][0]
    assert agreement(reference[family][1], outputs(captioner, photos, TOKENS))["token_agreement"] == 1.0


@pytest.mark.parametrize("family", EXPORTABLE)
def test_openvino_in_bfloat16_keeps_the_vision_features_and_the_first_logits(family, tiny_captioners, reference,
                                                                            photos, tmp_path):
    captioner = load(tiny_captioners[family], tmp_path, "openvino", "bfloat16")
    found = agreement(reference[family][1], outputs(captioner, photos, TOKENS))
    assert found["feature_cosine"] >= MIN_COSINE
    # The decoder runs in bfloat16 too. A tiny random model's logits are nearly flat (their spread is a few
    # hundredths), so a bfloat16 rounding can flip a greedy token with nothing wrong: the texts may differ, and
    # what is asserted is that the first step's logits stay within a few percent of their spread.
    assert found["logits_max_rel_error"] < 0.1


@pytest.mark.parametrize("family", EXPORTABLE)
def test_openvino_int8_keeps_the_features_and_the_first_logits_with_no_float_linear_left(family, tiny_captioners,
                                                                                       reference, photos, tmp_path):
    import torch

    captioner = load(tiny_captioners[family], tmp_path, "openvino", "int8")
    assert captioner.runtime.label.endswith("+int8") and captioner.export.feature_cosine >= MIN_COSINE
    assert not any(isinstance(module, torch.nn.Linear) for module in captioner.model.modules())
    found = agreement(reference[family][1], outputs(captioner, photos, TOKENS))
    # measured on the tiny models: errors 0.008-0.03 of the logits' spread, the same descriptions as float32
    # torch on an AVX2 machine; a token can flip where the spread is a few hundredths, so the bound is on logits
    assert found["feature_cosine"] >= MIN_COSINE and found["logits_max_rel_error"] < 0.1


@pytest.mark.parametrize("family, dtype", [("idefics3", "bfloat16"), ("idefics3", "int8"), ("blip", "int8"),
                                           ("florence2", "bfloat16")])
def test_torch_bfloat16_and_int8_keep_the_vision_features(family, dtype, tiny_captioners, reference, photos, tmp_path):
    captioner = load(tiny_captioners[family], tmp_path, "torch", dtype)
    assert captioner.runtime.runtime == "torch" and captioner.export is None
    found = agreement(reference[family][1], outputs(captioner, photos, TOKENS))
    assert found["feature_cosine"] >= MIN_COSINE and found["logits_max_rel_error"] < 0.25


def test_an_export_is_reused_then_rebuilt_when_its_weights_file_is_damaged(tiny_captioners, photos, tmp_path):
    first = load(tiny_captioners["blip"], tmp_path, "openvino", "float32")
    expected = first.describe(photos)
    assert not first.export.reused
    again = load(tiny_captioners["blip"], tmp_path, "openvino", "float32")
    assert again.export.reused and again.export.seconds == 0 and again.export.folder == first.export.folder
    weights = first.export.folder / "vision.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: OpenVINO would read it and answer wrong features
    weights.write_bytes(bytes(data))
    rebuilt = load(tiny_captioners["blip"], tmp_path, "openvino", "float32")
    assert not rebuilt.export.reused and rebuilt.describe(photos) == expected


def test_an_export_cut_short_is_rebuilt_not_read(tiny_captioners, photos, tmp_path):
    first = load(tiny_captioners["florence2"], tmp_path, "openvino", "float32")
    graph = first.export.folder / "vision.xml"
    graph.write_text(graph.read_text()[:200])
    rebuilt = load(tiny_captioners["florence2"], tmp_path, "openvino", "float32")
    assert not rebuilt.export.reused and rebuilt.describe(photos) == first.describe(photos)


def test_another_model_revision_gets_its_own_export(tiny_captioners, tmp_path):
    from testkit.tiny_captioner import build_tiny_blip

    other = build_tiny_blip(tmp_path / "blip-seed-1", seed=1)  # same architecture, other weights
    first = load(tiny_captioners["blip"], tmp_path, "openvino", "float32")
    second = load(other, tmp_path, "openvino", "float32")
    assert second.export.folder != first.export.folder and not second.export.reused


def test_an_export_that_disagrees_with_torch_is_refused_or_left_for_torch_under_auto(tiny_captioners, tmp_path,
                                                                                   monkeypatch, caplog):
    from imagesearch.models import onnx_export, vision_export

    monkeypatch.setattr(vision_export, "MIN_COSINE", 1.5)  # no export can reach it: the check must act
    monkeypatch.setattr(onnx_export, "MIN_COSINE", 1.5)  # (auto's first choice on a CPU without bfloat16)
    with pytest.raises(ArtifactError) as refused:
        load(tiny_captioners["blip"], tmp_path, "openvino", "float32")
    assert "cosine" in str(refused.value) and "--runtime torch" in str(refused.value)
    with caplog.at_level(logging.WARNING):
        captioner = load(tiny_captioners["blip"], tmp_path, "auto", "float32")
    assert captioner.runtime.label == "torch-fp32" and "captioning with torch instead" in caplog.text
    # auto at batch 1 asks for an int8 text side: the fallback is torch in a float format, not torch's per-call int8
    fallback = load(tiny_captioners["blip"], tmp_path, "auto", "auto", batch=1)
    assert fallback.runtime.runtime == "torch" and fallback.runtime.dtype in ("bfloat16", "float32")


def test_idefics3_tiles_go_through_the_export_and_a_padded_tile_is_refused_in_one_line(tiny_captioners, photos,
                                                                                      tmp_path, monkeypatch):
    import torch

    from imagesearch.models import vision_export
    from imagesearch.models.vision_export import encoder_batch, tower_of

    captioner = load(tiny_captioners["idefics3"], tmp_path, "openvino", "float32")
    tower = tower_of(captioner.model, captioner.family.vision_tower)
    assert type(tower).__name__ == "OpenVinoTower"
    pixels = captioner.family.inputs(captioner.processor, photos[:2], "describe")["pixel_values"]
    tiles = encoder_batch(pixels, most=100)
    assert pixels.dim() == 5 and len(tiles) > 2 and bool(tiles.flatten(1).ne(0).any(dim=1).all())
    side = tiles.shape[-1] // captioner.model.config.vision_config.patch_size
    whole = torch.ones(len(tiles), side, side, dtype=torch.bool)
    features = tower(tiles, patch_attention_mask=whole).last_hidden_state
    assert features.shape[0] == len(tiles)
    area = tiles.shape[-1] * tiles.shape[-2]
    request, calls = tower.request, []

    class Counted:  # the compiled encoder's request, each call's tiles counted
        def infer(self, inputs):
            calls.append(len(inputs[0]))
            return request.infer(inputs)

        def get_output_tensor(self, index):
            return request.get_output_tensor(index)

    monkeypatch.setattr(tower, "request", Counted())
    for chunk in (1, 3):  # the encoder is called on a few tiles at a time (memory): the same features whatever the cut
        monkeypatch.setattr(vision_export, "CHUNK_PIXELS", area * chunk + area // 2)
        calls.clear()
        assert torch.equal(tower(tiles).last_hidden_state, features)
        assert max(calls) == chunk and sum(calls) == len(tiles) and len(calls) == -(-len(tiles) // chunk)
    whole[0, -1] = False  # a tile its processor padded: the export never saw a mask
    with pytest.raises(ArtifactError, match="whole tiles.*--runtime torch"):
        tower(tiles, patch_attention_mask=whole)


def test_an_export_another_process_made_meanwhile_is_kept_and_a_damaged_one_replaced(tmp_path):
    from imagesearch.models import vision_export

    folder = tmp_path / "exports" / "florence2-fp32-abc"

    def make(stage, data=b"graph"):
        (stage / "vision.xml").write_bytes(data)
        return {}

    vision_export.write(folder, "key", ("vision.xml",), make)
    theirs = (folder / "vision.xml").stat().st_ino
    vision_export.write(folder, "key", ("vision.xml",), make)  # a Ray actor beside it finishing the same export
    assert (folder / "vision.xml").stat().st_ino == theirs  # not deleted under a reader that may have it open
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]  # this one's temporary folder gone
    (folder / "vision.xml").write_bytes(b"grap")  # damaged: replaced by the new export
    vision_export.write(folder, "key", ("vision.xml",), make)
    assert (folder / "vision.xml").read_bytes() == b"graph" and vision_export.valid(folder, "key", ("vision.xml",))
