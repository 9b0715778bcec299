"""Every captioner family, on a tiny random model of it built offline and loaded through the production path:
the family read from the config, the same greedy text alone and inside a batch, then describe -> embed ->
index -> the app, search by image included."""

import json
from dataclasses import replace

import pytest
import skimage.data
from gradio_client import Client, handle_file
from PIL import Image

import app
from build.describe import DescribeConfig, run_describe
from build.embed import EmbedConfig, run_embed
from build.index import IndexConfig, run_index
from imagesearch.errors import ArtifactError
from imagesearch.models.captioner import Captioner, GenerationSettings
from imagesearch.models.encoder import MINILM
from imagesearch.models.families import FAMILIES, SEED_PROMPTS, family_of
from imagesearch.serve.config import AppConfig
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records
from testkit.ports import free_port
from testkit.tiny_captioner import NO_TORCHVISION, TORCHVISION_FAMILIES, torchvision_imports

SETTINGS = GenerationSettings(max_new_tokens=6)


@pytest.fixture(scope="module")
def photos():
    return [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in ("astronaut", "chelsea", "coffee", "rocket")]


def test_every_family_has_a_tiny_model_to_be_tested_with(tiny_captioners):
    assert set(tiny_captioners) | (set() if torchvision_imports() else set(TORCHVISION_FAMILIES)) == set(FAMILIES)


def tiny(tiny_captioners, model_type: str) -> str:
    if model_type not in tiny_captioners:
        pytest.skip(NO_TORCHVISION)
    return str(tiny_captioners[model_type])


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_the_family_comes_from_the_config_and_batches_change_no_text(model_type, tiny_captioners, photos):
    captioner = Captioner.load(tiny(tiny_captioners, model_type), SETTINGS, device="cpu")
    assert family_of(tiny(tiny_captioners, model_type)) is captioner.family is FAMILIES[model_type]
    batch = captioner.describe(photos)  # the family's own prompts (none for a caption-only family)
    alone = [captioner.describe([photo])[0] for photo in photos]
    assert batch == alone and all(isinstance(text, str) and text for text in batch)


def test_the_family_is_never_guessed_from_the_name_and_an_unsupported_one_is_one_line(tmp_path, tiny_captioners):
    named_like_blip = tmp_path / "blip-large"
    named_like_blip.mkdir()
    (named_like_blip / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ArtifactError, match=r"model_type 'bert' is not a supported captioner; supported: blip, florence2, idefics3, instructblip, qwen2_5_vl, qwen2_vl$"):
        family_of(str(named_like_blip))
    assert family_of(str(tiny_captioners["blip"])).model_type == "blip"


def test_prompts_are_the_familys_own_unless_given_and_refused_where_it_takes_none():
    assert FAMILIES["instructblip"].prompts(None) == SEED_PROMPTS
    assert FAMILIES["instructblip"].prompts(("what is it",)) == ("what is it",)
    assert FAMILIES["blip"].prompts(None) == ()
    with pytest.raises(ArtifactError, match="--prompts: a blip captioner writes a caption without a prompt; leave out"):
        FAMILIES["blip"].prompts(("what is it",))
    assert FAMILIES["florence2"].prompts(None) == ("<MORE_DETAILED_CAPTION>",)
    assert FAMILIES["florence2"].prompts(("<OCR>",)) == ("<OCR>",)
    with pytest.raises(ArtifactError, match=r"--prompts 'what is it': a florence2 captioner takes a task token as its "
                                            r"whole prompt; choose from <CAPTION>, <DETAILED_CAPTION>"):
        FAMILIES["florence2"].prompts(("what is it",))
    assert FAMILIES["idefics3"].prompts(None) == SEED_PROMPTS and FAMILIES["idefics3"].chat


