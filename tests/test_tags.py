"""A tag is never silently missing: moving it retries its creation, puts it back or says how to finish, and a
Space following a tag that cannot be resolved keeps serving the last commit it named. Through the fake Hub."""

import logging

import pytest
from huggingface_hub import HfApi

from build.publishing import tags
from imagesearch.hub.errors import HubError
from testkit.hub_replies import error
from testkit.published import REPO_ID, publish, start


def creating_a_tag(request) -> bool:
    return request.method == "POST" and "/tag/" in request.url.path


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(tags, "TAG_WAITS_S", (0.0, 0.0, 0.0))


def test_a_tag_whose_creation_fails_twice_is_still_moved(hub):
    first = publish(tag="live")
    second = hub.push_elsewhere(REPO_ID)
    hub.fail(creating_a_tag, lambda request: error(503, "Service Unavailable"), times=2)
    tags.move_tag(HfApi(), REPO_ID, "live", second, "dataset", "hf_write")
    assert first != second and hub.repos[("dataset", REPO_ID)].tags["live"] == second


def test_a_tag_that_cannot_be_created_is_put_back_where_it_was_in_one_line(hub):
    first = publish(tag="live")
    second = hub.push_elsewhere(REPO_ID)
    hub.fail(creating_a_tag, lambda request: error(503, "Service Unavailable"), times=4)  # every try, not the restore
    with pytest.raises(HubError) as refused:
        tags.move_tag(HfApi(), REPO_ID, "live", second, "dataset", "hf_write")
    line = str(refused.value)
    assert "\n" not in line and f"published at {second}" in line and "after 4 tries" in line
    assert f"points at the previous set ({first[:12]}) again" in line and "same publish command again" in line
    assert hub.repos[("dataset", REPO_ID)].tags["live"] == first


def test_with_the_tag_gone_a_space_that_followed_it_serves_the_last_commit_it_named(hub, tmp_path, caplog):
    first = publish(tag="live")
    assert start(tmp_path, "live").artifacts.count == 23  # resolves live once, remembers the commit
    second = hub.push_elsewhere(REPO_ID)
    hub.fail(creating_a_tag, lambda request: error(503, "Service Unavailable"), times=None)
    with pytest.raises(HubError, match="the tag is missing until then"):
        tags.move_tag(HfApi(), REPO_ID, "live", second, "dataset", "hf_write")
    assert "live" not in hub.repos[("dataset", REPO_ID)].tags
    with caplog.at_level(logging.WARNING, logger="imagesearch.hub.download"):
        assert start(tmp_path, "live").artifacts.count == 23
    warnings = [r.getMessage() for r in caplog.records if "cannot be resolved now" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].endswith(first)
