"""The caption stage's runners, one module each: ``local`` (this process, or one shard of it under torchrun or
accelerate launch) and ``ray`` (an actor pool on a Ray cluster). Each module names itself in ``NAME`` and offers
``caption(job) -> DescribeConfig``: caption ``job.todo`` in the batches of plan.batches_of, journal each
batch's entries (results.journal_entries) before it counts as done, and return the config as it ran. An
engine is found by its file here, so adding one touches one file."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any



def names() -> tuple[str, ...]:
    """Every engine in this folder, ``local`` first."""
    found = sorted(info.name for info in pkgutil.iter_modules(__path__))
    return tuple(sorted(found, key=lambda name: name != "local"))


def engine(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


@dataclass
class Job:
    """One caption run's work, as every engine receives it."""

    config: Any  # DescribeConfig
    folder: Path
    todo: list  # list[Planned]
    cache: Any  # CaptionCache
    summary: Any  # Summary
    captioner: Any = None  # a loaded Captioner to reuse (tests, the local engine); None: each engine loads its own
