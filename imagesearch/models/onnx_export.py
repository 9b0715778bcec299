"""The captioner's vision encoder exported once to ONNX, its matrix products in int8, run in ONNX Runtime.

Where it pays: a CPU without bfloat16 (AVX2 only). There the encoder is most of a caption, and OpenVINO's int8 is
no faster than its float32 (no fast int8 kernel without VNNI: docs/captioning.md), while ONNX Runtime's int8
matrix products (MLAS) run at about twice float32's rate: Florence-2-base's encoder 3.28 -> 2.19 s/image on a
2-core AVX2 EPYC. The export is torch's ONNX export of the encoder (pixels in, features out), optimized by ONNX
Runtime's quantization pre-processing (without it the quantized graph kept 5-D transposes that cost a fifth of
its time), then dynamically quantized: every MatMul's weights to int8, one scale per output channel, 7 bits
(``reduce_range``: without VNNI the products add up in pairs in saturating 16-bit lanes), its activations to uint8
from their own range at each call. Convolutions stay float (DaViT's depthwise ones ran ten times slower in int8).

One image (an idefics3 tile) a call: the activations' range is the call's, so a photo's features never depend on
the photos described beside it, and a resumed or differently batched run writes the same captions.

Cached, checked and refused as vision_export's OpenVINO exports are: keyed by the encoder's weights, config and
input shape and the onnx / onnxruntime versions, the file's sha256 kept and checked (a damaged or unreadable
export is made again, never used), and the compiled encoder compared with float32 torch on a probe image
(cosine >= 0.99, else ExportMismatch).
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import onnx
import onnxruntime
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process

from imagesearch.errors import first_line
from imagesearch.models import vision_export
from imagesearch.models.runtime import ExportMismatch
from imagesearch.models.vision_export import ExportedTower, ExportInfo, Prepared

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
MIN_COSINE = vision_export.MIN_COSINE
FILES = ("vision.onnx",)
MAX_FLOAT_BYTES = 2 * 1024 ** 3  # one ONNX file holds at most 2 GB: the float32 export must fit before quantizing


def versions() -> dict[str, str]:
    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "onnx_export": str(EXPORT_VERSION)}


def prepare(tower: Any, family: str, probe: Any, cache: Path) -> Prepared:
    """The int8 export of ``tower`` in ``cache`` (made now unless a sound one is there: vision_export.cached), with
    float32 torch's features of ``probe``; its ``graph`` is the file's path. After this the torch tower is no
    longer needed."""
    size = sum(p.numel() for p in tower.parameters()) * 4
    if size > MAX_FLOAT_BYTES:
        raise ExportMismatch(f"the vision encoder holds {size / 1e9:.1f} GB of float32 weights, over an ONNX "
                             "file's 2 GB")
    key = vision_export.export_key(tower, family, tuple(probe.shape[1:]), runtime=versions())
    folder = Path(cache) / f"{family}-onnx-int8-{key[:24]}"
    # the file is read by the session when compiled: one ONNX Runtime cannot load is an ExportMismatch there
    return vision_export.cached(tower, probe, folder, key, FILES, lambda stage: _export(tower, probe, stage),
                                lambda found: found / FILES[0])


@contextmanager
def _whole_tile_positions(tower: Any) -> Iterator[None]:
    """While exporting SigLIP's tiles (idefics3): every tile is whole (the tower refuses a padded one), so its
    position ids are 0..n-1 and its position embeddings the table's first n rows, the same values the model's
    bucketize of patch coordinates gives; torch's ONNX export writes that bucketize as an invalid graph."""
    embeddings = getattr(tower, "embeddings", None)
    if not hasattr(embeddings, "position_embedding") or not hasattr(embeddings, "num_patches_per_side"):
        yield
        return

    def whole(pixel_values, patch_attention_mask=None):
        patches = embeddings.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        return patches + embeddings.position_embedding.weight[: patches.shape[1]]

    embeddings.forward = whole
    try:
        yield
    finally:
        del embeddings.forward


@contextmanager
def _quantizer_notes_off() -> Iterator[None]:
    """ONNX Runtime's quantizer logs a line per tensor on the root logger at INFO (96 for Florence-2-base's
    encoder); its warnings still pass."""
    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "onnxruntime" not in record.pathname

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _export(tower: Any, probe: Any, stage: Path) -> dict[str, Any]:
    log.info("vision encoder: exporting to ONNX in int8 (once for this model)")
    try:
        return _export_int8(tower, probe, stage)
    except (RuntimeError, ValueError, TypeError, onnx.checker.ValidationError) as exc:  # a graph it cannot write
        raise ExportMismatch(f"the ONNX export of the vision encoder failed ({first_line(exc)})") from None


def _export_int8(tower: Any, probe: Any, stage: Path) -> dict[str, Any]:
    plain, optimized = stage / "float.onnx", stage / "optimized.onnx"
    with torch.no_grad(), warnings.catch_warnings(), _whole_tile_positions(tower):
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it takes as constants: the batch stays free
        torch.onnx.export(vision_export.feature_graph(tower), (probe.to(torch.float32),), str(plain), dynamo=False,
                          input_names=["pixel_values"], output_names=["features"], opset_version=17,
                          dynamic_axes={"pixel_values": {0: "batch"}, "features": {0: "batch"}})
    with _quantizer_notes_off():
        quant_pre_process(str(plain), str(optimized), skip_symbolic_shape=True)
        quantize_dynamic(str(optimized), str(stage / FILES[0]), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, op_types_to_quantize=["MatMul"])
    plain.unlink()
    optimized.unlink()
    return {**versions(), "input_shape": list(probe.shape[1:])}


class OnnxTower(ExportedTower):
    """The int8 encoder in ONNX Runtime, one image (tile) a call."""

    def __init__(self, session: Any, dtype: Any):
        super().__init__(dtype)
        self.session = session

    def per_call(self, pixels: Any) -> int:
        return 1

    def run(self, part: Any) -> Any:
        return self.session.run(None, {"pixel_values": part})[0]


def compile_checked(prepared: Prepared, threads: int, dtype: Any) -> tuple[OnnxTower, ExportInfo]:
    """The export in an ONNX Runtime session on ``threads`` threads that do not spin between calls (the torch
    text side runs next on the same cores), refused (ExportMismatch) below MIN_COSINE to torch."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(str(prepared.graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime cannot run what the export wrote for this model
        raise ExportMismatch(f"ONNX Runtime cannot load the int8 vision encoder ({first_line(exc)})") from None
    tower = OnnxTower(session, dtype)
    with torch.no_grad():
        found = tower(prepared.probe).last_hidden_state.to(torch.float32).numpy()
    agreement = vision_export.cosine(found, prepared.reference)
    if agreement < MIN_COSINE:
        raise ExportMismatch(f"the ONNX Runtime int8 vision encoder agrees with torch float32 at cosine "
                             f"{agreement:.4f} (< {MIN_COSINE}) on a probe image")
    info = prepared.info
    log.info("vision encoder: ONNX Runtime %s int8 (%s, cosine %.5f to torch float32)", onnxruntime.__version__,
             "reused" if info.reused else f"exported in {info.seconds:.1f} s", agreement)
    return tower, ExportInfo(info.folder, info.seconds, info.reused, agreement)
