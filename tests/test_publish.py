"""Publish, through huggingface_hub's real HTTP code.

The fake is at the transport seam (testkit/fake_hub.py): the library builds the
requests, retries, raises its own errors and writes its own downloads; the
tests read the requests that reached the "server".
"""

import json
import shutil
import subprocess
import sys

import pytest

from build.cli import main as build_main
from build.publishing.card import CARD
from imagesearch.errors import ArtifactError
from imagesearch.serve.config import DEMO_ARTIFACTS
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records, write_records
from testkit.hub_replies import error
from testkit.paths import REPO
from testkit.published import REPO_ID, SMALL, publish, start


def subset(tmp_path, keep):
    """A copy of the demo set that keeps only the first ``keep`` rows (ids stay as they were)."""
    from build.embed import EmbedConfig, run_embed
    from build.index import IndexConfig, run_index
    from imagesearch.models.encoder import MINILM, packaged_path

    folder = tmp_path / f"subset-{keep}"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    records = read_records(folder / mf.DESCRIPTIONS)[:keep]
    write_records(folder / mf.DESCRIPTIONS, records)
    manifest = mf.read_manifest(folder)
    mf.write_manifest(folder, dict(manifest, embedding=None, index=None), records)
    run_embed(EmbedConfig(folder, str(packaged_path(MINILM))))
    run_index(IndexConfig(folder))
    return folder


def test_first_publish_is_shard_commits_then_one_set_commit_each_on_the_last(hub, capsys):
    sha = publish()
    assert capsys.readouterr().out.strip().splitlines()[-1] == sha == hub.head(REPO_ID)
    commits = hub.commits_sent()
    assert len(commits) == 3  # 8 shards in commits of at most 5 files, then the set
    chain = [c[0]["value"]["parentCommit"] for c in commits]
    repo = hub.repos[("dataset", REPO_ID)]
    assert chain[0] == list(repo.commits)[0]  # the head publish inspected (the repo's first commit)
    assert len(set(chain)) == 3 and all(parent in repo.commits for parent in chain)
    for payload in commits:
        assert len(payload) - 1 <= SMALL["limits"].max_operations  # operations per commit, as sent
    shard_paths = [op["value"]["path"] for c in commits[:2] for op in c[1:]]
    assert all(p.startswith("data/train-") and p.endswith(".parquet") for p in shard_paths)
    files = hub.files(REPO_ID, sha)
    published = json.loads(files[mf.MANIFEST].read())
    assert sorted(published["published"]["shards"]) == sorted(shard_paths)
    assert {mf.MANIFEST, mf.DESCRIPTIONS, mf.EMBEDDING, mf.INDEX, CARD} <= set(files)
    assert not [p for p in files if p.startswith("images/")]  # the images are inside the shards






def test_a_publish_killed_between_commits_leaves_the_old_set_and_a_rerun_resumes(hub, tmp_path):
    old = publish(subset(tmp_path, 21))
    new_set = DEMO_ARTIFACTS  # the same 21 rows and 2 more: only the shards holding new rows are new
    # the process dies after the shard commit of the new set (every later commit fails)
    commits = []

    def second_commit(request):
        if request.method == "POST" and "/commit/" in request.url.path:
            commits.append(request)
            return len(commits) >= 2
        return False

    hub.fail(second_commit, lambda r: error(503, "Service Unavailable"), times=None)
    with pytest.raises(ArtifactError, match=r"commit 2 of \d+ \(set\) to alice/caption-search-data: the Hub failed \(HTTP 503\)"):
        publish(new_set)
    head = hub.head(REPO_ID)
    assert head != old  # the first shard commit landed ...
    assert start(tmp_path, "main").artifacts.count == 21  # ... and main still serves the old set, whole

    hub._faults.clear()
    uploaded_before = {s.path for s in hub.requests("PUT", "/lfs-upload/")}
    mark = len(hub.sent)
    sha = publish(new_set)
    again = {s.path for s in hub.requests("PUT", "/lfs-upload/")[len(uploaded_before):]}
    rerun_commits = [s.ndjson() for s in hub.sent[mark:] if "/commit/" in s.path]
    assert rerun_commits[0][0]["value"]["parentCommit"] == head  # resumed on top of what landed
    landed = {op["value"]["path"] for op in hub.commits_sent()[1][1:]}
    assert not landed & {op["value"]["path"] for c in rerun_commits for op in c[1:]}  # not committed twice
    assert not again & uploaded_before  # nor uploaded twice
    assert start(tmp_path, sha).artifacts.count == 23


