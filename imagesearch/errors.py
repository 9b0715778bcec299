"""Errors that reach users as one actionable line."""

import re


def first_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message`` of an exception, for one-line errors."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:limit]}" if lines else type(exc).__name__


class ArtifactError(ValueError):
    """An artifact set is missing, inconsistent or unsafe.

    The message names the file, the offending value and the fix, in one line.
    """


class QueryError(ValueError):
    """A search request cannot be answered as given (empty query, bad k, ...)."""


class ConfigError(ValueError):
    """A setting from the command line or the environment is invalid."""


_REPR = re.compile(r"<_io\.\w+ (?:object|name=[^>]*) at 0x[0-9a-f]+>|<_io\.\w+ name=[^>]*>")


def in_words(message: str) -> str:
    """A library message without Python object reprs (PIL names a BytesIO by its address)."""
    return _REPR.sub("the file", message)


BUILD = "python -m build"  # how every message names the build's command line


def build_command(step: str) -> str:
    """A build step as a message names it, quoted: ```python -m build index --artifacts DIR```."""
    return f"`{BUILD} {step}`"
