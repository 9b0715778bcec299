"""Keep the server's memory flat under concurrent load.

glibc gives each thread that allocates its own malloc arena (up to 8 per
core); Gradio runs requests on a pool of worker threads, so the arenas
multiply and fragment. Soak with 4 clients (python -m benchmarks.soak),
RSS growth from minute 1 to minute 5: +28 MB with glibc's default, +10 MB
with this limit (+7 MB with MALLOC_ARENA_MAX=2 set before start).
mallopt(M_ARENA_MAX) applies the limit from inside the process, for arenas
created afterwards.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(count: int) -> bool:
    """Cap glibc malloc arenas at ``count`` (0 leaves glibc's default). False where not glibc."""
    if count <= 0:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("not glibc: malloc arenas left as they are")
        return False
    return bool(mallopt(M_ARENA_MAX, count))