def test_a_one_off_5xx_during_an_upload_is_retried_by_the_client(hub):
    hub.fail(lambda r: r.method == "PUT", lambda r: error(500, "Internal Server Error"))
    sha = publish()
    puts = [s.path for s in hub.requests("PUT")]
    assert len(puts) == len(set(puts)) + 1  # one object was sent twice
    assert sha == hub.head(REPO_ID)


def test_a_lasting_5xx_during_an_upload_is_one_line_and_nothing_is_committed(hub):
    hub.repo(REPO_ID)
    head = hub.head(REPO_ID)
    hub.fail(lambda r: r.method == "PUT", lambda r: error(503, "Service Unavailable"), times=None)
    with pytest.raises(ArtifactError) as caught:
        publish()
    assert "the Hub failed (HTTP 503); rerun later: files already uploaded are not sent again" in str(caught.value)
    assert "\n" not in str(caught.value) and hub.head(REPO_ID) == head


def test_a_concurrent_push_stops_the_publish_with_moved_on(hub, monkeypatch):
    import build.publish as publish_module

    hub.repo(REPO_ID)
    real = publish_module.read_remote

    def then_someone_pushes(*args, **kwargs):
        remote = real(*args, **kwargs)
        hub.push_elsewhere(REPO_ID)
        return remote

    monkeypatch.setattr(publish_module, "read_remote", then_someone_pushes)
    with pytest.raises(ArtifactError, match=f"^{REPO_ID} moved on since this publish started .*; rerun$"):
        publish()
    theirs = hub.head(REPO_ID)
    assert "other.txt" in hub.files(REPO_ID, theirs) and mf.MANIFEST not in hub.files(REPO_ID, theirs)


