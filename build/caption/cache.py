"""The caption journal: every finished caption is on disk before the next batch starts.

One JSON line per captioned image, appended and fsynced per batch, keyed by
the image's content hash and a fingerprint of the model, prompts and
generation settings. A rerun skips every key already there, so a run killed
at any moment (SIGKILL included) resumes where it stopped, and a run after a
dataset gained images captions only the new ones. A line cut short by a
crash is cut off when that journal's own writer next opens it (others only
skip it: under a launcher, another process may be appending to it). Sharded
runs each write their own journal file; all of them are read back together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_DIR = "caption-cache"


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _repair(path: Path) -> None:
    """Cut a trailing partial line (a crash in the middle of a write)."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning("%s: dropping a partial last line (%d bytes) left by an interrupted run", path.name, len(data) - keep)
            handle.truncate(keep)


class CaptionCache:
    def __init__(self, folder: Path, part: str = "captions"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"{part}.jsonl"
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            _repair(self.path)  # only this process's own journal: it is the only one it writes
        for journal in sorted(self.folder.glob("captions*.jsonl")):
            data = journal.read_bytes()
            lines = data.split(b"\n")[:-1]  # a last line without its newline is still being written
            for number, line in enumerate(lines, start=1):
                try:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry
                except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                    log.warning("%s line %d: unreadable entry skipped", journal.name, number)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def append(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        payload = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries).encode("utf-8")
        with open(self.path, "ab") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        for entry in entries:
            self.entries[entry["key"]] = entry
