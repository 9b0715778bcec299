"""The FAISS file format this project writes, read back guarded.

Reading is checked twice: the header is parsed and compared with the
manifest *before* FAISS sees the file (so a header claiming 10^12 vectors is
refused unread), and the loaded index is checked for type, metric,
dimension and count after. Only two kinds exist: ``flat`` (exact) and
``ivf`` (IVF-flat, approximate), both inner product over unit vectors.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import faiss

from imagesearch.errors import ArtifactError, build_command, first_line
from imagesearch.store.fileio import atomic_write_with

# fourcc -> (kind, faiss metric) for the index types this project writes.
_FOURCC = {b"IxFI": ("flat", faiss.METRIC_INNER_PRODUCT), b"IwFl": ("ivf", None)}
_HEADER = struct.Struct("<4siqqq?i")  # fourcc, d, ntotal, dummy, dummy, is_trained, metric
FIX = f"rebuild it with {build_command('index')}"


def write_index(path: Path, index: Any) -> None:
    atomic_write_with(Path(path), lambda tmp: faiss.write_index(index, str(tmp)))


def _check_header(path: Path, kind: str, dimension: int, count: int) -> None:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(_HEADER.size)
    if len(raw) < _HEADER.size:
        raise ArtifactError(f"{path.name}: truncated FAISS file ({size} bytes); {FIX}")
    fourcc, d, ntotal, _, _, _, metric = _HEADER.unpack(raw)
    if fourcc not in _FOURCC:
        raise ArtifactError(f"{path.name}: not a flat or IVF-flat FAISS index (magic {fourcc!r}); {FIX}")
    file_kind, file_metric = _FOURCC[fourcc]
    if file_kind != kind:
        raise ArtifactError(f"{path.name}: holds a {file_kind} index but the manifest says {kind}; {FIX}")
    if metric != faiss.METRIC_INNER_PRODUCT:
        raise ArtifactError(f"{path.name}: metric {metric} is not inner product; {FIX}")
    if d != dimension or ntotal != count:
        raise ArtifactError(
            f"{path.name}: header says {ntotal} vectors of dimension {d}, the manifest says {count} x {dimension}; "
            f"{FIX}"
        )
    payload = _HEADER.size + 8 + count * dimension * 4
    if file_kind == "flat" and size != payload:
        raise ArtifactError(f"{path.name}: {size} bytes, expected {payload} for {count} x {dimension}; {FIX}")
    if file_kind == "ivf" and size < payload:
        raise ArtifactError(f"{path.name}: {size} bytes is too small for {count} x {dimension}; {FIX}")


def read_index(path: Path, kind: str, dimension: int, count: int) -> Any:
    """Read an index this project wrote, refusing anything that does not fit the manifest."""
    path = Path(path)
    _check_header(path, kind, dimension, count)
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ArtifactError(f"{path.name}: FAISS cannot read it ({first_line(exc)}); {FIX}") from None
    expected = faiss.IndexFlatIP if kind == "flat" else faiss.IndexIVFFlat
    if not isinstance(index, expected) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ArtifactError(f"{path.name}: loaded {type(index).__name__}, expected {expected.__name__} with inner product")
    if index.d != dimension or index.ntotal != count:
        raise ArtifactError(f"{path.name}: {index.ntotal} x {index.d} vectors, the manifest says {count} x {dimension}")
    return index
