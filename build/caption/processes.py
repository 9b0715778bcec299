"""Which process of a multi-process build this is, through accelerate's own process state.

Started by a launcher (torchrun, or ``accelerate launch`` on GPUs), each
process captions one shard of the images on its own device; the main
process then merges the shards and alone embeds, indexes and publishes.
Started plainly, there is one process and nothing changes.

Launchers measured here (accelerate 1.15.0, torch 2.13.0 CPU build):
``torchrun --nproc_per_node N -m build ...`` starts N processes, and
``PartialState(cpu=True)`` gives them ranks 0..N-1 over gloo; ``accelerate
launch --cpu --num_processes N`` starts only one. On GPUs, ``accelerate
launch --multi_gpu --num_processes N -m build ...`` (or torchrun) starts one
process per GPU and ``PartialState()`` puts each on ``cuda:<local rank>``.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def owns(self, position: int) -> bool:
        return position % self.count == self.index

    @classmethod
    def parse(cls, text: str) -> tuple[int, int]:
        """``--shard i/n`` as (i, n)."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not i/n, e.g. 0/4") from None
        if count < 1 or not 0 <= index < count:
            raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= i < n")
        return index, count

    @property
    def part(self) -> str:
        return "captions" if self.count == 1 else f"captions-{self.index}-of-{self.count}"


@dataclass(frozen=True)
class Processes:
    index: int = 0
    count: int = 1
    device: str | None = None  # this process's device under a launcher; None: the step picks
    state: Any = None  # accelerate's PartialState, when launched

    @classmethod
    def start(cls) -> "Processes":
        """This process's place in the launch (a plain run is process 0 of 1)."""
        import torch
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available())
        if state.num_processes == 1:
            return cls(state=state)
        device = str(state.device)
        log.info("process %d of %d on %s (%s)", state.process_index, state.num_processes, state.device, state.backend)
        return cls(state.process_index, state.num_processes, device, state)

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def shard(self) -> Shard:
        return Shard(self.index, self.count)

    def wait_for_everyone(self) -> None:
        if self.state is not None and self.count > 1:
            self.state.wait_for_everyone()
