"""Captioning: load an image-to-text model of a supported family, answer prompts for a batch of images.

The family (imagesearch.models.families) says how the model is loaded and prompted. For every family:
max_new_tokens bounds the answer (max_length would count the image and prompt tokens); only the tokens the
model wrote are decoded; 4/8-bit loading goes through BitsAndBytesConfig; batches are left-padded with a pad
token set, so an image gets the same greedy text alone and inside a batch.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from imagesearch.errors import ArtifactError, first_line
from imagesearch.models.caption_text import clean_caption, join_answers, with_text
from imagesearch.models.families import SEED_PROMPTS, Family, family_of
from imagesearch.models.runtime import (ExportMismatch, RuntimeChoice, cpu_flags, onnxruntime_installed,
                                        openvino_installed, resolve)

log = logging.getLogger(__name__)

DEFAULT_CAPTIONER = "Salesforce/instructblip-vicuna-7b"
OFFLINE_CAPTIONER = "give --captioner a local captioner folder (one saved with save_pretrained)"
__all__ = ["SEED_PROMPTS", "Captioner", "GenerationSettings"]
CLEANER_VERSION = 1
QUANTIZATIONS = ("none", "4bit", "8bit")


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 256
    num_beams: int = 1
    do_sample: bool = False
    repetition_penalty: float = 1.0
    quantization: str = "none"  # none | 4bit | 8bit

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_manifest(cls, recorded: Any) -> "GenerationSettings":
        """The settings a manifest's ``captioner.generation`` records; keys this code does not use (the seed's
        max_length) are left out, and a quantization it cannot load is read as none."""
        recorded = recorded if isinstance(recorded, dict) else {}
        kept = {name: recorded[name] for name in cls.__dataclass_fields__ if name in recorded}
        if kept.get("quantization") not in QUANTIZATIONS:
            kept.pop("quantization", None)
        return cls(**kept)


def probe_image() -> Image.Image:
    """A fixed synthetic photograph-like image: what an exported encoder is checked against torch on."""
    import numpy as np

    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([(x * 255 // 319), (y * 255 // 239), ((x // 20 + y // 20) % 2) * 200 + 25], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def choose_runtime(family: Family, device: str | None, dtype_name: str, runtime: str, batch: int,
                   onnx: bool = True) -> RuntimeChoice:
    """What ``runtime`` and ``dtype_name`` come to for this family on this machine at ``batch`` images a call
    (refused in one line when they cannot run here); cheap, so a run checks it before any work. ``onnx``: False
    once ONNX Runtime's export failed for this model (auto chooses again without it)."""
    import torch

    cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    return resolve(runtime, dtype_name, cuda, cpu_flags(), openvino_installed(), family.vision_tower is not None,
                   batch=batch, onnx_ok=onnx and onnxruntime_installed())