@pytest.mark.slow
@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_each_family_goes_through_describe_embed_index_and_the_app(model_type, tiny_captioners, photo_folder, tmp_path):
    folder = tmp_path / "set"
    config = DescribeConfig(folder, (str(photo_folder),), captioner=tiny(tiny_captioners, model_type), generation=SETTINGS,
                            device="cpu", offline=True)
    assert run_describe(config).captioned == 8
    recorded = mf.read_manifest(folder)["captioner"]
    assert recorded["family"] == model_type and tuple(recorded["prompts"]) == FAMILIES[model_type].default_prompts
    assert run_describe(config).captioned == 0  # the same captioner and prompts: nothing redone
    if FAMILIES[model_type].takes_prompts:  # other prompts: every image redone, then nothing again
        other = replace(config, prompts=("<CAPTION>",) if model_type == "florence2" else ("what is it",))
        assert run_describe(other).captioned == 8 and run_describe(other).captioned == 0
    assert len(read_records(folder / mf.DESCRIPTIONS)) == 8
    run_embed(EmbedConfig(folder, MINILM, offline=True))
    run_index(IndexConfig(folder, offline=True))
    app_config = AppConfig(artifacts_dir=folder, port=free_port())  # search by image with the set's own captioner
    blocks, engine = app.build_app(app_config)
    _, url, _ = app.launch(blocks, engine, app_config, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=False)
        answer = client.predict(handle_file(str(photo_folder / "animals" / "chelsea.png")), 3, api_name="/search_by_image")
        assert answer["description"] and len(answer["results"]) == 3
        client.close()
    finally:
        blocks.close()


def test_the_command_line_refuses_prompts_for_a_caption_only_family_in_one_line(tiny_captioners, photo_folder, tmp_path):
    from testkit.commands import run_build

    result = run_build("describe", "--artifacts", tmp_path / "set", "--datasets", photo_folder, "--captioner",
                       tiny_captioners["blip"], "--prompts", "what is it", check=False)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith(
        "error: --prompts: a blip captioner writes a caption without a prompt")
    assert not (tmp_path / "set").exists()


def test_search_by_image_with_prompts_a_caption_only_family_cannot_take_is_off_saying_why(tiny_captioners, tmp_path):
    from imagesearch.errors import QueryError
    from imagesearch.serve.image_query import ImageDescriber, QueryCaptioner, load_query_captioner

    spec = QueryCaptioner(str(tiny_captioners["blip"]), ("what is in it",), SETTINGS)
    describer = ImageDescriber(spec, lambda model, generation: load_query_captioner(model, generation, offline=True))
    path = tmp_path / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    with pytest.raises(QueryError, match="CAPTIONER_PROMPTS: a blip captioner writes a caption without a prompt"):
        describer.describe(str(path))
    assert not describer.available


def test_read_text_asks_for_the_words_in_the_image_and_adds_them_where_some_were_read(tiny_captioners, photos, monkeypatch):
    from imagesearch.models.caption_text import with_text
    from imagesearch.models.families import READ_PROMPT

    captioner = Captioner.load(str(tiny_captioners["instructblip"]), SETTINGS, device="cpu")
    asked = []
    original = Captioner.answer
    monkeypatch.setattr(Captioner, "answer", lambda self, images, prompt: asked.append(prompt) or original(self, images, prompt))
    plain, read = captioner.describe(photos[:2]), captioner.describe(photos[:2], read_text=True)
    assert asked == [*SEED_PROMPTS, *SEED_PROMPTS, READ_PROMPT]
    assert [r.startswith(p) for p, r in zip(plain, read)] == [True, True]
    assert with_text("A shop front.", "OPEN 24 HOURS") == "A shop front. Text in the image: OPEN 24 HOURS."
    assert with_text("A field.", "None.") == "A field." == with_text("A field.", "  ")


def test_read_text_is_refused_in_one_line_for_a_family_that_cannot_be_asked(tiny_captioners, photo_folder, tmp_path):
    config = DescribeConfig(tmp_path / "set", (str(photo_folder),), captioner=str(tiny_captioners["blip"]),
                            generation=SETTINGS, device="cpu", offline=True, read_text=True)
    with pytest.raises(ArtifactError, match="--read-text: a blip captioner cannot be asked for the words in an image"):
        run_describe(config)
    assert not (tmp_path / "set").exists()


def test_a_set_built_reading_text_records_it_and_search_by_image_reads_too(tiny_captioners, photo_folder, tmp_path):
    from imagesearch.serve.image_query import query_captioner

    folder = tmp_path / "set"
    config = DescribeConfig(folder, (str(photo_folder),), captioner=str(tiny_captioners["instructblip"]),
                            generation=SETTINGS, device="cpu", offline=True, limit=1)
    assert run_describe(config).captioned == 1 and run_describe(config).captioned == 0
    assert "read_text" not in mf.read_manifest(folder)["captioner"]
    assert run_describe(replace(config, read_text=True)).captioned == 1  # another way of captioning: redone
    manifest = mf.read_manifest(folder)
    assert manifest["captioner"]["read_text"] is True and query_captioner(manifest).read_text
    assert not query_captioner(manifest, model_override="/other/captioner").read_text
