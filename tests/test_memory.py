"""Memory limits applied from inside the process."""

import sys

import pytest

from imagesearch.serve.memory import limit_malloc_arenas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_malloc_arena_limit_applies_on_glibc_and_zero_keeps_the_default():
    assert limit_malloc_arenas(2) is True
    assert limit_malloc_arenas(0) is False
