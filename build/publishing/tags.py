"""Moving a tag of a Hub repo (publish --tag live) so that it is never silently left missing."""

from __future__ import annotations

import logging
import time

from imagesearch.errors import first_line
from imagesearch.hub.errors import HubError, hub_call

log = logging.getLogger(__name__)

TAG_WAITS_S = (2.0, 5.0, 15.0)  # between attempts to create a tag after it was removed to move it


def move_tag(api, repo: str, tag: str, sha: str, repo_type: str, token: str | None) -> None:
    """Point ``tag`` at ``sha``, whether or not it existed. The Hub moves a tag only by deleting and creating it:
    creation is tried again after each of TAG_WAITS_S; if it still fails, the tag is put back where it was (if it
    was), and the one-line error says how to finish: the set itself is already published at ``sha``."""
    from huggingface_hub.errors import RevisionNotFoundError

    with hub_call(f"moving tag {tag} of", repo):
        try:
            before = api.repo_info(repo, repo_type=repo_type, revision=tag, token=token).sha
        except RevisionNotFoundError:
            before = None  # a tag that does not exist yet
        if before == sha:
            return
        if before is not None:
            api.delete_tag(repo, tag=tag, repo_type=repo_type, token=token)
    failure = None
    for wait in (0.0, *TAG_WAITS_S):
        time.sleep(wait)
        try:
            api.create_tag(repo, tag=tag, revision=sha, repo_type=repo_type, token=token)
            return
        except Exception as exc:  # noqa: BLE001 - retried, then one line below
            failure = exc
            log.warning("creating tag %s of %s at %s failed (%s)", tag, repo, sha[:12], first_line(exc, 120))
    restored = ""
    if before is not None:
        try:
            api.create_tag(repo, tag=tag, revision=before, repo_type=repo_type, token=token)
            restored = f"; it points at the previous set ({before[:12]}) again"
        except Exception:  # noqa: BLE001 - the message below says the tag is missing
            restored = "; the tag is missing until then (a Space that follows it serves the last set it resolved)"
    raise HubError(f"{repo}: the set is published at {sha}, but tag {tag} could not be moved there after "
                   f"{len(TAG_WAITS_S) + 1} tries ({first_line(failure, 120)}){restored}; finish by running the same "
                   f"publish command again (nothing is uploaded twice), or serve ARTIFACTS_REVISION={sha}")
