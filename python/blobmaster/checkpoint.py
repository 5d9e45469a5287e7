"""The trainer's files: checkpoints, exported models and metrics logs of a run folder.

A run folder (``blobmaster train --out RUN``) holds::

    checkpoints/ckpt-00001000.pt   training checkpoint at step 1000 (the last
                                   ``keep_checkpoints`` are kept)
    models/model-00001000.pt       the scripted BlobNet of that checkpoint
                                   (model.save_model; blobmaster selfplay --model)
    model.pt                       a copy of the newest exported model
    metrics.csv                    one row per optimizer step
    runs.csv                       one row per train() call (run / iteration)

Every file appears atomically (blobmaster.atomic: temporary file in the
same folder, fsync, rename); the CSV logs are metrics_csv.CsvLog files
(empty cells for missing values and NaN, true/false for flags). A
checkpoint is a ``torch.save`` dictionary readable with
``torch.load(..., weights_only=True)``: format name and version, step,
examples seen, the TrainConfig, the ModelConfig, model and optimizer
state, the data window (shard paths and rows), the torch RNG states, the
init model it started from, and the last losses. See docs/training.md.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from blobmaster.atomic import TEMP_SUFFIX, atomic_write, atomic_write_bytes
from blobmaster.metrics_csv import CsvLog
from blobmaster.model import (
    FORMAT_NAME as MODEL_FORMAT_NAME,
)
from blobmaster.model import (
    FORMAT_VERSION as MODEL_FORMAT_VERSION,
)
from blobmaster.model import (
    BlobNet,
    ModelConfig,
    ModelError,
    load_model_info,
    save_model,
)
from blobmaster.train_config import CheckpointError, IncompatibleModelError, TrainConfig, TrainError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "METRICS_COLUMNS",
    "RUNS_COLUMNS",
    "CsvLog",
    "RunFolder",
    "carry_optimizer_state",
    "load_checkpoint",
    "model_config_for",
    "read_init_weights",
    "size_name",
]

CHECKPOINT_FORMAT = "blobmaster-train-checkpoint"
CHECKPOINT_VERSION = 1

_SIZES: dict[str, ModelConfig] = {
    "default": ModelConfig(),
    "small": ModelConfig(d_model=128, layers=3, heads=4, ff=512),
    "tiny": ModelConfig.tiny(),
}

METRICS_COLUMNS = (
    "step",
    "epoch",
    "examples_seen",
    "loss",
    "policy_loss",
    "policy_kl",
    "value_loss",
    "value_mse",
    "owner_loss",
    "lr",
    "grad_norm",
    "examples_per_s",
    "elapsed_s",
    "time",
)
"""Columns of metrics.csv (docs/training.md says what each means)."""

RUNS_COLUMNS = (
    "run",
    "started",
    "finished",
    "start_step",
    "end_step",
    "examples",
    "elapsed_s",
    "examples_per_s",
    "window_shards",
    "window_examples",
    "train_examples",
    "val_examples",
    "loss",
    "policy_loss",
    "value_loss",
    "val_loss",
    "val_policy_loss",
    "val_value_loss",
    "val_policy_acc",
    "lr",
    "model_path",
    "init_model",
    "device",
    "resumed",
    "interrupted",
)
"""Columns of runs.csv, one row per train() call."""


def model_config_for(size: str) -> ModelConfig:
    """The ModelConfig of a named size: ``default`` (~5M parameters, the
    like-for-like network), ``small`` (d_model 128, 3 layers, ~0.7M) or
    ``tiny`` (tests)."""
    try:
        return _SIZES[size]
    except KeyError:
        raise TrainError(f"unknown model size {size!r} (expected {', '.join(_SIZES)})") from None


def size_name(config: ModelConfig) -> str:
    """``default``, ``small``, ``tiny`` or ``custom``."""
    for name, c in _SIZES.items():
        if c == config:
            return name
    return "custom"


def _describe(config: ModelConfig) -> str:
    return (
        f"{size_name(config)} (d_model={config.d_model}, layers={config.layers}, heads={config.heads}, "
        f"ff={config.ff}, dropout={config.dropout})"
    )


# ---- checkpoints ----------------------------------------------------------------------


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a training checkpoint onto the CPU (``weights_only``: no code
    runs). Raises CheckpointError for a missing or unreadable file or one
    that is not a blobmaster checkpoint, IncompatibleModelError for a newer
    checkpoint format."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        why = next(
            (ln for ln in lines if "Unsupported global" in ln),
            lines[0] if lines else type(e).__name__,
        )
        raise CheckpointError(f"{path}: not a readable training checkpoint ({why[:200]})") from e
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a blobmaster training checkpoint")
    version = data.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise IncompatibleModelError(
            f"{path}: checkpoint format version {version!r}, this blobmaster reads up to {CHECKPOINT_VERSION}"
        )
    missing = [
        k
        for k in ("step", "config", "model_config", "model_state", "optimizer_state", "window")
        if k not in data
    ]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    try:
        data["config"] = TrainConfig.from_dict(data["config"], source=f"{path}: config")
        data["model_config"] = ModelConfig.from_dict(data["model_config"])
    except (TrainError, ModelError) as e:
        raise IncompatibleModelError(f"{path}: checkpoint settings not understood: {e}") from e
    return data


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _torchscript_format_version(path: Path) -> int | None:
    """The blobmaster format version inside a TorchScript file (None if it has no metadata)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/extra/blobmaster.json")]
            if not names:
                return None
            meta = json.loads(z.read(names[0]) or b"null")
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if (
        isinstance(meta, dict)
        and meta.get("format") == MODEL_FORMAT_NAME
        and isinstance(meta.get("format_version"), int)
    ):
        return int(meta["format_version"])
    return None


