"""Captioner families: how each kind of image-to-text model is loaded, prompted and read back.

The family is read from the model's own config (``model_type`` in config.json), never guessed from its name;
a model_type without a family here is refused in one line that lists the supported ones.

- ``instructblip`` (the seed's InstructBLIP): answers instructions; the seed's two prompts by default; its
  processor is loaded explicitly (the hub repo's processor config names a video processor); generate()
  returns the prompt tokens before the new ones, so only tokens past the input length are decoded.
- ``blip`` (BLIP captioning models): caption-only, takes no prompt; generate() returns the caption alone.
- ``florence2`` (Florence-2): a task token is the whole prompt (the detailed-caption task by default, the OCR task
  to read text); an encoder-decoder, so its output holds no prompt.
- ``idefics3`` (SmolVLM-256M/500M/2.2B-Instruct), ``qwen2_vl`` and ``qwen2_5_vl``: chat VLMs; each prompt goes
  through the processor's chat template with one image; decoder-only, so only tokens past the input are decoded.
  Idefics3's processor wants the images nested one list per prompt. The Qwen processors import torchvision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagesearch.errors import ArtifactError, first_line

SEED_PROMPTS = (
    "describe this image in full detail. Describe each and every aspect of the image",
    "create an extensive description of this image",
)

READ_PROMPT = "What words are written in this image? Answer with the words only, or none."
FLORENCE_TASKS = ("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>", "<OCR>")


@dataclass(frozen=True)
class Family:
    model_type: str
    default_prompts: tuple[str, ...]  # () for a caption-only family
    processor_class: str  # a transformers class name
    model_class: str
    prompt_in_output: bool  # generate() returns the prompt tokens first: decode only past the input length
    pad_to_generate: bool = True  # generate() takes a pad_token_id (BLIP's sets its own and refuses a second)
    read_prompt: str | None = None  # how to ask for the words written in an image (--read-text); None: cannot
    chat: bool = False  # a prompt goes through the processor's chat template, beside one image
    nest_images: bool = False  # the processor takes one list of images per prompt ([[a], [b]])
    tasks: tuple[str, ...] = ()  # the only prompts the family understands (Florence-2's task tokens); (): any text
    # the vision encoder, as an attribute path from the generate() model, where the OpenVINO runtime can stand in
    # for it (imagesearch.models.vision_export): called with pixel_values (idefics3: every image's tiles as one
    # batch, and a patch mask that must be whole), its first output is all that is read
    vision_tower: str | None = None

    def reading_prompt(self, flag: str = "--read-text") -> str:
        if self.read_prompt is None:
            raise ArtifactError(f"{flag}: a {self.model_type} captioner cannot be asked for the words in an image; "
                                f"pick one that follows instructions ({', '.join(prompted())}), or leave out {flag}")
        return self.read_prompt

    @property
    def takes_prompts(self) -> bool:
        return bool(self.default_prompts)

    def prompts(self, given: tuple[str, ...] | None, flag: str = "--prompts") -> tuple[str, ...]:
        """The prompts to ask: ``given`` where the family takes prompts, its defaults when none are given."""
        if not given:
            return self.default_prompts
        if not self.takes_prompts:
            raise ArtifactError(f"{flag}: a {self.model_type} captioner writes a caption without a prompt; leave out "
                                f"{flag}, or pick a captioner that follows instructions ({', '.join(prompted())})")
        unknown = [prompt for prompt in given if self.tasks and prompt not in self.tasks]
        if unknown:
            raise ArtifactError(f"{flag} {unknown[0]!r}: a {self.model_type} captioner takes a task token as its "
                                f"whole prompt; choose from {', '.join(self.tasks)}")
        return tuple(given)

    def inputs(self, processor: Any, images: list[Any], prompt: str | None) -> Any:
        """The processor's tensors for ``images``, each asked ``prompt`` (None: a caption-only family)."""
        if prompt is None:
            return processor(images=images, return_tensors="pt")
        if self.chat:
            message = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}
            prompt = processor.apply_chat_template([message], add_generation_prompt=True)
        return processor(images=[[image] for image in images] if self.nest_images else images,
                         text=[prompt] * len(images), return_tensors="pt", padding=True)

    def load(self, model_id: str, **kwargs: Any) -> tuple[Any, Any]:
        """(processor, model) through transformers' own classes."""
        import transformers

        processor = getattr(transformers, self.processor_class).from_pretrained(model_id)
        model = getattr(transformers, self.model_class).from_pretrained(model_id, **kwargs)
        return processor, model


FAMILIES = {family.model_type: family for family in (
    Family("instructblip", SEED_PROMPTS, "InstructBlipProcessor", "InstructBlipForConditionalGeneration", True,
           read_prompt=READ_PROMPT, vision_tower="vision_model"),
    Family("blip", (), "AutoProcessor", "AutoModelForImageTextToText", False, pad_to_generate=False,
           vision_tower="vision_model"),
    Family("florence2", ("<MORE_DETAILED_CAPTION>",), "AutoProcessor", "AutoModelForImageTextToText", False,
           read_prompt="<OCR>", tasks=FLORENCE_TASKS, vision_tower="model.vision_tower"),
    Family("idefics3", SEED_PROMPTS, "AutoProcessor", "AutoModelForImageTextToText", True, read_prompt=READ_PROMPT,
           chat=True, nest_images=True, vision_tower="model.vision_model"),
    *(Family(name, SEED_PROMPTS, "AutoProcessor", "AutoModelForImageTextToText", True, read_prompt=READ_PROMPT,
             chat=True) for name in ("qwen2_vl", "qwen2_5_vl")),
)}


def prompted() -> list[str]:
    return sorted(name for name, family in FAMILIES.items() if family.takes_prompts)


def model_type_of(model_id: str, flag: str = "--captioner") -> str:
    """The ``model_type`` in the model's config.json (a folder's own, or the Hub's through transformers)."""
    folder = Path(model_id)
    try:
        if folder.is_dir():
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            return str(config.get("model_type", ""))
        from transformers import AutoConfig

        return str(AutoConfig.from_pretrained(model_id).model_type)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{flag} {model_id}: its config.json cannot be read ({first_line(exc, 160)}); give a "
                            "model folder saved with save_pretrained, or a reachable hub id") from None


def family_of(model_id: str, flag: str = "--captioner") -> Family:
    model_type = model_type_of(model_id, flag)
    family = FAMILIES.get(model_type)
    if family is None:
        raise ArtifactError(f"{flag} {model_id}: model_type {model_type or '(none)'!r} is not a supported captioner; "
                            f"supported: {', '.join(sorted(FAMILIES))}")
    return family
