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
- ``onnx``: refused in one line: ONNX Runtime was measured slower than OpenVINO on every model here.

``auto`` keeps a GPU as it was (torch, bfloat16). On a CPU it takes OpenVINO where it is installed and the family's
encoder exports: the encoder in bfloat16 where the CPU multiplies it natively (avx512_bf16 or AMX), else float32;
the text side in int8 (openvino-fp32+int8) without bfloat16, and with it in int8 only for one image a call
(openvino-bf16+int8: the Space's uploads, --caption-batch-size 1), in bfloat16 for batches (openvino-bf16).
Torch otherwise, in bfloat16 or float32. docs/captioning.md has the runs behind this: on a bfloat16 CPU the int8
text side was no faster than the bfloat16 one at batch 4 (Florence 2.05 against 2.05 s/image, BLIP 1.88 against
1.71) and faster at batch 1, where each decode step reads every weight for one token (Florence 1.97 against 2.37).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ArtifactError

RUNTIMES = ("auto", "torch", "openvino", "onnx")
DTYPES = ("auto", "bfloat16", "float16", "float32", "int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "int8": "int8"}
ONNX_REFUSED = ("--runtime onnx: not offered; ONNX Runtime measured slower than OpenVINO here for every captioner "
                "(docs/captioning.md#cpu-runtimes); use --runtime openvino, or auto")


class ExportMismatch(RuntimeError):
    """An exported encoder's features differ from float32 torch's beyond the agreement bound (vision_export)."""


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: str  # torch | openvino
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


def resolve(runtime: str, dtype: str, cuda: bool, flags: frozenset[str], openvino_ok: bool,
            exportable: bool, *, batch: int) -> RuntimeChoice:
    """The runtime and format to run in: what was asked, with ``auto`` decided for this machine.

    ``exportable``: the captioner's family has a vision encoder the OpenVINO path can export. ``batch``: images a
    call describes (the caption step's --caption-batch-size; 1 for the Space's uploads)."""
    if runtime not in RUNTIMES:
        raise ArtifactError(f"--runtime {runtime}: choose one of {', '.join(RUNTIMES)}")
    if dtype not in DTYPES:
        raise ArtifactError(f"--dtype {dtype}: choose one of {', '.join(DTYPES)}")
    if runtime == "onnx":
        raise ArtifactError(ONNX_REFUSED)
    bf16 = any(flag in flags for flag in BF16_FLAGS)
    if cuda:
        if runtime == "openvino" or dtype == "int8":
            raise ArtifactError(f"--runtime {runtime} --dtype {dtype}: a CPU path; on a GPU use --runtime torch (or auto) "
                                "with --dtype bfloat16, float16 or float32")
        return RuntimeChoice("torch", "bfloat16" if dtype == "auto" else dtype)
    if runtime == "auto":
        runtime = "openvino" if openvino_ok and exportable and dtype != "int8" else "torch"
    if runtime == "openvino":
        if not openvino_ok:
            raise ArtifactError("--runtime openvino: the openvino package is not installed; pip install "
                                "openvino==2026.4.1, or use --runtime torch")
        if not exportable:
            raise ArtifactError("--runtime openvino: this captioner family's vision encoder is not exported "
                                "(florence2, blip and instructblip are); use --runtime torch, or auto")
        if dtype == "float16":
            raise ArtifactError("--runtime openvino --dtype float16: OpenVINO runs here in bfloat16, float32 or int8 "
                                "(int8 text side); choose one of those, or auto")
        if dtype == "int8" or (dtype == "auto" and (not bf16 or batch == 1)):  # int8 text side, encoder's best float
            return RuntimeChoice(runtime, "int8", "bfloat16" if bf16 else "float32")
    if dtype == "auto":
        dtype = "bfloat16" if bf16 else "float32"
    return RuntimeChoice(runtime, dtype)
