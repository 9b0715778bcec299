"""The embed step: every description becomes the encoder's unit vector, in row order, streamed chunk by chunk."""

import shutil

import numpy as np

import build.embed as embed
from build.embed import EmbedConfig, run_embed
from imagesearch.models.encoder import MINILM
from imagesearch.store import manifest as mf
from imagesearch.store.records import read_records
from imagesearch.store.safe_pickle import load_array
from testkit.paths import DEMO_ARTIFACTS


def test_vectors_are_the_encoders_in_row_order_whatever_the_chunking(tmp_path, minilm, monkeypatch, capsys):
    folder = tmp_path / "set"
    shutil.copytree(DEMO_ARTIFACTS, folder)
    monkeypatch.setattr(embed, "CHUNK_ROWS", 5)  # 23 rows in 5 chunks, the last one short
    manifest = run_embed(EmbedConfig(folder, MINILM, embed_batch_size=4, device="cpu", offline=True))
    vectors = load_array(folder / mf.EMBEDDING)
    expected = minilm.encode([r.description for r in read_records(folder / mf.DESCRIPTIONS)])
    assert vectors.shape == (23, 384) and np.allclose(vectors, expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert manifest["embedding"]["model"] == MINILM and manifest["index"] is None  # the old index no longer fits
    assert manifest["files"][mf.EMBEDDING]["bytes"] == (folder / mf.EMBEDDING).stat().st_size
    assert capsys.readouterr().out.startswith(f"embedded 23 descriptions -> {folder / mf.EMBEDDING} (384-d, {MINILM})")
