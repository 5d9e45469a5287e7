"""Training settings: :class:`TrainConfig`, its TOML file, and the trainer's errors.

``load_train_config("train")`` loads the preset shipped inside the package
(``python/blobmaster/configs/train.toml``, linked as ``configs/train.toml``,
documents every key);
``load_train_config("path/to/file.toml")`` loads any file with a ``[train]``
section. Every key is optional (a missing key takes the default below); an
unknown key, a value of the wrong type or a value out of range raises
:class:`TrainConfigError` naming the file and the key.

The error classes of the whole trainer live here so that ``train_data``,
``checkpoint`` and ``train`` share them without import cycles. Every one is
a ``ValueError``; the shard errors are also ``replay.ShardError`` and the
configuration error is also ``config.ConfigError``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import Field, StrictBool, StrictFloat, StrictInt

from blobmaster.replay import ShardError
from blobmaster.settings import (
    ConfigError,
    parse_toml,
    read_settings_text,
    settings,
    validate_settings,
)

__all__ = [
    "MODEL_SIZES",
    "VALUE_LOSSES",
    "CheckpointError",
    "CorruptShardError",
    "IncompatibleModelError",
    "NoShardsError",
    "ShardSchemaError",
    "SkippedShardWarning",
    "TrainConfig",
    "TrainConfigError",
    "TrainDataError",
    "TrainError",
    "WindowChangedError",
    "load_train_config",
    "parse_train_config",
]

ModelSize = Literal["auto", "default", "small", "tiny"]
ValueLoss = Literal["bce", "mse"]
PolicyRows = Literal["mover", "all"]
MODEL_SIZES: tuple[str, ...] = get_args(ModelSize)
"""Accepted values of ``TrainConfig.model`` (see :func:`blobmaster.checkpoint.model_config_for`)."""
VALUE_LOSSES: tuple[str, ...] = get_args(ValueLoss)
"""Accepted values of ``TrainConfig.value_loss``."""
POLICY_ROWS: tuple[str, ...] = get_args(PolicyRows)
"""Accepted values of ``TrainConfig.policy_rows``."""


# ---- errors ------------------------------------------------------------------


class TrainError(ValueError):
    """Bad input to the trainer (data, checkpoint, model or settings); the
    message is one line naming the file and the problem."""


class TrainConfigError(TrainError, ConfigError):
    """A training setting (TOML file or argument) that cannot be used."""


class TrainDataError(TrainError):
    """The replay data cannot be used for training."""


class NoShardsError(TrainDataError):
    """No replay shards where the data was looked for (or none usable)."""


class ShardSchemaError(TrainDataError, ShardError):
    """A shard without the replay format's metadata, version or columns."""


class CorruptShardError(TrainDataError, ShardError):
    """A shard that cannot be read (truncated, damaged) or whose contents
    are not valid training examples (non-finite numbers, bad policies)."""


class WindowChangedError(TrainDataError):
    """On resume: a shard of the checkpoint's data window is gone or changed."""


class CheckpointError(TrainError):
    """A checkpoint or init model that cannot be read."""


class IncompatibleModelError(CheckpointError):
    """A checkpoint or init model of another network size or a newer format."""


class SkippedShardWarning(UserWarning):
    """A shard skipped because the caller asked for ``skip_corrupt``."""


# ---- the settings ------------------------------------------------------------


@settings(TrainConfigError, "train config")
class TrainConfig:
    """Hyperparameters of one training run (meanings: configs/train.toml).

    Everything that changes the numbers a run computes is here; the data
    location, run folder, device and init model are arguments of
    :func:`blobmaster.train.train`. A checkpoint stores this config, and a
    resumed run must use the same values (:meth:`resume_conflicts`).
    """

    model: ModelSize = "auto"
    steps: StrictInt = Field(2000, ge=1, le=10**9)
    batch_size: StrictInt = Field(512, ge=1, le=1 << 20)
    lr: StrictFloat = Field(1e-3, gt=0.0, le=10.0)
    min_lr_fraction: StrictFloat = Field(0.1, ge=0.0, le=1.0)
    warmup_steps: StrictInt = Field(100, ge=0, le=10**9)
    weight_decay: StrictFloat = Field(0.01, ge=0.0, le=10.0)
    beta1: StrictFloat = Field(0.9, ge=0.0, le=0.9999)
    beta2: StrictFloat = Field(0.999, ge=0.0, le=0.999999)
    grad_clip: StrictFloat = Field(1.0, ge=0.0, le=1e9)
    value_loss: ValueLoss = "bce"
    value_weight: StrictFloat = Field(1.0, ge=0.0, le=1e6)
    owner_weight: StrictFloat = Field(0.0, ge=0.0, le=1e6)
    policy_rows: PolicyRows = "mover"
    window_shards: StrictInt = Field(20, ge=0, le=10**9)
    window_examples: StrictInt = Field(0, ge=0, le=10**12)
    val_fraction: StrictFloat = Field(0.05, ge=0.0, le=0.5)
    checkpoint_every: StrictInt = Field(500, ge=0, le=10**9)
    keep_checkpoints: StrictInt = Field(3, ge=1, le=10**6)
    log_every: StrictInt = Field(10, ge=1, le=10**6)
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1)
    bf16: StrictBool = True
    skip_corrupt: StrictBool = False

    # Fields that only change bookkeeping, not the trained weights: a resumed
    # run may use other values. (Not annotated: a ClassVar would show up in
    # dataclasses' __dataclass_fields__.)
    RUNTIME_FIELDS = ("checkpoint_every", "keep_checkpoints", "log_every", "skip_corrupt")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "train config") -> TrainConfig:
        return validate_settings(cls, dict(data), source=source, error=TrainConfigError)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (None values are ignored), checked."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes)

    def resume_conflicts(self, other: TrainConfig) -> list[str]:
        """Fields (other than the runtime ones) where ``other`` differs, as
        ``name: self -> other`` strings."""
        out = []
        for f in dataclasses.fields(self):
            if f.name in self.RUNTIME_FIELDS:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a != b:
                out.append(f"{f.name}: {a!r} -> {b!r}")
        return out

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based): linear
        warmup from lr / warmup_steps to lr over the first ``warmup_steps``
        steps, then a cosine decay to ``lr * min_lr_fraction`` at ``steps``."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(self.steps - self.warmup_steps, 1)
        t = min(max(step - self.warmup_steps, 0) / span, 1.0)
        floor = self.lr * self.min_lr_fraction
        return floor + (self.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


@settings(TrainConfigError, "train settings")
class TrainFile:
    """The schema of a training settings file: one ``[train]`` section."""

    train: TrainConfig = TrainConfig()


def parse_train_config(text: str, *, source: str = "<string>") -> TrainConfig:
    """Parses TOML text with a ``[train]`` section (``source`` names it in errors)."""
    data = parse_toml(text, source=source, error=TrainConfigError)
    return validate_settings(
        TrainFile, data, source=source, error=TrainConfigError, sections=True
    ).train


def load_train_config(spec: str | os.PathLike[str] = "train") -> TrainConfig:
    """Loads the built-in ``train`` preset or a TOML file by path."""
    text, _name, source = read_settings_text(
        spec, builtins=("train",), error=TrainConfigError, kind="train config"
    )
    return parse_train_config(text, source=source)
