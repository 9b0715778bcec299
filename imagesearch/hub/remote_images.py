"""The images of a published set, read when a result shows them: one range request per image, checked, cached.

A set published with image_locations.npy (build/publishing/shards.py) is served without its thumbnails: startup fetches
what search needs, and each result's image is read from its parquet shard by an HTTP range request for exactly
its bytes. The request is built by huggingface_hub's own helpers (``hf_hub_url``, ``build_hf_headers``,
``http_backoff``), the same calls its ``HfFileSystem`` makes for a range, without that file system's extra
lookups per file. The bytes are checked against the sha256 image_locations.npy records for that image before they are
written to the cache (imagesearch.hub.image_cache) and served: a mismatch or a failed read is one line in the
log and the result shows no image, never another one. Offline, only what is cached is shown.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from imagesearch.errors import first_line
from imagesearch.hub.image_cache import ImageCache
from imagesearch.store.fileio import sha256_file
from imagesearch.store.image_locations import locations_entry, read_locations
from imagesearch.store.records import Record

log = logging.getLogger(__name__)

READ_WORKERS = 8  # a page of results is read at once; a result's image costs one request
READ_RETRIES = 2  # huggingface_hub's backoff, kept short: a page should not wait long for one image


@dataclass(frozen=True)
class HubSource:
    """Where a served set came from: the repo, the commit it is pinned to, and how to reach it."""
    repo: str
    sha: str
    token: str | None = None
    offline: bool = False


def on_demand(manifest: dict[str, Any]) -> bool:
    """Whether a published manifest lets its images be read one at a time (else the shards are downloaded)."""
    return locations_entry(manifest.get("published")) is not None


class RemoteImages:
    def __init__(self, source: HubSource, shards: Sequence[str], table: np.ndarray, records: Sequence[Record],
                 cache: ImageCache):
        self.source, self.shards, self.table = source, list(shards), table  # table: image_locations.npy
        self.records, self.cache = records, cache
        self.requests = 0  # range requests made, and the bytes they brought (the benchmark reads these)
        self.bytes_read = 0
        self._count_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(READ_WORKERS, thread_name_prefix="image-read")

    @classmethod
    def open(cls, folder: Path, manifest: dict[str, Any], records: Sequence[Record], source: HubSource,
             cache_bytes: int) -> "RemoteImages":
        """The images of the set in ``folder`` (its image_locations.npy checked against the manifest and the set)."""
        from imagesearch.errors import ArtifactError

        published = manifest["published"]
        entry = locations_entry(published)
        path = Path(folder) / entry["file"]
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            raise ArtifactError(f"{entry['file']}: missing or its sha256 does not match manifest.json; "
                                "it will be downloaded again on the next start")
        shards = sorted(published["shards"])
        table = read_locations(path, [r.id for r in records], [published["shards"][s]["bytes"] for s in shards])
        return cls(source, shards, table, records, ImageCache(Path(folder) / "images", cache_bytes))

    def paths(self, rows: Sequence[int]) -> list[str | None]:
        """The local file of each row's image, read where not cached (concurrently); None where it cannot be shown."""
        found: list[str | None] = [None] * len(rows)
        missing = []
        for position, row in enumerate(rows):
            cached = self.cache.get(self.records[row].image)
            if cached is not None:
                found[position] = str(cached)
            else:
                missing.append(position)
        if missing and self.source.offline:
            log.warning("HF_HUB_OFFLINE=1: %d image(s) not in the cache are shown without a picture", len(missing))
            return found
        for position, path in zip(missing, self._pool.map(self._read, [rows[p] for p in missing])):
            found[position] = path
        return found

    def _read(self, row: int) -> str | None:
        from huggingface_hub import constants, hf_hub_url
        from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff

        record, location = self.records[row], self.table[row]
        shard, offset, length = self.shards[int(location["shard"])], int(location["offset"]), int(location["length"])
        where = f"{self.source.repo}@{self.source.sha[:12]} {shard} bytes {offset}-{offset + length - 1}"
        try:
            url = hf_hub_url(self.source.repo, shard, repo_type="dataset", revision=self.source.sha)
            headers = dict(build_hf_headers(token=self.source.token), range=f"bytes={offset}-{offset + length - 1}")
            response = http_backoff("GET", url, headers=headers, max_retries=READ_RETRIES,
                                    timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT)
            hf_raise_for_status(response)
            data = response.content
        except Exception as exc:  # noqa: BLE001 - one image that cannot be read never fails the search
            log.warning("image %s (id %d): could not be read from %s (%s); shown without a picture", record.image,
                        record.id, where, first_line(exc, 160))
            return None
        with self._count_lock:
            self.requests += 1
            self.bytes_read += len(data)
        if response.status_code == 200 and len(data) > length:  # a server that ignored the range sent the shard
            data = data[offset:offset + length]
        if hashlib.sha256(data).digest() != location["sha256"].tobytes():
            log.warning("image %s (id %d): the bytes read from %s do not match its sha256 in image_locations.npy; "
                        "shown without a picture", record.image, record.id, where)
            return None
        return str(self.cache.put(record.image, data))
