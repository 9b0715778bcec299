"""What the build tells a person: library warnings once, reasons in words, a closing line per step."""

from __future__ import annotations

import re
import warnings

_REPR = re.compile(r"<_io\.\w+ (?:object|name=[^>]*) at 0x[0-9a-f]+>|<_io\.\w+ name=[^>]*>")


def quiet_repeated_warnings() -> None:
    """Show each library warning once per run, not once per batch."""
    warnings.filterwarnings("once", category=UserWarning)
    warnings.filterwarnings("once", category=FutureWarning)
    from transformers.utils import logging as hf_logging

    # transformers logs some per-call advice (e.g. on max_length) through logging.warning_once already;
    # the rest is noise during a long generate loop
    hf_logging.set_verbosity_error()


def in_words(message: str) -> str:
    """A library message without Python object reprs (PIL names a BytesIO by its address)."""
    return _REPR.sub("the file", message)


def next_step(step: str, folder) -> str:
    return {
        "describe": f"python -m build embed --artifacts {folder}",
        "embed": f"python -m build index --artifacts {folder}",
        "index": f"ARTIFACTS_DIR={folder} python app.py (or python -m build publish --artifacts {folder} --repo OWNER/NAME)",
    }[step]
