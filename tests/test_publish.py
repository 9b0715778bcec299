"""Publishing and Hub startup, tested up to the network seam: only HfApi's network calls are faked."""

import shutil
import subprocess
import sys
from types import SimpleNamespace

import huggingface_hub
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, HfApi

import app
from build.deploy import DeployConfig, run_deploy
from build.publish import CARD, PARQUET, PublishConfig, plan_uploads, run_publish
from imagesearch import manifest as mf
from imagesearch.config import DEMO_ARTIFACTS, AppConfig
from imagesearch.errors import ArtifactError
from imagesearch.hub import local_folder
from tests.conftest import REPO

HEAD = "a" * 40
NEW = "b" * 40


class FakeHub:
    """Records the calls HfApi would send; the remote holds a stale build."""

    def __init__(self, role="write", remote=(".gitattributes", "README.md", "images/old.jpg", "embeddings.pkl")):
        self.calls, self.role, self.remote = [], role, list(remote)

    def install(self, monkeypatch):
        for name in ("whoami", "create_repo", "repo_info", "list_repo_files", "create_commit", "create_tag", "delete_tag",
                     "add_space_variable"):
            monkeypatch.setattr(HfApi, name, getattr(self, "_" + name))
        monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_token_from_login")
        return self

    def names(self):
        return [name for name, _, _ in self.calls]

    def _record(self, name, args, kwargs):
        self.calls.append((name, args, kwargs))

    def _whoami(self, token=None, **kw):
        self._record("whoami", (), dict(kw, token=token))
        return {"name": "alice", "auth": {"accessToken": {"role": self.role}}}

    def _create_repo(self, repo_id, **kw):
        self._record("create_repo", (repo_id,), kw)

    def _repo_info(self, repo_id, **kw):
        self._record("repo_info", (repo_id,), kw)
        return SimpleNamespace(sha=HEAD)

    def _list_repo_files(self, repo_id, **kw):
        self._record("list_repo_files", (repo_id,), kw)
        return list(self.remote)

    def _create_commit(self, repo_id, operations, **kw):
        self._record("create_commit", (repo_id, list(operations)), kw)
        return SimpleNamespace(oid=NEW)

    def _create_tag(self, repo_id, **kw):
        self._record("create_tag", (repo_id,), kw)

    def _delete_tag(self, repo_id, **kw):
        self._record("delete_tag", (repo_id,), kw)

    def _add_space_variable(self, repo_id, key, value, **kw):
        self._record("add_space_variable", (repo_id, key, value), kw)


@pytest.fixture
def hub(monkeypatch):
    return FakeHub().install(monkeypatch)


def _commit(hub):
    [(_, (repo, operations), kwargs)] = [c for c in hub.calls if c[0] == "create_commit"]
    return repo, operations, kwargs


def test_publish_sends_one_commit_with_every_file_and_the_deletions(hub, capsys):
    sha = run_publish(PublishConfig(DEMO_ARTIFACTS, "alice/caption-search-data", tag="live"))
    assert sha == NEW and capsys.readouterr().out.strip().splitlines()[-1] == NEW
    repo, operations, kwargs = _commit(hub)
    assert repo == "alice/caption-search-data"
    assert kwargs["parent_commit"] == HEAD and kwargs["repo_type"] == "dataset"
    adds = [op.path_in_repo for op in operations if isinstance(op, CommitOperationAdd)]
    deletes = [op.path_in_repo for op in operations if isinstance(op, CommitOperationDelete)]
    manifest = mf.read_manifest(DEMO_ARTIFACTS)
    assert adds == sorted(list(manifest["files"]) + [mf.MANIFEST, PARQUET, CARD])
    assert deletes == ["embeddings.pkl", "images/old.jpg"]  # .gitattributes and README.md stay or are replaced
    assert hub.names().count("create_commit") == 1
    tags = [c for c in hub.calls if c[0] == "create_tag"]
    assert tags[-1][2]["revision"] == NEW and tags[-1][2]["tag"] == "live"


