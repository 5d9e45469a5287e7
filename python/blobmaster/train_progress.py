"""What a training run reports: the progress snapshots passed to a
callback, the summary train() returns, and a rich progress bar."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blobmaster.checkpoint import size_name
from blobmaster.model import ModelConfig
from blobmaster.rich_bar import RichBar
from blobmaster.train_config import TrainConfig
from blobmaster.train_data import DataWindow

__all__ = ["RichTrainProgress", "TrainProgress", "TrainSummary"]


@dataclass(frozen=True)
class TrainProgress:
    """A snapshot passed to the progress callback after every ``log_every`` steps."""

    step: int
    """Optimizer steps done (over the whole run, resumes included)."""
    end_step: int
    """Step at which this call stops."""
    start_step: int
    """Step at which this call started (0 unless resumed)."""
    loss: float
    policy_loss: float
    value_loss: float
    lr: float
    examples_per_s: float
    """Over the last ``log_every`` steps."""
    elapsed_s: float


@dataclass
class TrainSummary:
    """What a train() call did: where the model is, the losses, the speed."""

    run_dir: Path
    model_path: Path
    """Scripted model of the last checkpoint (model.save_model format; ``blobmaster selfplay --model``)."""
    checkpoint_path: Path
    config: TrainConfig
    model_config: ModelConfig
    start_step: int
    step: int
    """Optimizer steps done over the whole run after this call."""
    examples: int
    """Examples trained on in this call (steps x batch size)."""
    elapsed_s: float
    """Training time of this call (data loading excluded)."""
    load_s: float
    """Time spent reading the data window."""
    window: DataWindow
    train_examples: int
    val_examples: int
    losses: dict[str, float]
    """Mean of loss, policy_loss, policy_kl, value_loss, value_mse over the last up to 50 steps of this call."""
    first_losses: dict[str, float]
    """The same over the first up to 50 steps of this call."""
    val: dict[str, float] | None
    """Validation metrics at the end (val_loss, val_policy_loss, val_policy_kl,
    val_value_loss, val_value_mse, val_policy_acc), None without a validation set."""
    device: str
    bf16: bool
    resumed: bool
    interrupted: bool
    init_model: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return self.step - self.start_step

    @property
    def examples_per_s(self) -> float:
        return self.examples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def loss(self) -> float:
        return self.losses.get("loss", math.nan)

    @property
    def policy_loss(self) -> float:
        return self.losses.get("policy_loss", math.nan)

    @property
    def value_loss(self) -> float:
        return self.losses.get("value_loss", math.nan)

    def as_dict(self) -> dict[str, Any]:
        """Every number and path, JSON-serializable."""
        return {
            "run_dir": str(self.run_dir),
            "model_path": str(self.model_path),
            "checkpoint_path": str(self.checkpoint_path),
            "model_size": size_name(self.model_config),
            "start_step": self.start_step,
            "step": self.step,
            "steps": self.steps,
            "examples": self.examples,
            "elapsed_s": self.elapsed_s,
            "load_s": self.load_s,
            "examples_per_s": self.examples_per_s,
            "window_shards": len(self.window.shards),
            "window_examples": self.window.examples,
            "train_examples": self.train_examples,
            "val_examples": self.val_examples,
            "losses": self.losses,
            "first_losses": self.first_losses,
            "val": self.val,
            "device": self.device,
            "bf16": self.bf16,
            "resumed": self.resumed,
            "interrupted": self.interrupted,
            "init_model": self.init_model,
            "skipped_shards": [p for p, _ in self.skipped],
        }

    def one_line(self) -> str:
        state = "interrupted: " if self.interrupted else ""
        val = f", val loss {self.val['val_loss']:.4f}" if self.val else ""
        return (
            f"{state}steps {self.start_step}->{self.step}, {self.examples:,} examples in {self.elapsed_s:.1f} s "
            f"({self.examples_per_s:,.0f} examples/s, {self.device}{', bf16' if self.bf16 else ''}) | "
            f"loss {self.loss:.4f} (policy {self.policy_loss:.4f}, value {self.value_loss:.4f}){val} | "
            f"window {len(self.window.shards)} shards, {self.window.examples:,} examples | model {self.model_path}"
        )


class RichTrainProgress(RichBar):
    """Context manager and train() progress callback: a rich progress bar on
    stderr with the step, loss, policy and value loss, learning rate and
    examples/s. Draws nothing when stderr is not a terminal or ``enabled`` is False."""

    def __init__(self, *, enabled: bool = True, console: Any = None) -> None:
        super().__init__(
            "train",
            [
                "loss {task.fields[loss]:.3f} (pol {task.fields[pol]:.3f}, val {task.fields[val]:.3f})",
                "lr {task.fields[lr]:.1e}",
                "{task.fields[eps]:>7,.0f} ex/s",
            ],
            enabled=enabled,
            console=console,
            bar_width=16,
        )
        self.task: Any = None

    def __call__(self, snap: TrainProgress) -> None:
        if self.task is None:
            self.task = self.progress.add_task(
                "train",
                total=snap.end_step,
                completed=snap.start_step,
                loss=0.0,
                pol=0.0,
                val=0.0,
                lr=0.0,
                eps=0.0,
            )
        self.progress.update(
            self.task,
            completed=snap.step,
            loss=snap.loss,
            pol=snap.policy_loss,
            val=snap.value_loss,
            lr=snap.lr,
            eps=snap.examples_per_s,
        )
