"""Whatever a caller sends, the search answers with results or a clear message, and keeps answering."""

import json
import math

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradio_client.exceptions import AppError

from imagesearch.errors import QueryError
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.serve.query_syntax import parse_query
from imagesearch.serve.request import MAX_K, clamp_k, clean_query
from imagesearch.serve.search import SearchEngine
from imagesearch.store.artifacts import load_artifact_set

HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(["", " ", "\t\n\r", "\x00", "\x00cat\x00", "\u202eupside down\u202c", "\u200f\u200e", "😀🐈‍⬛🚀" * 30,
                     "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\ufeff", "a" * 513]),
    st.integers(10_000, 1_000_000).map(lambda n: "red dress " * (n // 10)),
)
ANY_K = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                  st.none(), st.booleans(), st.just([3]))
ANY_DATASETS = st.one_of(st.none(), st.text(max_size=12),
                         st.lists(st.sampled_from(["scikit-image", "scikit-learn", "nope", "", "../etc", "SCIKIT-IMAGE"]), max_size=3))


KNOWN_REFUSALS = ("Type a few words", "Add words to search for", "offset must be", "The query must be text", "k must be",
                  "Unknown dataset", "mode must be", "Unknown label", "No image has id", "id must be",
                  "A query takes at most", "No more results")


@pytest.fixture(scope="module")
def engine(minilm):
    return SearchEngine(load_artifact_set(DEMO_ARTIFACTS), lambda text: minilm.encode([text])[0])


def _expected_count(k, datasets):
    sizes = {"scikit-image": 21, "scikit-learn": 2}
    if isinstance(datasets, str):
        datasets = [datasets] if datasets.strip() else None
    pool = sum(sizes[d] for d in set(datasets)) if datasets else 23
    return min(clamp_k(k), pool)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=HOSTILE_TEXT, k=ANY_K, datasets=ANY_DATASETS)
def test_search_function_answers_anything_with_results_or_a_clear_message(engine, query, k, datasets):
    try:
        results = engine.search(query, k, datasets)
    except QueryError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        return
    narrowed = parse_query(clean_query(query)).filters  # a quoted phrase or a -word may leave fewer rows
    assert len(results) <= _expected_count(k, datasets) if narrowed else len(results) == _expected_count(k, datasets)
    assert [r.rank for r in results] == list(range(1, len(results) + 1))
    assert len({r.id for r in results}) == len(results) and all(r.id >= 0 for r in results)
    assert all(math.isfinite(r.score) for r in results)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=HOSTILE_TEXT, k=st.one_of(st.integers(-10**9, 10**9), st.text(max_size=4), st.none()),
       datasets=st.one_of(st.none(), st.lists(st.sampled_from(["scikit-learn", "nope", "../x"]), max_size=2)))
def test_api_answers_anything_and_the_server_keeps_answering(served, query, k, datasets):  # noqa: F811
    _, client, _ = served
    try:
        results = client.predict(query, k, datasets, api_name="/search")
    except (AppError, ValueError) as exc:  # the server's refusal (AppError), or the client's for a mistyped value
        message = str(exc).strip()
        assert message and "\n" not in message and "Traceback" not in message and message not in ("None", "null", "Error")
        if isinstance(exc, AppError):  # one of the engine's own one-line messages, never a bare failure
            assert message.startswith(KNOWN_REFUSALS), message
    else:
        assert isinstance(results, list) and len(results) <= MAX_K
    assert len(client.predict("a cat", 2, None, api_name="/search")) == 2


@pytest.mark.parametrize("body", ['{"data": ["cat", NaN, null]}', '{"data": ["cat", 1e999, null]}', '{"data": [null, 5, null]}',
                                  '{"data": []}', '{"data": "cat"}', "not json", '{"data": ["cat", 5, {"a": 1}]}'])
def test_malformed_raw_requests_get_an_error_not_a_crash(served, body):  # noqa: F811
    url, client, _ = served
    with httpx.Client(base_url=url, timeout=30) as http:
        response = http.post("/gradio_api/call/search", content=body, headers={"content-type": "application/json"})
        if response.status_code == 200:
            event = response.json()["event_id"]
            stream = http.get(f"/gradio_api/call/search/{event}").text
            assert "event: error" in stream
            error = json.loads(stream.split("event: error\ndata: ", 1)[1].strip())
            assert isinstance(error, dict) and isinstance(error["error"], str), stream  # never {"error": null}
            assert error["error"].startswith(KNOWN_REFUSALS) and "\n" not in error["error"], error
        else:
            assert 400 <= response.status_code < 500 and response.json()["detail"]
    assert len(client.predict("a rocket", 3, None, api_name="/search")) == 3


@pytest.mark.parametrize("data, count", [(["a cat"], 5), (["a cat", 3], 3), (["a cat", 3, None], 3),
                                         (["a cat", 3, None, "dense"], 3)])
def test_raw_callers_may_leave_out_trailing_parameters(served, data, count):  # noqa: F811
    """Plain HTTP callers written when /search took three values keep working: the rest take their defaults."""
    url, _, _ = served
    with httpx.Client(base_url=url, timeout=30) as http:
        event = http.post("/gradio_api/call/search", json={"data": data}).json()["event_id"]
        stream = http.get(f"/gradio_api/call/search/{event}").text
    assert "event: complete" in stream, stream[-300:]
    results = json.loads(stream.split("event: complete\ndata: ", 1)[1].strip())[0]
    assert len(results) == count and results[0]["description"]
