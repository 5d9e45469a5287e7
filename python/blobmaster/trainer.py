"""The training loop behind :func:`blobmaster.train.train`, as a class with
one method per step: settings and resume, the data window, the network and
optimizer, one optimizer step, the metrics log, checkpoints (with the
exported model), validation and the summary. docs/training.md explains the
choices; blobmaster.train is the public entry point.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blobmaster.atomic import utc_now
from blobmaster.checkpoint import (
    RunFolder,
    carry_optimizer_state,
    load_checkpoint,
    model_config_for,
    read_init_weights,
    size_name,
)
from blobmaster.hidden_cards import OwnerHead, owner_loss
from blobmaster.model import BlobNet, ModelConfig, default_model, resolve_device
from blobmaster.replay import TO_MOVE
from blobmaster.train_config import (
    CheckpointError,
    IncompatibleModelError,
    NoShardsError,
    TrainConfig,
    TrainConfigError,
    TrainError,
)
from blobmaster.train_data import (
    BatchSampler,
    DataWindow,
    find_shards,
    load_window,
    reload_window,
)
from blobmaster.train_progress import TrainProgress, TrainSummary
from blobmaster.train_support import (
    StopFlag,
    Tensors,
    autocast,
    make_optimizer,
    rng_fork,
    rng_state,
)

__all__ = ["Trainer", "batch_losses"]

PathLike = str | os.PathLike[str]
_LOSS_KEYS = ("loss", "policy_loss", "policy_kl", "value_loss", "value_mse", "owner_loss")
_STEP_KEYS = (*_LOSS_KEYS, "grad_norm")
SUMMARY_STEPS = 50  # final/first losses average this many steps


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
    policy_rows: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The losses of one batch (float32 scalars): ``loss`` (the one to
    minimize), ``policy_loss`` (cross-entropy against the search policy over
    legal actions), ``policy_kl`` (that minus the target's entropy: 0 for a
    perfect fit), ``value_loss`` (BCE or MSE over the seats present) and
    ``value_mse``. ``value_logits`` are the value head's outputs before the
    sigmoid (BlobNet.forward_logits): the BCE is computed from them, so its
    gradient never vanishes where the sigmoid saturates. Network outputs may
    be bf16; the losses are computed in float32.

    ``policy_rows`` (bool per row; None: every row) limits the policy terms
    to those rows: the mover's own view. Every decision is stored once per
    seat (the value target of each seat's view), but the mover's policy is a
    target only for the mover: from another seat's view it depends on a
    hand that seat cannot see, so it is noise the network can never fit
    (docs/training.md, "Which rows teach the policy")."""
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
    if policy_rows is None:
        pl, kl = ce.mean(), (ce - entropy).mean()
    else:
        weights = policy_rows.float()
        rows = weights.sum().clamp_min(1.0)
        pl = (ce * weights).sum() / rows
        kl = ((ce - entropy) * weights).sum() / rows
    return {
        "loss": pl + value_weight * vl,
        "policy_loss": pl,
        "policy_kl": kl,
        "value_loss": vl,
        "value_mse": mse,
    }


# ---- helpers -------------------------------------------------------------------------------


