"""The Ray cluster a build step runs its models on: joined (``--ray-address``) or started on this machine, with
Ray's own logging and progress bars kept off the terminal (the step draws its own), how many model actors to
start and what each holds (a GPU each where the cluster has GPUs, else CPUs), and a dead worker's cause in one
line instead of Ray's stack. Ray is imported here only, and only when a step asks for ``--engine ray``: the
Space never installs it (requirements-build.txt pins it)."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from imagesearch.errors import ConfigError, first_line

log = logging.getLogger(__name__)

INIT_DEATHS = 2  # a pool whose actors die this many times in a row while loading their model stops the run
# The threads of this process that one Ray Data stream starts and that end with it (names as in the pinned
# ray[data] 2.60.0): the executor's scheduling loop, its metadata fetcher and the iterator's workers.
STREAM_THREADS = ("StreamingExecutor-", "ray-data-metadata-prefetch", "iter_threaded")
STREAM_WAIT_S = 30.0  # how long a stream left midway may take to wind down before stop() disconnects anyway


@dataclass(frozen=True)
class Pool:
    """How many model actors, and the resources each one asks Ray for."""

    workers: int
    resources: dict[str, float]  # {"num_gpus": 1} or {"num_cpus": n}
    started_here: bool  # this call connected: stop() disconnects, ending a local Ray it started

    @property
    def threads(self) -> int:
        return max(1, int(self.resources.get("num_cpus", 1)))


def start(address: str | None, workers: int | None, device: str | None) -> Pool:
    """Join the cluster at ``address`` (or start one here) and size the actor pool for it."""
    try:
        import ray
        import ray.data  # configures its own logger on import: quieted below, after it
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install -r requirements-build.txt (ray[data] 2.60.0)") from None
    for name in ("ray", "ray.data"):  # their failures reach the user as one line (explain), never as a stack
        logging.getLogger(name).setLevel(logging.CRITICAL)
    started_here = not ray.is_initialized()  # then stop() disconnects (and ends a Ray it started here)
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                     configure_logging=False, **({} if address else {"num_cpus": os.cpu_count() or 1}))
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"--ray-address {address}: cannot join the Ray cluster ({first_line(exc, 160)}); start "
                              "it with `ray start --head` and pass the address it prints") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.max_consecutive_actor_init_deaths = INIT_DEATHS
    try:
        return _size(ray.cluster_resources(), workers, device, started_here)
    except ConfigError:
        if started_here:
            ray.shutdown()
        raise


def _size(resources: dict[str, float], workers: int | None, device: str | None, started_here: bool) -> Pool:
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus and device != "cpu":
        count = workers or gpus
        if count > gpus:
            raise ConfigError(f"--workers {count}: the cluster has {gpus} GPUs, one per worker")
        return Pool(count, {"num_gpus": 1}, started_here)
    count = workers or max(1, cpus // 2)
    if count > cpus:
        raise ConfigError(f"--workers {count}: the cluster has {cpus} CPUs, at least one per worker")
    return Pool(count, {"num_cpus": max(1, cpus // count)}, started_here)


def close_stream(rows) -> None:
    """End a Ray Data stream that was left midway (Ctrl-C, an error) and wait for its threads, before stop().

    Ray Data runs its executor on threads of this process and shuts it down only once its iterator is exhausted,
    closed or collected; one still running when stop() shuts the core worker down makes Ray end the whole
    process with exit code 1 ("The core worker has already been shutdown"), so a Ctrl-C exited 1, not 130, and
    never printed where it stopped. Closing the generator shuts the executor down; Ray's own wait for it is 2 s,
    which a loaded machine can outlast, hence the wait here."""
    if rows is not None:
        rows.close()
    deadline = time.monotonic() + STREAM_WAIT_S
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.startswith(STREAM_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))


def stop(pool: Pool) -> None:
    import ray

    if pool.started_here and ray.is_initialized():
        try:
            ray.shutdown()
        except Exception as exc:  # noqa: BLE001 - leaving is never a reason to hide why the run ended
            log.debug("ray.shutdown: %s", exc)


def alive(actor_class: str) -> int | None:
    """How many actors of this class the cluster holds alive now (None where Ray cannot say)."""
    try:
        from ray._private import state

        return sum(1 for actor in state.actors().values()
                   if actor.get("State") == "ALIVE" and actor_class in str(actor.get("ActorClassName", "")))
    except Exception:  # noqa: BLE001 - a progress figure, never a reason to stop
        return None


def explain(exc: BaseException, what: str) -> str:
    """A Ray failure as one line naming its cause: memory, a model that did not load, or a worker lost."""
    import ray.exceptions as rex

    cause = getattr(exc, "cause", None) or exc.__cause__ or exc
    if isinstance(exc, rex.OutOfMemoryError) or isinstance(cause, (rex.OutOfMemoryError, MemoryError)):
        return (f"a {what} worker ran out of memory; rerun with fewer --workers or a smaller batch (every result "
                "journalled so far is kept)")
    text = first_line(cause if cause is not exc else exc, 200)
    if "died during initialization" in str(exc) or "__init__" in str(exc).split("\n", 1)[0]:
        return f"a {what} worker could not load its model: {text}"
    if isinstance(exc, (rex.ActorDiedError, rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError)):
        return f"a {what} worker died ({text}); rerun the same command to continue from the journal"
    return f"the {what} on Ray failed: {text}"