def default_export_cache() -> Path:
    """Exports live in the Hugging Face cache, beside the models they come from."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "imagesearch-exports"


class Captioner:
    def __init__(self, model: Any, processor: Any, device: str, dtype: Any, settings: GenerationSettings,
                 family: Family, runtime: RuntimeChoice | None = None, export: Any = None):
        self.runtime = runtime or RuntimeChoice("torch", str(dtype).removeprefix("torch."))
        self.export = export  # vision_export.ExportInfo where the vision encoder runs in OpenVINO
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self.settings = settings
        self.family = family
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
        self.pad_token_id = getattr(getattr(model.config, "text_config", model.config), "pad_token_id", None)
        if self.pad_token_id is None:
            self.pad_token_id = tokenizer.pad_token_id

    @classmethod
    def load(cls, model_id: str, settings: GenerationSettings, device: str | None = None,
             dtype_name: str = "auto", runtime: str = "auto", export_cache: Path | None = None,
             batch: int = 4, onnx: bool = True) -> "Captioner":
        """``dtype_name`` and ``runtime``: see imagesearch.models.runtime (auto: bfloat16 torch on CUDA; on a CPU
        where the family exports, OpenVINO's vision encoder in bfloat16 where the CPU has it, beside an int8 text
        side where ``batch``, the images a call describes, is 1; where it has not, ONNX Runtime's int8 encoder
        beside the int8 text side). ``onnx``: False to leave ONNX Runtime out of auto's choice."""
        import torch

        family = family_of(model_id)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if settings.quantization != "none" and runtime == "auto":
            runtime = "torch"  # bitsandbytes quantizes torch's Linear layers
        choice = choose_runtime(family, device, dtype_name, runtime, batch, onnx)
        if settings.quantization != "none" and (choice.runtime != "torch" or choice.dtype == "int8"):
            raise ArtifactError(f"--quantization {settings.quantization} loads through bitsandbytes; use it with "
                                "--runtime torch and a float --dtype")
        dtype = torch.float32 if choice.runtime != "torch" or choice.dtype == "int8" else getattr(torch, choice.dtype)
        kwargs: dict[str, Any] = {"dtype": dtype}
        if settings.quantization != "none":
            try:
                import bitsandbytes  # noqa: F401
            except ImportError:
                raise ArtifactError(f"--quantization {settings.quantization} needs bitsandbytes: pip install bitsandbytes, "
                                    "or use --quantization none") from None
            from transformers import BitsAndBytesConfig

            if settings.quantization == "4bit":
                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
            else:
                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
            kwargs["device_map"] = {"": device}
        log.info("loading %s captioner %s on %s (%s, %s)", family.model_type, model_id, device, choice.label,
                 settings.quantization)
        try:
            processor, model = family.load(model_id, **kwargs)
        except (OSError, ValueError, ImportError) as exc:  # missing folder, unreachable id, a missing optional package
            raise ArtifactError(f"captioner {model_id!r} could not be loaded ({first_line(exc)}); "
                                "give a local captioner folder or a reachable hub id with --captioner") from None
        if settings.quantization == "none":
            model = model.to(device)
        model.eval()
        captioner = cls(model, processor, device, dtype, settings, family, choice)
        try:
            captioner.use_runtime(choice, export_cache or default_export_cache())
        except ExportMismatch as exc:
            if runtime != "auto":
                fix = "--runtime openvino or torch" if choice.runtime == "onnx" else "--runtime torch"
                raise ArtifactError(f"--runtime {choice.runtime}: {exc}; use {fix}") from None
            if choice.runtime == "onnx":  # auto's next choice without ONNX Runtime: OpenVINO's encoder, else torch
                log.warning("%s; choosing again without ONNX Runtime", exc)
                return cls.load(model_id, settings, device, dtype_name, "auto", export_cache, batch, onnx=False)
            log.warning("%s; captioning with torch instead", exc)  # in the format asked (auto: torch's float)
            return cls.load(model_id, settings, device, dtype_name, "torch", export_cache, batch)
        return captioner

    def use_runtime(self, choice: RuntimeChoice, export_cache: Path) -> None:
        """Put a float32 torch captioner into ``choice``'s runtime and format: for OpenVINO and ONNX Runtime, the
        vision encoder is exported (or a sound export found), the torch encoder dropped, the rest converted, and
        only then the export compiled, so memory never holds both encoders and float32 weights at once (with
        int8, the text side's Linear layers quantized per output channel); for torch, the weights converted or
        quantized. Raises runtime.ExportMismatch when the export disagrees."""
        import torch

        exported = choice.runtime in ("openvino", "onnx")
        if exported:
            from imagesearch.models import vision_export

            probe = self.family.inputs(self.processor, [probe_image()], (self.family.default_prompts or (None,))[0])
            path = self.family.vision_tower
            tower, pixels = vision_export.tower_of(self.model, path), vision_export.encoder_batch(probe["pixel_values"])
            if choice.runtime == "onnx":
                from imagesearch.models import onnx_export

                prepared = onnx_export.prepare(tower, self.family.model_type, pixels, export_cache)
            else:
                prepared = vision_export.prepare(tower, self.family.model_type, pixels, export_cache,
                                                 half=choice.encoder_dtype == "bfloat16")
            del tower
            vision_export.install(self.model, path, None, self._text_dtype(choice))  # the torch encoder freed
        if choice.dtype == "int8" and exported:
            from imagesearch.models.int8_linears import quantize_linears

            log.info("text side: %d Linear layers in int8", quantize_linears(self.model))
            self.dtype = torch.float32
        elif choice.dtype == "int8":
            from torch.ao.quantization import quantize_dynamic

            self.model = quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
            self.dtype = torch.float32
        elif self.dtype != getattr(torch, choice.dtype):
            self.dtype = getattr(torch, choice.dtype)
            self.model = self.model.to(self.dtype)
        if choice.runtime == "onnx":
            compiled, self.export = onnx_export.compile_checked(prepared, torch.get_num_threads(),
                                                                self._text_dtype(choice))
            vision_export.install(self.model, path, compiled, self._text_dtype(choice))
        elif exported:
            compiled, self.export = vision_export.compile_checked(prepared, choice.encoder_dtype,
                                                                  torch.get_num_threads())
            vision_export.install(self.model, path, compiled, self._text_dtype(choice))
        self.runtime = choice

    @staticmethod
    def _text_dtype(choice: RuntimeChoice) -> Any:
        """The dtype of the tensors the text side takes (int8 layers take and give float32)."""
        import torch

        return torch.float32 if choice.dtype == "int8" else getattr(torch, choice.dtype)

    def answer(self, images: Sequence[Image.Image], prompt: str | None) -> list[str]:
        """One cleaned answer per image for ``prompt`` (None: a caption-only family's caption)."""
        import torch

        inputs = self.family.inputs(self.processor, list(images), prompt)
        pixels = torch.float32 if self.runtime.runtime == "openvino" else self.dtype  # OpenVINO takes float32 pixels
        inputs = {k: (v.to(self.device, pixels) if k == "pixel_values" else v.to(self.device)) for k, v in inputs.items()}
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=self.settings.do_sample,
                num_beams=self.settings.num_beams,
                max_new_tokens=self.settings.max_new_tokens,
                repetition_penalty=self.settings.repetition_penalty,
                **({"pad_token_id": self.pad_token_id} if self.family.pad_to_generate else {}),
            )
        if self.family.prompt_in_output and "input_ids" in inputs:
            output = output[:, inputs["input_ids"].shape[1]:]
        texts = self.processor.batch_decode(output, skip_special_tokens=True)
        return [clean_caption(text, prompt or "") for text in texts]

    def describe(self, images: Sequence[Image.Image], prompts: Sequence[str] = (), read_text: bool = False) -> list[str]:
        """Each image's answers to every prompt (the family's own when none are given), joined with one space;
        with ``read_text``, followed by the words the model reads in the image."""
        per_prompt = [self.answer(images, prompt) for prompt in self.family.prompts(tuple(prompts)) or (None,)]
        texts = [join_answers([answers[i] for answers in per_prompt]) for i in range(len(images))]
        if read_text:
            texts = [with_text(text, words) for text, words in zip(texts, self.answer(images, self.family.reading_prompt()))]
        return texts

    def describe_each(self, images: Sequence[Image.Image], prompts: Sequence[str] = (),
                      read_text: bool = False) -> list[str | Exception]:
        """Like :meth:`describe`, but a batch that fails is retried one image at a time, so a bad image fails alone
        (its place holds the exception)."""
        try:
            return list(self.describe(images, prompts, read_text))
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            if len(images) == 1:
                return [exc]
            log.warning("batch of %d failed (%s); retrying one image at a time", len(images), exc)
        results: list[str | Exception] = []
        for image in images:
            try:
                results.append(self.describe([image], prompts, read_text)[0])
            except Exception as single:  # noqa: BLE001
                results.append(single)
        return results