def _forward_losses(
    model: BlobNet,
    batch: tuple[torch.Tensor, ...],
    device: torch.device,
    bf16: bool,
    config: TrainConfig,
    owner_head: OwnerHead | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The policy logits and :func:`batch_losses` of one ``Tensors.batch``,
    the forward pass under bf16 autocast when on: one function so that
    training steps and validation can never compute their losses differently.
    With an ``owner_head``, ``loss`` also has ``owner_weight`` times its
    ``owner_loss`` (0 without one)."""
    state, mask, policy, value, players, owner = batch
    with autocast(device, bf16):
        hidden = model.forward_hidden(state)
        logits, value_logits = model.policy_head(hidden), model.value_head(hidden)
        owner_logits = None if owner_head is None else owner_head(hidden)
    losses = batch_losses(
        logits,
        value_logits,
        mask,
        policy,
        value,
        players,
        value_loss=config.value_loss,
        value_weight=config.value_weight,
        policy_rows=policy_rows(state, policy, config),
    )
    if owner_logits is None:
        losses["owner_loss"] = torch.zeros((), device=logits.device)
    else:
        losses["owner_loss"] = owner_loss(owner_logits, owner)
        losses["loss"] = losses["loss"] + config.owner_weight * losses["owner_loss"]
    return logits, losses


def policy_rows(
    state: torch.Tensor, policy: torch.Tensor, config: TrainConfig
) -> torch.Tensor | None:
    """The rows whose policy target is trained (``config.policy_rows``):
    "mover", the rows that are the mover's own view (the observation's
    to-move flag), or every row ("all", the behaviour before). Either way
    without the rows that have no target: an all-zero policy, a fast search
    of playout-cap randomisation. None means every row."""
    has_target = policy.sum(dim=1) > 0
    if config.policy_rows == "all":
        return None if bool(has_target.all()) else has_target
    return (state[:, TO_MOVE] > 0.5) & has_target


@torch.no_grad()
def _evaluate(
    model: BlobNet,
    data: Tensors,
    n: int,
    config: TrainConfig,
    bf16: bool,
    owner_head: OwnerHead | None = None,
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    if owner_head is not None:
        owner_head.eval()
    totals = {k: 0.0 for k in _LOSS_KEYS}
    correct = 0.0
    policy_n = 0
    chunk = 4096
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        batch = data.batch(idx)
        logits, losses = _forward_losses(model, batch, data.device, bf16, config, owner_head)
        state, mask, policy, _value, _players, _owner = batch
        # The policy terms are means over the policy rows: weigh them so.
        rows = policy_rows(state, policy, config)
        k_rows = len(idx) if rows is None else int(rows.sum())
        policy_n += k_rows
        for k in _LOSS_KEYS:
            totals[k] += float(losses[k]) * (k_rows if k.startswith("policy") else len(idx))
        pred = logits.float().masked_fill(~mask, float("-inf")).argmax(dim=1)
        hits = pred == policy.argmax(dim=1)
        correct += float((hits if rows is None else hits & rows).sum())
    model.train(was_training)
    if owner_head is not None:
        owner_head.train(was_training)
    out = {
        f"val_{k}": v / max(policy_n if k.startswith("policy") else n, 1) for k, v in totals.items()
    }
    out["val_loss"] = out["val_policy_loss"] + config.value_weight * out["val_value_loss"]
    out["val_policy_acc"] = correct / max(policy_n, 1)
    return out


def _mean_rows(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {k: math.nan for k in _LOSS_KEYS}
    return {k: float(np.mean([r[k] for r in rows])) for k in _LOSS_KEYS}


# ---- the trainer -----------------------------------------------------------------------------


@dataclass
class _Start:
    """Where a run starts: its settings and, when resuming or starting from
    an init model, the checkpoint and weights."""

    config: TrainConfig
    model_config: ModelConfig
    ckpt: dict[str, Any] | None
    init_state: dict[str, torch.Tensor] | None
    init_label: str | None


def _resume_start(run: RunFolder, config: TrainConfig | None) -> _Start:
    """The settings of a resumed run, checked against the newest checkpoint."""
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
    return _Start(config, model_config, ckpt, ckpt["model_state"], ckpt.get("init_model"))


def _fresh_start(
    run: RunFolder,
    config: TrainConfig | None,
    data_sources: Sequence[Path],
    init_model: PathLike | None,
) -> _Start:
    """The settings and initial weights of a new run (cheap checks first)."""
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
    if init_model is None:
        return _Start(config, want or model_config_for("default"), None, None, None)
    model_config, init_state, kind = read_init_weights(init_model, want)
    return _Start(config, model_config, None, init_state, f"{kind}:{Path(init_model)}")


def _data_sources(data: PathLike | Sequence[PathLike] | None) -> list[Path]:
    if data is None:
        return []
    return [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(d) for d in data]


class Trainer:
    """One train() call (see :func:`blobmaster.train.train` for the
    arguments): :meth:`run` does the steps in order and returns the summary."""

    def __init__(
        self,
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
    ) -> None:
        self.run_folder = RunFolder(run_dir)
        self.dev = resolve_device(device)
        if until_step is not None and until_step < 1:
            raise TrainConfigError(f"until_step must be >= 1, got {until_step}")
        self.data_sources = _data_sources(data)
        self.progress = progress
        self.warn = warn
        self.log = log
        self.init_optimizer = None if init_optimizer is None else Path(init_optimizer)
        if self.init_optimizer is not None and not self.init_optimizer.is_file():
            raise CheckpointError(f"init_optimizer: checkpoint not found: {self.init_optimizer}")
        if resume:
            if init_model is not None:
                raise TrainConfigError(
                    "init_model cannot be combined with resume (the checkpoint holds the model)"
                )
            if init_optimizer is not None:
                raise TrainConfigError(
                    "init_optimizer cannot be combined with resume (the checkpoint holds the optimizer)"
                )
            self.start = _resume_start(self.run_folder, config)
        else:
            self.start = _fresh_start(self.run_folder, config, self.data_sources, init_model)
        self.config = self.start.config
        self.ckpt = self.start.ckpt
        self.end_step = (
            self.config.steps if until_step is None else min(self.config.steps, until_step)
        )

    # -- setup

    def run(self) -> TrainSummary:
        """Every step of the call, in order."""
        self.load_data()
        self.run_folder.prepare()  # after the data checks: bad input leaves no empty run folder
        self.build()
        self.announce()
        with rng_fork(self.dev, self.config.seed, self.ckpt.get("rng") if self.ckpt else None):
            self.fit()
        val = None
        if self.val_tensors is not None and not self.interrupted:
            val = _evaluate(
                self.net,
                self.val_tensors,
                len(self.val_ex),
                self.config,
                self.bf16,
                self.owner_head,
            )
        summary = self.summary(val)
        self.record_run(summary)
        return summary

    def load_data(self) -> None:
        """The data window: the checkpoint's on resume, else the newest shards."""
        config = self.config
        t_load = time.perf_counter()
        if self.ckpt is not None:
            self.window = DataWindow.from_dict(self.ckpt["window"])
            examples = reload_window(
                self.window,
                val_fraction=config.val_fraction,
                search=[d for d in self.data_sources if d.is_dir()],
                with_owner=config.owner_weight > 0,
            )
        else:
            self.window, examples = load_window(
                find_shards(self.data_sources),
                window_shards=config.window_shards,
                window_examples=config.window_examples,
                val_fraction=config.val_fraction,
                skip_corrupt=config.skip_corrupt,
                warn=self.warn,
                with_owner=config.owner_weight > 0,
            )
        self.train_ex, self.val_ex = examples.split()
        self.load_s = time.perf_counter() - t_load

    def build(self) -> None:
        """The network, optimizer, batch sampler, tensors, logs and counters."""
        config, ckpt, dev = self.config, self.ckpt, self.dev
        self.net = default_model(seed=config.seed, config=self.start.model_config)
        if self.start.init_state is not None:
            self.net.load_state_dict(self.start.init_state)
        self.net = self.net.to(dev).train()
        self.owner_head = self.build_owner_head()
        trained: nn.Module = self.net
        if self.owner_head is not None:
            trained = nn.ModuleList([self.net, self.owner_head])
        self.params = list(trained.parameters())
        self.optimizer = make_optimizer(trained, config, dev)
        if ckpt is not None:
            try:
                self.optimizer.load_state_dict(ckpt["optimizer_state"])
            except (ValueError, KeyError, RuntimeError) as e:
                raise CheckpointError(
                    f"{self.run_folder.latest_checkpoint()}: optimizer state does not fit the model ({e})"
                ) from e
        elif self.init_optimizer is not None:
            # AdamW's moments of the run the weights continue (the loop's previous
            # iteration); the learning-rate schedule still starts at step 0.
            carry_optimizer_state(self.optimizer, self.init_optimizer)
        self.bf16 = bool(config.bf16 and dev.type == "cuda" and torch.cuda.is_bf16_supported())
        self.sampler = BatchSampler(len(self.train_ex), config.batch_size, config.seed)
        self.tensors = Tensors(self.train_ex, dev)
        self.val_tensors = Tensors(self.val_ex, dev) if len(self.val_ex) else None
        if ckpt is not None:
            self.run_folder.metrics.truncate_after(int(ckpt["step"]))
        else:
            self.run_folder.metrics.reset()
        self.start_step = self.step = int(ckpt["step"]) if ckpt else 0
        self.examples_seen = int(ckpt.get("examples_seen", 0)) if ckpt else 0
        self.recent: deque[dict[str, float]] = deque(maxlen=SUMMARY_STEPS)
        self.first: list[dict[str, float]] = []
        self.pending: list[tuple[int, float, torch.Tensor]] = []
        self.last_rows: dict[str, float] = {}
        self.interrupted = False
        self.last_ckpt: tuple[Path | None, Path | None] = (
            self.run_folder.latest_checkpoint(),
            Path(ckpt["model_file"]) if ckpt and ckpt.get("model_file") else None,
        )

    def build_owner_head(self) -> OwnerHead | None:
        """The hidden-card auxiliary head when ``owner_weight`` > 0: the
        checkpoint's on resume, else new, its weights drawn from the run's
        seed (not from torch's global generator)."""
        if self.config.owner_weight <= 0:
            return None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed + 1)
            head = OwnerHead(self.start.model_config.d_model)
        state = self.ckpt.get("owner_head_state") if self.ckpt is not None else None
        if self.ckpt is not None:
            if state is None:
                raise CheckpointError(
                    f"{self.run_folder.latest_checkpoint()}: the checkpoint has no hidden-card head "
                    "to resume (owner_weight was 0 when it was written)"
                )
            head.load_state_dict(state)
        return head.to(self.dev).train()

    def announce(self) -> None:
        """One line about the window, the network and the device, for ``log``."""
        if self.log is None:
            return
        w, config = self.window, self.config
        skipped = f", {len(w.skipped)} shards skipped" if w.skipped else ""
        label = self.start.init_label
        self.log(
            f"window {len(w.shards)} shards, {w.examples:,} examples ({len(self.train_ex):,} train, "
            f"{len(self.val_ex):,} validation{skipped}) read in {self.load_s:.1f} s | "
            f"BlobNet {size_name(self.start.model_config)} ({self.net.num_parameters():,} parameters)"
            f"{f' from {label}' if label else ''} | {self.dev}{' bf16' if self.bf16 else ''} | "
            f"steps {self.start_step} -> {self.end_step} of {config.steps}, batch {config.batch_size}"
        )

    # -- training

    def fit(self) -> None:
        """Optimizer steps until ``end_step`` or the first Ctrl-C, with the
        metrics log and the checkpoints along the way and at the end."""
        config = self.config
        self.started = utc_now()
        self.t0 = self.t_last = time.perf_counter()
        self.steps_last = 0
        self.train_time = 0.0
        with StopFlag() as stop:
            try:
                while self.step < self.end_step:
                    if stop.set:
                        self.interrupted = True
                        break
                    self.one_step()
                    if len(self.pending) >= config.log_every:
                        self.flush_metrics()
                    every = config.checkpoint_every
                    if every and self.step % every == 0 and self.step < self.end_step:
                        self.checkpoint()
                self.train_time = time.perf_counter() - self.t0
                if self.step > self.start_step or self.ckpt is None:
                    self.checkpoint()
            finally:
                self.run_folder.metrics.close()
        if self.train_time == 0.0:
            self.train_time = time.perf_counter() - self.t0

    def one_step(self) -> None:
        """One batch: forward (bf16 autocast when on), losses, backward,
        gradient clipping, AdamW at the scheduled learning rate."""
        config = self.config
        batch = self.tensors.batch(self.sampler.indices(self.step))
        lr = config.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        _logits, losses = _forward_losses(
            self.net, batch, self.dev, self.bf16, config, self.owner_head
        )
        losses["loss"].backward()
        clip = config.grad_clip if config.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.examples_seen += config.batch_size
        self.steps_last += 1
        metrics = torch.stack([losses[k].detach() for k in _LOSS_KEYS] + [grad_norm.detach()])
        self.pending.append((self.step, lr, metrics))

    def flush_metrics(self) -> None:
        """Writes the pending steps' rows to metrics.csv (one device sync for
        the group) and calls the progress callback."""
        if not self.pending:
            return
        values = torch.stack([m for _, _, m in self.pending]).float().cpu().numpy()
        now = time.perf_counter()
        eps = self.steps_last * self.config.batch_size / max(now - self.t_last, 1e-9)
        rows = [
            self._metrics_row(s, lr, v, eps, now) for (s, lr, _), v in zip(self.pending, values)
        ]
        self.run_folder.metrics.append(rows)
        self.pending.clear()
        if self.progress is not None:
            last = self.last_rows
            self.progress(
                TrainProgress(
                    step=self.step,
                    end_step=self.end_step,
                    start_step=self.start_step,
                    loss=last["loss"],
                    policy_loss=last["policy_loss"],
                    value_loss=last["value_loss"],
                    lr=last["lr"],
                    examples_per_s=eps,
                    elapsed_s=now - self.t0,
                )
            )
        self.t_last, self.steps_last = time.perf_counter(), 0

    def _metrics_row(
        self, s: int, lr: float, values: np.ndarray, eps: float, now: float
    ) -> dict[str, Any]:
        row = dict(zip(_STEP_KEYS, (float(x) for x in values)))
        if not all(math.isfinite(row[k]) for k in _LOSS_KEYS):
            raise TrainError(
                f"the loss became {row['loss']} at step {s} (learning rate {lr:.3g} too high? bad data?); "
                f"the last checkpoint is {self.last_ckpt[0]}"
            )
        self.recent.append(row)
        if len(self.first) < SUMMARY_STEPS:
            self.first.append(row)
        self.last_rows.update(row, lr=lr)
        return {
            "step": s,
            "epoch": self.sampler.epoch_of(s),
            "examples_seen": self.examples_seen - (self.step - s) * self.config.batch_size,
            **row,
            "lr": lr,
            "examples_per_s": eps,
            "elapsed_s": now - self.t0,
            "time": time.time(),
        }

    # -- files

    def checkpoint(self) -> None:
        """The metrics so far, then the exported model and the checkpoint
        (RunFolder.write_checkpoint: both atomic, old ones pruned)."""
        self.flush_metrics()
        config, net = self.config, self.net
        payload = {
            "step": self.step,
            "examples_seen": self.examples_seen,
            "config": config.to_dict(),
            "model_config": self.start.model_config.to_dict(),
            "model_state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "owner_head_state": None
            if self.owner_head is None
            else {k: v.detach().cpu().clone() for k, v in self.owner_head.state_dict().items()},
            "optimizer_state": self.optimizer.state_dict(),
            "window": self.window.to_dict(),
            "rng": rng_state(self.dev),
            "init_model": self.start.init_label,
            "losses": {k: float(v) for k, v in self.last_rows.items()},
            "created": utc_now(),
            "torch_version": str(torch.__version__),
        }
        self.last_ckpt = self.run_folder.write_checkpoint(
            self.step, payload, net, extra=self.export_metadata(), keep=config.keep_checkpoints
        )
        self.run_folder.metrics.sync()

    def export_metadata(self) -> dict[str, Any]:
        """The ``extra`` notes stored in each exported model file."""
        return {
            "step": self.step,
            "examples_seen": self.examples_seen,
            "size": size_name(self.start.model_config),
            "run_dir": str(self.run_folder.root.resolve()),
            "train_config": self.config.to_dict(),
        }

    # -- results

    def summary(self, val: dict[str, float] | None) -> TrainSummary:
        ckpt_path, model_path = self.last_ckpt
        assert ckpt_path is not None and model_path is not None
        return TrainSummary(
            run_dir=self.run_folder.root,
            model_path=model_path,
            checkpoint_path=ckpt_path,
            config=self.config,
            model_config=self.start.model_config,
            start_step=self.start_step,
            step=self.step,
            examples=(self.step - self.start_step) * self.config.batch_size,
            elapsed_s=self.train_time,
            load_s=self.load_s,
            window=self.window,
            train_examples=len(self.train_ex),
            val_examples=len(self.val_ex),
            losses=_mean_rows(list(self.recent)),
            first_losses=_mean_rows(self.first),
            val=val,
            device=str(self.dev),
            bf16=self.bf16,
            resumed=self.ckpt is not None,
            interrupted=self.interrupted,
            init_model=self.start.init_label,
            skipped=list(self.window.skipped),
        )

    def record_run(self, summary: TrainSummary) -> None:
        """Appends this call's row to runs.csv."""
        runs = self.run_folder.runs
        runs.append_rewrite(
            {
                "run": len(runs.rows()) + 1,
                "started": self.started,
                "finished": utc_now(),
                "start_step": summary.start_step,
                "end_step": summary.step,
                "examples": summary.examples,
                "elapsed_s": summary.elapsed_s,
                "examples_per_s": summary.examples_per_s,
                "window_shards": len(self.window.shards),
                "window_examples": self.window.examples,
                "train_examples": summary.train_examples,
                "val_examples": summary.val_examples,
                **{k: summary.losses[k] for k in ("loss", "policy_loss", "value_loss")},
                **(summary.val or {}),
                "lr": self.last_rows.get("lr"),
                "model_path": str(summary.model_path),
                "init_model": summary.init_model,
                "device": summary.device,
                "resumed": summary.resumed,
                "interrupted": summary.interrupted,
            }
        )
