"""Load an artifact set and prove it is whole and consistent before serving it.

Every check failure is an ArtifactError with one line naming the file, the
value and the fix. Nothing from the folder is executed: the embedding pickle
goes through the array-only loader and the FAISS header is checked before
FAISS parses the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import faiss
import numpy as np

from imagesearch.errors import ArtifactError, build_command
from imagesearch.store import manifest as mf
from imagesearch.store.index_file import read_index
from imagesearch.store.lexical import LexicalIndex, read_lexical
from imagesearch.store.records import Record, read_records
from imagesearch.store.safe_pickle import load_array
from imagesearch.store.searchers import FlatSearcher, IndexSearcher, make_searcher

log = logging.getLogger(__name__)

NORM_TOLERANCE = 1e-3
SELF_CHECK_ROWS = 32


@dataclass(frozen=True)
class ArtifactSet:
    folder: Path
    manifest: dict[str, Any]
    records: tuple[Record, ...]
    index: Any
    searcher: FlatSearcher | IndexSearcher
    datasets: tuple[str, ...]
    dataset_of_row: np.ndarray  # int index into ``datasets`` for each row
    lexical: LexicalIndex | None = None  # None for a set built before the lexical index existed
    labels: tuple[str, ...] = ()  # distinct labels ("dress, shoe" counts as dress and shoe)
    label_rows: dict[str, np.ndarray] | None = None  # label -> the rows that carry it
    row_of_id: "RowOfId | None" = None
    images: Any = None  # where shown images come from: None, the folder's images/; else an object with .paths(rows)

    @property
    def count(self) -> int:
        return len(self.records)

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors of ``rows``, read from the index: no second copy is kept."""
        rows = np.asarray(rows, dtype=np.int64)
        if isinstance(self.searcher, FlatSearcher):
            return self.searcher.vectors[rows]
        return np.vstack([self.index.reconstruct(int(row)) for row in rows]) if len(rows) else \
            np.empty((0, self.index.d), dtype=np.float32)

    def image_paths(self, rows: list[int]) -> list[str | None]:
        """The local file of each row's image (read first, when the set's images are on demand); None where the
        image cannot be shown."""
        if self.images is None:
            return [str(self.folder / self.records[row].image) for row in rows]
        return self.images.paths(rows)


