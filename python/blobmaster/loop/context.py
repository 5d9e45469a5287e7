"""What every phase of one ``run_loop`` call shares."""

from __future__ import annotations

from collections.abc import Callable
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
