"""What the build tells a person: library warnings once and a closing line per step (reasons in words:
imagesearch.errors.in_words)."""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

from imagesearch.errors import BUILD

_SHOWN: set[tuple[type, str]] = set()


@contextlib.contextmanager
def warnings_once() -> Iterator[None]:
    """Let each distinct library warning through once per run, however many batches raise it
    (transformers warns about max_length on every tokenizer call of a generate loop)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        key = (warning.category, str(warning.message))
        if key not in _SHOWN:
            _SHOWN.add(key)
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def next_step(step: str, folder) -> str:
    return {
        "describe": f"{BUILD} embed --artifacts {folder}",
        "embed": f"{BUILD} index --artifacts {folder}",
        "index": f"ARTIFACTS_DIR={folder} python app.py (or {BUILD} publish --artifacts {folder} --repo OWNER/NAME)",
    }[step]
