"""The captioner, on a tiny random InstructBLIP loaded through the production path: each image's answers to
every prompt, only new tokens decoded, the same text alone and inside a left-padded batch."""

import pytest
import skimage.data
from PIL import Image

from imagesearch.errors import ArtifactError
from imagesearch.models.captioner import Captioner, GenerationSettings

SETTINGS = GenerationSettings(max_new_tokens=6)


@pytest.fixture(scope="module")
def captioner(tiny_captioner_path):
    return Captioner.load(str(tiny_captioner_path), SETTINGS, device="cpu")


@pytest.fixture(scope="module")
def photos():
    return [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in ("astronaut", "chelsea", "coffee", "rocket")]


def test_an_image_gets_the_same_text_alone_and_inside_a_batch_of_four(captioner, photos):
    batch = captioner.describe(photos, ["describe this image", "what is in it"])
    alone = [captioner.describe([photo], ["describe this image", "what is in it"])[0] for photo in photos]
    assert batch == alone and len(batch) == 4 and all(isinstance(text, str) for text in batch)


def test_the_settings_bound_the_answer_and_the_tokenizer_pads_on_the_left(captioner, photos):
    assert captioner.processor.tokenizer.padding_side == "left"
    assert captioner.settings.max_new_tokens == 6 and captioner.device == "cpu"
    words = captioner.answer(photos[:1], "describe this image")[0].split()
    assert len(words) <= 6  # 6 new word-piece tokens at most: the prompt is never decoded with them


def test_a_folder_that_is_not_a_captioner_is_one_line(tmp_path):
    with pytest.raises(ArtifactError, match="its config.json cannot be read") as refused:
        Captioner.load(str(tmp_path), SETTINGS, device="cpu")
    assert "\n" not in str(refused.value)
    (tmp_path / "config.json").write_text('{"model_type": "instructblip"}')  # a config, but no weights
    with pytest.raises(ArtifactError, match="could not be loaded") as refused:
        Captioner.load(str(tmp_path), SETTINGS, device="cpu")
    assert "\n" not in str(refused.value)


def test_the_dtype_can_be_chosen_and_an_unknown_one_is_one_line(tiny_captioner_path, photos):
    import torch

    half = Captioner.load(str(tiny_captioner_path), SETTINGS, device="cpu", dtype_name="bfloat16")
    assert half.dtype == torch.bfloat16 and next(half.model.parameters()).dtype == torch.bfloat16
    assert isinstance(half.describe(photos[:2])[0], str)
    with pytest.raises(ArtifactError, match="--dtype int4: choose one of auto, bfloat16, float16, float32, int8"):
        Captioner.load(str(tiny_captioner_path), SETTINGS, device="cpu", dtype_name="int4")
