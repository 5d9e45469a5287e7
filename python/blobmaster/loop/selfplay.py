"""Phase 1 of an iteration: the best network plays ``[selfplay] rounds``
rounds; the replay shards go to ``iter-k/shards/`` (and, with ``[teacher]
rounds_per_iteration``, the teacher's rounds to ``iter-k/teacher/``).

Resumable: complete shards from an interrupted call are kept and only the
missing rounds are played (with a new seed); ``selfplay-parts.json`` keeps
the throughput of every call, ``selfplay.json`` marks the phase done.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import torch

from blobmaster.arena import derive_seed
from blobmaster.atomic import read_json, remove_temporary_files, utc_now, write_json
from blobmaster.config import engine_kwargs_summary
from blobmaster.inference import run_selfplay
from blobmaster.loop.config import LoopError, LoopInterrupted
from blobmaster.loop.context import LoopContext
from blobmaster.loop.teacher_data import iteration_teacher_rounds
from blobmaster.model import load_model, load_model_info
from blobmaster.replay import ShardMetadata, list_shards

__all__ = ["selfplay_phase"]


def shard_stats(shards_dir: Path) -> tuple[int, int, int]:
    """(rounds, examples, shards) in the complete shards of a folder."""
    rounds = examples = 0
    files = list_shards(shards_dir)
    for p in files:
        row = (
            pl.scan_parquet(p)
            .select(pl.len().alias("n"), pl.col("round_id").n_unique().alias("r"))
            .collect()
        )
        examples += int(row["n"][0])
        rounds += int(row["r"][0])
    return rounds, examples, len(files)


def _stoppable(bar: Any, stop: threading.Event | None) -> Any:
    """The progress callback, raising KeyboardInterrupt once ``stop`` is set:
    run_selfplay then writes the finished rounds and returns interrupted
    (how the overlap pipeline stops a self-play thread, which gets no Ctrl-C)."""
    if stop is None:
        return bar

    def progress(snapshot: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        bar(snapshot)

    return progress


def _play(
    ctx: LoopContext, k: int, best: Path, have: int, model_id: str, stop: threading.Event | None
) -> dict[str, Any]:
    """Plays the rounds still missing in ``iter-k/shards``; returns the call's part record."""
    from blobmaster import SelfPlayEngine
    from blobmaster.progress import RichProgress

    cfg, dev = ctx.cfg, ctx.device
    missing = cfg.rounds - have
    seed = derive_seed("blobmaster-loop-selfplay", cfg.loop.seed, k, have)
    kwargs = cfg.preset.engine_kwargs(rounds=missing, seed=seed)
    bf16 = bool(cfg.loop.bf16 and dev.type == "cuda" and torch.cuda.is_bf16_supported())
    ctx.log(
        f"iteration {k} self-play: {missing} rounds"
        f"{f' ({have} kept from before)' if have else ''} with {ctx.rel(best)}, "
        + (
            f"on Ray ({len(ctx.ray_pool.slots)} actors)"
            if ctx.ray_pool
            else f"{engine_kwargs_summary(kwargs)}, {dev}"
        )
    )
    out = ctx.folder.iter_dir(k) / "shards"
    metadata = ShardMetadata(model=model_id, search=cfg.search.to_json())
    threads = kwargs["threads"]
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    # Two live progress bars would fight over the terminal: the overlapped training keeps its own.
    with RichProgress(missing, enabled=ctx.progress and stop is None) as rich_bar:
        bar = _stoppable(rich_bar, stop)
        if ctx.ray_pool is not None:  # the same rounds on Ray actors, shards into `out`
            summary: Any = ctx.ray_pool.selfplay(
                best, out, preset=cfg.preset, rounds=missing, seed=seed,
                rounds_per_shard=cfg.selfplay.rounds_per_shard,
                timeout_ms=cfg.selfplay.timeout_ms, bf16=bf16, metadata=metadata, progress=bar,
            )  # fmt: skip
            threads = summary.threads
        else:
            summary = run_selfplay(
                SelfPlayEngine(**kwargs), load_model(best, dev), dev, out_dir=out,
                rounds=missing, rounds_per_shard=cfg.selfplay.rounds_per_shard,
                batch=kwargs["max_batch"], timeout_ms=cfg.selfplay.timeout_ms, bf16=bf16,
                progress=bar, metadata=metadata,
            )  # fmt: skip
    cpu_s, wall_s = time.process_time() - cpu_started, time.perf_counter() - wall_started
    ctx.log(f"iteration {k} self-play: {summary.one_line()}")
    return {
        "seed": seed,
        "rounds": summary.rounds,
        "examples": summary.examples,
        "elapsed_s": summary.elapsed_s,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "overlapped": stop is not None,
        "evaluations": summary.evaluations,
        "batches": summary.batches,
        "interrupted": summary.interrupted,
        "threads": threads,
        "device": summary.device,
        "finished": utc_now(),
    }


