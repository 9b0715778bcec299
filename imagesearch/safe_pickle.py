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

import numpy as np

from .errors import ArtifactError
from .fileio import atomic_write_bytes

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
_RESOLVED = {
    "_reconstruct": np._core.multiarray._reconstruct,
    "_frombuffer": np._core.numeric._frombuffer,
    "ndarray": np.ndarray,
    "dtype": np.dtype,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        if module == "_codecs":
            import _codecs

            return _codecs.encode
        return _RESOLVED[name]

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused persistent id")


def load_array(path: Path) -> np.ndarray:
    """Load a plain numeric ndarray from a pickle, refusing anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror}); rerun `python -m build embed`") from None
    try:
        value = _ArrayOnlyUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise ArtifactError(
            f"{path.name}: not a plain numpy array pickle ({exc}); refusing to load it, "
            "rebuild it with `python -m build embed`"
        ) from None
    if not isinstance(value, np.ndarray):
        raise ArtifactError(
            f"{path.name}: holds a {type(value).__name__}, expected a numpy array; rebuild it with `python -m build embed`"
        )
    if value.dtype.hasobject or value.dtype.kind not in "fiu":
        raise ArtifactError(
            f"{path.name}: array dtype {value.dtype} is not numeric; rebuild it with `python -m build embed`"
        )
    return value


def dump_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a pickle (atomically) that :func:`load_array` accepts."""
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise ValueError("refusing to pickle an object array")
    atomic_write_bytes(Path(path), pickle.dumps(array, protocol=4))
