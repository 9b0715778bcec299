"""Deploy: the Space's code in one commit, its sha printed, then the variables that pin the artifact set."""


import pytest

from build.deploy import DeployConfig, run_deploy
from imagesearch.errors import ArtifactError
from testkit.fake_hub import error
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