def _summary(parts: list[dict[str, Any]], stats: tuple[int, int, int]) -> dict[str, Any]:
    """The marker's numbers: what is on disk, and the speed of the timed calls."""
    rounds, examples, n_shards = stats
    timed_rounds = sum(p["rounds"] for p in parts)
    elapsed = sum(p["elapsed_s"] for p in parts)
    evaluations = sum(p["evaluations"] for p in parts)
    batches = sum(p["batches"] for p in parts)
    timed = [
        p for p in parts if "cpu_s" in p
    ]  # parts written before busy cores were measured have none
    timed_wall = sum(p["wall_s"] for p in timed)
    return {
        "rounds": rounds,
        "examples": examples,
        "shards": n_shards,
        "parts": len(parts),
        "elapsed_s": elapsed,
        "rounds_per_min": 60.0 * timed_rounds / elapsed if elapsed > 0 else None,
        "evals_per_s": evaluations / elapsed if elapsed > 0 else None,
        "mean_batch": evaluations / batches if batches else None,
        "cpu_s": sum(p["cpu_s"] for p in timed) if timed else None,
        "busy_cores": (
            sum(p["cpu_s"] for p in timed) / timed_wall if timed and timed_wall > 0 else None
        ),
        "overlapped": any(p.get("overlapped") for p in parts),
    }


def selfplay_phase(
    ctx: LoopContext, k: int, best: Path, stop: threading.Event | None = None
) -> dict[str, Any]:
    """Runs (or finishes) the self-play of iteration ``k`` with network ``best``;
    returns the contents of its ``selfplay.json`` marker. ``stop``: set by
    the overlap pipeline (self-play on a thread) to stop it like a Ctrl-C."""
    it = ctx.folder.iter_dir(k)
    marker = it / "selfplay.json"
    done = read_json(marker)
    if done is not None:
        return done
    shards = it / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    remove_temporary_files(shards)
    parts_file = it / "selfplay-parts.json"
    parts: list[dict[str, Any]] = list(read_json(parts_file) or [])
    have, _, _ = shard_stats(shards)
    info = load_model_info(best)
    if have < ctx.cfg.rounds:
        part = _play(ctx, k, best, have, info.id, stop)
        parts.append(part)
        write_json(parts_file, parts)
        if part["interrupted"]:
            raise LoopInterrupted(f"interrupted during the self-play of iteration {k}")
    if not parts_file.exists():  # every round was on disk already (a crash before the marker)
        write_json(parts_file, parts)
    stats = shard_stats(shards)
    if stats[0] < ctx.cfg.rounds:  # the engine stopped early: never expected
        raise LoopError(f"iteration {k}: self-play wrote {stats[0]} of {ctx.cfg.rounds} rounds")
    teacher = iteration_teacher_rounds(ctx, k, stop, network=best)
    result = {
        **_summary(parts, stats),
        "model": ctx.rel(best),
        "model_id": info.id,
        "search": ctx.cfg.search.to_json(),
        **({"teacher": teacher} if teacher is not None else {}),
        "finished": utc_now(),
    }
    write_json(marker, result)
    return result
