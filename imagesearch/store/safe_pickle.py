"""Read and write embedding.pkl without ever running code from the file.

A pickle can call any importable function while it loads. The loader below
admits only the globals numpy needs to rebuild a plain ndarray and refuses
every other one *before* it is called, so a hostile file (``os.system``,
``builtins.eval``, a pandas DataFrame, ...) fails without side effects.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Iterable

import numpy as np

from imagesearch.errors import ArtifactError, build_command
from imagesearch.store.fileio import atomic_path

_STREAM_MIN_BYTES = 1 << 20  # above pickle's 64 KiB frame target: the buffer is written on its own

# (module, name) pairs a numpy ndarray pickle refers to, for numpy 1 and 2.
_ALLOWED_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Admits numpy's array globals only, each wrapped so that no array can be larger than the file.

    A real array pickle carries its data, so its array is never larger than
    the file; ``ndarray((10**9,), 'f8')`` as a 40-byte pickle would ask numpy
    for 8 GB. The wrappers refuse such a shape before numpy allocates anything.
    """

    def __init__(self, stream: io.BytesIO, limit: int):
        super().__init__(stream)
        self.limit = limit

    def _bound(self, shape, dtype) -> None:
        try:
            count = 1
            for side in (shape if isinstance(shape, (tuple, list)) else (shape,)):
                count *= int(side)
            size = count * np.dtype(dtype).itemsize
        except (TypeError, ValueError, OverflowError) as exc:
            raise pickle.UnpicklingError(f"bad array shape or dtype ({exc})") from None
        if size > self.limit:
            raise pickle.UnpicklingError(f"asks for an array of {size:,} bytes from a file of {self.limit:,} bytes")

    def _ndarray(self, shape, dtype=float, *args, **kwargs):
        self._bound(shape, dtype)
        return np.ndarray(shape, dtype, *args, **kwargs)

    def _reconstruct(self, subtype, shape, dtype):
        if subtype != self._ndarray:  # the "numpy.ndarray" this unpickler handed out
            raise pickle.UnpicklingError("refused array subtype")
        self._bound(shape, dtype)
        return np._core.multiarray._reconstruct(np.ndarray, shape, dtype)

    def _frombuffer(self, buffer, dtype, shape, order):
        self._bound(shape, dtype)
        return np._core.numeric._frombuffer(buffer, dtype, shape, order)

    @staticmethod
    def _encode(text, encoding="utf-8", errors="strict"):
        """numpy's older pickles turn their raw data into bytes with _codecs.encode(str, "latin1"): one byte per
        character, never more than the file holds. Any other use (bytes through "hex" or "base64", nested,
        doubles its size per call) is refused before it runs."""
        if not isinstance(text, str) or str(encoding).replace("-", "").replace("_", "").lower() != "latin1":
            raise pickle.UnpicklingError(f"refused _codecs.encode of a {type(text).__name__} as {str(encoding)[:20]!r}")
        return text.encode("latin-1", errors if errors in ("strict",) else "strict")

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        if module == "_codecs":
            return self._encode
        return {"_reconstruct": self._reconstruct, "_frombuffer": self._frombuffer, "ndarray": self._ndarray,
                "dtype": np.dtype}[name]

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused persistent id")


def load_array(path: Path) -> np.ndarray:
    """Load a plain numeric ndarray from a pickle, refusing anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror}); rerun {build_command('embed')}") from None
    try:
        value = _ArrayOnlyUnpickler(io.BytesIO(data), limit=len(data)).load()
    except MemoryError:
        raise ArtifactError(f"{path.name}: not enough memory to load it ({len(data):,} bytes); "
                            "give the process more memory or rebuild a smaller set") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise ArtifactError(
            f"{path.name}: not a plain numpy array pickle ({exc}); refusing to load it, "
            f"rebuild it with {build_command('embed')}"
        ) from None
    if not isinstance(value, np.ndarray):
        raise ArtifactError(
            f"{path.name}: holds a {type(value).__name__}, expected a numpy array; rebuild it with {build_command('embed')}"
        )
    if value.dtype.hasobject or value.dtype.kind not in "fiu":
        raise ArtifactError(
            f"{path.name}: array dtype {value.dtype} is not numeric; rebuild it with {build_command('embed')}"
        )
    return value


def dump_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a pickle (atomically) that :func:`load_array` accepts.

    Protocol 5 streams the array's own buffer into the file: no second copy of
    the vectors is made in memory (protocol 4 builds one as bytes first)."""
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise ValueError("refusing to pickle an object array")
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        pickle.dump(array, handle, protocol=5)


class _SpliceWriter:
    """A file for pickle.Pickler that writes ``chunks`` where the array's own buffer would go.

    Protocol 5 hands a large array's buffer to ``write`` as one PickleBuffer
    (outside any frame); everything else (opcodes, dtype, shape) passes through.
    """

    def __init__(self, handle, nbytes: int, dtype: np.dtype, chunks: Iterable[np.ndarray]):
        self.handle, self.nbytes, self.dtype, self.chunks = handle, nbytes, dtype, chunks
        self.spliced = False

    def write(self, data) -> int:
        if isinstance(data, pickle.PickleBuffer) and not self.spliced:
            if memoryview(data).nbytes != self.nbytes:
                raise ValueError("unexpected buffer in the pickle stream")
            written = 0
            for chunk in self.chunks:
                chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
                written += chunk.nbytes
                if written > self.nbytes:
                    raise ValueError(f"chunks hold more than the {self.nbytes:,} bytes announced")
                self.handle.write(chunk.data)
            if written != self.nbytes:
                raise ValueError(f"chunks held {written:,} bytes, {self.nbytes:,} announced")
            self.spliced = True
            return self.nbytes
        return self.handle.write(data)


def dump_array_chunks(path: Path, shape: tuple[int, ...], dtype, chunks: Iterable[np.ndarray]) -> None:
    """Write the array whose rows arrive as ``chunks`` (in order) as the same pickle :func:`dump_array` writes.

    The bytes are identical to pickling the whole array; the whole array is never in memory.
    A placeholder of the final shape is made with ``np.empty``, whose pages are never touched
    (only its shape goes into the pickle), and its buffer is replaced by the chunks as they come.
    Small arrays (inside one pickle frame) are simply assembled and dumped.
    """
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise ValueError("refusing to pickle an object array")
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < _STREAM_MIN_BYTES:
        parts = [np.ascontiguousarray(c, dtype=dtype).reshape(-1, *shape[1:]) for c in chunks]
        whole = np.concatenate(parts) if parts else np.empty(shape, dtype)
        if whole.shape != tuple(shape):
            raise ValueError(f"chunks make an array of shape {whole.shape}, {tuple(shape)} announced")
        dump_array(path, whole)
        return
    placeholder = np.empty(shape, dtype)
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        splice = _SpliceWriter(handle, nbytes, dtype, chunks)
        pickle.Pickler(splice, protocol=5).dump(placeholder)
        if not splice.spliced:
            raise ValueError("the pickle stream carried no array buffer to replace")
