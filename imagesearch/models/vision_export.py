"""The captioner's vision encoder, exported once to OpenVINO and run in its place.

The encoder is most of a caption's time on a CPU, and it is one fixed graph (pixels in, features out), so it is
the part worth exporting; the decoder keeps transformers' own generate() (its cache, stopping rules and
family quirks stay as they are). An export is keyed by everything that decides its output: the family, the
encoder's config, a hash of its weights, the input shape, the OpenVINO version and whether its weights are kept
in float16 (for a bfloat16 run, which computes in bfloat16 anyway: half the file on disk; a float32 run keeps them
whole). So a new model revision or a new OpenVINO is a new export, and an old one is never reused for it. Each
export folder keeps the sha256 of its two files; a file that does not match, or that OpenVINO cannot read, is
exported again, never used.

Before an export is kept, its features are compared with the float32 torch encoder's on a probe image at the
precision it will run in: below a cosine of 0.99 it is refused (``ExportMismatch``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import openvino
import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from imagesearch.errors import ArtifactError
from imagesearch.models import transposes
from imagesearch.models.runtime import ExportMismatch

log = logging.getLogger(__name__)

MIN_COSINE = 0.99
EXPORT_VERSION = 1
FILES = ("vision.xml", "vision.bin")
CHUNK_PIXELS = 1 << 20  # pixels per call of the compiled encoder (whole images, at least one): chunk_size()


@dataclass(frozen=True)
class ExportInfo:
    folder: Path
    seconds: float  # 0.0 when an earlier export was reused
    reused: bool
    feature_cosine: float
    transposes_rewritten: int = 0  # imagesearch.models.transposes, when compiled


def tower_of(model: Any, path: str) -> Any:
    """The module at ``path`` (a family's vision_tower) inside ``model``."""
    module = model
    for name in path.split("."):
        module = getattr(module, name)
    return module


def _swap(model: Any, path: str, replacement: Any) -> None:
    parent, _, last = path.rpartition(".")
    setattr(tower_of(model, parent) if parent else model, last, replacement)


def export_key(tower: Any, family: str, input_shape: tuple[int, ...], half: bool = False,
               runtime: dict[str, str] | None = None) -> str:
    """A digest of everything the exported graph depends on; ``runtime``: the versions that write and run it
    (default OpenVINO's; imagesearch.models.onnx_export gives its own)."""
    digest = hashlib.sha256()
    config = getattr(tower, "config", None)
    digest.update(json.dumps({"family": family, "class": type(tower).__name__, "shape": list(input_shape),
                              **(runtime or {"openvino": openvino.__version__}), "export": EXPORT_VERSION,
                              "half": half, "config": config.to_json_string() if config is not None else ""},
                             sort_keys=True).encode())
    with torch.no_grad():
        for name, tensor in sorted(tower.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def encoder_batch(pixel_values: Any, most: int = 2) -> Any:
    """What a family's processor gave as pixel_values, as the encoder takes them: a batch of images, or for
    idefics3 ((images, tiles, 3, H, W)) a batch of tiles, its all-zero padding tiles left out; the first ``most``
    (a probe need not be a whole photo's 17 tiles)."""
    if pixel_values.dim() == 5:
        pixel_values = pixel_values.reshape(-1, *pixel_values.shape[2:])
        pixel_values = pixel_values[pixel_values.flatten(1).ne(0).any(dim=1)]
    return pixel_values[:most]


def chunk_size(pixel_values: Any) -> int:
    """Images (idefics3: tiles) per call of the compiled encoder: as many as fit CHUNK_PIXELS, at least one.

    The encoder's activations grow with the pixels of a call, and cutting a batch costs no speed once an image is
    a few hundred tokens: Florence-2-base's 768 px photo goes one at a time (float32 on an AVX2 CPU, batch 4: peak
    2.2 GB instead of 2.9, under float32 torch's 2.3-2.6, at the same s/image), SmolVLM's 512 px tiles four at a
    time (4 and 8 a call equally fast in float32 there; all 68 tiles of four photos at once peaked above float32 torch),
    BLIP-large's 384 px images seven at a time (docs/captioning.md, "Again without bfloat16")."""
    return max(1, CHUNK_PIXELS // (int(pixel_values.shape[-1]) * int(pixel_values.shape[-2])))


def feature_graph(tower: Any):
    class Features(torch.nn.Module):  # pixels -> the encoder's last hidden state, nothing else traced
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values)[0]

    return Features(tower).eval()


def cosine(a: Any, b: Any) -> float:
    """The lowest cosine between the two feature sets, image by image."""
    import numpy as np

    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    dots = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
    return float(dots.min())


def valid(folder: Path, key: str, files: tuple[str, ...] = FILES) -> bool:
    """Whether ``folder`` holds the export ``key`` names, every file as export.json's sha256 says."""
    try:
        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        return meta.get("key") == key and all(_sha256(folder / name) == meta["sha256"][name] for name in files)
    except (OSError, ValueError, KeyError, TypeError):
        return False


@dataclass(frozen=True)
class Prepared:
    """A sound export on disk, read by OpenVINO, and the float32 torch features it must agree with."""
    graph: Any  # openvino.Model
    reference: Any  # numpy features of the probe
    probe: Any
    info: ExportInfo


def prepare(tower: Any, family: str, probe: Any, cache: Path, half: bool = False) -> Prepared:
    """The export of ``tower`` in ``cache`` (made now unless a sound one is there: its files' sha256 checked and
    OpenVINO able to read it), with torch float32's features of ``probe`` (pixel values of one or more images).
    After this the torch tower is no longer needed."""
    key = export_key(tower, family, tuple(probe.shape[1:]), half)
    folder = Path(cache) / f"{family}-{'fp16' if half else 'fp32'}-{key[:24]}"
    return cached(tower, probe, folder, key, FILES, lambda stage: _convert(tower, probe, stage, half),
                  lambda found: openvino.Core().read_model(str(found / FILES[0])))


def cached(tower: Any, probe: Any, folder: Path, key: str, files: tuple[str, ...],
           make: Callable[[Path], dict[str, Any]], read: Callable[[Path], Any]) -> Prepared:
    """Any runtime's export of ``tower`` in ``folder``: reused when its ``files`` match export.json's sha256 and
    ``read`` opens it, else made again by ``make`` (see write); with torch float32's features of ``probe``."""
    with torch.no_grad():
        reference = feature_graph(tower)(probe.to(torch.float32)).to(torch.float32).numpy()
    started, reused = time.perf_counter(), valid(folder, key, files)
    if not reused and folder.exists():
        log.warning("vision export %s is damaged or incomplete; exporting it again", folder)
    graph = None
    if reused:
        try:
            graph = read(folder)
        except Exception as exc:  # noqa: BLE001 - a file the runtime cannot read is exported again
            log.warning("vision export %s could not be read (%s); exporting it again", folder, exc)
            reused = False
    if graph is None:
        write(folder, key, files, make)
        graph = read(folder)
    seconds = 0.0 if reused else time.perf_counter() - started
    return Prepared(graph, reference, probe, ExportInfo(folder, round(seconds, 1), reused, float("nan")))


def compile_checked(prepared: Prepared, precision: str, threads: int) -> tuple[Any, ExportInfo]:
    """The prepared export compiled for ``precision`` (its slow transposes rewritten first: imagesearch.models.
    transposes), refused (ExportMismatch) below MIN_COSINE to torch."""
    rewritten = transposes.rewrite(prepared.graph)
    if rewritten:
        log.info("vision encoder: %d transposes rewritten as reorders", rewritten)
    compiled = openvino.Core().compile_model(prepared.graph, "CPU", {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bfloat16" else "f32",
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
    agreement = cosine(compiled(prepared.probe.to(torch.float32).numpy())[0], prepared.reference)
    if agreement < MIN_COSINE:
        raise ExportMismatch(f"the OpenVINO {precision} vision encoder agrees with torch float32 at cosine "
                             f"{agreement:.4f} (< {MIN_COSINE}) on a probe image")
    info = prepared.info
    log.info("vision encoder: OpenVINO %s %s (%s, cosine %.5f to torch float32)", openvino.__version__, precision,
             "reused" if info.reused else f"exported in {info.seconds:.1f} s", agreement)
    return compiled, ExportInfo(info.folder, info.seconds, info.reused, agreement, rewritten)


def _convert(tower: Any, probe: Any, stage: Path, half: bool) -> dict[str, Any]:
    with torch.no_grad():
        graph = openvino.convert_model(feature_graph(tower), example_input=probe.to(torch.float32),
                                       input=[openvino.PartialShape([-1, *probe.shape[1:]])])
    openvino.save_model(graph, str(stage / FILES[0]), compress_to_fp16=half)
    return {"openvino": openvino.__version__, "input_shape": list(probe.shape[1:])}


def write(folder: Path, key: str, files: tuple[str, ...], make: Callable[[Path], dict[str, Any]]) -> None:
    """``make`` writes an export's ``files`` into a temporary folder beside ``folder`` (and says what to record),
    export.json gets their sha256, and only then is the whole folder moved into place: a run killed while
    exporting leaves no folder a later run could take for sound."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        meta = {"key": key, **make(stage), "sha256": {name: _sha256(stage / name) for name in files}}
        (stage / "export.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if valid(folder, key, files):  # another process (a Ray actor beside this one) made it meanwhile: keep
            return  # theirs, which it may be reading now
        if folder.exists():
            shutil.rmtree(folder)
        try:
            stage.rename(folder)
        except OSError:  # made by another process between the check and the rename
            if not valid(folder, key, files):
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class ExportedTower(torch.nn.Module):
    """Stands where the family's vision encoder stood: pixel_values in, an output with last_hidden_state out; a
    runtime's tower says how many images (idefics3: tiles) go in a call and runs one call."""

    def __init__(self, dtype: Any):
        super().__init__()
        self.out_dtype = dtype

    def per_call(self, pixels: Any) -> int:
        raise NotImplementedError

    def run(self, part: Any) -> Any:
        """The features of ``part`` (a contiguous float32 numpy batch), as a numpy array the caller may keep."""
        raise NotImplementedError

    def forward(self, pixel_values=None, *args, patch_attention_mask=None, **kwargs):
        if patch_attention_mask is not None and not bool(patch_attention_mask.all()):
            # idefics3 pads a tile only when its processor does not split images: the export knows whole tiles
            raise ArtifactError("the exported vision encoder takes whole tiles, and this captioner's processor "
                                "padded one (image splitting off?); caption with --runtime torch")
        pixels = (pixel_values if pixel_values is not None else args[0]).detach().to(torch.float32)
        parts = [torch.from_numpy(self.run(part.contiguous().numpy())) for part in pixels.split(self.per_call(pixels))]
        return BaseModelOutputWithPooling(last_hidden_state=torch.cat(parts).to(self.out_dtype))


class OpenVinoTower(ExportedTower):
    """The compiled OpenVINO encoder, a few images a call (chunk_size: bounds its activations)."""

    def __init__(self, compiled: Any, dtype: Any):
        super().__init__(dtype)
        self.compiled = compiled
        self.request = compiled.create_infer_request() if compiled is not None else None

    def per_call(self, pixels: Any) -> int:
        return chunk_size(pixels)

    def run(self, part: Any) -> Any:
        if self.request is None:
            raise RuntimeError("the OpenVINO vision encoder is not compiled yet")
        self.request.infer([part])
        return self.request.get_output_tensor(0).data.copy()


def install(model: Any, path: str, compiled: Any, dtype: Any) -> None:
    """Run ``compiled`` where the model's own vision encoder (at ``path``) ran (None: a placeholder, so the torch
    encoder's weights are freed before the export is compiled); an ExportedTower goes in as it is."""
    _swap(model, path, compiled if isinstance(compiled, ExportedTower) else OpenVinoTower(compiled, dtype))
