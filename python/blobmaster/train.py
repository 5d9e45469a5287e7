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

import contextlib
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blobmaster.checkpoint import (
    RunFolder,
    load_checkpoint,
    model_config_for,
    read_init_weights,
    size_name,
)
from blobmaster.model import ModelConfig, default_model, resolve_device
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
from blobmaster.train_data import (
    BatchSampler,
    DataWindow,
    Examples,
    find_shards,
    load_window,
    reload_window,
)

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
    "WindowChangedError",
    "batch_losses",
    "load_train_config",
    "train",
]

PathLike = str | os.PathLike[str]
_LOSS_KEYS = ("loss", "policy_loss", "policy_kl", "value_loss", "value_mse")
_STEP_KEYS = (*_LOSS_KEYS, "grad_norm")
_SUMMARY_STEPS = 50  # final/first losses average this many steps


# ---- losses ----------------------------------------------------------------------------


def batch_losses(
    logits: torch.Tensor,
    value_logits: torch.Tensor,
    mask: torch.Tensor,
    policy: torch.Tensor,
    value: torch.Tensor,
    num_players: torch.Tensor,
    *,
    value_loss: str = "bce",
    value_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The losses of one batch (float32 scalars): ``loss`` (the one to
    minimize), ``policy_loss`` (cross-entropy against the search policy over
    legal actions), ``policy_kl`` (that minus the target's entropy: 0 for a
    perfect fit), ``value_loss`` (BCE or MSE over the seats present) and
    ``value_mse``. ``value_logits`` are the value head's outputs before the
    sigmoid (BlobNet.forward_logits): the BCE is computed from them, so its
    gradient never vanishes where the sigmoid saturates. Network outputs may
    be bf16; the losses are computed in float32."""
    logits = logits.float().masked_fill(~mask, float("-inf"))
    logp = torch.log_softmax(logits, dim=1).masked_fill(~mask, 0.0)
    ce = -(policy * logp).sum(dim=1)
    entropy = torch.special.entr(policy).sum(dim=1)
    seats = (
        torch.arange(value_logits.shape[1], device=value_logits.device)[None, :]
        < num_players[:, None]
    )
    seats_f = seats.float()
    count = seats_f.sum(dim=1).clamp_min(1.0)
    z = value_logits.float()
    sq = (torch.sigmoid(z) - value) ** 2
    if value_loss == "bce":
        per_seat = F.binary_cross_entropy_with_logits(z, value, reduction="none")
    elif value_loss == "mse":
        per_seat = sq
    else:
        raise TrainConfigError(f"value_loss must be bce or mse, got {value_loss!r}")
    vl = ((per_seat * seats_f).sum(dim=1) / count).mean()
    mse = ((sq * seats_f).sum(dim=1) / count).mean()
    pl = ce.mean()
    return {
        "loss": pl + value_weight * vl,
        "policy_loss": pl,
        "policy_kl": (ce - entropy).mean(),
        "value_loss": vl,
        "value_mse": mse,
    }


# ---- progress and results ------------------------------------------------------------------


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


class RichTrainProgress:
    """Context manager and train() progress callback: a rich progress bar on
    stderr with the step, loss, policy and value loss, learning rate and
    examples/s. Draws nothing when stderr is not a terminal or ``enabled`` is False."""

    def __init__(self, *, enabled: bool = True, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.3f} (pol {task.fields[pol]:.3f}, val {task.fields[val]:.3f})"
            ),
            TextColumn("lr {task.fields[lr]:.1e}"),
            TextColumn("{task.fields[eps]:>7,.0f} ex/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not (enabled and self.console.is_terminal),
        )
        self.task: Any = None

    def __enter__(self) -> RichTrainProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

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


# ---- helpers -------------------------------------------------------------------------------


class _StopFlag:
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

    def __enter__(self) -> _StopFlag:
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


def _optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
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


class _Tensors:
    """The training set as tensors, on the device when it fits (else on the CPU, pinned on CUDA)."""

    def __init__(self, ex: Examples, device: torch.device) -> None:
        arrays = (ex.state, ex.mask, ex.policy, ex.value, ex.num_players.astype(np.int64))
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
        self.state, self.mask, self.policy, self.value, self.players = tensors

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        index = torch.from_numpy(idx)
        if self.on_device:
            index = index.to(self.device, non_blocking=True)
        out = tuple(
            t.index_select(0, index)
            for t in (self.state, self.mask, self.policy, self.value, self.players)
        )
        if not self.on_device:
            out = tuple(t.pin_memory().to(self.device, non_blocking=True) for t in out)
        return out


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    if bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def _evaluate(
    model: nn.Module, data: _Tensors, n: int, config: TrainConfig, bf16: bool
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    totals = {k: 0.0 for k in _LOSS_KEYS}
    correct = 0.0
    chunk = 4096
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        state, mask, policy, value, players = data.batch(idx)
        with _autocast(data.device, bf16):
            logits, value_logits = model.forward_logits(state)
        losses = batch_losses(
            logits,
            value_logits,
            mask,
            policy,
            value,
            players,
            value_loss=config.value_loss,
            value_weight=config.value_weight,
        )
        for k in _LOSS_KEYS:
            totals[k] += float(losses[k]) * len(idx)
        pred = logits.float().masked_fill(~mask, float("-inf")).argmax(dim=1)
        correct += float((pred == policy.argmax(dim=1)).sum())
    model.train(was_training)
    out = {f"val_{k}": v / n for k, v in totals.items()}
    out["val_policy_acc"] = correct / n
    return out


def _mean_rows(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {k: math.nan for k in _LOSS_KEYS}
    return {k: float(np.mean([r[k] for r in rows])) for k in _LOSS_KEYS}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _rng(device: torch.device, seed: int, state: dict[str, Any] | None) -> Iterator[None]:
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


def _rng_state(device: torch.device) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


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

    The first Ctrl-C stops after the current step, writes a checkpoint and
    returns with ``interrupted=True``.
    """
    run = RunFolder(run_dir)
    dev = resolve_device(device)
    if until_step is not None and until_step < 1:
        raise TrainConfigError(f"until_step must be >= 1, got {until_step}")
    data_sources: list[Path] = []
    if data is not None:
        data_sources = (
            [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(d) for d in data]
        )

    # -- settings, checkpoint and init model: cheap checks first --
    ckpt: dict[str, Any] | None = None
    if resume:
        if init_model is not None:
            raise TrainConfigError(
                "init_model cannot be combined with resume (the checkpoint holds the model)"
            )
        latest = run.latest_checkpoint()
        if latest is None:
            raise CheckpointError(f"no checkpoint to resume in {run.root}")
        ckpt = load_checkpoint(latest)
        saved: TrainConfig = ckpt["config"]
        model_config: ModelConfig = ckpt["model_config"]
        if config is None:
            config = saved
        else:
            if config.model != "auto" and model_config != model_config_for(config.model):
                raise IncompatibleModelError(
                    f"{latest}: the checkpoint is a {size_name(model_config)} BlobNet, the config asks for {config.model}"
                )
            # "auto" and the checkpoint's own size name the same network
            conflicts = saved.replace(model=config.model).resume_conflicts(config)
            if conflicts:
                raise TrainConfigError(
                    f"cannot resume {latest} with other settings ({'; '.join(conflicts)}); "
                    "start a new run folder (with init_model) instead"
                )
    else:
        config = config or TrainConfig()
        existing = run.list_checkpoints()
        if existing:
            raise TrainError(
                f"run folder {run.root} already has checkpoints (up to step {existing[-1][0]}): "
                "resume it or choose another folder"
            )
        if not data_sources:
            raise NoShardsError("no data given: pass folders of replay shards or shard files")
    want = None if config.model == "auto" else model_config_for(config.model)
    init_state: dict[str, torch.Tensor] | None = None
    init_label: str | None = None
    if ckpt is not None:
        init_state, init_label = ckpt["model_state"], ckpt.get("init_model")
    elif init_model is not None:
        model_config, init_state, kind = read_init_weights(init_model, want)
        init_label = f"{kind}:{Path(init_model)}"
    else:
        model_config = want or model_config_for("default")

    # -- data --
    t_load = time.perf_counter()
    if ckpt is not None:
        window = DataWindow.from_dict(ckpt["window"])
        examples = reload_window(
            window, val_fraction=config.val_fraction, search=[d for d in data_sources if d.is_dir()]
        )
    else:
        window, examples = load_window(
            find_shards(data_sources),
            window_shards=config.window_shards,
            window_examples=config.window_examples,
            val_fraction=config.val_fraction,
            skip_corrupt=config.skip_corrupt,
            warn=warn,
        )
    train_ex, val_ex = examples.split()
    del examples
    load_s = time.perf_counter() - t_load
    run.prepare()  # after the data checks: bad input leaves no empty run folder behind

    # -- model, optimizer, state --
    start_step = int(ckpt["step"]) if ckpt else 0
    examples_seen = int(ckpt.get("examples_seen", 0)) if ckpt else 0
    end_step = config.steps if until_step is None else min(config.steps, until_step)
    net = default_model(seed=config.seed, config=model_config)
    if init_state is not None:
        net.load_state_dict(init_state)
    net = net.to(dev).train()
    optimizer = _optimizer(net, config, dev)
    if ckpt is not None:
        try:
            optimizer.load_state_dict(ckpt["optimizer_state"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(
                f"{run.latest_checkpoint()}: optimizer state does not fit the model ({e})"
            ) from e
    bf16 = bool(config.bf16 and dev.type == "cuda" and torch.cuda.is_bf16_supported())
    sampler = BatchSampler(len(train_ex), config.batch_size, config.seed)
    tensors = _Tensors(train_ex, dev)
    val_tensors = _Tensors(val_ex, dev) if len(val_ex) else None
    if ckpt is not None:
        run.metrics.truncate_after(start_step)
    else:
        run.metrics.reset()
    params = list(net.parameters())
    if log is not None:
        log(
            f"window {len(window.shards)} shards, {window.examples:,} examples ({len(train_ex):,} train, "
            f"{len(val_ex):,} validation{f', {len(window.skipped)} shards skipped' if window.skipped else ''}) "
            f"read in {load_s:.1f} s | BlobNet {size_name(model_config)} ({net.num_parameters():,} parameters)"
            f"{f' from {init_label}' if init_label else ''} | {dev}{' bf16' if bf16 else ''} | "
            f"steps {start_step} -> {end_step} of {config.steps}, batch {config.batch_size}"
        )
    clip = config.grad_clip if config.grad_clip > 0 else math.inf

    recent: deque[dict[str, float]] = deque(maxlen=_SUMMARY_STEPS)
    first: list[dict[str, float]] = []
    pending: list[tuple[int, float, torch.Tensor]] = []
    last_rows: dict[str, float] = {}
    interrupted = False
    step = start_step
    last_ckpt = (
        run.latest_checkpoint(),
        Path(ckpt["model_file"]) if ckpt and ckpt.get("model_file") else None,
    )
    started = _now()
    t0 = time.perf_counter()
    t_last, steps_last = t0, 0
    train_time = 0.0

    def flush() -> None:
        nonlocal t_last, steps_last
        if not pending:
            return
        values = torch.stack([m for _, _, m in pending]).float().cpu().numpy()
        now = time.perf_counter()
        eps = steps_last * config.batch_size / max(now - t_last, 1e-9)
        rows = []
        for (s, lr, _), v in zip(pending, values):
            row = dict(zip(_STEP_KEYS, (float(x) for x in v)))
            if not all(math.isfinite(row[k]) for k in _LOSS_KEYS):
                raise TrainError(
                    f"the loss became {row['loss']} at step {s} (learning rate {lr:.3g} too high? bad data?); "
                    f"the last checkpoint is {last_ckpt[0]}"
                )
            seen = examples_seen - (step - s) * config.batch_size
            rows.append(
                {
                    "step": s,
                    "epoch": sampler.epoch_of(s),
                    "examples_seen": seen,
                    **row,
                    "lr": lr,
                    "examples_per_s": eps,
                    "elapsed_s": now - t0,
                    "time": time.time(),
                }
            )
            recent.append(row)
            if len(first) < _SUMMARY_STEPS:
                first.append(row)
            last_rows.update(row, lr=lr)
        run.metrics.append(rows)
        pending.clear()
        if progress is not None:
            progress(
                TrainProgress(
                    step=step,
                    end_step=end_step,
                    start_step=start_step,
                    loss=last_rows["loss"],
                    policy_loss=last_rows["policy_loss"],
                    value_loss=last_rows["value_loss"],
                    lr=last_rows["lr"],
                    examples_per_s=eps,
                    elapsed_s=now - t0,
                )
            )
        t_last, steps_last = time.perf_counter(), 0

    def checkpoint() -> None:
        nonlocal last_ckpt
        flush()
        payload = {
            "step": step,
            "examples_seen": examples_seen,
            "config": config.to_dict(),
            "model_config": model_config.to_dict(),
            "model_state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "optimizer_state": optimizer.state_dict(),
            "window": window.to_dict(),
            "rng": _rng_state(dev),
            "init_model": init_label,
            "losses": {k: float(v) for k, v in last_rows.items()},
            "created": _now(),
            "torch_version": str(torch.__version__),
        }
        extra = {
            "step": step,
            "examples_seen": examples_seen,
            "size": size_name(model_config),
            "run_dir": str(run.root.resolve()),
            "train_config": config.to_dict(),
        }
        last_ckpt = run.write_checkpoint(
            step, payload, net, extra=extra, keep=config.keep_checkpoints
        )
        run.metrics.sync()

    with _rng(dev, config.seed, ckpt.get("rng") if ckpt else None), _StopFlag() as stop:
        try:
            while step < end_step:
                if stop.set:
                    interrupted = True
                    break
                idx = sampler.indices(step)
                state, mask, policy, value, players = tensors.batch(idx)
                lr = config.lr_at(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with _autocast(dev, bf16):
                    logits, value_logits = net.forward_logits(state)
                losses = batch_losses(
                    logits,
                    value_logits,
                    mask,
                    policy,
                    value,
                    players,
                    value_loss=config.value_loss,
                    value_weight=config.value_weight,
                )
                losses["loss"].backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                examples_seen += config.batch_size
                steps_last += 1
                pending.append(
                    (
                        step,
                        lr,
                        torch.stack(
                            [losses[k].detach() for k in _LOSS_KEYS] + [grad_norm.detach()]
                        ),
                    )
                )
                if len(pending) >= config.log_every:
                    flush()
                if (
                    config.checkpoint_every
                    and step % config.checkpoint_every == 0
                    and step < end_step
                ):
                    checkpoint()
            train_time = time.perf_counter() - t0
            if step > start_step or ckpt is None:
                checkpoint()
        finally:
            run.metrics.close()
    if train_time == 0.0:
        train_time = time.perf_counter() - t0

    val = None
    if val_tensors is not None and not interrupted:
        val = _evaluate(net, val_tensors, len(val_ex), config, bf16)
    ckpt_path, model_path = last_ckpt
    assert ckpt_path is not None and model_path is not None
    losses_now = _mean_rows(list(recent))
    summary = TrainSummary(
        run_dir=run.root,
        model_path=model_path,
        checkpoint_path=ckpt_path,
        config=config,
        model_config=model_config,
        start_step=start_step,
        step=step,
        examples=(step - start_step) * config.batch_size,
        elapsed_s=train_time,
        load_s=load_s,
        window=window,
        train_examples=len(train_ex),
        val_examples=len(val_ex),
        losses=losses_now,
        first_losses=_mean_rows(first),
        val=val,
        device=str(dev),
        bf16=bf16,
        resumed=ckpt is not None,
        interrupted=interrupted,
        init_model=init_label,
        skipped=list(window.skipped),
    )
    run.runs.append_rewrite(
        {
            "run": len(run.runs.rows()) + 1,
            "started": started,
            "finished": _now(),
            "start_step": start_step,
            "end_step": step,
            "examples": summary.examples,
            "elapsed_s": train_time,
            "examples_per_s": summary.examples_per_s,
            "window_shards": len(window.shards),
            "window_examples": window.examples,
            "train_examples": len(train_ex),
            "val_examples": len(val_ex),
            **{k: losses_now[k] for k in ("loss", "policy_loss", "value_loss")},
            **(val or {}),
            "lr": last_rows.get("lr"),
            "model_path": str(model_path),
            "init_model": init_label,
            "device": str(dev),
            "resumed": summary.resumed,
            "interrupted": interrupted,
        }
    )
    return summary


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