def read_init_weights(
    path: str | os.PathLike[str], want: ModelConfig | None
) -> tuple[ModelConfig, dict[str, torch.Tensor], str]:
    """The network config and weights (CPU state dict) of an init model:
    a scripted model file (model.save_model) or a training checkpoint.
    Returns (config, state, kind) with kind ``"model"`` or ``"checkpoint"``.

    ``want`` is the size the training config asks for (None: whatever the
    file holds). Raises CheckpointError for a missing or unreadable file,
    IncompatibleModelError for another network size, a newer format, or
    weights that do not fit a BlobNet."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"init model not found: {path}"
            if not path.exists()
            else f"init model is not a file: {path}"
        )
    if _is_torchscript(path):
        version = _torchscript_format_version(path)
        if version is not None and version > MODEL_FORMAT_VERSION:
            raise IncompatibleModelError(
                f"{path}: model format version {version}, this blobmaster reads up to {MODEL_FORMAT_VERSION}"
            )
        try:
            info = load_model_info(path)
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message=r".*torch\.jit.*deprecated", category=FutureWarning
                )
                scripted = torch.jit.load(str(path), map_location="cpu")
        except ModelError as e:
            raise CheckpointError(str(e)) from e
        except Exception as e:
            raise CheckpointError(
                f"{path}: not a loadable TorchScript model ({str(e).strip()[:200]})"
            ) from e
        config, kind = info.config, "model"
        state = {k: v.detach().clone() for k, v in scripted.state_dict().items()}
        if config is None:
            if want is None:
                raise IncompatibleModelError(
                    f"{path}: a TorchScript file without blobmaster metadata; set the model size (default, small, tiny)"
                )
            config = want
    else:
        ckpt = load_checkpoint(path)
        config, state, kind = ckpt["model_config"], ckpt["model_state"], "checkpoint"
    if want is not None and config != want:
        raise IncompatibleModelError(
            f"{path}: the {kind} is a BlobNet {_describe(config)}, the training config asks for {_describe(want)}"
        )
    try:
        BlobNet(config).load_state_dict(state, strict=True)
    except (RuntimeError, ModelError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise IncompatibleModelError(
            f"{path}: weights do not fit a BlobNet {_describe(config)} ({first[:200]})"
        ) from e
    return config, state, kind


def carry_optimizer_state(optimizer: torch.optim.Optimizer, path: str | os.PathLike[str]) -> int:
    """Loads the per-parameter state (AdamW's step count and moments) of the
    checkpoint at ``path`` into a fresh ``optimizer`` of the same network,
    keeping the optimizer's own hyperparameters (lr, betas, weight decay:
    the new run's settings, not the old run's). Returns the checkpoint's
    step. Raises CheckpointError when the state does not fit the parameters."""
    ckpt = load_checkpoint(path)
    saved = ckpt["optimizer_state"]
    fresh = optimizer.state_dict()
    sizes_new = [len(g["params"]) for g in fresh["param_groups"]]
    sizes_old = [len(g["params"]) for g in saved.get("param_groups", [])]
    if sizes_new != sizes_old:
        raise CheckpointError(
            f"{path}: optimizer state does not fit the model (groups {sizes_old} vs {sizes_new})"
        )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, state in saved["state"].items():
        moment = state.get("exp_avg") if isinstance(state, Mapping) else None
        if not isinstance(index, int) or not 0 <= index < len(params):
            raise CheckpointError(f"{path}: optimizer state for an unknown parameter {index!r}")
        if moment is not None and tuple(moment.shape) != tuple(params[index].shape):
            raise CheckpointError(
                f"{path}: optimizer state does not fit the model (parameter {index}: "
                f"{tuple(moment.shape)} vs {tuple(params[index].shape)})"
            )
    optimizer.load_state_dict({"state": saved["state"], "param_groups": fresh["param_groups"]})
    return int(ckpt["step"])


# ---- the run folder ------------------------------------------------------------------------

_CKPT_RE = re.compile(r"^ckpt-(\d{8,})\.pt$")


class RunFolder:
    """Paths and files of one training run folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.models = self.root / "models"
        self.latest_model = self.root / "model.pt"
        self.metrics = CsvLog(self.root / "metrics.csv", METRICS_COLUMNS)
        self.runs = CsvLog(self.root / "runs.csv", RUNS_COLUMNS)

    def prepare(self) -> None:
        """Creates the folder and proves it writable."""
        if self.root.exists() and not self.root.is_dir():
            raise TrainError(f"run folder {self.root} exists and is not a folder")
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            self.models.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".blobmaster-write-test-"):
                pass
        except OSError as e:
            raise TrainError(f"run folder {self.root} is not writable: {e.strerror or e}") from e

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"ckpt-{step:08d}.pt"

    def model_path(self, step: int) -> Path:
        return self.models / f"model-{step:08d}.pt"

    def list_checkpoints(self) -> list[tuple[int, Path]]:
        """(step, path) of every checkpoint, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        found = []
        for p in self.checkpoints.iterdir():
            m = _CKPT_RE.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), p))
        return sorted(found)

    def latest_checkpoint(self) -> Path | None:
        found = self.list_checkpoints()
        return found[-1][1] if found else None

    def write_checkpoint(
        self,
        step: int,
        payload: dict[str, Any],
        model: torch.nn.Module,
        *,
        extra: Mapping[str, Any],
        keep: int,
    ) -> tuple[Path, Path]:
        """Exports the scripted model, then writes the checkpoint, both
        atomically; updates model.pt; removes all but the newest ``keep``
        checkpoints and their models. Returns (checkpoint path, model path)."""
        model_path = save_model(model, self.model_path(step), extra=extra)
        payload = dict(
            payload,
            format=CHECKPOINT_FORMAT,
            format_version=CHECKPOINT_VERSION,
            model_file=str(model_path),
        )
        ckpt_path = self.checkpoint_path(step)
        atomic_write(ckpt_path, lambda f: torch.save(payload, f))
        atomic_write_bytes(self.latest_model, model_path.read_bytes())
        for old_step, old in self.list_checkpoints()[:-keep]:
            old.unlink(missing_ok=True)
            self.model_path(old_step).unlink(missing_ok=True)
        return ckpt_path, model_path

    def temporary_files(self) -> Iterator[Path]:
        """Leftover temporary files of an interrupted write (for tests and cleanup)."""
        for folder in (self.root, self.checkpoints, self.models):
            if folder.is_dir():
                yield from (
                    p
                    for p in folder.iterdir()
                    if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)
                )
