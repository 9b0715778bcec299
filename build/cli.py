"""The build's command line: a registry of steps, each declaring its own arguments and its run.

A step is a :class:`Step` in its own module (``STEP = Step(...)``); this module only builds the parser from
the registry, reads the environment once into :class:`Env`, runs the chosen step and turns every
predictable failure into one line ``error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from imagesearch.errors import BUILD, ArtifactError, ConfigError


@dataclass(frozen=True)
class Env:
    """What a step takes from the environment, read once at the edge."""

    offline: bool = False  # HF_HUB_OFFLINE: never touch the network
    token: str | None = None  # HF_TOKEN, for publish and deploy

    @classmethod
    def from_environ(cls) -> "Env":
        return cls(truthy(os.environ.get("HF_HUB_OFFLINE")), os.environ.get("HF_TOKEN") or None)


class Stopped(Exception):
    """The user stopped a step (Ctrl-C); the message says how far it got and how to go on."""


@dataclass(frozen=True)
class Step:
    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Env], None]


def truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_artifacts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", type=Path, required=True,
                        help="artifact folder (description.csv, embedding.pkl, index.faiss, manifest.json, images/)")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device for this step's models, e.g. cpu or cuda (default: cuda when available; "
                             "under a launcher, each process its own GPU)")


# A single step's old flag names, which still work there with a one-line notice: dest -> (old flag, new flag).
RENAMED = {"captioner": ("--model", "--captioner"), "caption_batch_size": ("--batch-size", "--caption-batch-size"),
           "embedder": ("--model", "--embedder"), "embed_batch_size": ("--batch-size", "--embed-batch-size")}


def add_renamed(parser: argparse.ArgumentParser, dest: str, type: Callable | None = None) -> None:
    parser.add_argument(RENAMED[dest][0], dest=f"renamed__{dest}", type=type, default=None, help=argparse.SUPPRESS)


def _apply_renamed(args: argparse.Namespace) -> None:
    for key, value in list(vars(args).items()):
        if key.startswith("renamed__") and value is not None:
            dest = key.removeprefix("renamed__")
            old, new = RENAMED[dest]
            print(f"note: {old} is deprecated in `{args.step}`; use {new}", file=sys.stderr)
            setattr(args, dest, value)


def steps() -> tuple[Step, ...]:
    """The registry, in pipeline order."""
    from . import all_steps, demo, deploy, describe, embed, evaluate, import_descriptions, import_seed, index, publish

    return (describe.STEP, import_descriptions.STEP, embed.STEP, index.STEP, evaluate.STEP, all_steps.STEP,
            publish.STEP, deploy.STEP, import_seed.STEP, demo.STEP)


def make_parser(registry: tuple[Step, ...]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=BUILD, description="Build the artifact set the search Space serves.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    commands = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for step in registry:
        step.arguments(commands.add_parser(step.name, help=step.help, description=step.description))
    return parser


def _folder(args: argparse.Namespace) -> str:
    return str(getattr(args, "artifacts", None) or getattr(args, "out", None) or "")


def main(argv: list[str] | None = None) -> int:
    registry = steps()
    args = make_parser(registry).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        _apply_renamed(args)
        next(step for step in registry if step.name == args.step).run(args, Env.from_environ())
    except (ArtifactError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Stopped as exc:
        print(f"{exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{args.step}: stopped; rerun the same command to continue", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"error: {_folder(args) or args.step}: not enough memory for this step; nothing was replaced "
              "(use a machine with more memory, or a smaller --caption-batch-size / --embed-batch-size)", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, ...
        if type(exc).__module__.startswith(("huggingface_hub", "httpx")):  # HTTP errors derive from OSError
            from imagesearch.hub.errors import explain

            target = getattr(args, "repo", None) or getattr(args, "publish", None) or getattr(args, "space", None) or "?"
            print(f"error: {explain(exc, args.step, target)}", file=sys.stderr)
            return 2
        where = exc.filename or _folder(args)
        fix = "free some space" if exc.errno == errno.ENOSPC else "check the folder and its permissions"
        print(f"error: {where}: {exc.strerror or exc}; nothing was replaced, the previous artifact set is unchanged "
              f"({fix}, then rerun)", file=sys.stderr)
        return 2
    return 0