class RowOfId:
    """id -> row, for ids increasing down description.csv: a sorted array searched (8 bytes a row, where a dict of
    a million ints took about 100 MB)."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids

    def get(self, item_id: Any, default: int | None = None) -> int | None:
        if not isinstance(item_id, (int, np.integer)) or isinstance(item_id, bool):
            return default
        row = int(np.searchsorted(self.ids, item_id))
        return row if row < len(self.ids) and self.ids[row] == item_id else default

    def __getitem__(self, item_id: int) -> int:
        row = self.get(item_id)
        if row is None:
            raise KeyError(item_id)
        return row

    def __contains__(self, item_id: Any) -> bool:
        return self.get(item_id) is not None


LABEL_SEPARATOR = ", "  # a detection image's label lists its object categories: "dress, shoe, bag"


def split_labels(label: str) -> list[str]:
    return [part.strip() for part in label.split(LABEL_SEPARATOR.strip()) if part.strip()] if label else []


def stored_vectors(index: Any) -> Iterator[tuple[np.ndarray | None, np.ndarray]]:
    """The vectors an index holds, viewed in place where they are float32 (flat, ivf): (row ids or None for
    0..n-1, vectors)."""
    if isinstance(index, faiss.IndexFlat):
        yield None, faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
        return
    if isinstance(index, faiss.IndexRefine):  # ivf-sq8, ivf-pq: the float16 copy of every row, widened a chunk at a time
        copy = faiss.downcast_index(index.refine_index)
        halves = faiss.rev_swig_ptr(copy.codes.data(), copy.ntotal * copy.code_size).view(np.float16)
        halves = halves.reshape(copy.ntotal, copy.d)
        for start in range(0, copy.ntotal, 65_536):
            chunk = halves[start:start + 65_536]
            yield np.arange(start, start + len(chunk)), chunk.astype(np.float32)
        return
    lists = index.invlists
    for number in range(index.nlist):
        size = lists.list_size(number)
        if size:
            codes = faiss.rev_swig_ptr(lists.get_codes(number), size * lists.code_size)
            yield (faiss.rev_swig_ptr(lists.get_ids(number), size).copy(),
                   codes.view(np.float32).reshape(size, index.d))


def check_vectors(vectors: np.ndarray, count: int, dimension: int, name: str = mf.EMBEDDING,
                  rows: np.ndarray | None = None) -> None:
    """Shape, dtype, finite values and unit norms; ``rows``: the row id of each vector (default its position)."""
    fix = f"rebuild it with {build_command('embed' if name == mf.EMBEDDING else 'index')}"
    if vectors.ndim != 2:
        raise ArtifactError(f"{name}: array has shape {vectors.shape}, expected (N, d); {fix}")
    if vectors.dtype != np.float32:
        raise ArtifactError(f"{name}: dtype {vectors.dtype}, expected float32; {fix}")
    if vectors.shape != (count, dimension):
        raise ArtifactError(
            f"{name}: shape {vectors.shape} disagrees with the manifest ({count} rows x {dimension}); {fix}"
        )
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        at = int(np.argmin(finite))
        raise ArtifactError(f"{name}: row {at if rows is None else int(rows[at])} holds NaN or infinite values; {fix}")
    norms = np.linalg.norm(vectors, axis=1)
    bad = np.abs(norms - 1.0) > NORM_TOLERANCE
    if bad.any():
        at = int(np.argmax(bad))
        raise ArtifactError(f"{name}: row {at if rows is None else int(rows[at])} has norm {norms[at]:.4f}, expected "
                            f"L2-normalised vectors; {fix}")


def _sample_rows(count: int) -> np.ndarray:
    return np.linspace(0, count - 1, num=min(SELF_CHECK_ROWS, count), dtype=np.int64)


def _self_check(index: Any, sample: np.ndarray, name: str) -> None:
    """Each sampled row (of embedding.pkl) must find a vector identical to itself in the index (score ~1)."""
    scores, ids = index.search(sample, 1)
    if (ids[:, 0] < 0).any() or (scores[:, 0] < 1.0 - 1e-3).any():
        raise ArtifactError(f"{name}: does not hold the vectors of embedding.pkl; rebuild it with {build_command('index')}")


def load_artifact_set(folder: Path, manifest: dict[str, Any] | None = None, images_on_demand: bool = False,
                      serving: bool = False) -> ArtifactSet:
    """Load and check the set in ``folder``; ``manifest``: its manifest.json already read (it is read once per start).
    ``images_on_demand``: the images are not in the folder (they are read and checked one by one when shown).
    ``serving``: the app's start, which searches the index's own vectors and never reads embedding.pkl: the index's
    vectors are checked instead of the pickle's (the build steps and publish check both, and that they agree)."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: artifact folder not found; set ARTIFACTS_DIR to a folder built by "
                            f"{build_command('all')}")
    manifest = mf.read_manifest(folder) if manifest is None else manifest
    embedding, index_info = manifest.get("embedding"), manifest.get("index")
    if not embedding:
        raise ArtifactError(f"{mf.MANIFEST}: no embedding section; run {build_command(f'embed --artifacts {folder}')}")
    if not index_info:
        raise ArtifactError(f"{mf.MANIFEST}: no index section; run {build_command(f'index --artifacts {folder}')}")
    count, dimension = manifest["count"], embedding.get("dimension")
    if not isinstance(count, int) or count < 1 or not isinstance(dimension, int) or dimension < 1:
        raise ArtifactError(f"{mf.MANIFEST}: count {count!r} / dimension {dimension!r} are not positive integers; rebuild the set")
    embedding_file = embedding.get("file", mf.EMBEDDING)
    index_file = index_info.get("file", mf.INDEX)
    for name in (mf.DESCRIPTIONS, embedding_file, index_file):
        if name not in manifest["files"]:
            raise ArtifactError(f"{mf.MANIFEST}: has no checksum for {name}; rebuild the set")

    mf.verify_checksums(folder, manifest, images=not images_on_demand,
                        skip=frozenset({embedding_file}) if serving else frozenset())

    records = read_records(folder / mf.DESCRIPTIONS)
    if len(records) != count:
        raise ArtifactError(f"{mf.DESCRIPTIONS}: {len(records)} rows but the manifest says {count}; rebuild the set")
    for record in records if not images_on_demand else ():  # on demand: the image table holds their checksums
        if record.image not in manifest["files"]:
            raise ArtifactError(f"{mf.DESCRIPTIONS} row {record.id}: image {record.image} has no checksum in the manifest; rebuild the set")

    if index_info.get("type") not in ("flat", "ivf", "ivf-sq8", "ivf-pq"):
        raise ArtifactError(f"{mf.MANIFEST}: index type {index_info.get('type')!r} is not flat, ivf, ivf-sq8 or ivf-pq; "
                            f"rebuild with {build_command('index')}")
    if serving:
        index = read_index(folder / index_file, index_info["type"], dimension, count, index_info.get("params"))
        for rows, vectors in stored_vectors(index):
            check_vectors(vectors, len(vectors), dimension, index_file, rows)
    else:
        vectors = load_array(folder / embedding_file)
        check_vectors(vectors, count, dimension, embedding_file)
        sample = vectors[_sample_rows(count)]
        del vectors  # before the index is read: the vectors are held once, by the index
        index = read_index(folder / index_file, index_info["type"], dimension, count, index_info.get("params"))
        _self_check(index, sample, index_file)
    if index_info["type"] == "ivf":
        index.make_direct_map()  # lets "more like this" read a stored vector back (8 bytes a row)

    lexical = None
    lexical_info = manifest.get("lexical")
    if lexical_info:
        lexical_file = lexical_info.get("file", mf.LEXICAL)
        if lexical_file not in manifest["files"]:
            raise ArtifactError(f"{mf.MANIFEST}: has no checksum for {lexical_file}; rebuild the set")
        lexical = read_lexical(folder / lexical_file, count)
    else:
        log.warning(f"artifact set %s has no lexical index: search is dense only (rebuild with {build_command('index')})",
                    folder)

    datasets = tuple(sorted({r.dataset for r in records}))
    position = {name: i for i, name in enumerate(datasets)}
    dataset_of_row = np.fromiter((position[r.dataset] for r in records), dtype=np.int32, count=count)
    rows_by_label: dict[str, list[int]] = {}
    for row, record in enumerate(records):
        for name in split_labels(record.label):
            rows_by_label.setdefault(name, []).append(row)
    labels = tuple(sorted(rows_by_label))
    label_rows = {name: np.asarray(rows, dtype=np.int64) for name, rows in rows_by_label.items()}
    row_of_id = RowOfId(np.fromiter((r.id for r in records), dtype=np.int64, count=count))  # increasing: read_records
    log.info("artifact set %s: %d images, %d datasets, %d labels, %s index%s", folder, count, len(datasets), len(labels),
             index_info["type"], ", lexical index" if lexical else "")
    return ArtifactSet(folder, manifest, tuple(records), index, make_searcher(index), datasets, dataset_of_row,
                       lexical, labels, label_rows, row_of_id)
