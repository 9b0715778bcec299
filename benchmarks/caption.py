"""Captioning throughput: images per second at several batch sizes, and the speed-up over batch 1.

    python -m benchmarks.caption                      # tiny random InstructBLIP on the CPU
    python -m benchmarks.caption --shape vicuna-7b    # real instructblip-vicuna-7b shapes, bf16, on a GPU

Batch 1 is the seed's per-image loop. Every generate() call produces exactly
--new-tokens tokens (min = max), so the batch sizes do the same work per
image. Random weights from the config alone: nothing is downloaded, which is
what makes the 7.9 B-parameter timing possible offline.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time

log = logging.getLogger("benchmarks.caption")
PROMPT_TOKENS = 20  # about the length of the seed's longer prompt


def instructblip_config(shape: str):
    from transformers import InstructBlipConfig, InstructBlipQFormerConfig, InstructBlipVisionConfig, LlamaConfig

    if shape == "vicuna-7b":  # transformers' defaults are the EVA ViT-g and Q-Former of InstructBLIP
        vision, qformer = InstructBlipVisionConfig(), InstructBlipQFormerConfig()
        text = LlamaConfig(vocab_size=32001, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                           num_attention_heads=32, num_key_value_heads=32, pad_token_id=32000)
        queries = 32
    else:
        from testkit.tiny_captioner import tiny_instructblip_config

        return tiny_instructblip_config(30523, 30522, 30522, pad_token_id=0)
    return InstructBlipConfig(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(), text_config=text.to_dict(),
                              num_query_tokens=queries, image_token_index=text.vocab_size - 1)


def synthetic_inputs(config, batch: int, device, dtype):
    import torch

    queries, vocab = config.num_query_tokens, config.text_config.vocab_size
    generator = torch.Generator().manual_seed(batch)
    prompt = torch.randint(5, vocab - 2, (batch, PROMPT_TOKENS), generator=generator)
    image_tokens = torch.full((batch, queries), config.image_token_index)
    input_ids = torch.cat([image_tokens, prompt], dim=1)
    size = config.vision_config.image_size
    return {
        "pixel_values": torch.randn(batch, 3, size, size, generator=generator).to(device, dtype),
        "input_ids": input_ids.to(device),
        "attention_mask": torch.ones_like(input_ids).to(device),
        "qformer_input_ids": prompt[:, :12].clamp(max=config.qformer_config.vocab_size - 1).to(device),
        "qformer_attention_mask": torch.ones(batch, 12, dtype=torch.long).to(device),
    }


def images_per_second(model, config, batch: int, images: int, new_tokens: int, device, dtype) -> float:
    import torch

    def caption(inputs):
        for _ in range(2):  # two prompts per image, as the product does
            model.generate(**inputs, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                           pad_token_id=config.text_config.pad_token_id)

    inputs = synthetic_inputs(config, batch, device, dtype)
    with torch.inference_mode():
        caption(inputs)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        calls = max(1, images // batch)
        started = time.perf_counter()
        for _ in range(calls):
            caption(inputs)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return calls * batch / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(prog="python -m benchmarks.caption", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=("tiny", "vicuna-7b"), default="tiny")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,8 tiny; 1,8,16 vicuna-7b)")
    parser.add_argument("--images", type=int, default=None, help="images timed per batch size (default 64 tiny, 32 vicuna-7b)")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per answer (default 32)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    real = args.shape == "vicuna-7b"
    if real and not torch.cuda.is_available():
        print("error: --shape vicuna-7b needs a CUDA GPU (about 16 GB for bf16 weights)", file=sys.stderr)
        return 2
    device = torch.device("cuda" if real else "cpu")
    dtype = torch.bfloat16 if real else torch.float32
    batches = [int(b) for b in (args.batches or ("1,8,16" if real else "1,8")).split(",")]
    images = args.images or (32 if real else 64)
    config = instructblip_config(args.shape)
    from transformers import InstructBlipForConditionalGeneration

    torch.manual_seed(0)
    with torch.device(device):
        model = InstructBlipForConditionalGeneration(config).to(dtype).eval()
    count = sum(p.numel() for p in model.parameters())
    params = f"{count / 1e9:.2f} B" if count >= 1e9 else f"{count / 1e6:.2f} M"
    card = torch.cuda.get_device_name() if real else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    log.info("%s shapes, %s parameters, %s, %s", args.shape, params, card, dtype)
    rates = {b: images_per_second(model, config, b, images, args.new_tokens, device, dtype) for b in batches}
    print(f"InstructBLIP {args.shape} shapes ({params} parameters, random weights), {card}, {dtype}; "
          f"2 prompts x {args.new_tokens} new tokens per image, {images} images per batch size")
    print("| batch | images/s | speed-up vs batch 1 (the seed's loop) |")
    print("|---|---|---|")
    for batch, rate in rates.items():
        print(f"| {batch} | {rate:.2f} | {rate / rates[batches[0]]:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
