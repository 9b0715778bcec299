"""Write a whole artifact set from rows and vectors made elsewhere (test sets, benchmark sets).

The same writers and the same staged, manifest-last commit as the build steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from build.indexing.query_texts import example_queries
from build.indexing.vector_index import IndexSpec
from build.indexing.builder import build_index
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.index_file import write_index
from imagesearch.store.lexical import build_lexical, lexical_documents, write_lexical
from imagesearch.store.records import Record, write_records
from imagesearch.store.safe_pickle import dump_array


def write_vector_set(folder: Path, records: Sequence[Record], vectors: np.ndarray, model: str, probe: dict[str, Any],
                     captioner: dict[str, Any], spec: IndexSpec = IndexSpec()) -> dict[str, Any]:
    """``vectors`` must already be L2-normalised float32 rows in ``records`` order; images must exist."""
    folder = Path(folder)
    built = build_index(vectors, spec)
    manifest = mf.new_manifest(captioner)
    manifest["embedding"] = mf.embedding_section(model, int(vectors.shape[1]), probe)
    manifest["index"] = mf.index_section(built.info)
    manifest["examples"] = example_queries(records)
    lexical = build_lexical(lexical_documents(records))
    manifest["lexical"] = mf.lexical_section(None, lexical.nbytes)
    with staged(folder) as stage:
        write_records(stage.path(mf.DESCRIPTIONS), list(records))
        dump_array(stage.path(mf.EMBEDDING), vectors)
        write_index(stage.path(mf.INDEX), built.index)
        write_lexical(stage.path(mf.LEXICAL), lexical)
        return mf.write_manifest(folder, manifest, list(records), stage)
