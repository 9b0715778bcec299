"""A set published to the fake Hub and a Space started from it: what the publish, download and deploy tests share."""

from __future__ import annotations

from build.publish import PublishConfig, run_publish
from build.publishing.plan import Limits
from testkit.fake_hub import FakeHub
from testkit.hub_replies import whoami
from testkit.paths import DEMO_ARTIFACTS

REPO_ID = "alice/caption-search-data"
# the demo's 23 images: 9 shards, 2 shard commits; the set commit holds 7 files
SMALL = dict(limits=Limits(max_operations=7), shard_bytes=60_000)
TOKENS = {
    "hf_write": whoami("alice", "write"),
    "hf_read": whoami("alice", "read"),
    "hf_fine_bob": whoami("alice", "fineGrained", write_to=("bob",)),
    "hf_fine_alice": whoami("alice", "fineGrained", write_to=(REPO_ID,)),
}


def fake_hub(monkeypatch) -> FakeHub:
    """The fake Hub at huggingface_hub's transport seam, knowing the tokens above; FakeHub.uninstall() after."""
    return FakeHub(tokens=TOKENS).install(monkeypatch)


def publish(folder=DEMO_ARTIFACTS, **options):
    """Publish ``folder`` to REPO_ID in small commits with a write token."""
    options = {"token": "hf_write", **SMALL, **options}
    return run_publish(PublishConfig(folder, REPO_ID, **options))


def start(tmp_path, revision, **options):
    """Start the app (in-process) on REPO_ID@revision with its cache under ``tmp_path``; returns its engine."""
    import app
    from imagesearch.serve.config import AppConfig

    config = AppConfig(artifacts_repo=REPO_ID, artifacts_revision=revision, artifacts_cache=tmp_path / "cache", **options)
    return app.build_app(config)[1]
