"""The caption step's flags for how the captioner runs: number format, runtime, where exports live, quantization.

What each choice does is imagesearch.models.runtime's to say; docs/captioning.md#cpu-runtimes has the figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imagesearch.models.runtime import DTYPES, RUNTIMES


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dtype", choices=DTYPES, default="auto",
                        help="the captioner's number format (auto: bfloat16 on a GPU and on a CPU that has it, "
                             "there int8 as below for --caption-batch-size 1; elsewhere int8 as below with "
                             "ONNX Runtime or OpenVINO, else float32; int8, CPU only: with --runtime onnx the "
                             "encoder's matrix products and the text side's Linear layers in int8, with openvino "
                             "the encoder in the CPU's best float and the text side in int8, with torch every "
                             "Linear layer in dynamic int8)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="auto (on a CPU where the family exports: OpenVINO's vision encoder in bfloat16 where "
                             "the CPU has it, else ONNX Runtime's int8 encoder; torch otherwise), torch, openvino, "
                             "onnx (int8 only)")
    parser.add_argument("--exports", type=Path, default=None,
                        help="folder for exported vision encoders (default: the Hugging Face cache's imagesearch-exports)")
    parser.add_argument("--quantization", choices=("none", "4bit", "8bit"), default="none",
                        help="load the captioner in 4 or 8 bit (needs bitsandbytes; slower than bf16)")
