"""Settings are parsed once, at the edge, with one-line errors."""


import pytest

from imagesearch.errors import ConfigError
from imagesearch.serve.config import DEMO_ARTIFACTS, AppConfig


def test_nothing_set_serves_the_demo_on_loopback():
    config = AppConfig.from_env({})
    assert config.artifacts_dir == DEMO_ARTIFACTS and config.artifacts_repo is None
    assert (config.host, config.port, config.queue_size, config.session_capacity, config.malloc_arenas) == ("127.0.0.1", 7860, 64, 256, 2)


def test_on_a_space_the_app_listens_on_all_interfaces():
    assert AppConfig.from_env({"SYSTEM": "spaces"}).host == "0.0.0.0"


@pytest.mark.parametrize("name, value", [("QUEUE_MAX_SIZE", "0"), ("CONCURRENCY_LIMIT", "lots"), ("SESSION_CAPACITY", "-5"),
                                         ("MALLOC_ARENAS", "1000"), ("GRADIO_SERVER_PORT", "70000")])
def test_bad_numbers_are_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=rf"^{name}="):
        AppConfig.from_env({name: value})




def test_artifacts_dir_wins_over_artifacts_repo():
    config = AppConfig.from_env({"ARTIFACTS_DIR": "/data/set", "ARTIFACTS_REPO": "alice/x", "ARTIFACTS_REVISION": "b" * 40})
    assert config.artifacts_repo is None and str(config.artifacts_dir) == "/data/set"
    config = AppConfig.from_env({"ARTIFACTS_REPO": "alice/x", "HF_TOKEN": "secret", "HF_HUB_OFFLINE": "1"})
    assert config.artifacts_repo == "alice/x" and "secret" not in repr(config) and config.hub_offline
