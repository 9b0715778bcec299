"""The caption step's settings: its frozen config, the flags (the same names in ``describe`` and ``all``) and the
parsing of one into the other, done once at the edge."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ConfigError
from imagesearch.models.captioner import DEFAULT_CAPTIONER, GenerationSettings
from imagesearch.models.families import FAMILIES

from build.engine_flags import EngineConfig, add_engine_arguments, engine_config
from build.row_ids import add_ids_from
from build.step import Env, add_renamed, positive

from .engines import names as engines
from .processes import Processes, Shard
from .runtime_flags import add_runtime_arguments
from .sources import SEED_DATASETS


@dataclass(frozen=True)
class DescribeConfig:
    artifacts: Path
    datasets: tuple[str, ...] = tuple(SEED_DATASETS)
    limit: int | None = None
    captioner: str = DEFAULT_CAPTIONER
    prompts: tuple[str, ...] | None = None  # None: the captioner family's own (the seed's two for InstructBLIP)
    caption_batch_size: int = 4
    max_side: int = 512
    generation: GenerationSettings = GenerationSettings()
    shard: Shard = Shard()
    device: str | None = None
    allow_missing: tuple[str, ...] = ()  # datasets that may fail to load; any other failure stops the build
    offline: bool = False  # HF_HUB_OFFLINE: never try to download the captioner
    family: str = ""  # the captioner's model_type, read from its config when the run starts
    dtype: str = "auto"  # the captioner's number format (imagesearch.models.runtime): auto, bfloat16, float16, float32, int8
    runtime: str = "auto"  # auto | torch | openvino (imagesearch.models.runtime)
    exports: Path | None = None  # where exported encoders are kept (None: the Hugging Face cache's)
    read_text: bool = False  # also ask for the words written in each image (signs, labels, packaging)
    ids_from: str | None = None  # the set this build replaces, whose items keep their ids (build/row_ids.py)
    engine: EngineConfig = EngineConfig()  # where the captioner runs (build/caption/engines/)


def add_describe_arguments(parser: argparse.ArgumentParser, alone: bool = True) -> None:
    """The captioner's flags: the same names in ``describe`` and ``all``."""
    parser.add_argument("--datasets", default=None,
                        help=f"comma-separated built-in names ({', '.join(SEED_DATASETS)}) and/or local image folders "
                             "(label = sub-folder name); required: without it the run says what the six built-in "
                             "datasets would cost and stops, unless --yes")
    parser.add_argument("--yes", action="store_true",
                        help="without --datasets: caption all six built-in datasets (about 2,339 images from the Hub)")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="NAME",
                        help="build even if this dataset cannot be loaded (repeatable); otherwise any dataset that "
                             "fails to load stops the build")
    parser.add_argument("--limit", type=positive, default=None, help="at most N images per dataset")
    parser.add_argument("--captioner", default=DEFAULT_CAPTIONER,
                        help=f"hub id or local folder of a supported captioner family ({', '.join(sorted(FAMILIES))}), read "
                             f"from its config (default {DEFAULT_CAPTIONER})")
    parser.add_argument("--prompts", nargs="+", default=None, metavar="PROMPT",
                        help="prompts asked of every image, answers joined with one space (default: the captioner "
                             "family's own: the seed's two for InstructBLIP; refused for a caption-only family)")
    parser.add_argument("--caption-batch-size", type=positive, default=4, help="images per generate() call (default 4)")
    parser.add_argument("--max-new-tokens", type=positive, default=256, help="tokens generated per answer (default 256)")
    parser.add_argument("--num-beams", type=positive, default=1, help="beam search width (default 1: greedy, as the seed)")
    parser.add_argument("--max-side", type=positive, default=512, help="longest side of the saved thumbnails (default 512)")
    add_runtime_arguments(parser)
    parser.add_argument("--read-text", action="store_true", help="add the words written in each image to its description")
    add_ids_from(parser)
    parser.add_argument("--shard", type=Shard.parse, default=None,
                        help="caption only shard i of n (i/n); default: one shard per process under torchrun or "
                             "accelerate launch")
    add_engine_arguments(parser, engines())
    if alone:  # the names this step had before; in `all` they would be ambiguous
        add_renamed(parser, "captioner")
        add_renamed(parser, "caption_batch_size", positive)


def default_run(captioner: str) -> str:
    """What a run without --datasets would do, in one line, and the two ways on."""
    sizes = ", ".join(f"{name} {d.images:,}" for name, d in sorted(SEED_DATASETS.items(), key=lambda i: -i[1].images))
    total = sum(d.images for d in SEED_DATASETS.values())
    model = (f"{captioner} (about 16 GB to download; hours on a GPU, days on a CPU)" if captioner == DEFAULT_CAPTIONER
             else captioner)
    return (f"no --datasets given: the default would download and caption the six built-in Hub datasets (about "
            f"{total:,} images: {sizes}) with {model}; name what to caption with --datasets (built-in names or "
            "your folders), or pass --yes to caption all six")


def describe_config(args: argparse.Namespace, processes: Processes, env: Env) -> DescribeConfig:
    if args.datasets is None and not args.yes:
        raise ConfigError(default_run(args.captioner))
    datasets = tuple(name.strip() for name in (args.datasets or ",".join(SEED_DATASETS)).split(",") if name.strip())
    if not datasets:
        raise ConfigError("--datasets is empty; name at least one dataset or folder")
    engine = engine_config(args)
    if engine.name != "local" and (args.shard or processes.count > 1):
        raise ConfigError(f"--engine {engine.name} runs from one driver that spreads the work itself; start it without "
                          "--shard, torchrun or accelerate launch")
    return DescribeConfig(
        artifacts=args.artifacts, datasets=datasets, limit=args.limit, captioner=args.captioner,
        prompts=tuple(args.prompts) if args.prompts else None, caption_batch_size=args.caption_batch_size, max_side=args.max_side,
        generation=GenerationSettings(max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
                                      quantization=args.quantization),
        shard=Shard(*args.shard) if args.shard else processes.shard(), device=args.device or processes.device,
        allow_missing=tuple(name.strip() for value in args.allow_missing for name in value.split(",") if name.strip()),
        offline=env.offline, dtype=args.dtype, runtime=args.runtime, exports=args.exports, read_text=args.read_text,
        ids_from=args.ids_from, engine=engine)
