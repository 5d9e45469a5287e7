"""The trainer: BlobNet on a window of the newest replay shards.

``train(config, data, run_dir)`` is the whole job, used by ``blobmaster
train`` and by the AlphaZero loop (self-play -> train -> gate), which calls
it once per iteration with a data window and an init model and reads back
``summary.model_path`` (the scripted model that ``blobmaster selfplay
--model`` loads) and the final losses::

    from blobmaster.train import TrainConfig, train

    summary = train(TrainConfig(steps=1000), "selfplay_out", "runs/iter-003",
                    init_model="runs/iter-002/model.pt")
    summary.model_path, summary.losses["policy_loss"], summary.val

One optimizer step: a batch of ``batch_size`` examples (BatchSampler: a
fresh permutation of the training set per epoch, a pure function of the
seed and the step), the forward pass (bf16 autocast on CUDA), the loss

    policy_loss = mean over the batch of  -sum_a pi(a) log p(a)

where p is the softmax of the logits over the legal actions only (illegal
logits are -inf before the log-softmax) and pi the search policy, plus
``value_weight`` times

    value_loss = mean over the batch of the mean over the seats at the
                 table (k < num_players) of BCE(sigmoid(u_k), z_k)
                 (or (sigmoid(u_k) - z_k)^2)

with u the value logits (BlobNet.forward_logits; the BCE is computed from
the logits, never from the saturating sigmoid output)

then gradient clipping (total norm ``grad_clip``) and an AdamW step with a
learning rate of linear warmup then cosine decay (TrainConfig.lr_at),
weight decay on the weight matrices only (not biases or LayerNorm gains).
docs/training.md explains the choices.

The loop itself is :class:`blobmaster.trainer.Trainer` (one method per
step); the summary and progress types are in blobmaster.train_progress.

Checkpoints (checkpoint.RunFolder) are written every ``checkpoint_every``
steps, at the end and on Ctrl-C; ``resume=True`` continues from the newest
one exactly as if the run had not stopped (same window, same batches, same
optimizer and RNG state). Metrics go to ``metrics.csv`` (every step) and
``runs.csv`` (every call).

Bad input raises a :class:`TrainError` subclass (all ``ValueError``) with a
one-line message: NoShardsError, ShardSchemaError, CorruptShardError,
WindowChangedError, CheckpointError, IncompatibleModelError,
TrainConfigError; and model.DeviceError for a device that is not there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from blobmaster.checkpoint import RunFolder, load_checkpoint
from blobmaster.train_config import (
    CheckpointError,
    CorruptShardError,
    IncompatibleModelError,
    NoShardsError,
    ShardSchemaError,
    SkippedShardWarning,
    TrainConfig,
    TrainConfigError,
    TrainDataError,
    TrainError,
    WindowChangedError,
    load_train_config,
)
from blobmaster.train_progress import RichTrainProgress, TrainProgress, TrainSummary
from blobmaster.trainer import Trainer, batch_losses

__all__ = [
    "CheckpointError",
    "CorruptShardError",
    "IncompatibleModelError",
    "NoShardsError",
    "RichTrainProgress",
    "ShardSchemaError",
    "SkippedShardWarning",
    "TrainConfig",
    "TrainConfigError",
    "TrainDataError",
    "TrainError",
    "TrainProgress",
    "TrainSummary",
    "Trainer",
    "WindowChangedError",
    "batch_losses",
    "load_train_config",
    "train",
]

PathLike = str | os.PathLike[str]


# ---- train -------------------------------------------------------------------------------------


def train(
    config: TrainConfig | None,
    data: PathLike | Sequence[PathLike] | None,
    run_dir: PathLike,
    *,
    init_model: PathLike | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    until_step: int | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    warn: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
    init_optimizer: PathLike | None = None,
) -> TrainSummary:
    """Trains a BlobNet and returns a :class:`TrainSummary`.

    * ``config``: the hyperparameters (None: the defaults, or on resume the checkpoint's).
    * ``data``: folders of replay shards and/or shard files; the window is
      the newest ``window_shards`` shards / ``window_examples`` examples of
      them. On resume it is only used to find shards that moved.
    * ``run_dir``: the run folder (created); it must not hold checkpoints
      unless ``resume``.
    * ``init_model``: start from this scripted model file or training
      checkpoint (weights only) instead of a fresh network (seeded by
      ``config.seed``). Its size must match ``config.model`` unless that is
      ``auto``.
    * ``resume``: continue from the newest checkpoint in ``run_dir``, with
      its data window, optimizer and RNG state; ``config`` (if given) must
      agree with the checkpoint's except for the runtime fields
      (checkpoint_every, keep_checkpoints, log_every, skip_corrupt).
    * ``device``: auto, cpu, cuda or cuda:N.
    * ``until_step``: stop (with a checkpoint) at this step, before
      ``config.steps``; a later resume continues the same schedule.
    * ``progress``: called with a TrainProgress every ``log_every`` steps.
    * ``warn``: receives one line per shard skipped with ``skip_corrupt``
      (default: ``warnings.warn`` with SkippedShardWarning).
    * ``log``: receives one line describing the run (window, network,
      device, steps) once the data is loaded, before the first step.
    * ``init_optimizer``: a training checkpoint whose optimizer state
      (AdamW's step counts and moments) the new run starts from, with this
      run's hyperparameters and learning-rate schedule (from step 0); used
      by the loop to carry the optimizer across iterations together with
      ``init_model``. Not with ``resume``.

    The first Ctrl-C stops after the current step, writes a checkpoint and
    returns with ``interrupted=True``.
    """
    return Trainer(
        config,
        data,
        run_dir,
        init_model=init_model,
        resume=resume,
        device=device,
        until_step=until_step,
        progress=progress,
        warn=warn,
        log=log,
        init_optimizer=init_optimizer,
    ).run()


# ---- the command line ------------------------------------------------------------------------


def resume_config(run_dir: PathLike) -> TrainConfig:
    """The TrainConfig of the newest checkpoint in ``run_dir`` (CheckpointError if none)."""
    latest = RunFolder(run_dir).latest_checkpoint()
    if latest is None:
        raise CheckpointError(f"no checkpoint to resume in {run_dir}")
    config: TrainConfig = load_checkpoint(latest)["config"]
    return config


def run_command(
    *,
    data: Sequence[Path] | None,
    out: Path,
    config: str | None,
    overrides: dict[str, Any],
    init_model: Path | None,
    resume: bool,
    until_step: int | None,
    device: str,
    torch_threads: int | None,
    progress: bool,
    json_summary: bool,
    echo: Callable[..., None],
) -> bool:
    """The body of ``blobmaster train`` (the typer command in cli.py only
    declares the options). ``overrides`` are TrainConfig fields given on the
    command line (None: not given). Prints the summary with ``echo(text,
    err=...)``; returns True if the run was interrupted. Raises TrainError,
    ConfigError or DeviceError for bad input."""
    import json

    if resume:
        base = resume_config(out)
        if config is not None:
            given = load_train_config(config)
            conflicts = base.resume_conflicts(given)
            if conflicts:
                raise TrainConfigError(
                    f"--config {config} differs from the checkpoint's settings: {'; '.join(conflicts)}"
                )
    else:
        base = load_train_config(config or "train")
    cfg = base.replace(**overrides)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)

    def info(line: str) -> None:
        if not json_summary:
            echo(f"train: {line}", err=True)

    def warn(line: str) -> None:
        echo(f"blobmaster: warning: {line}", err=True)

    with RichTrainProgress(enabled=progress and not json_summary) as bar:
        summary = train(
            cfg,
            list(data) if data else None,
            out,
            init_model=init_model,
            resume=resume,
            device=device,
            until_step=until_step,
            progress=bar,
            warn=warn,
            log=info,
        )
    if json_summary:
        echo(json.dumps(summary.as_dict()))
    else:
        echo(f"train: {summary.one_line()}")
    return summary.interrupted
