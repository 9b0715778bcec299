"""The app end to end: launched in-process, queried through gradio_client, as API callers do."""

import os
import re
import shutil
import subprocess
import sys
import urllib.parse

import httpx
import pytest
from gradio_client import Client
from PIL import Image

from imagesearch.serve.config import DEMO_ARTIFACTS
from testkit.paths import REPO
from testkit.ports import free_port


def test_search_endpoint_returns_five_explained_results_with_images(served):
    _, client, _ = served
    results = client.predict("a cat with green eyes", 5, api_name="/search")
    assert len(results) == 5
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert results[0]["source"] == "chelsea" and "cat" in results[0]["description"]
    assert set(results[0]) >= {"id", "score", "dataset", "source", "label", "description", "image"}
    for result in results:
        with Image.open(result["image"]) as image:  # downloaded by the client
            assert image.format == "JPEG" and image.mode == "RGB"


def test_search_endpoint_defaults_to_five_and_refuses_k_or_offset_out_of_range_in_one_line(served):
    from gradio_client.exceptions import AppError

    _, client, _ = served
    assert len(client.predict("a rocket", api_name="/search")) == 5
    assert len(client.predict("a rocket", 20, api_name="/search")) == 20
    for k, offset, words in ((0, 0, "k must be a whole number of results from 1 to 20, got 0."),
                             (21, 0, "got 21."), (2.5, 0, "got 2.5."), (5, -1, "offset must be a whole number from 0 to "
                                                                                "180, got -1.")):
        with pytest.raises(AppError, match=re.escape(words)):
            client.predict("a rocket", k, None, "hybrid", None, offset, api_name="/search")
    with pytest.raises(AppError, match=r"^No more results: this search has 23, and offset 100 starts past the last one"):
        client.predict("a rocket", 5, None, "hybrid", None, 100, api_name="/search")
    assert len(client.predict("a rocket", 5, None, "hybrid", None, 20, api_name="/search")) == 3  # the last page


def test_search_endpoint_filters_by_dataset(served):
    _, client, _ = served
    results = client.predict("a photo", 20, ["scikit-learn"], api_name="/search")
    assert sorted(r["source"] for r in results) == ["china", "flower"]


@pytest.mark.parametrize("query, message", [("   ", "Type a few words"), ("x", "Unknown dataset")])
def test_bad_requests_get_a_clear_message_and_the_server_keeps_answering(served, query, message, capfd, caplog):
    _, client, _ = served
    datasets = ["nope"] if message == "Unknown dataset" else None
    capfd.readouterr()
    with caplog.at_level("INFO", logger="imagesearch.serve.api"), pytest.raises(Exception, match=message):
        client.predict(query, 5, datasets, api_name="/search")
    assert len(client.predict("a cat", 3, api_name="/search")) == 3
    server_log = capfd.readouterr().err  # the server runs in this process: its stderr is captured here
    assert "Traceback" not in server_log  # a user's mistake is not a fault
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].startswith("/search refused: ") and message in refusals[0]


def test_only_the_search_endpoints_that_work_on_the_set_are_public(served):
    _, client, _ = served
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/search", "/similar"]  # the demo has no captioner: no search by image offered
    assert [p["parameter_name"] for p in endpoints["/search"]["parameters"]] == ["query", "k", "datasets", "mode", "labels",
                                                                                 "offset"]


def _file_status(url, target):
    return httpx.get(f"{url.rstrip('/')}/gradio_api/file={target}", timeout=10).status_code


