"""InstructBLIP captioning: load the model and processor, answer prompts for a batch of images.

transformers 5 facts this relies on: InstructBlipProcessor is loaded
explicitly (the hub repo's processor config names a video processor);
generate() returns the prompt tokens followed by the new ones for the
decoder-only Vicuna, so only tokens past the input length are decoded;
max_new_tokens bounds the answer (max_length would count the image and
prompt tokens); 4/8-bit loading goes through BitsAndBytesConfig; batches are
left-padded with a pad token set.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from PIL import Image

from imagesearch.errors import ArtifactError, first_line
from imagesearch.models.caption_text import clean_caption, join_answers

log = logging.getLogger(__name__)

DEFAULT_CAPTIONER = "Salesforce/instructblip-vicuna-7b"
OFFLINE_CAPTIONER = "give --captioner a local InstructBLIP folder (one saved with save_pretrained)"
SEED_PROMPTS = (
    "describe this image in full detail. Describe each and every aspect of the image",
    "create an extensive description of this image",
)
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


class Captioner:
    def __init__(self, model: Any, processor: Any, device: str, dtype: Any, settings: GenerationSettings):
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self.settings = settings
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
        self.pad_token_id = getattr(model.config.text_config, "pad_token_id", None)
        if self.pad_token_id is None:
            self.pad_token_id = tokenizer.pad_token_id

    @classmethod
    def load(cls, model_id: str, settings: GenerationSettings, device: str | None = None) -> "Captioner":
        import torch
        from transformers import InstructBlipForConditionalGeneration, InstructBlipProcessor

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
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
        log.info("loading captioner %s on %s (%s, %s)", model_id, device, dtype, settings.quantization)
        try:
            processor = InstructBlipProcessor.from_pretrained(model_id)
            model = InstructBlipForConditionalGeneration.from_pretrained(model_id, **kwargs)
        except (OSError, ValueError, ImportError) as exc:  # missing folder, unreachable id, a missing optional package
            raise ArtifactError(f"captioner {model_id!r} could not be loaded ({first_line(exc)}); "
                                "give a local InstructBLIP folder or a reachable hub id with --captioner") from None
        if settings.quantization == "none":
            model = model.to(device)
        model.eval()
        return cls(model, processor, device, dtype, settings)

    def answer(self, images: Sequence[Image.Image], prompt: str) -> list[str]:
        """One cleaned answer per image for ``prompt``."""
        import torch

        inputs = self.processor(images=list(images), text=[prompt] * len(images), return_tensors="pt", padding=True)
        inputs = {k: (v.to(self.device, self.dtype) if k == "pixel_values" else v.to(self.device)) for k, v in inputs.items()}
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=self.settings.do_sample,
                num_beams=self.settings.num_beams,
                max_new_tokens=self.settings.max_new_tokens,
                repetition_penalty=self.settings.repetition_penalty,
                pad_token_id=self.pad_token_id,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [clean_caption(text, prompt) for text in texts]

    def describe(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        """Each image's answers to every prompt, joined with one space."""
        per_prompt = [self.answer(images, prompt) for prompt in prompts]
        return [join_answers([answers[i] for answers in per_prompt]) for i in range(len(images))]
