"""Turn whatever the Hub client raised into one line: the operation, the repo, what happened, the fix.

huggingface_hub's HTTP errors derive from OSError; caught as local-file
errors they would be reported as a folder problem. Every Hub call of the
build and of the Space goes through :func:`hub_call`, which turns them into
a :class:`HubError` (an ArtifactError) before anything else sees them.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from imagesearch.errors import ArtifactError, first_line

TOKEN_FIX = "set HF_TOKEN to a token with write access (or run `hf auth login`)"


class HubError(ArtifactError):
    """A Hub request failed; the message is one line naming the operation, the repo and the fix."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status a Hub error carries, if any."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _underlying(exc: BaseException) -> BaseException:
    """The HTTP error a wrapper was raised from (the client wraps upload failures in RuntimeError)."""
    seen = exc
    while seen is not None:
        if status_of(seen) is not None:
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def explain(exc: BaseException, operation: str, repo: str) -> str:
    """One line for a failed Hub request."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    exc = _underlying(exc)
    status = status_of(exc)
    if isinstance(exc, OfflineModeIsEnabled):
        return f"{operation} {repo}: HF_HUB_OFFLINE=1 forbids network calls; unset it to reach the Hub"
    if isinstance(exc, RevisionNotFoundError):
        return f"{operation} {repo}: that revision does not exist (404); check the commit sha, branch or tag"
    if isinstance(exc, EntryNotFoundError):
        return f"{operation} {repo}: a file is missing from the repo (404: {first_line(exc, 120)}); republish the set"
    if isinstance(exc, RepositoryNotFoundError) or status == 404:
        return (f"{operation} {repo}: repo not found (HTTP {status or 404}); check OWNER/NAME and, for a private repo, "
                "that HF_TOKEN can read it")
    if status == 401:
        return f"{operation} {repo}: the Hub refused the token (401); {TOKEN_FIX}"
    if status == 403:
        return (f"{operation} {repo}: the token may not do this (403 Forbidden); {TOKEN_FIX}: a fine-grained token "
                "needs write access to this repo or its owner")
    if status in (409, 412):
        return f"{repo} moved on since this publish started (HTTP {status}: someone else pushed); rerun"
    if status == 429:
        return f"{operation} {repo}: rate-limited by the Hub (429); wait a few minutes and rerun"
    if status is not None and status >= 500:
        return (f"{operation} {repo}: the Hub failed (HTTP {status}); rerun later: files already uploaded "
                "are not sent again")
    if status is not None:
        return f"{operation} {repo}: HTTP {status} ({first_line(exc, 160)})"
    return f"{operation} {repo}: could not reach the Hub ({first_line(exc, 160)}); check the network and rerun"


@contextlib.contextmanager
def hub_call(operation: str, repo: str) -> Iterator[None]:
    """Run Hub requests; any failure of theirs leaves as a one-line HubError."""
    try:
        yield
    except ArtifactError:  # ours, already one line (HubError included)
        raise
    except Exception as exc:  # noqa: BLE001 - the client raises many kinds (HTTP, network, offline, value)
        raise HubError(explain(exc, operation, repo)) from None
