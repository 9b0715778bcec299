"""What publish refuses before anything is uploaded: a set that drops many of the published rows, and one whose
ids would name other items than the published head (every shared link would silently move)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .staging import Remote, Staged

log = logging.getLogger(__name__)

MAX_SHRINK = 0.10  # refuse to drop more than this share of the published rows without --allow-shrink


def refusals(repo: str, remote: Remote, staged: Staged, allow_shrink: bool, allow_renumber: bool) -> list[str]:
    """Each line the publish refuses this set for (empty: it goes on); one its flag allows is a warning instead.
    A real publish stops on the first; a dry run prints its plan with them, then exits as the real one would."""
    found = []
    for line, allow in ((shrink_refusal(repo, remote, staged), allow_shrink),
                        (ids_refusal(repo, remote, staged), allow_renumber)):
        if line and allow:
            log.warning("%s (allowed)", line)
        elif line:
            found.append(line)
    return found


def shrink_refusal(repo: str, remote: Remote, staged: Staged) -> str | None:
    published = remote.keys
    if not published:
        return None
    dropped = len(published - staged.keys)
    if dropped <= MAX_SHRINK * len(published):
        return None
    share = 100 * dropped / len(published)
    return (f"{repo}: this set drops {dropped:,} of the {len(published):,} rows published at {remote.head[:12]} "
            f"({share:.0f} %, more than {MAX_SHRINK:.0%}); pass --allow-shrink if that is intended")


def ids_refusal(repo: str, remote: Remote, staged: Staged) -> str | None:
    """Refuse a set in which an id names another item than at the head, or an item has another id: every shared
    ``?like=`` link and saved id would silently point at another image."""
    if not remote.items:
        return None
    old_id = {item: row_id for row_id, item in remote.items.items()}
    moved = sorted({row_id for row_id, item in staged.items.items()
                    if remote.items.get(row_id, item) != item or old_id.get(item, row_id) != row_id})
    if not moved:
        return None
    first = moved[0]
    was, now = remote.items.get(first), staged.items[first]
    what = (f"id {first} named {'/'.join(was)} at {remote.head[:12]} and names {'/'.join(now)} here" if was and was != now
            else f"{'/'.join(now)} had id {old_id[now]} at {remote.head[:12]} and has id {first} here")
    return (f"{repo}: {len(moved):,} ids would change meaning ({what}); rebuild with --ids-from {repo} to keep them, "
            "or pass --allow-renumber if every shared link may point elsewhere")
