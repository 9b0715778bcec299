"""The caption step with a fast runtime: the reader decodes ahead, the manifest says how each caption was made,
and a change of runtime or number format recaptions nothing already journalled."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from build.caption.reader import prefetched
from build.describe import DescribeConfig, run_describe
from imagesearch.models.captioner import GenerationSettings
from imagesearch.store import manifest as mf
from imagesearch.store.records import IMAGES_DIR, read_records
from testkit.paths import REPO

SETTINGS = GenerationSettings(max_new_tokens=6)


@dataclass(frozen=True)
class _Item:
    data: bytes
    dataset: str = "d"
    source: str = "s"
    reads: list | None = None

    def read(self) -> bytes:
        self.reads.append((self.source, threading.current_thread().name))
        return self.data


@dataclass(frozen=True)
class _Planned:
    item: _Item
    sha: str


class _Notes:
    def __init__(self):
        self.notes = []

    def note(self, kind, item, reason):
        self.notes.append((kind, item.source))


class _Progress:
    def update(self, n):
        pass


def test_the_reader_decodes_the_next_batch_while_the_current_one_is_captioned_and_keeps_the_order(tmp_path):
    from io import BytesIO

    from PIL import Image

    png = BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(png, "PNG")
    reads = []
    plans = [_Planned(_Item(png.getvalue() if i != 4 else b"not an image", source=f"img{i}", reads=reads), f"{i:064x}")
             for i in range(6)]
    (tmp_path / IMAGES_DIR).mkdir()
    notes = _Notes()
    batches = iter(prefetched([plans[0:2], plans[2:4], plans[4:6]], tmp_path, 32, notes, _Progress()))
    first, _ = next(batches)
    deadline = time.monotonic() + 10
    while len(reads) < 4 and time.monotonic() < deadline:  # batch 2 is read while batch 1 is still in our hands
        time.sleep(0.01)
    assert [source for source, _ in reads[:4]] == ["img0", "img1", "img2", "img3"]
    assert all(thread.startswith("image-reader") for _, thread in reads)
    rest = list(batches)
    assert [p.item.source for p in first] == ["img0", "img1"]
    assert [[p.item.source for p in batch] for batch, _ in rest] == [["img2", "img3"], ["img5"]]
    assert notes.notes and notes.notes[0][1] == "img4"  # the bad image is noted and left out, in its place


def _describe(folder, source, model, **kwargs):
    return run_describe(DescribeConfig(artifacts=folder, datasets=(str(source),), captioner=str(model),
                                       generation=SETTINGS, exports=folder.parent / "exports", **kwargs))


def test_the_manifest_records_the_runtime_and_a_new_runtime_recaptions_nothing(tmp_path, photo_folder,
                                                                             tiny_captioners):
    folder = tmp_path / "set"
    first = _describe(folder, photo_folder, tiny_captioners["florence2"], runtime="openvino", dtype="float32")
    captioner = mf.read_manifest(folder)["captioner"]
    assert (captioner["runtime"], captioner["dtype"]) == ("openvino", "float32")
    assert captioner["made_with"] == {"openvino-fp32": first.captioned}
    descriptions = [r.description for r in read_records(folder / mf.DESCRIPTIONS)]

    again = _describe(folder, photo_folder, tiny_captioners["florence2"], runtime="torch", dtype="bfloat16")
    assert again.captioned == 0 and again.cached == first.captioned  # the captions are kept, not made again
    assert mf.read_manifest(folder)["captioner"]["made_with"] == {"openvino-fp32": first.captioned}
    assert [r.description for r in read_records(folder / mf.DESCRIPTIONS)] == descriptions

    reference = tmp_path / "reference"
    _describe(reference, photo_folder, tiny_captioners["florence2"], runtime="torch", dtype="float32")
    assert [r.description for r in read_records(reference / mf.DESCRIPTIONS)] == descriptions


@pytest.mark.parametrize("flags, words", [(["--runtime", "onnx", "--dtype", "float32"], "use --dtype int8 or auto"),
                                          (["--runtime", "openvino", "--dtype", "float16"],
                                           "bfloat16, float32 or int8")])
def test_the_command_line_refuses_a_runtime_in_one_line_before_any_image_is_read(flags, words, tmp_path,
                                                                                photo_folder, tiny_captioners):
    done = subprocess.run([sys.executable, "-m", "build", "describe", "--artifacts", str(tmp_path / "set"),
                           "--datasets", str(photo_folder), "--captioner", str(tiny_captioners["blip"]), *flags],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and words in done.stderr
    assert "hashing images" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "set").exists()


def test_the_space_reads_its_captioner_runtime_once_and_refuses_an_unknown_one():
    from imagesearch.errors import ConfigError
    from imagesearch.serve.config import AppConfig

    config = AppConfig.from_env({"CAPTIONER_RUNTIME": "torch", "CAPTIONER_DTYPE": "bfloat16"})
    assert (config.captioner_runtime, config.captioner_dtype) == ("torch", "bfloat16")
    assert AppConfig.from_env({}).captioner_runtime == "auto"
    with pytest.raises(ConfigError, match="CAPTIONER_RUNTIME='tensorrt'"):
        AppConfig.from_env({"CAPTIONER_RUNTIME": "tensorrt"})



def test_on_a_bfloat16_cpu_auto_gives_one_image_calls_the_int8_text_side_and_batches_bfloat16(
        tmp_path, photo_folder, tiny_captioners, monkeypatch):
    from imagesearch.models import captioner as captioner_module
    from imagesearch.serve.image_query import load_query_captioner

    monkeypatch.setattr(captioner_module, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    model = tiny_captioners["florence2"]
    assert load_query_captioner(str(model), SETTINGS, True).runtime.label == "openvino-bf16+int8"  # an upload
    for batch, label in ((1, "openvino-bf16+int8"), (2, "openvino-bf16")):
        folder = tmp_path / f"batch-{batch}"
        done = _describe(folder, photo_folder, model, caption_batch_size=batch)
        assert mf.read_manifest(folder)["captioner"]["made_with"] == {label: done.captioned}
