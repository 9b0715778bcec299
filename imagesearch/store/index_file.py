"""The FAISS file format this project writes, read back guarded.

Reading is checked twice: the header is parsed and compared with the
manifest *before* FAISS sees the file (so a header claiming 10^12 vectors is
refused unread), and the loaded index is checked for type, metric,
dimension and count after. Three kinds exist, all inner product over unit
vectors: ``flat`` (exact), ``ivf`` (IVF lists of float32 vectors) and
``ivf-sq8`` (IVF lists of 8-bit codes inside a refine wrapper holding a
float16 copy of every vector), the last two approximate.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import faiss

from imagesearch.errors import ArtifactError, build_command, first_line
from imagesearch.store.fileio import atomic_write_with

# fourcc -> (kind, faiss metric) for the index types this project writes.
_FOURCC = {b"IxFI": ("flat", faiss.METRIC_INNER_PRODUCT), b"IwFl": ("ivf", None), b"IxRF": ("ivf-sq8", None)}
_BYTES_PER_ROW = {"flat": 4, "ivf": 4, "ivf-sq8": 3}  # per dimension: float32; 8-bit code + float16 copy
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
        raise ArtifactError(f"{path.name}: not a flat, IVF or IVF-SQ8 FAISS index (magic {fourcc!r}); {FIX}")
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
    payload = _HEADER.size + 8 + count * dimension * _BYTES_PER_ROW[file_kind]
    if file_kind == "flat" and size != payload:
        raise ArtifactError(f"{path.name}: {size} bytes, expected {payload} for {count} x {dimension}; {FIX}")
    if size < payload:
        raise ArtifactError(f"{path.name}: {size} bytes is too small for {count} x {dimension}; {FIX}")


def read_index(path: Path, kind: str, dimension: int, count: int) -> Any:
    """Read an index this project wrote, refusing anything that does not fit the manifest."""
    path = Path(path)
    _check_header(path, kind, dimension, count)
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ArtifactError(f"{path.name}: FAISS cannot read it ({first_line(exc)}); {FIX}") from None
    parts = [index]
    if kind == "ivf-sq8":
        parts = [index] if not isinstance(index, faiss.IndexRefine) else \
            [index, faiss.downcast_index(index.base_index), faiss.downcast_index(index.refine_index)]
    expected = _EXPECTED[kind]
    if len(parts) != len(expected) or not all(_is(part, *want) for part, want in zip(parts, expected)):
        raise ArtifactError(f"{path.name}: loaded {' / '.join(type(p).__name__ for p in parts)}, expected "
                            f"{' / '.join(want[0].__name__ for want in expected)} with inner product")
    for part in parts:
        if part.d != dimension or part.ntotal != count:
            raise ArtifactError(f"{path.name}: {part.ntotal} x {part.d} vectors, the manifest says {count} x {dimension}")
    return index


# what each kind must load as: (class, scalar quantizer type or None), outermost first
_EXPECTED = {
    "flat": [(faiss.IndexFlatIP, None)],
    "ivf": [(faiss.IndexIVFFlat, None)],
    "ivf-sq8": [(faiss.IndexRefine, None), (faiss.IndexIVFScalarQuantizer, faiss.ScalarQuantizer.QT_8bit),
                (faiss.IndexScalarQuantizer, faiss.ScalarQuantizer.QT_fp16)],
}


def _is(index: Any, cls: type, quantizer: int | None) -> bool:
    return isinstance(index, cls) and index.metric_type == faiss.METRIC_INNER_PRODUCT and (quantizer is None or index.sq.qtype == quantizer)
