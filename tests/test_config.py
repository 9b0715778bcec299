"""Settings are parsed once, at the edge, with one-line errors."""

import sys

import pytest

from imagesearch.serve.config import DEMO_ARTIFACTS, AppConfig
from imagesearch.errors import ConfigError
from imagesearch.serve.memory import limit_malloc_arenas


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_malloc_arena_limit_applies_on_glibc_and_zero_keeps_the_default():
    assert limit_malloc_arenas(2) is True
    assert limit_malloc_arenas(0) is False
