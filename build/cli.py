"""The build's command line: a registry of steps, each declaring its own arguments and its run.

A step is a :class:`Step` in its own module (``STEP = Step(...)``); this module only builds the parser from
the registry (the step type lives in step.py, below every step), reads the environment once into :class:`Env`, runs the chosen step and turns every
predictable failure into one line ``error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys

from imagesearch.errors import BUILD, ArtifactError, ConfigError

from .step import RENAMED, Env, Step, Stopped


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