def test_a_set_the_app_would_refuse_is_never_published(hub, tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    (folder / "images" / "3.jpg").write_bytes(b"changed")
    with pytest.raises(ArtifactError, match="images/3.jpg: sha256"):
        run_publish(PublishConfig(folder, "alice/data"))
    assert hub.calls == []


def test_dry_run_lists_files_and_deletions_and_sends_nothing(hub, capsys):
    assert run_publish(PublishConfig(DEMO_ARTIFACTS, "alice/data", dry_run=True)) is None
    out = capsys.readouterr().out
    assert "add    description.csv" in out and "sha256 " in out and "delete images/old.jpg" in out
    assert "nothing was sent" in out
    assert not {"create_commit", "create_repo", "create_tag"} & set(hub.names())


def test_missing_or_read_only_token_is_one_clear_line(monkeypatch):
    FakeHub(role="read").install(monkeypatch)
    with pytest.raises(ArtifactError, match="read-only; create a write token"):
        run_publish(PublishConfig(DEMO_ARTIFACTS, "alice/data"))
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(ArtifactError, match="no Hugging Face token: set HF_TOKEN"):
        run_publish(PublishConfig(DEMO_ARTIFACTS, "alice/data"))


def test_publish_interrupted_before_the_commit_changes_nothing(hub, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("connection reset")

    monkeypatch.setattr(HfApi, "list_repo_files", broken)
    with pytest.raises(ArtifactError, match="cannot read the repo"):
        run_publish(PublishConfig(DEMO_ARTIFACTS, "alice/data"))
    assert "create_commit" not in hub.names()


def test_parquet_and_card_load_back_as_a_hub_dataset(tmp_path):
    from datasets import load_dataset

    staging, repo = tmp_path / "staging", tmp_path / "repo"
    uploads = plan_uploads(DEMO_ARTIFACTS, staging, "alice/data")
    for upload in uploads:
        (repo / upload.path_in_repo).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upload.local, repo / upload.path_in_repo)
    rows = load_dataset(str(repo), split="train", cache_dir=str(tmp_path / "cache"))
    records = list(app.open_verified(DEMO_ARTIFACTS)[0].records)
    assert rows.num_rows == len(records)
    assert rows.column_names == ["id", "image", "description", "dataset", "source", "label"]
    for row, record in zip(rows, records):
        assert (row["id"], row["description"], row["dataset"], row["source"]) == (record.id, record.description, record.dataset, record.source)
    assert rows[4]["image"].size == __import__("PIL.Image").Image.open(DEMO_ARTIFACTS / records[4].image).size
    card = DatasetCard((repo / CARD).read_text())
    assert card.data.configs[0]["data_files"][0]["path"] == PARQUET
    assert card.data.license == "other" and card.data.task_categories == ["image-to-text", "text-to-image"]
    assert "sentence-transformers/all-MiniLM-L6-v2" in card.text and "scikit-learn" in card.text


def _hub_config(cache, revision=NEW):
    return AppConfig(artifacts_repo="alice/caption-search-data", artifacts_revision=revision, artifacts_cache=cache)


def test_startup_from_a_warm_hub_folder_needs_no_network(tmp_path):
    shutil.copytree(DEMO_ARTIFACTS, local_folder(tmp_path, "alice/caption-search-data", NEW))
    blocks, engine = app.build_app(_hub_config(tmp_path))
    assert engine.search("a cat with green eyes", 1)[0].source == "chelsea"
    assert engine.artifacts.folder == local_folder(tmp_path, "alice/caption-search-data", NEW).resolve()


def test_tampered_download_is_refused_by_checksum(tmp_path):
    folder = local_folder(tmp_path, "alice/caption-search-data", NEW)
    shutil.copytree(DEMO_ARTIFACTS, folder)
    (folder / mf.EMBEDDING).write_bytes((folder / mf.EMBEDDING).read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(ArtifactError, match="embedding.pkl: sha256"):
        app.build_app(_hub_config(tmp_path))


def test_cold_cache_offline_is_one_clear_line_and_a_nonzero_exit(tmp_path):
    env = dict(__import__("os").environ, ARTIFACTS_REPO="alice/caption-search-data", ARTIFACTS_REVISION=NEW,
               ARTIFACTS_CACHE=str(tmp_path), HF_HUB_OFFLINE="1")
    env.pop("ARTIFACTS_DIR", None)
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: alice/caption-search-data@{NEW}: could not download the artifact set (")
    assert "check ARTIFACTS_REPO, ARTIFACTS_REVISION" in last


def test_artifacts_dir_wins_over_artifacts_repo():
    config = AppConfig.from_env({"ARTIFACTS_DIR": "/data/set", "ARTIFACTS_REPO": "alice/x", "ARTIFACTS_REVISION": NEW})
    assert config.artifacts_repo is None and str(config.artifacts_dir) == "/data/set"
    config = AppConfig.from_env({"ARTIFACTS_REPO": "alice/x", "ARTIFACTS_REVISION": NEW, "HF_TOKEN": "secret"})
    assert config.artifacts_repo == "alice/x" and "secret" not in repr(config)


def test_deploy_pushes_the_space_code_in_one_commit_and_sets_the_variables(hub):
    run_deploy(DeployConfig("alice/caption-search", "alice/caption-search-data", NEW))
    repo, operations, kwargs = _commit(hub)
    adds = {op.path_in_repo for op in operations if isinstance(op, CommitOperationAdd)}
    assert {"app.py", "requirements.txt", "README.md", "imagesearch/search.py", "demo/artifacts/manifest.json"} <= adds
    assert not any(path.startswith(("build/", "tests/")) for path in adds)
    assert kwargs["repo_type"] == "space" and kwargs["parent_commit"] == HEAD
    variables = {c[1][1]: c[1][2] for c in hub.calls if c[0] == "add_space_variable"}
    assert variables == {"ARTIFACTS_REPO": "alice/caption-search-data", "ARTIFACTS_REVISION": NEW}
