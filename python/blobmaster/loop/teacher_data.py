"""The search teacher's data in the loop (``[teacher]``): the reference ISMCTS
plays every seat (blobmaster.teacher) and its rounds become training data.

* **Warm start** (``warm_start_rounds > 0``): before iteration 1 the teacher
  plays ``warm_start_rounds`` rounds into ``warm/shards/``, a fresh network
  trains on them for ``warm_start_steps`` steps with the loop's ``[train]``
  settings in ``warm/train/``, and the result becomes the first network,
  ``init/model.pt``.
* **Teacher rounds in every iteration** (``rounds_per_iteration > 0``): after
  the network's own self-play, the teacher plays that many rounds into
  ``iter-k/teacher/``; the iteration's training window holds both folders.

Why: a network imitating ISMCTS alone stays well below it (its policy has no
lookahead), but a loop network fine-tuned on teacher rounds gained more per
CPU-minute than further loop iterations did (benchmarks/RESULTS.md, "Search
teacher"): the teacher's targets come from 300-1000 iterations of search, the
loop's from 40 network evaluations.

Resumable like an iteration: complete shards are kept and only the missing
rounds are played (the same seed, from the first missing round, so the
shards are those of an uninterrupted run); ``warm/selfplay.json`` marks the
teacher's part of the warm start done, an interrupted training continues
from its newest checkpoint, and ``warm/train.json`` marks the whole warm
start done. An iteration's teacher rounds are part of its self-play phase
(its ``selfplay.json`` is written after them).
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

__all__ = ["iteration_teacher_rounds", "warm_start_model"]


def _units_on_disk(shards: Path, full_games: bool) -> int:
    """One past the last round (game, with full games) in the shards: they
    always hold a prefix of the teacher's rounds, written in round order."""
    files = list_shards(shards)
    if not files:
        return 0
    last = int(pl.scan_parquet(files).select(pl.col("round_id").max()).collect().item())
    return (last // 64 if full_games else last) + 1


def _teacher_source(
    ctx: LoopContext, rounds: int, seed: int, first_round: int, network: Path | None
) -> Any:
    """The started ``[teacher]`` agent (:func:`blobmaster.teacher.open_teacher`);
    a ``current:`` search uses ``network``."""
    from blobmaster.teacher import open_teacher

    spec = ctx.cfg.teacher.agent
    if spec.startswith("current:"):
        if network is None:
            raise LoopError(f"teacher {spec}: no network to search with")
        spec = f"model:{network}:{spec.removeprefix('current:')}"
    return open_teacher(
        spec, ctx.cfg.preset, rounds=rounds, seed=seed, first_round=first_round,
        device=ctx.device,
    )  # fmt: skip


def _teacher_shards(
    ctx: LoopContext, shards: Path, rounds: int, seed: int, what: str, stop: Any = None,
    network: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Plays the teacher rounds still missing in ``shards`` (``what`` names
    them in the log); returns their summary. ``stop``: a threading.Event that
    stops the teacher like a Ctrl-C (the overlap pipeline's self-play thread).
    ``network``: the network of a ``current:`` teacher."""
    from blobmaster.loop.selfplay import shard_stats
    from blobmaster.teacher import TeacherProgress, run_teacher_selfplay

    cfg = ctx.cfg
    shards.mkdir(parents=True, exist_ok=True)
    remove_temporary_files(shards)
    have = _units_on_disk(shards, cfg.selfplay.full_games)
    spec = cfg.teacher.agent
    if have < rounds:
        engine, spec, metadata, threads = _teacher_source(ctx, rounds, seed, have, network)
        ctx.log(
            f"{what}: teacher {spec} plays {rounds - have} rounds"
            f"{f' ({have} kept from before)' if have else ''} on every seat, "
            f"{threads} threads"
        )
        with TeacherProgress(rounds - have, enabled=ctx.progress and stop is None) as bar:

            def progress(stats: dict[str, int], elapsed_s: float) -> None:
                if stop is not None and stop.is_set():
                    raise KeyboardInterrupt
                bar(stats, elapsed_s)

            summary = run_teacher_selfplay(
                engine,
                out_dir=shards,
                metadata=metadata,
                rounds_per_shard=cfg.selfplay.rounds_per_shard,
                progress=progress,
            )
        ctx.log(f"{what} teacher: {summary.one_line()}")
        if summary.interrupted:
            raise LoopInterrupted(f"interrupted during the {what}'s teacher rounds")
        have = _units_on_disk(shards, cfg.selfplay.full_games)
    if have < rounds:  # the engine stopped early: never expected
        raise LoopError(f"{what}: the teacher wrote {have} of {rounds} rounds")
    n_rounds, examples, n_shards = shard_stats(shards)
    return {
        "teacher": spec,
        "rounds": n_rounds,
        "examples": examples,
        "shards": n_shards,
        "seed": seed,
        "finished": utc_now(),
    }


def _warm_teacher_phase(ctx: LoopContext, warm: Path) -> dict[str, Any]:
    """The warm start's teacher rounds in ``warm/shards``; returns the
    contents of ``warm/selfplay.json``."""
    marker = warm / "selfplay.json"
    done = read_json(marker)
    if done is not None:
        return done
    seed = derive_seed("blobmaster-loop-warm-teacher", ctx.cfg.loop.seed) & SEED_MAX
    result = _teacher_shards(
        ctx, warm / "shards", ctx.cfg.teacher.warm_start_rounds, seed, "warm start"
    )
    write_json(marker, result)
    return result


def iteration_teacher_rounds(
    ctx: LoopContext, k: int, stop: Any = None, network: Path | None = None
) -> dict[str, Any] | None:
    """Iteration ``k``'s teacher rounds in ``iter-k/teacher/`` (None when
    ``[teacher] rounds_per_iteration`` is 0); called by the self-play phase
    before it marks itself done, with the iteration's ``network`` (the one a
    ``current:`` teacher searches with)."""
    rounds = ctx.cfg.teacher.rounds_per_iteration
    if rounds == 0:
        return None
    seed = derive_seed("blobmaster-loop-iteration-teacher", ctx.cfg.loop.seed, k) & SEED_MAX
    return _teacher_shards(
        ctx, ctx.folder.iter_dir(k) / "teacher", rounds, seed, f"iteration {k}", stop, network
    )


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
        steps=cfg.teacher.warm_start_steps,
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
    teacher = _warm_teacher_phase(ctx, warm)
    if trained is None:
        trained = {**_train_phase(ctx, warm), "teacher": teacher, "finished": utc_now()}
        write_json(marker, trained)
    folder.init_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder.init_model, folder.abs(trained["model"]).read_bytes())
    ctx.log(
        f"first network: trained {trained['steps']} steps on {teacher['rounds']} rounds of "
        f"teacher {teacher['teacher']}: {folder.init_model}"
    )
