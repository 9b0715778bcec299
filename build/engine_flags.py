"""Where a step's models run, the same flags in describe, embed and all: ``--engine`` (local, or ray),
``--ray-address`` and ``--workers``, parsed once into :class:`EngineConfig`. Each stage lists the engines it
has (build/caption/engines/ finds its by file)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from imagesearch.errors import ConfigError

from .step import positive


@dataclass(frozen=True)
class EngineConfig:
    name: str = "local"
    address: str | None = None  # a running Ray cluster (ray://HOST:10001 or HOST:6379); None: a local Ray here
    workers: int | None = None  # captioner or encoder actors; None: one per GPU, else one per 2 CPUs (at least 1)


def add_engine_arguments(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    parser.add_argument("--engine", choices=names, default="local",
                        help="where the models run: local (this process, or a shard under torchrun), or ray (an "
                             "actor pool on a Ray cluster; see docs/build.md#on-a-cluster)")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="with --engine ray: the cluster to join (default: start a local Ray on this machine)")
    parser.add_argument("--workers", type=positive, default=None,
                        help="with --engine ray: how many model actors (default: one per GPU, else one per 2 CPUs)")


def engine_config(args: Any) -> EngineConfig:
    if args.engine != "ray" and (args.ray_address or args.workers):
        raise ConfigError(f"--ray-address and --workers apply to --engine ray only (this run: --engine {args.engine})")
    return EngineConfig(args.engine, args.ray_address, args.workers)
