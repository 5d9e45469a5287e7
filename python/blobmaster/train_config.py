"""Training settings: :class:`TrainConfig`, its TOML file, and the trainer's errors.

``load_train_config("train")`` loads the preset shipped inside the package
(the same file as ``configs/train.toml``, which documents every key);
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
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from blobmaster import config as _config
from blobmaster.config import ConfigError
from blobmaster.replay import ShardError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

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

MODEL_SIZES = ("auto", "default", "small", "tiny")
"""Accepted values of ``TrainConfig.model`` (see :func:`blobmaster.checkpoint.model_config_for`)."""
VALUE_LOSSES = ("bce", "mse")
"""Accepted values of ``TrainConfig.value_loss``."""


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


def _num(
    default: float | int, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False
) -> Any:
    """A numeric field with its allowed range (checked by :func:`_coerce`)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "lo_open": lo_open})


def _choice(default: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (meanings: configs/train.toml).

    Everything that changes the numbers a run computes is here; the data
    location, run folder, device and init model are arguments of
    :func:`blobmaster.train.train`. A checkpoint stores this config, and a
    resumed run must use the same values (:meth:`resume_conflicts`).
    """

    model: str = _choice("auto", MODEL_SIZES)
    steps: int = _num(2000, lo=1, hi=10**9)
    batch_size: int = _num(512, lo=1, hi=1 << 20)
    lr: float = _num(1e-3, lo=0.0, lo_open=True, hi=10.0)
    min_lr_fraction: float = _num(0.1, lo=0.0, hi=1.0)
    warmup_steps: int = _num(100, lo=0, hi=10**9)
    weight_decay: float = _num(0.01, lo=0.0, hi=10.0)
    beta1: float = _num(0.9, lo=0.0, hi=0.9999)
    beta2: float = _num(0.999, lo=0.0, hi=0.999999)
    grad_clip: float = _num(1.0, lo=0.0, hi=1e9)
    value_loss: str = _choice("bce", VALUE_LOSSES)
    value_weight: float = _num(1.0, lo=0.0, hi=1e6)
    window_shards: int = _num(20, lo=0, hi=10**9)
    window_examples: int = _num(0, lo=0, hi=10**12)
    val_fraction: float = _num(0.05, lo=0.0, hi=0.5)
    checkpoint_every: int = _num(500, lo=0, hi=10**9)
    keep_checkpoints: int = _num(3, lo=1, hi=10**6)
    log_every: int = _num(10, lo=1, hi=10**6)
    seed: int = _num(0, lo=0, hi=2**63 - 1)
    bf16: bool = True
    skip_corrupt: bool = False

    # Fields that only change bookkeeping, not the trained weights: a resumed
    # run may use other values.
    RUNTIME_FIELDS = ("checkpoint_every", "keep_checkpoints", "log_every", "skip_corrupt")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            where = f"train config {f.name}"
            if "choices" in f.metadata:
                _check_choice(where, f, value)
            elif isinstance(f.default, bool):
                if not isinstance(value, bool):
                    raise TrainConfigError(
                        f"{where}: expected true or false, got {_type_name(value)} {value!r}"
                    )
            else:
                object.__setattr__(self, f.name, _coerce(where, f, value))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "train config") -> TrainConfig:
        known = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in known:
                raise _unknown(source, key, known)
        try:
            return cls(**dict(data))
        except TrainConfigError as e:
            raise TrainConfigError(f"{source}: {e}") from None

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (None values are ignored), checked."""
        changes = {k: v for k, v in changes.items() if v is not None}
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TrainConfigError(f"train config: unknown keys {unknown}")
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


def _type_name(value: Any) -> str:
    return _config._type_name(value)


def _check_choice(where: str, f: dataclasses.Field[Any], value: Any) -> None:
    choices = f.metadata["choices"]
    if not isinstance(value, str) or value not in choices:
        raise TrainConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")


def _coerce(where: str, f: dataclasses.Field[Any], value: Any) -> Any:
    return _config._coerce(where, f, value, error=TrainConfigError, integral_floats=True)


def _unknown(where: str, key: str, known: list[str]) -> ValueError:
    return _config._unknown(where, key, known, error=TrainConfigError)


def parse_train_config(text: str, *, source: str = "<string>") -> TrainConfig:
    """Parses TOML text with a ``[train]`` section (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TrainConfigError(f"{source}: not valid TOML: {e}") from None
    for key in data:
        if key != "train":
            raise TrainConfigError(f"{source}: unknown section or key {key!r} (expected [train])")
    section = data.get("train", {})
    if not isinstance(section, dict):
        raise TrainConfigError(
            f"{source}: [train]: expected a section (table), got {_type_name(section)}"
        )
    return TrainConfig.from_dict(section, source=f"{source}: [train]")


def load_train_config(spec: str | os.PathLike[str] = "train") -> TrainConfig:
    """Loads the built-in ``train`` preset or a TOML file by path."""
    text_spec = os.fspath(spec)
    path = Path(text_spec)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise TrainConfigError(f"cannot read config file {path}: {e}") from None
        return parse_train_config(text, source=str(path))
    if text_spec.strip().lower() == "train":
        resource = resources.files("blobmaster").joinpath("configs", "train.toml")
        return parse_train_config(resource.read_text(encoding="utf-8"), source="<built-in train>")
    if path.exists():
        raise TrainConfigError(f"config path is not a file: {path}")
    raise TrainConfigError(f"train config file not found: {path} (or use the built-in 'train')")
