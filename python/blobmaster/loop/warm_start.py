"""Warm start from a search teacher: before iteration 1, the reference
ISMCTS plays ``[warm_start] rounds`` rounds on every seat (blobmaster.teacher)
into ``warm/shards/``, a fresh network trains on them for ``[warm_start]
steps`` steps with the loop's ``[train]`` settings in ``warm/train/``, and
the result becomes the first network, ``init/model.pt``.

Why: on a small machine the loop's network needs dozens of iterations to
reach what a few thousand ISMCTS rounds already know; imitating the search
first (expert iteration with a search teacher) starts the loop from a
network that plays like the search instead of at random.

Resumable like an iteration: complete shards are kept and only the missing
rounds are played (the same seed, from the first missing round, so the
shards are those of an uninterrupted run); ``warm/selfplay.json`` marks the
teacher's part done, an interrupted training continues from its newest
checkpoint, and ``warm/train.json`` marks the whole warm start done.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from blobmaster.arena import derive_seed
from blobmaster.atomic import (
    atomic_write_bytes,
    read_json,
    remove_temporary_files,
    utc_now,
    write_json,
)
from blobmaster.checkpoint import RunFolder
from blobmaster.loop.config import SEED_MAX, LoopError, LoopInterrupted
from blobmaster.loop.context import LoopContext, torch_threads
from blobmaster.replay import list_shards

__all__ = ["warm_start_model"]


def _units_on_disk(shards: Path, full_games: bool) -> int:
    """One past the last round (game, with full games) in the shards: they
    always hold a prefix of the teacher's rounds, written in round order."""
    files = list_shards(shards)
    if not files:
        return 0
    last = int(pl.scan_parquet(files).select(pl.col("round_id").max()).collect().item())
    return (last // 64 if full_games else last) + 1


def _teacher_phase(ctx: LoopContext, warm: Path) -> dict[str, Any]:
    """Plays the teacher rounds still missing in ``warm/shards``; returns the
    contents of ``warm/selfplay.json``."""
    from blobmaster._core import TeacherEngine
    from blobmaster.loop.selfplay import shard_stats
    from blobmaster.teacher import (
        TeacherProgress,
        TeacherSpec,
        run_teacher_selfplay,
        teacher_engine_kwargs,
        teacher_metadata,
    )

    marker = warm / "selfplay.json"
    done = read_json(marker)
    if done is not None:
        return done
    cfg, ws = ctx.cfg, ctx.cfg.warm_start
    shards = warm / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    remove_temporary_files(shards)
    have = _units_on_disk(shards, cfg.selfplay.full_games)
    teacher = TeacherSpec.parse(ws.teacher)
    seed = derive_seed("blobmaster-loop-warm-teacher", cfg.loop.seed) & SEED_MAX
    kwargs = teacher_engine_kwargs(
        cfg.preset, teacher, rounds=ws.rounds, seed=seed, first_round=min(have, ws.rounds)
    )
    if have < ws.rounds:
        ctx.log(
            f"warm start: teacher {teacher.spec()} plays {ws.rounds - have} rounds"
            f"{f' ({have} kept from before)' if have else ''} on every seat, "
            f"{kwargs['threads']} threads"
        )
        with TeacherProgress(ws.rounds - have, enabled=ctx.progress) as bar:
            summary = run_teacher_selfplay(
                TeacherEngine(**kwargs),
                out_dir=shards,
                metadata=teacher_metadata(teacher, kwargs),
                rounds_per_shard=cfg.selfplay.rounds_per_shard,
                progress=bar,
            )
        ctx.log(f"warm start teacher: {summary.one_line()}")
        if summary.interrupted:
            raise LoopInterrupted("interrupted during the warm start's teacher self-play")
        have = _units_on_disk(shards, cfg.selfplay.full_games)
    if have < ws.rounds:  # the engine stopped early: never expected
        raise LoopError(f"warm start: the teacher wrote {have} of {ws.rounds} rounds")
    rounds, examples, n_shards = shard_stats(shards)
    result = {
        "teacher": teacher.spec(),
        "rounds": rounds,
        "examples": examples,
        "shards": n_shards,
        "seed": seed,
        "finished": utc_now(),
    }
    write_json(marker, result)
    return result


def _train_phase(ctx: LoopContext, warm: Path) -> dict[str, Any]:
    """Trains a fresh network on the teacher's shards (resuming an interrupted
    training); returns the contents of ``warm/train.json``."""
    from blobmaster.train import RichTrainProgress, train

    cfg = ctx.cfg
    train_dir = warm / "train"
    run = RunFolder(train_dir)
    for p in run.temporary_files():
        p.unlink(missing_ok=True)
    # All the teacher's data: the [train] window limits are for the loop's iterations.
    tcfg = cfg.train.replace(
        model=cfg.model_size,
        steps=cfg.warm_start.steps,
        window_shards=0,
        window_examples=0,
        seed=derive_seed("blobmaster-loop-warm-train", cfg.loop.seed) & SEED_MAX,
    )
    started = time.perf_counter()
    resume = run.latest_checkpoint() is not None
    with torch_threads(ctx.train_threads), RichTrainProgress(enabled=ctx.progress) as bar:
        summary = train(
            tcfg, [warm / "shards"], train_dir, resume=resume, device=ctx.device, progress=bar,
            log=lambda line: ctx.log(f"warm start train: {line}"),
        )  # fmt: skip
    if summary.interrupted:
        raise LoopInterrupted(f"interrupted during the warm start's training (step {summary.step})")
    ctx.log(f"warm start train: {summary.one_line()}")
    return {
        "steps": summary.step,
        "resumed": summary.resumed,
        "elapsed_s": time.perf_counter() - started,
        "window_shards": len(summary.window.shards),
        "window_examples": summary.window.examples,
        "val": summary.val or {},
        "model": ctx.rel(Path(summary.model_path)),
        "seed": tcfg.seed,
    }


def warm_start_model(ctx: LoopContext) -> None:
    """Writes ``init/model.pt``: a network trained on the teacher's self-play
    (each part skipped when its marker exists)."""
    folder = ctx.folder
    warm = folder.root / "warm"
    marker = warm / "train.json"
    trained = read_json(marker)
    teacher = _teacher_phase(ctx, warm)
    if trained is None:
        trained = {**_train_phase(ctx, warm), "teacher": teacher, "finished": utc_now()}
        write_json(marker, trained)
    folder.init_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder.init_model, folder.abs(trained["model"]).read_bytes())
    ctx.log(
        f"first network: trained {trained['steps']} steps on {teacher['rounds']} rounds of "
        f"teacher {teacher['teacher']}: {folder.init_model}"
    )