@pytest.mark.parametrize("token, expected", [
    ("hf_unknown", "checking the token for alice/caption-search-data: the Hub refused the token (401)"),
    ("hf_read", "the token of alice is read-only"),
    ("hf_fine_bob", "checking write access to alice/caption-search-data: the token may not do this (403 Forbidden)"),
])
def test_a_token_that_cannot_write_is_refused_before_any_upload(hub, token, expected):
    hub.repo(REPO_ID)
    with pytest.raises(ArtifactError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        publish(token=token)
    assert not hub.requests("POST", "/preupload/") and not hub.requests("PUT") and not hub.commits_sent()


def test_a_fine_grained_token_with_write_access_to_the_repo_publishes(hub):
    hub.repo(REPO_ID)
    assert publish(token="hf_fine_alice") == hub.head(REPO_ID)


def test_a_hub_error_in_the_cli_is_one_line_about_the_hub_not_a_local_folder(hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_fine_bob")
    hub.repo(REPO_ID)
    assert build_main(["publish", "--artifacts", str(DEMO_ARTIFACTS), "--repo", REPO_ID]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: checking write access to {REPO_ID}: the token may not do this (403")
    assert "previous artifact set is unchanged" not in err[-1]










def test_republishing_the_same_set_uploads_nothing(hub, capsys):
    first = publish()
    before = len(hub.sent)
    assert publish() == first
    assert not [s for s in hub.sent[before:] if s.method == "PUT" or "/commit/" in s.path]


def test_dropping_more_than_a_tenth_of_the_published_rows_needs_allow_shrink(hub, tmp_path):
    publish()
    smaller = subset(tmp_path, 20)  # 3 of 23 rows gone: 13 %
    with pytest.raises(ArtifactError, match=r"drops 3 of the 23 rows published at [0-9a-f]{12} \(13 %, more than 10%\); pass --allow-shrink"):
        publish(smaller)
    sha = publish(smaller, allow_shrink=True)
    assert start(tmp_path, sha).artifacts.count == 20


def test_a_dry_run_of_a_refused_publish_exits_as_the_real_one_would_with_the_refusal_in_its_json(hub, tmp_path,
                                                                                               capsys):
    publish()
    smaller = subset(tmp_path, 20)
    sent = len(hub.commits_sent())
    capsys.readouterr()
    with pytest.raises(ArtifactError, match=r"^publish would refuse: .*drops 3 of the 23 rows"):
        publish(smaller, dry_run=True, token=None, json=True)
    plan = json.loads(capsys.readouterr().out)
    assert "drops 3 of the 23 rows" in plan["refused"] and plan["commits"]
    assert len(hub.commits_sent()) == sent  # a dry run sends nothing
    publish(smaller, dry_run=True, token=None, json=True, allow_shrink=True)
    assert json.loads(capsys.readouterr().out)["refused"] is None


def test_a_new_layout_replaces_a_one_file_per_image_repo_with_one_folder_deletion(hub):
    hub.repo(REPO_ID, files={f"images/{i}.jpg": b"x%d" % i for i in range(150)} | {"embeddings.pkl": b"old"})
    publish()
    payloads = hub.commits_sent()
    deletions = [op["value"] for c in payloads for op in c[1:] if op["key"].startswith("deleted")]
    assert {"path": "images/"} in deletions and {"path": "embeddings.pkl"} in deletions
    assert all(len(c) - 1 <= SMALL["limits"].max_operations for c in payloads)
    assert not [p for p in hub.files(REPO_ID) if p.startswith("images/") or p == "embeddings.pkl"]


def test_dry_run_json_is_the_plan_offline_and_sends_nothing(tmp_path):
    env = dict(__import__("os").environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "build", "publish", "--artifacts", str(DEMO_ARTIFACTS), "--repo", REPO_ID,
                             "--dry-run", "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = json.loads(result.stdout)
    assert plan["repo"] == REPO_ID and plan["head"] is None
    assert "planning against an empty repo" in result.stderr
    assert [c["kind"] for c in plan["commits"]] == ["shards", "set"]  # 23 small images: one shard
    ops = [op for c in plan["commits"] for op in c["operations"]]
    assert all(set(op) == {"op", "path", "size", "sha256"} and op["op"] == "add" for op in ops)
    manifest = mf.read_manifest(DEMO_ARTIFACTS)
    by_path = {op["path"]: op for op in ops}
    for name in (mf.DESCRIPTIONS, mf.EMBEDDING, mf.INDEX):
        assert by_path[name]["sha256"] == manifest["files"][name]["sha256"]
        assert by_path[name]["size"] == manifest["files"][name]["bytes"]
    assert [p for p in by_path if p.startswith("data/")] and not [p for p in by_path if p.startswith("images/")]
    assert not list(DEMO_ARTIFACTS.glob(".publish-*"))  # the staging folder is gone


def test_dry_run_against_a_reachable_repo_lists_its_deletions(hub, capsys):
    hub.repo(REPO_ID, files={"images/old.jpg": b"old"})
    assert publish(dry_run=True, token=None) is None
    out = capsys.readouterr().out
    assert "  add    description.csv" in out and "  delete images/ (folder)" in out and "nothing was sent" in out
    assert not hub.commits_sent() and not hub.requests("PUT")










def test_a_staging_folder_left_by_a_killed_publish_is_removed_by_the_next(hub, tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    left = folder / ".publish-killed" / "data"
    left.mkdir(parents=True)
    (left / "train-00000-partial.parquet").write_bytes(b"\0" * 4096)
    publish(folder)
    assert not list(folder.glob(".publish-*"))
