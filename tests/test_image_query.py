"""Search by image: the tiny random InstructBLIP through the production loading path, served and called
through gradio_client with real photographs; uploads checked like describe's images."""

import io

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import app
from imagesearch.errors import ArtifactError, QueryError
from imagesearch.serve.config import DEMO_ARTIFACTS, AppConfig
from imagesearch.models.fit import public_name
from imagesearch.serve.image_query import ImageDescriber, QueryCaptioner, check_space_fits, query_captioner
from testkit.ports import free_port

PROMPTS = ("describe this image in full detail",)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("upload") / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    return path


@pytest.fixture(scope="module")
def served_with_captioner(tiny_captioner_path):
    config = AppConfig(port=free_port(), captioner=str(tiny_captioner_path), captioner_prompts=PROMPTS)
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    client = Client(url, verbose=False, download_files=True)
    yield client, engine
    client.close()
    blocks.close()


def test_search_by_image_describes_the_upload_and_searches_with_it(served_with_captioner, photo):
    client, engine = served_with_captioner
    answer = client.predict(handle_file(str(photo)), 3, api_name="/search_by_image")
    assert set(answer) == {"description", "results", "nothing_matches_well"}
    assert answer["nothing_matches_well"] == all(r["band"] == "weak" for r in answer["results"])
    assert isinstance(answer["description"], str) and answer["description"].strip()
    assert len(answer["results"]) == 3 and [r["rank"] for r in answer["results"]] == [1, 2, 3]
    # the results are exactly what /search gives for that description (same dicts, same order)
    again = client.predict(answer["description"], 3, api_name="/search")
    assert [r["id"] for r in again] == [r["id"] for r in answer["results"]]
    with Image.open(answer["results"][0]["image"]) as image:
        assert image.format == "JPEG"


def test_words_refine_an_uploads_search_and_filter_like_a_query(served_with_captioner, photo):
    client, engine = served_with_captioner
    plain = client.predict(handle_file(str(photo)), 20, api_name="/search_by_image")
    refined = client.predict(handle_file(str(photo)), 3, "a red motorcycle -garage", api_name="/search_by_image")
    assert refined["description"] == plain["description"]  # the same upload, described the same way
    sources = [r["source"] for r in refined["results"]]
    assert sources[0] == "motorcycle_right" and "motorcycle_left" not in sources  # -garage leaves its row out
    assert refined["results"][0]["matched"] and set(refined["results"][0]["matched"]) <= {"red", "motorcycle"}
    expected = engine.answer_image(plain["description"], "a red motorcycle -garage", 3)
    assert [r.id for r in expected.results] == [r["id"] for r in refined["results"]]


def test_a_bad_upload_through_the_api_gets_one_line_and_the_app_keeps_answering(served_with_captioner, tmp_path):
    client, _ = served_with_captioner
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    with pytest.raises(Exception, match="cannot be described: not an image PIL can read"):
        client.predict(handle_file(str(bad)), 3, api_name="/search_by_image")
    assert len(client.predict("a cup of coffee", 2, api_name="/search")) == 2


@pytest.mark.parametrize("target", [str(DEMO_ARTIFACTS / "images" / "0.jpg"), "/etc/hostname", "/tmp/gradio/../../etc/hostname"])
def test_a_path_on_the_server_is_never_read_as_an_upload(served_with_captioner, target):
    """A raw caller naming a server path (gradio_client would upload it instead) is refused before anything is read."""
    client, _ = served_with_captioner
    forged = {"path": target, "meta": {"_type": "gradio.FileData"}}
    with httpx.Client(base_url=client.src, timeout=30) as http:
        event = http.post("/gradio_api/call/search_by_image", json={"data": [forged, 3]}).json()["event_id"]
        stream = http.get(f"/gradio_api/call/search_by_image/{event}").text
    assert "event: error" in stream and "event: complete" not in stream  # 0.jpg is a fine image: refused, not read




