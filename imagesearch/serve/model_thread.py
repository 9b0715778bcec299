"""Every torch call of the server on one long-lived thread.

torch's CPU kernels run on libgomp's OpenMP teams, one team per thread that calls them. Once two threads'
teams exist, libgomp counts more threads than cores and stops spinning between parallel regions: each small
op then waits on a futex wake-up. Measured here (2 cores, torch 2.13): 3,000 batch-1 Linear calls take 0.075 s
on the one thread that ever ran torch and 0.68 s once a second thread had run it too; a Florence-2-base caption
at batch 1 took 2.1 s on the main thread and 3.8 s on a worker thread. Gradio answers each request on one of
its many worker threads, so the query encoder and the captioner are loaded and called here instead, on one
thread, and the server's other threads never touch torch.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_thread: threading.Thread | None = None


def _started() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model", initializer=_remember)
        return _executor


def _remember() -> None:
    global _thread
    _thread = threading.current_thread()


def on_model_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` run on the model thread (directly when already on it); its result or error."""
    if threading.current_thread() is _thread:
        return function(*args, **kwargs)
    return _started().submit(function, *args, **kwargs).result()


def model_thread_name() -> str | None:
    return _thread.name if _thread is not None else None
