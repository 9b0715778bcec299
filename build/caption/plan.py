"""The caption stage's first pass: every image in source order, hashed, its caption key made; what is left to
caption is known before any model loads (a progress bar with a real ETA, and cached captions skipped)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from imagesearch.errors import first_line, in_words
from imagesearch.models.captioner import CLEANER_VERSION

from .cache import CaptionCache
from .settings import DescribeConfig
from .sources import LoadReport, SourceItem, iter_sources

log = logging.getLogger(__name__)

# Not part of a caption's key: the family (the model decides it), and the runtime and number format, which are
# chosen to keep the captions (imagesearch.models.runtime): changing either never recaptions a journalled image.
NOT_KEYED = ("family", "dtype", "runtime")


@dataclass
class Summary:
    captioned: int = 0
    cached: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)

    def note(self, kind: str, item: SourceItem, reason: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        line = f"{item.dataset}/{item.source}: {kind}: {in_words(reason)}"
        self.reasons.append(line)
        log.warning(line)


@dataclass(frozen=True)
class Planned:
    item: SourceItem
    sha: str
    key: str


def captioner_manifest(config: DescribeConfig) -> dict[str, Any]:
    """How the captions were made; all but NOT_KEYED key the caption cache. runtime and dtype are this run's (as
    it ran, once a captioner was loaded); the manifest's made_with counts the captions each runtime wrote."""
    return {
        "model": config.captioner,
        "family": config.family,
        "dtype": config.dtype,
        "runtime": config.runtime,
        "prompts": list(config.prompts or ()),
        "generation": config.generation.as_dict(),
        "cleaner_version": CLEANER_VERSION,
        "joined_with": " ",
        **({"read_text": True} if config.read_text else {}),  # absent when off: earlier journals keep their key
    }


def plan(config: DescribeConfig, cache: CaptionCache, key_suffix: str, report: LoadReport,
         summary: Summary) -> tuple[list[Planned], list[Planned]]:
    """Every item this shard owns, in order, with its content key; and the ones not yet in the journal."""
    order: list[Planned] = []
    todo: list[Planned] = []
    items = iter_sources(list(config.datasets), config.limit, report)
    for position, item in enumerate(tqdm(items, desc="hashing images", unit="img")):
        if not config.shard.owns(position):
            continue
        try:
            data = item.read()
        except Exception as exc:  # noqa: BLE001 - a broken item never aborts the run
            summary.note("failed", item, f"cannot read ({first_line(exc, 120)})")
            continue
        sha = hashlib.sha256(data).hexdigest()
        planned = Planned(item, sha, f"{sha}:{key_suffix}")
        order.append(planned)
        if planned.key in cache:
            summary.cached += 1
        else:
            todo.append(planned)
    return order, todo


def batches_of(todo: list[Planned], size: int) -> list[list[Planned]]:
    """The generate() calls of a run, the same whichever engine makes them (so the captions are too)."""
    return [todo[start:start + size] for start in range(0, len(todo), size)]