def test_without_a_captioner_search_by_image_is_not_offered_the_page_says_why_and_search_still_works():
    """The demo's descriptions are hand-written: there is no captioner to describe an upload."""
    config = AppConfig(port=free_port())
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    client = Client(url, verbose=False)
    try:
        import skimage.data

        assert "/search_by_image" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        with pytest.raises(Exception, match="Cannot find a function with `api_name`: /search_by_image"):
            client.predict(handle_file(skimage.data.data_dir + "/chelsea.png"), 3, api_name="/search_by_image")
        page = httpx.get(url, timeout=30).text  # the page still says why, in its image tab
        assert "Search by image is not available: this set" in page and "hand-written" in page
        assert len(client.predict("a cat", 3, api_name="/search")) == 3
        similar = client.predict(0, 4, api_name="/similar")
        assert len(similar) == 4 and 0 not in [r["id"] for r in similar]
        with pytest.raises(Exception, match="No image has id 999"):
            client.predict(999, 4, api_name="/similar")
    finally:
        client.close()
        blocks.close()


def _bytes(save):
    buffer = io.BytesIO()
    save(buffer)
    return buffer.getvalue()


def _cmyk(buffer):
    Image.new("CMYK", (64, 48), (0, 128, 255, 10)).save(buffer, format="JPEG")


def _gif(buffer):
    frames = [Image.new("P", (40, 40), i * 40) for i in range(3)]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def _jpeg(buffer):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, format="JPEG")


class Recording:
    def __init__(self):
        self.seen = []

    def describe(self, images, prompts, read_text=False):
        self.seen.extend(images)
        return [f"seen {image.size[0]}x{image.size[1]} {image.mode}" for image in images]


@pytest.mark.parametrize("make, outcome", [
    (lambda: _bytes(_cmyk), "seen 64x48 RGB"),
    (lambda: _bytes(_gif), "seen 40x40 RGB"),            # first frame of an animated GIF
    (lambda: _bytes(_jpeg)[:300], "cannot be described: unreadable"),  # truncated
    (lambda: _bytes(lambda b: Image.new("RGB", (1, 1)).save(b, format="PNG")), r"too small \(1x1 pixels\)"),
    (lambda: _bytes(lambda b: Image.new("1", (20000, 20000)).save(b, format="PNG")), "too large"),
    (lambda: b"GIF89a but not really", "not an image PIL can read"),
])
def test_uploads_get_the_same_checks_as_describe(tmp_path, make, outcome):
    path = tmp_path / "upload"
    path.write_bytes(make())
    describer = ImageDescriber(QueryCaptioner("tiny", PROMPTS), lambda model, tokens: Recording())
    if outcome.startswith("seen"):
        assert describer.describe(str(path)) == outcome
    else:
        with pytest.raises(QueryError, match=outcome):
            describer.describe(str(path))


def test_a_captioner_that_fails_to_load_disables_only_this_feature_with_its_reason(tmp_path):
    calls = []

    def load(model, tokens):
        calls.append(model)
        raise OSError("no such model")

    describer = ImageDescriber(QueryCaptioner("/models/secret/instructblip", PROMPTS), load)
    path = tmp_path / "a.jpg"
    path.write_bytes(_bytes(_jpeg))
    for _ in range(2):
        with pytest.raises(QueryError, match="the captioner instructblip could not be loaded .OSError: no such model"):
            describer.describe(str(path))
    assert calls == ["/models/secret/instructblip"] and not describer.available  # tried once, no path shown


def test_the_sets_captioner_and_prompts_are_used_unless_overridden():
    manifest = {"captioner": {"model": "Salesforce/instructblip-vicuna-7b", "prompts": ["p1", "p2"]}}
    assert query_captioner(manifest) == QueryCaptioner("Salesforce/instructblip-vicuna-7b", ("p1", "p2"))
    assert query_captioner(manifest, "/m/tiny", ["q"]).model == "/m/tiny"
    assert query_captioner(manifest, "/m/tiny", ["q"]).prompts == ("q",)
    assert query_captioner({"captioner": {"model": "hand-written", "prompts": []}}).model is None
    assert public_name("/home/me/models/tiny-blip") == "tiny-blip" and public_name("org/model") == "org/model"


