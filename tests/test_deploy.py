"""Deploy: the Space's code in one commit, its sha printed, then the variables that pin the artifact set."""


import pytest

from build.deploy import DeployConfig, run_deploy
from imagesearch.errors import ArtifactError
from testkit.hub_replies import error
from testkit.published import REPO_ID


def test_deploy_pushes_the_code_in_one_commit_prints_its_sha_then_sets_the_variables(hub, capsys):
    hub.fail(lambda r: r.url.path.endswith("/variables"), lambda r: error(500, "boom"), times=None)
    with pytest.raises(ArtifactError, match="setting the variables of alice/caption-search: the Hub failed"):
        run_deploy(DeployConfig("alice/caption-search", REPO_ID, "b" * 40, token="hf_write"))
    sha = capsys.readouterr().out.strip()
    assert sha == hub.head("alice/caption-search", "space")  # printed before the variables were touched
    [payload] = hub.commits_sent()
    paths = {op["value"]["path"] for op in payload[1:]}
    assert {"app.py", "requirements.txt", "README.md", "imagesearch/serve/search.py", "demo/artifacts/manifest.json"} <= paths
    assert not any(p.startswith(("build/", "tests/", "testkit/", "benchmarks/")) for p in paths)
    assert {"imagesearch/store/manifest.py", "imagesearch/models/encoder.py", "imagesearch/hub/download.py"} <= paths
    hub._faults.clear()
    run_deploy(DeployConfig("alice/caption-search", REPO_ID, "b" * 40, token="hf_write"))
    assert hub.repos[("space", "alice/caption-search")].variables == {"ARTIFACTS_REPO": REPO_ID, "ARTIFACTS_REVISION": "b" * 40}


def test_a_space_with_many_stale_files_is_cleaned_in_commits_the_hub_accepts(hub, capsys):
    from build.deploy import MAX_OPERATIONS, space_files

    stale = {f"old/file-{i}.txt": b"x" for i in range(150)}
    hub.repo("alice/caption-search", "space", files=stale)
    run_deploy(DeployConfig("alice/caption-search", REPO_ID, "b" * 40, token="hf_write"))
    sent = hub.commits_sent()
    operations = [len(payload) - 1 for payload in sent]  # the first line of a payload is the commit header
    assert len(sent) == 3 and max(operations) <= MAX_OPERATIONS
    assert sum(operations) == len(space_files()) + 150
    assert capsys.readouterr().out.strip() == hub.head("alice/caption-search", "space")
    assert not any(path.startswith("old/") for path in hub.files("alice/caption-search", "main", "space"))


def test_a_killed_publishs_staging_folder_is_never_shipped_to_the_space(tmp_path):
    from build.deploy import space_files

    for name in ("app.py", "requirements.txt", "README.md", "imagesearch/x.py", "demo/artifacts/manifest.json",
                 "demo/artifacts/.publish-abc/data/train-00000.parquet"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    names = [name for name, _ in space_files(tmp_path)]
    assert "demo/artifacts/manifest.json" in names and not any(".publish-" in name for name in names)
