"""Opening the served set: a local folder as it is, its encoder proven to be the one that made its vectors."""

import shutil

import pytest

from imagesearch.errors import ArtifactError
from imagesearch.models.encoder import MINILM, load_encoder
from imagesearch.serve.config import AppConfig
from imagesearch.serve.startup import open_served_set, open_verified
from testkit.paths import DEMO_ARTIFACTS


def test_a_local_folder_is_served_with_the_encoder_its_manifest_names():
    artifacts, encoder = open_served_set(AppConfig.from_env({}))
    assert artifacts.folder == DEMO_ARTIFACTS.resolve() and artifacts.count == 23
    assert encoder.model_id == MINILM and encoder is load_encoder(MINILM, "cpu")  # the process's one copy
    assert open_served_set(AppConfig.from_env({"EMBEDDER": MINILM}))[0].count == 23


@pytest.mark.parametrize("variable", ["EMBEDDER", "EMBEDDING_MODEL"])
def test_an_embedder_override_that_is_not_the_sets_is_refused_under_either_name(variable):
    config = AppConfig.from_env({variable: "sentence-transformers/all-mpnet-base-v2"})
    with pytest.raises(ArtifactError, match="vectors were made with 'sentence-transformers/all-MiniLM-L6-v2' but EMBEDDER"):
        open_served_set(config)


def test_a_manifest_already_read_is_used_as_given(tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    (folder / "manifest.json").unlink()  # only the copy handed in can answer
    from imagesearch.store.manifest import read_manifest

    artifacts, _ = open_verified(folder, manifest=read_manifest(DEMO_ARTIFACTS))
    assert artifacts.count == 23
