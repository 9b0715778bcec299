"""The FAISS file format this project writes, read back guarded.

Reading is checked twice: the header is parsed and compared with the
manifest *before* FAISS sees the file (so a header claiming 10^12 vectors is
refused unread), and the loaded index is checked for type, metric,
dimension and count after. Four kinds exist, all inner product over unit
vectors: ``flat`` (exact), ``ivf`` (IVF lists of float32 vectors),
``ivf-sq8`` and ``ivf-pq`` (IVF lists of 8-bit scalar codes, or of 4-bit
fast-scan product codes, inside a refine wrapper holding a float16 copy of
every vector), the last three approximate.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import faiss

from imagesearch.errors import ArtifactError, build_command, first_line
from imagesearch.store.fileio import atomic_write_with

# fourcc -> (kind, faiss metric) for the index types this project writes.
# A refine wrapper (IxRF) is ivf-sq8 or ivf-pq: which one is checked on the loaded parts.
_FOURCC = {b"IxFI": (("flat",), faiss.METRIC_INNER_PRODUCT), b"IwFl": (("ivf",), None),
           b"IxRF": (("ivf-sq8", "ivf-pq"), None)}
_BYTES_PER_ROW = {"flat": 4, "ivf": 4, "ivf-sq8": 3, "ivf-pq": 2}  # per dimension, at least: float32; float16 copy + codes
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
        raise ArtifactError(f"{path.name}: not a flat, IVF, IVF-SQ8 or IVF-PQ FAISS index (magic {fourcc!r}); {FIX}")
    file_kinds, file_metric = _FOURCC[fourcc]
    if kind not in file_kinds:
        raise ArtifactError(f"{path.name}: holds a {' or '.join(file_kinds)} index but the manifest says {kind}; {FIX}")
    file_kind = kind
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


def read_index(path: Path, kind: str, dimension: int, count: int, params: dict[str, Any] | None = None) -> Any:
    """Read an index this project wrote, refusing anything that does not fit the manifest (``params``: the
    manifest's index.params, which every search parameter stored in the file must equal)."""
    path = Path(path)
    _check_header(path, kind, dimension, count)
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ArtifactError(f"{path.name}: FAISS cannot read it ({first_line(exc)}); {FIX}") from None
    parts = [index]
    if kind in ("ivf-sq8", "ivf-pq"):
        parts = [index] if not isinstance(index, faiss.IndexRefine) else \
            [index, faiss.downcast_index(index.base_index), faiss.downcast_index(index.refine_index)]
    expected = _EXPECTED[kind]
    if len(parts) != len(expected) or not all(_is(part, *want) for part, want in zip(parts, expected)):
        raise ArtifactError(f"{path.name}: loaded {' / '.join(type(p).__name__ for p in parts)}, expected "
                            f"{' / '.join(want[0].__name__ for want in expected)} with inner product")
    for part in parts:
        if part.d != dimension or part.ntotal != count:
            raise ArtifactError(f"{path.name}: {part.ntotal} x {part.d} vectors, the manifest says {count} x {dimension}")
    if kind != "flat":
        _check_search_parameters(path, index, count, params or {})
    return index


MAX_K_FACTOR = 256  # candidates re-scored per result asked for (the build writes 4 or 64; FAISS reads up to 1000)


def _check_search_parameters(path: Path, index: Any, count: int, params: dict[str, Any]) -> None:
    """Every parameter that sets how much work a search does, as stored in the file, within its bounds and equal
    to the manifest's: a file may not ask a query to visit 10^9 lists or re-score 10^9 candidates."""
    ivf = faiss.extract_index_ivf(index)
    nlist, nprobe = int(ivf.nlist), int(ivf.nprobe)
    stored = {"nlist": nlist, "nprobe": nprobe}
    if isinstance(index, faiss.IndexRefine):
        stored["k_factor"] = float(index.k_factor)
    for name, value in stored.items():
        if name not in params or float(params[name]) != float(value):
            raise ArtifactError(f"{path.name}: stores {name} {value:g}, the manifest says {params.get(name)}; {FIX}")
    if not 1 <= nprobe <= nlist or nlist > max(1, count) or int(ivf.quantizer.ntotal) != nlist:
        raise ArtifactError(f"{path.name}: nprobe {nprobe} / nlist {nlist} / {int(ivf.quantizer.ntotal)} centroids "
                            f"are out of bounds for {count} rows (1 <= nprobe <= nlist <= rows); {FIX}")
    if "k_factor" in stored and not 1 <= stored["k_factor"] <= MAX_K_FACTOR:
        raise ArtifactError(f"{path.name}: k_factor {stored['k_factor']:g} is out of bounds (1..{MAX_K_FACTOR}); {FIX}")
    lists = ivf.invlists
    sizes = [lists.list_size(number) for number in range(lists.nlist)] if lists.nlist == nlist else None
    if sizes is None or sum(sizes) != count or min(sizes, default=0) < 0:
        raise ArtifactError(f"{path.name}: its {lists.nlist} lists hold "
                            f"{'?' if sizes is None else sum(sizes)} rows, not {count}; {FIX}")


# what each kind must load as: (class, scalar quantizer type or None), outermost first
_EXPECTED = {
    "flat": [(faiss.IndexFlatIP, None)],
    "ivf": [(faiss.IndexIVFFlat, None)],
    "ivf-sq8": [(faiss.IndexRefine, None), (faiss.IndexIVFScalarQuantizer, faiss.ScalarQuantizer.QT_8bit),
                (faiss.IndexScalarQuantizer, faiss.ScalarQuantizer.QT_fp16)],
    "ivf-pq": [(faiss.IndexRefine, None), (faiss.IndexIVFPQFastScan, None),
               (faiss.IndexScalarQuantizer, faiss.ScalarQuantizer.QT_fp16)],
}


def _is(index: Any, cls: type, quantizer: int | None) -> bool:
    if not isinstance(index, cls) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        return False
    if isinstance(index, faiss.IndexIVFPQFastScan):
        return index.pq.nbits == 4
    return quantizer is None or index.sq.qtype == quantizer
