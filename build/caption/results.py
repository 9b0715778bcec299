"""What a batch's captions become, the same for every engine: a journal entry per image that was described,
a failure noted for the rest, and a run stopped once the captioner has written nothing for most images."""

from __future__ import annotations

from typing import Sequence

from imagesearch.errors import ArtifactError, first_line
from imagesearch.models.caption_text import says_something
from imagesearch.store.records import IMAGES_DIR

from .plan import Planned, Summary
from .settings import DescribeConfig

SILENT_AFTER = 8  # images tried before a captioner that writes nothing for most of them stops the run


def image_name(planned: Planned) -> str:
    return f"{IMAGES_DIR}/{planned.sha[:32]}.jpg"


def journal_entries(batch: Sequence[Planned], results: Sequence[str | Exception], runtime: str, summary: Summary,
                    silent: list[str]) -> list[dict]:
    """The entries to journal for one batch; a failed or wordless caption is noted in ``summary`` instead."""
    entries = []
    for planned, result in zip(batch, results):
        if isinstance(result, Exception):
            summary.note("failed", planned.item, f"captioning: {first_line(result, 120)}")
        elif not says_something(result):
            summary.note("failed", planned.item, f"captioning: the captioner wrote no words ({result!r})")
            silent.append(f"{planned.item.dataset}/{planned.item.source}")
        else:
            entries.append({"key": planned.key, "image": image_name(planned), "description": result,
                            "dataset": planned.item.dataset, "source": planned.item.source, "runtime": runtime})
    summary.captioned += len(entries)
    return entries


def refuse_a_silent_captioner(config: DescribeConfig, silent: list[str], tried: int, total: int) -> None:
    """Stop once most images came back without a word: the model or its prompts are wrong, and the rest would be
    hours spent on blank rows."""
    if tried >= min(SILENT_AFTER, total) and len(silent) * 2 > tried:
        raise ArtifactError(f"{config.captioner}: the captioner wrote no words for {len(silent)} of {tried} images "
                            f"(first: {silent[0]}); check --captioner and --prompts (nothing blank was kept; the "
                            "same command continues after the fix)")
