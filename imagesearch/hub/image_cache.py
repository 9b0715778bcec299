"""A size-bounded folder of images read on demand: least recently used out.

The folder is the set's own ``images/`` (the one path the app lets Gradio serve), so a cached image is served
exactly as a local set's image is. What is already there when the app starts (an earlier run's reads) is kept,
oldest first out. Every file is written atomically, so a crash never leaves half an image under its name.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from imagesearch.store.fileio import atomic_write_bytes

log = logging.getLogger(__name__)


class ImageCache:
    def __init__(self, root: Path, max_bytes: int):
        self.root, self.max_bytes = Path(root), max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()  # name (relative to root's parent) -> bytes, oldest first
        self._total = 0
        found = []
        if self.root.is_dir():
            for path in self.root.rglob("*"):
                if path.is_file() and not path.name.startswith("."):
                    stat = path.stat()
                    found.append((stat.st_mtime, path.relative_to(self.root.parent).as_posix(), stat.st_size))
        for _, name, size in sorted(found):
            self._entries[name] = size
            self._total += size
        self._evict()

    @property
    def total_bytes(self) -> int:
        return self._total

    def get(self, name: str) -> Path | None:
        """The cached file for ``name`` (e.g. images/3.jpg), marked as just used; None when not cached."""
        with self._lock:
            if name not in self._entries:
                return None
            self._entries.move_to_end(name)
        path = self.root.parent / name
        try:
            os.utime(path)  # the order survives a restart
        except FileNotFoundError:  # removed behind our back: forget it
            with self._lock:
                self._total -= self._entries.pop(name, 0)
            return None
        return path

    def put(self, name: str, data: bytes) -> Path:
        path = self.root.parent / name
        atomic_write_bytes(path, data)
        with self._lock:
            self._total -= self._entries.pop(name, 0)
            self._entries[name] = len(data)
            self._total += len(data)
            self._evict()
        return path

    def _evict(self) -> None:
        while self._total > self.max_bytes and len(self._entries) > 1:
            name, size = self._entries.popitem(last=False)
            self._total -= size
            (self.root.parent / name).unlink(missing_ok=True)
