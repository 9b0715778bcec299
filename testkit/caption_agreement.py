"""How far a captioner's fast path is from float32 torch: what is compared, and how (benchmarks and tests alike).

``outputs`` runs a captioner once over a batch and keeps three things: the vision encoder's features, the first
decode step's logits, and the greedy token of every step (the answer forced to ``new_tokens`` tokens).
``agreement`` compares two such sets:

- feature_cosine: the lowest cosine, image by image, between the two sets of vision features;
- logits_max_rel_error: the largest absolute difference of a first-step logit over the spread (max - min) of the
  reference's logits for that image;
- token_agreement: the share of greedy tokens equal to the reference's, position by position, over every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FEATURE_TOWERS = {"idefics3": "model.vision_model"}  # families without an exportable tower: where features are read
MIN_COSINE = 0.99


def _features(captioner: Any, inputs: dict) -> np.ndarray:
    import torch

    from imagesearch.models.vision_export import tower_of

    family = captioner.family
    tower = tower_of(captioner.model, family.vision_tower or FEATURE_TOWERS[family.model_type])
    pixels = inputs["pixel_values"]
    if pixels.dim() == 5:  # idefics3: (images, tiles, 3, H, W)
        pixels = pixels.reshape(-1, *pixels.shape[2:])
    with torch.inference_mode():
        return tower(pixels)[0].to(torch.float32).reshape(inputs["pixel_values"].shape[0], -1).numpy()


def outputs(captioner: Any, images: list, new_tokens: int) -> dict[str, np.ndarray]:
    """features, logits (first step) and tokens (every step) of ``captioner`` on ``images``, first prompt."""
    import torch

    prompt = (captioner.family.default_prompts or (None,))[0]
    inputs = captioner.family.inputs(captioner.processor, list(images), prompt)
    pixels = torch.float32 if captioner.runtime.runtime == "openvino" else captioner.dtype
    inputs = {k: (v.to(pixels) if k == "pixel_values" else v) for k, v in inputs.items()}
    pad = {"pad_token_id": captioner.pad_token_id} if captioner.family.pad_to_generate else {}
    with torch.inference_mode():
        generated = captioner.model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                             do_sample=False, num_beams=1, output_scores=True,
                                             return_dict_in_generate=True, **pad)
    tokens = torch.stack([score.argmax(-1) for score in generated.scores], dim=1).numpy()
    return {"features": _features(captioner, inputs), "logits": generated.scores[0].to(torch.float32).numpy(),
            "tokens": tokens}


def agreement(reference: dict, other: dict) -> dict[str, float]:
    """feature_cosine, logits_max_rel_error and token_agreement of ``other`` against ``reference``."""
    from imagesearch.models.vision_export import cosine

    logits, base = np.asarray(other["logits"], np.float64), np.asarray(reference["logits"], np.float64)
    finite = np.isfinite(base) & np.isfinite(logits)  # forced or suppressed tokens are -inf in both
    base_spread = np.where(finite, base, np.nan)
    spread = np.nanmax(base_spread, axis=1) - np.nanmin(base_spread, axis=1)
    error = np.nanmax(np.where(finite, np.abs(logits - base), np.nan), axis=1) / spread
    return {"feature_cosine": round(cosine(other["features"], reference["features"]), 5),
            "logits_max_rel_error": round(float(error.max()), 5),
            "token_agreement": round(float((other["tokens"] == reference["tokens"]).mean()), 4)}
