"""The machine-facing pieces of the training loop (blobmaster.trainer):
the training set as device tensors, bf16 autocast, the run's own torch RNG,
Ctrl-C between steps, and the AdamW setup."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from blobmaster.train_config import TrainConfig
from blobmaster.train_data import Examples

__all__ = ["StopFlag", "Tensors", "autocast", "make_optimizer", "rng_fork", "rng_state"]


class StopFlag:
    """Turns the first Ctrl-C (SIGINT, main thread only) into a flag the loop
    checks between steps, so a checkpoint is never taken mid-update; a
    second Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.set = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except ValueError:  # not the main interpreter
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


def make_optimizer(
    model: nn.Module, config: TrainConfig, device: torch.device
) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    kwargs: dict[str, Any] = {"lr": config.lr, "betas": (config.beta1, config.beta2)}
    if device.type == "cuda":
        kwargs["fused"] = True
    return torch.optim.AdamW(groups, **kwargs)


class Tensors:
    """The training set as tensors, on the device when it fits (else on the CPU, pinned on CUDA)."""

    def __init__(self, ex: Examples, device: torch.device) -> None:
        arrays = (
            ex.state, ex.mask, ex.policy, ex.value, ex.num_players.astype(np.int64), ex.owner
        )  # fmt: skip
        tensors = [torch.from_numpy(a) for a in arrays]
        self.device = device
        self.on_device = device.type == "cpu"
        if device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(device)
            if sum(a.nbytes for a in arrays) < 0.4 * free:
                tensors = [t.to(device) for t in tensors]
                self.on_device = True
            else:
                tensors = [t.pin_memory() for t in tensors]
        self.state, self.mask, self.policy, self.value, self.players, self.owner = tensors

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        index = torch.from_numpy(idx)
        if self.on_device:
            index = index.to(self.device, non_blocking=True)
        out = tuple(
            t.index_select(0, index)
            for t in (self.state, self.mask, self.policy, self.value, self.players, self.owner)
        )
        if not self.on_device:
            out = tuple(t.pin_memory().to(self.device, non_blocking=True) for t in out)
        # The window holds state and policy as float16 (train_data.HELD_DTYPES);
        # the network and the losses work in float32.
        return tuple(t.float() if t.dtype == torch.float16 else t for t in out)


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    if bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def rng_fork(device: torch.device, seed: int, state: dict[str, Any] | None) -> Iterator[None]:
    """torch's RNG for the run, forked from (and not disturbing) the caller's."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if state is None:
            torch.manual_seed(seed)
        else:
            torch.set_rng_state(state["torch"])
            if devices and state.get("cuda") is not None:
                torch.cuda.set_rng_state(state["cuda"], device)
        yield


def rng_state(device: torch.device) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