def test_environment_names_the_captioner_and_its_prompts():
    config = AppConfig.from_env({"CAPTIONER": " org/blip ", "CAPTIONER_PROMPTS": "first prompt\n\nsecond prompt\n"})
    assert config.captioner == "org/blip" and config.captioner_prompts == ("first prompt", "second prompt")


def test_a_captioner_that_would_not_fit_without_a_gpu_is_refused_before_loading(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 4096)
    check_space_fits("org/small", tmp_path, cuda=False, memory=10 * 4096)
    with pytest.raises(ArtifactError, match="more than this machine's"):
        check_space_fits("org/big", tmp_path, cuda=False, memory=4096)
    with pytest.raises(ArtifactError, match="no GPU to run it"):
        check_space_fits("Salesforce/instructblip-vicuna-7b", None, cuda=False, memory=2**40)
    check_space_fits("Salesforce/instructblip-vicuna-7b", None, cuda=True, memory=1)


def test_uploads_are_described_with_the_generation_settings_the_manifest_records(tmp_path, tiny_captioner_path):
    from imagesearch.models.captioner import GenerationSettings
    from imagesearch.serve.image_query import load_query_captioner

    recorded = {"max_new_tokens": 6, "num_beams": 1, "do_sample": False, "repetition_penalty": 1.0, "quantization": "none"}
    spec = query_captioner({"captioner": {"model": "org/m", "prompts": ["p"], "generation": recorded}})
    assert spec.generation == GenerationSettings(max_new_tokens=6)  # not the 256 of the defaults
    loads = []
    describer = ImageDescriber(spec, lambda model, generation: loads.append((model, generation)) or Recording())
    path = tmp_path / "a.jpg"
    path.write_bytes(_bytes(_jpeg))
    describer.describe(str(path))
    assert loads == [("org/m", GenerationSettings(max_new_tokens=6))]
    assert load_query_captioner(str(tiny_captioner_path), spec.generation, offline=True).settings.max_new_tokens == 6
    # the seed's record names settings this code does not use (max_length) and a "4-bit" it cannot load
    assert GenerationSettings.from_manifest({"do_sample": False, "max_length": 512, "quantization": "4-bit"}) == \
        GenerationSettings()


def test_the_gpu_time_asked_follows_the_sets_generation_and_the_first_call_alone_pays_the_loading(tmp_path):
    from imagesearch.models.captioner import GenerationSettings

    short = ImageDescriber(QueryCaptioner("org/m", ("p",), GenerationSettings(max_new_tokens=6)), lambda m, g: Recording())
    long = ImageDescriber(QueryCaptioner("org/m", ("p", "q"), GenerationSettings(max_new_tokens=256)), lambda m, g: Recording())
    assert long.gpu_seconds() > short.gpu_seconds() > 0  # two prompts of 256 tokens ask for more than one of 6
    first = short.gpu_seconds()
    path = tmp_path / "a.jpg"
    path.write_bytes(_bytes(_jpeg))
    short.describe(str(path))  # loads the captioner, once
    assert short.gpu_seconds() < first


def test_without_a_captioner_an_upload_is_refused_before_it_is_read_or_decoded(tmp_path, monkeypatch):
    from imagesearch.serve import image_query

    touched = []
    monkeypatch.setattr(image_query, "read_upload", lambda path: touched.append(path))
    describer = ImageDescriber(QueryCaptioner(None, (), reason="this set's descriptions are hand-written"),
                               lambda model, generation: None)
    with pytest.raises(QueryError, match="^Search by image is not available: this set's descriptions are hand-written"):
        describer.describe(str(tmp_path / "huge.png"))
    assert touched == []
