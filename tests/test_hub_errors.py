"""Whatever the Hub client raised becomes one line: the operation, the repo, what happened and the fix."""

import httpx2
import pytest

from imagesearch.errors import ArtifactError
from imagesearch.hub.errors import HubError, explain, hub_call, status_of


class Failed(OSError):
    """An HTTP error the way huggingface_hub raises it: an OSError carrying the response."""

    def __init__(self, status):
        super().__init__(f"{status} Client Error\nlong body")
        self.response = httpx2.Response(status)


@pytest.mark.parametrize("status, words", [
    (401, "refused the token (401); set HF_TOKEN"), (403, "may not do this (403 Forbidden)"),
    (404, "repo not found (HTTP 404)"), (412, "moved on since this publish started"),
    (429, "rate-limited"), (503, "the Hub failed (HTTP 503); rerun later"),
])
def test_each_status_gets_its_own_fix(status, words):
    line = explain(Failed(status), "uploading to", "alice/data")
    assert words in line and "\n" not in line and "alice/data" in line


def test_the_status_is_found_under_a_wrapper_and_a_network_failure_says_so():
    try:
        try:
            raise Failed(403)
        except Failed as inner:
            raise RuntimeError("upload failed") from inner
    except RuntimeError as outer:
        assert "403 Forbidden" in explain(outer, "uploading to", "alice/data")
    assert status_of(ValueError("x")) is None
    assert "could not reach the Hub" in explain(ConnectionError("no route"), "reading", "alice/data")


def test_hub_call_turns_any_client_failure_into_a_hub_error_and_lets_ours_through():
    with pytest.raises(HubError, match="^reading alice/data: the Hub failed"):
        with hub_call("reading", "alice/data"):
            raise Failed(500)
    with pytest.raises(ArtifactError, match="^ours$"):
        with hub_call("reading", "alice/data"):
            raise ArtifactError("ours")
