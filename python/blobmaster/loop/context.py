"""What every phase of one ``run_loop`` call shares."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blobmaster.loop.config import LoopConfig
from blobmaster.loop.folder import LoopFolder

if TYPE_CHECKING:
    import torch

    from blobmaster.agents import Agent


@dataclass
class LoopContext:
    """The run folder, the config, the device and the options of one run_loop call."""

    folder: LoopFolder
    cfg: LoopConfig
    device: torch.device
    force: bool
    progress: bool
    log: Callable[[str], None]
    references: list[tuple[str, str, Agent]] = field(default_factory=list)
    """(spec, column slug, agent) of each reference agent of ``[gate] references``."""
    ray_pool: Any = None
    """A blobmaster.distributed.RaySelfPlayPool when self-play runs on Ray, else None."""

    def rel(self, path: Path) -> str:
        return self.folder.rel(path)

    @property
    def train_threads(self) -> int:
        """Torch threads of the training phase: ``[loop] torch_threads`` when
        set; else (0) every core when training runs alone and the cores the
        self-play workers leave free (at least one) when it overlaps
        self-play. Why not every core regardless: on the shared 2-core
        machine two torch threads trained 8x slower than one
        (benchmarks/RESULTS.md, "Using the whole machine")."""
        if self.cfg.loop.torch_threads:
            return self.cfg.loop.torch_threads
        cores = available_cores()
        if self.cfg.loop.pipeline == "overlap" and self.ray_pool is None:
            return max(1, cores - self.cfg.selfplay.resolved_threads())
        return cores


def available_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``n`` inside the block (process-wide:
    the overlap pipeline sets it once for both of its threads)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
