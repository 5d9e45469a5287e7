"""Phase 1 of an iteration: the best network plays ``[selfplay] rounds``
rounds; the replay shards go to ``iter-k/shards/``.

Resumable: complete shards from an interrupted call are kept and only the
missing rounds are played (with a new seed); ``selfplay-parts.json`` keeps
the throughput of every call, ``selfplay.json`` marks the phase done.
"""

from __future__ import annotations

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


def _play(ctx: LoopContext, k: int, best: Path, have: int, model_id: str) -> dict[str, Any]:
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
    with RichProgress(missing, enabled=ctx.progress) as bar:
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
    ctx.log(f"iteration {k} self-play: {summary.one_line()}")
    return {
        "seed": seed,
        "rounds": summary.rounds,
        "examples": summary.examples,
        "elapsed_s": summary.elapsed_s,
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
    return {
        "rounds": rounds,
        "examples": examples,
        "shards": n_shards,
        "parts": len(parts),
        "elapsed_s": elapsed,
        "rounds_per_min": 60.0 * timed_rounds / elapsed if elapsed > 0 else None,
        "evals_per_s": evaluations / elapsed if elapsed > 0 else None,
        "mean_batch": evaluations / batches if batches else None,
    }


def selfplay_phase(ctx: LoopContext, k: int, best: Path) -> dict[str, Any]:
    """Runs (or finishes) the self-play of iteration ``k`` with network ``best``;
    returns the contents of its ``selfplay.json`` marker."""
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
        part = _play(ctx, k, best, have, info.id)
        parts.append(part)
        write_json(parts_file, parts)
        if part["interrupted"]:
            raise LoopInterrupted(f"interrupted during the self-play of iteration {k}")
    if not parts_file.exists():  # every round was on disk already (a crash before the marker)
        write_json(parts_file, parts)
    stats = shard_stats(shards)
    if stats[0] < ctx.cfg.rounds:  # the engine stopped early: never expected
        raise LoopError(f"iteration {k}: self-play wrote {stats[0]} of {ctx.cfg.rounds} rounds")
    result = {
        **_summary(parts, stats),
        "model": ctx.rel(best),
        "model_id": info.id,
        "search": ctx.cfg.search.to_json(),
        "finished": utc_now(),
    }
    write_json(marker, result)
    return result
