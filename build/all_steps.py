"""``python -m build all``: describe, embed, index, then publish when asked, with the single steps' own flags.

Under a launcher (torchrun, accelerate launch) every process captions its shard; the main process alone
merges, embeds, indexes and publishes, while the others wait. Embedding and measuring the index use one
encoder (imagesearch.models.encoder.load_encoder loads it once per process).
"""

from __future__ import annotations

import argparse

from imagesearch.errors import ConfigError

from build.caption import preflight
from build.step import Env, Step, add_artifacts, add_device
from build.describe import add_describe_arguments, describe_config, describe_in_processes
from build.embed import add_embed_arguments, embed_config, run_embed
from build.index import add_index_arguments, index_config, run_index
from build.caption.processes import Processes
from build.publish import PublishConfig, add_publish_arguments, run_publish


def _arguments(parser: argparse.ArgumentParser) -> None:
    add_artifacts(parser)
    parser.add_argument("--no-describe", action="store_true", help="start at embed (description.csv made elsewhere)")
    parser.add_argument("--publish", metavar="OWNER/NAME", default=None, help="then publish to this Hub dataset repo")
    add_publish_arguments(parser)
    add_describe_arguments(parser, alone=False)
    add_embed_arguments(parser, alone=False)
    add_index_arguments(parser)
    add_device(parser)
    # --model and --batch-size named the captioner's or the encoder's in the single steps: here they are ambiguous
    parser.add_argument("--model", dest="ambiguous_model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", dest="ambiguous_batch_size", default=None, help=argparse.SUPPRESS)


def _run(args: argparse.Namespace, env: Env) -> None:
    if args.ambiguous_model or args.ambiguous_batch_size:
        flag = "--model" if args.ambiguous_model else "--batch-size"
        new = "--captioner or --embedder" if flag == "--model" else "--caption-batch-size or --embed-batch-size"
        raise ConfigError(f"{flag} is ambiguous in `all` (captioner or text encoder?); use {new}")
    processes = Processes.start()
    if not args.no_describe:
        settings = describe_config(args, processes, env)  # refused now: --datasets, the runtime, ...
        if processes.is_main:  # the process that will embed: its encoder found and loaded before, not after
            preflight.embedder_loads(args.embedder, args.device or processes.device, env.offline)
        describe_in_processes(settings, processes, args.shard is not None)
    if processes.is_main:  # the others have captioned their shards: they only wait
        run_embed(embed_config(args, env))
        run_index(index_config(args, env))
        if args.publish:
            run_publish(PublishConfig(args.artifacts, args.publish, tag=args.tag, token=env.token,
                                      allow_shrink=args.allow_shrink, allow_renumber=args.allow_renumber,
                                      offline=env.offline))
    processes.wait_for_everyone()


STEP = Step("all", "run describe, embed, then index (then publish with --publish)",
            "Run the build steps in order: describe, embed, index, and publish when --publish is given.", _arguments,
            _run)
