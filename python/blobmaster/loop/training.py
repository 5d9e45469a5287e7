"""Phase 2 of an iteration: train the previous iteration's network on the
shards of the newest ``window_iterations`` iterations, in ``iter-k/train/``;
the result is copied to ``iter-k/model.pt`` and ``train.json`` marks the
phase done. An interrupted training continues from its newest checkpoint."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from blobmaster.arena import derive_seed
from blobmaster.atomic import atomic_write_bytes, read_json, utc_now, write_json
from blobmaster.checkpoint import RunFolder
from blobmaster.loop.config import SEED_MAX, LoopError, LoopInterrupted
from blobmaster.loop.context import LoopContext, torch_threads
from blobmaster.loop.metrics import loss_summary
from blobmaster.train import (
    IncompatibleModelError,
    TrainConfig,
    TrainConfigError,
    TrainSummary,
    WindowChangedError,
    train,
)
from blobmaster.trainer import SUMMARY_STEPS  # the trainer's own window: both summaries agree

__all__ = ["train_phase"]


def _previous_optimizer(ctx: LoopContext, k: int) -> Path | None:
    """The final checkpoint of iteration k-1's training, whose AdamW state
    iteration k continues; None for k = 1 or when the checkpoint is gone
    (then a fresh optimizer)."""
    if k == 1:
        return None
    latest = RunFolder(ctx.folder.iter_dir(k - 1) / "train").latest_checkpoint()
    if latest is None:
        ctx.log(f"iteration {k} train: no checkpoint of iteration {k - 1}: a fresh optimizer")
    return latest


def _train(
    ctx: LoopContext,
    k: int,
    tcfg: TrainConfig,
    data: list[Path],
    init: Path,
    init_optimizer: Path | None,
) -> TrainSummary:
    """Trains (resuming an interrupted training when it can, or starting it
    again under --force when it cannot)."""
    from blobmaster.train import RichTrainProgress

    train_dir = ctx.folder.iter_dir(k) / "train"
    run = RunFolder(train_dir)
    for p in run.temporary_files():
        p.unlink(missing_ok=True)

    def info(line: str) -> None:
        ctx.log(f"iteration {k} train: {line}")

    def call(resume: bool) -> TrainSummary:
        with RichTrainProgress(enabled=ctx.progress) as bar:
            return train(
                tcfg,
                data,
                train_dir,
                init_model=None if resume else init,
                init_optimizer=None if resume else init_optimizer,
                resume=resume,
                device=ctx.device,
                progress=bar,
                log=info,
            )

    resume = run.latest_checkpoint() is not None
    try:
        return call(resume)
    except (TrainConfigError, IncompatibleModelError, WindowChangedError) as e:
        if not (resume and ctx.force):
            raise
        info(f"cannot resume the interrupted training ({e}); --force: starting it again")
        shutil.rmtree(train_dir)
        return call(False)


def window_iterations(ctx: LoopContext, k: int) -> tuple[int, int]:
    """(first, last) iteration whose shards iteration ``k`` trains on: the
    newest ``[loop] window_iterations`` iterations up to k, or, in the
    overlap pipeline (k > 1), up to k-1 (iteration k's own shards are being
    written while it trains)."""
    last = k - 1 if ctx.cfg.loop.pipeline == "overlap" and k > 1 else k
    return max(1, last - ctx.cfg.loop.window_iterations + 1), last


def train_phase(ctx: LoopContext, k: int) -> dict[str, Any]:
    """Runs (or finishes) the training of iteration ``k``; returns the
    contents of its ``train.json`` marker."""
    folder, cfg = ctx.folder, ctx.cfg
    it = folder.iter_dir(k)
    marker = it / "train.json"
    done = read_json(marker)
    if done is not None:
        return done
    first, last = window_iterations(ctx, k)
    unfinished = [
        j for j in range(first, last + 1) if read_json(folder.iter_dir(j) / "selfplay.json") is None
    ]
    if unfinished:  # only complete self-play is training data (never half an iteration)
        raise LoopError(
            f"iteration {k}: the self-play of iteration {unfinished[0]} is not finished"
        )
    data = [
        folder.iter_dir(j) / part
        for j in range(first, last + 1)
        for part in ("shards", "teacher")
        if part == "shards" or (folder.iter_dir(j) / part).is_dir()
    ]
    init = folder.init_model if k == 1 else folder.iter_dir(k - 1) / "model.pt"
    tcfg = cfg.train.replace(
        model=cfg.model_size,
        seed=derive_seed("blobmaster-loop-train", cfg.loop.seed, k) & SEED_MAX,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    optimizer_from = _previous_optimizer(ctx, k)
    with torch_threads(ctx.train_threads):
        summary = _train(ctx, k, tcfg, data, init, optimizer_from)
    cpu_s = time.process_time() - cpu_started
    if summary.interrupted:
        raise LoopInterrupted(
            f"interrupted during the training of iteration {k} (step {summary.step})"
        )
    model_path = it / "model.pt"
    atomic_write_bytes(model_path, Path(summary.model_path).read_bytes())
    losses, first_losses = loss_summary(it / "train", SUMMARY_STEPS)
    result = {
        "steps": summary.step,
        "resumed": summary.resumed,
        "elapsed_s": (elapsed := time.perf_counter() - started),
        "cpu_s": cpu_s,
        "busy_cores": cpu_s / elapsed if elapsed > 0 else None,
        "torch_threads": ctx.train_threads,
        "overlapped": ctx.cfg.loop.pipeline == "overlap" and last < k,
        "optimizer_from": (
            folder.rel(opt)
            if not summary.resumed and (opt := _previous_optimizer(ctx, k))
            else None
        ),
        "train_s": summary.elapsed_s,
        "examples_per_s": summary.examples_per_s if summary.steps else None,
        "window_first_iteration": first,
        "window_last_iteration": last,
        "window_shards": len(summary.window.shards),
        "window_examples": summary.window.examples,
        "train_examples": summary.train_examples,
        "val_examples": summary.val_examples,
        "losses": losses,
        "first_losses": first_losses,
        "val": summary.val or {},
        "init_model": folder.rel(init),
        "model": folder.rel(model_path),
        "seed": tcfg.seed,
        "finished": utc_now(),
    }
    write_json(marker, result)
    ctx.log(f"iteration {k} train: {summary.one_line()}")
    return result
