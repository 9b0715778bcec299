"""What every build step is made of, at the bottom of build/: the :class:`Step` a step module declares, the
:class:`Env` read once at the edge, :class:`Stopped`, and the argument helpers steps share. Imports nothing of
build/, so every floor above may use it."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


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