def test_artifact_images_are_served(served):
    url, _, engine = served
    assert _file_status(url, engine.artifacts.folder / "images" / "0.jpg") == 200


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        str(DEMO_ARTIFACTS / "manifest.json"),
        str(DEMO_ARTIFACTS / "embedding.pkl"),
        str(REPO / "app.py"),
        str(DEMO_ARTIFACTS / "images" / ".." / "manifest.json"),
        urllib.parse.quote(str(DEMO_ARTIFACTS / "images" / ".." / "manifest.json"), safe=""),
        str(DEMO_ARTIFACTS / "images").upper() + "/../MANIFEST.JSON",
        "../../../../etc/passwd",
        "demo/artifacts/manifest.json",
        str(DEMO_ARTIFACTS / "images") + "/%2e%2e/manifest.json",
        urllib.parse.quote(urllib.parse.quote(str(DEMO_ARTIFACTS / "images" / ".." / "embedding.pkl"), safe=""), safe=""),
        str(DEMO_ARTIFACTS / "images" / ".." / ".." / ".." / "imagesearch" / "config.py"),
    ],
)
def test_files_outside_the_artifact_images_are_refused(served, target):
    url, _, _ = served
    assert _file_status(url, target) in (403, 404)


def _run_app(env_extra, timeout=120):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_app_refuses_to_start_on_a_tampered_set_with_one_line(tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    (folder / "images" / "5.jpg").write_bytes(b"swapped")
    result = _run_app({"ARTIFACTS_DIR": str(folder), "GRADIO_SERVER_PORT": str(free_port())})
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: images/5.jpg: sha256") and "re-download" in last


def test_app_refuses_a_model_override_that_differs_from_the_manifest(tmp_path):
    result = _run_app({"EMBEDDER": "sentence-transformers/all-mpnet-base-v2", "GRADIO_SERVER_PORT": str(free_port())})
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: manifest.json: vectors were made with 'sentence-transformers/all-MiniLM-L6-v2'")


def test_app_refuses_a_bad_setting_with_one_line():
    result = _run_app({"QUEUE_MAX_SIZE": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: QUEUE_MAX_SIZE='lots' is not an integer; set it to a number from 1 to 10000"


def test_view_api_gives_real_types_and_docstrings_for_every_endpoint(served):
    _, client, _ = served
    text = client.view_api(print_info=False, return_format="str")
    assert "Any" not in text
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, endpoint in endpoints.items():
        assert endpoint["description"], name
        (returned,) = endpoint["returns"]
        assert returned["type"] and returned["python_type"]["type"] != "Any", name
    result = endpoints["/search"]["returns"][0]["type"]["items"]["properties"]
    assert {"rank", "id", "score", "dense_score", "lexical_score", "matched", "band", "description", "image"} <= set(result)


def test_offset_pages_through_one_ranking_and_every_result_has_its_band(served):
    _, client, _ = served
    first = client.predict("a photo of space", 10, api_name="/search")
    second = client.predict("a photo of space", 5, None, "hybrid", None, 5, api_name="/search")
    assert [r["id"] for r in second] == [r["id"] for r in first[5:]] and [r["rank"] for r in second] == [6, 7, 8, 9, 10]
    assert {r["band"] for r in first} <= {"strong", "fair", "weak"} and first[0]["band"] != "weak"
    nothing = client.predict("zxqv", 3, api_name="/search")
    assert [r["band"] for r in nothing] == ["weak"] * 3  # the docstring: all weak means nothing matches well


def test_minus_words_and_quoted_phrases_filter_through_the_api(served):
    _, client, _ = served
    motorcycles = client.predict("a red motorcycle", 2, api_name="/search")
    assert sorted(r["source"] for r in motorcycles) == ["motorcycle_left", "motorcycle_right"]
    without = client.predict("a red motorcycle -garage", 20, api_name="/search")
    assert "motorcycle_left" not in {r["source"] for r in without} and without[0]["source"] == "motorcycle_right"
    phrase = client.predict('"chrome engine"', 20, api_name="/search")
    assert [r["source"] for r in phrase] == ["motorcycle_left"]


def test_without_downloads_the_image_is_a_dict_naming_the_file_on_the_server(served):
    url, _, _ = served
    client = Client(url, verbose=False, download_files=False)
    try:
        image = client.predict("a cat", 1, api_name="/search")[0]["image"]
        assert isinstance(image, dict) and image["url"].startswith("http") and "/gradio_api/file=" in image["url"]
        assert image["path"].endswith(".jpg")
    finally:
        client.close()
