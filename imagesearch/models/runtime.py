"""Which runtime and number format a captioner runs in, decided once from the machine.

On a CPU the time of a caption is the vision encoder's matrix products (75-85 % of it at batch 4) and the
decoder's steps; how fast those go depends on the number format and the runtime far more than on the model
(docs/captioning.md#cpu-runtimes has the figures this choice follows). The runtimes:

- ``torch``: the model as transformers runs it, in float32, bfloat16 (weights converted), float16, or int8
  (dynamic int8 quantization of every Linear layer, CPU only).
- ``openvino``: the family's vision encoder exported once to OpenVINO (imagesearch.models.vision_export) and run
  in bfloat16 or float32; the text side stays in torch at the same format. With ``int8`` the encoder runs in the
  CPU's best float format (bfloat16 where it multiplies it natively, else float32) and every Linear layer torch
  still runs (the decoder's, mostly: one-token steps that read every weight) holds int8 weights per output
  channel (imagesearch.models.int8_linears).
- ``onnx``: int8 only (label ``onnx-int8``): the family's vision encoder exported once to ONNX with its matrix
  products in dynamic int8 and run in ONNX Runtime (imagesearch.models.onnx_export), the text side's Linear layers
  in int8 as above. ONNX Runtime's float32 encoder was no faster than OpenVINO's, so it is not offered.

``auto`` keeps a GPU as it was (torch, bfloat16). On a CPU that multiplies bfloat16 natively (avx512_bf16 or AMX)
it takes OpenVINO where it is installed and the family's encoder exports, the encoder in bfloat16, the text side
in bfloat16 for batches (openvino-bf16) and in int8 for one image a call (openvino-bf16+int8: the Space's
uploads, --caption-batch-size 1). Without bfloat16 it takes ONNX Runtime's int8 encoder beside the int8 text side
(onnx-int8) where onnxruntime is installed, else OpenVINO's float32 encoder beside it (openvino-fp32+int8): on an
AVX2 CPU at batch 4 onnx-int8 took Florence-2-base 4.18 -> 3.36 s/image and BLIP-large 3.89 -> 2.79 against
openvino-fp32+int8 (2.2x and 2.45x float32 torch). Torch otherwise, in bfloat16 or float32. docs/captioning.md has
the runs behind this: on a bfloat16 CPU the int8 text side was no faster than the bfloat16 one at batch 4
(Florence 2.05 against 2.05 s/image, BLIP 1.88 against 1.71) and faster at batch 1, where each decode step reads
every weight for one token (Florence 1.97 against 2.37).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ArtifactError

RUNTIMES = ("auto", "torch", "openvino", "onnx")
DTYPES = ("auto", "bfloat16", "float16", "float32", "int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "int8": "int8"}
ONNX_FLOAT = ("--runtime onnx runs the vision encoder in int8 (its float32 was no faster than OpenVINO's): use --dtype "
              "int8 or auto, or --runtime openvino for a float encoder")


class ExportMismatch(RuntimeError):
    """An exported encoder's features differ from float32 torch's beyond the agreement bound (vision_export)."""


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: str  # torch | openvino | onnx
    dtype: str  # float32 | bfloat16 | float16 | int8
    vision: str = ""  # openvino int8 only: the exported vision encoder's format (bfloat16 | float32)

    @property
    def label(self) -> str:
        """How figures and manifests name it: torch-fp32, torch-bf16, openvino-bf16, torch-int8, openvino-fp32+int8
        (the vision encoder in OpenVINO float32, the text side's Linear layers int8)..."""
        if self.vision:
            return f"{self.runtime}-{SHORT[self.vision]}+{SHORT[self.dtype]}"
        return f"{self.runtime}-{SHORT[self.dtype]}"

    @property
    def encoder_dtype(self) -> str:
        """The format the vision encoder computes in."""
        return self.vision or self.dtype


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags of this machine's CPU (empty where /proc/cpuinfo cannot be read)."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def openvino_installed() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def onnxruntime_installed() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# an export runtime's packages: what is missing, the pinned install, the other way to go
PACKAGES = {"openvino": ("the openvino package is", "openvino==2026.4.1", "--runtime torch"),
            "onnx": ("the onnxruntime and onnx packages are", "onnxruntime==1.32.0 onnx==1.23.2", "--runtime openvino")}


def _check_export_runtime(runtime: str, installed: bool, exportable: bool) -> None:
    """Refuse in one line an export runtime that is not installed, or a family whose encoder does not export."""
    if not installed:
        missing, pin, instead = PACKAGES[runtime]
        raise ArtifactError(f"--runtime {runtime}: {missing} not installed; pip install {pin}, or use {instead}")
    if not exportable:
        raise ArtifactError(f"--runtime {runtime}: this captioner family's vision encoder is not exported "
                            "(florence2, blip, instructblip and idefics3 are); use --runtime torch, or auto")


def resolve(runtime: str, dtype: str, cuda: bool, flags: frozenset[str], openvino_ok: bool,
            exportable: bool, *, batch: int, onnx_ok: bool = False) -> RuntimeChoice:
    """The runtime and format to run in: what was asked, with ``auto`` decided for this machine.

    ``exportable``: the captioner's family has a vision encoder the export paths take. ``batch``: images a
    call describes (the caption step's --caption-batch-size; 1 for the Space's uploads). ``onnx_ok``: onnx and
    onnxruntime import."""
    if runtime not in RUNTIMES:
        raise ArtifactError(f"--runtime {runtime}: choose one of {', '.join(RUNTIMES)}")
    if dtype not in DTYPES:
        raise ArtifactError(f"--dtype {dtype}: choose one of {', '.join(DTYPES)}")
    bf16 = any(flag in flags for flag in BF16_FLAGS)
    if cuda:
        if runtime in ("openvino", "onnx") or dtype == "int8":
            raise ArtifactError(f"--runtime {runtime} --dtype {dtype}: a CPU path; on a GPU use --runtime torch (or auto) "
                                "with --dtype bfloat16, float16 or float32")
        return RuntimeChoice("torch", "bfloat16" if dtype == "auto" else dtype)
    if runtime == "auto" and dtype == "auto" and not bf16 and onnx_ok and exportable:
        runtime = "onnx"
    if runtime == "onnx":
        _check_export_runtime(runtime, onnx_ok, exportable)
        if dtype not in ("auto", "int8"):
            raise ArtifactError(ONNX_FLOAT)
        return RuntimeChoice("onnx", "int8")
    if runtime == "auto":
        runtime = "openvino" if openvino_ok and exportable and dtype != "int8" else "torch"
    if runtime == "openvino":
        _check_export_runtime(runtime, openvino_ok, exportable)
        if dtype == "float16":
            raise ArtifactError("--runtime openvino --dtype float16: OpenVINO runs here in bfloat16, float32 or int8 "
                                "(int8 text side); choose one of those, or auto")
        if dtype == "int8" or (dtype == "auto" and (not bf16 or batch == 1)):  # int8 text side, encoder's best float
            return RuntimeChoice(runtime, "int8", "bfloat16" if bf16 else "float32")
    if dtype == "auto":
        dtype = "bfloat16" if bf16 else "float32"
    return RuntimeChoice(runtime, dtype)
