#!/usr/bin/env python
"""How long self-play's serving loop stalls while replay shards are written.

Runs run_selfplay for a fixed time with a tiny BlobNet (a fast forward pass,
standing in for a GPU, so that a stall is not hidden behind slow CPU
forwards) and measures from the outside, the same way for any version of
blobmaster.inference:

* the gaps between consecutive batches served (engine.submit returns):
  the longest one, the 99th percentile and the median;
* the time the serving thread itself spent inside replay.write_shard
  (zstd Parquet + fsync), and the time any thread spent there;
* the summary's own ``write_block_s`` when the version reports it (time
  the serving thread waited for the background writer).

Prints one JSON object. Example (the numbers in benchmarks/RESULTS.md)::

    python benchmarks/bench_write_stall.py --seconds 40 --rounds-per-shard 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from typing import Any

import numpy as np


class _Timed:
    """The real engine, with the time at which each submit returned."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.served: list[float] = []

    def submit(self, ticket: int, policy: Any, values: Any) -> None:
        self._engine.submit(ticket, policy, values)
        self.served.append(time.perf_counter())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    import blobmaster as bm
    from blobmaster import inference
    from blobmaster.config import load_config
    from blobmaster.model import ModelConfig, default_model

    torch.set_num_threads(args.torch_threads)
    preset = load_config(args.preset)
    kwargs = preset.engine_kwargs(
        threads=args.threads,
        games_per_thread=args.games_per_thread,
        max_batch=args.batch,
        tables=[(args.players, args.cards, 1.0)],
        seed=args.seed,
    )
    kwargs["rounds"] = None
    engine = _Timed(bm.SelfPlayEngine(**kwargs))
    serving = threading.current_thread()
    in_write = {"serving": 0.0, "all": 0.0, "calls": 0}
    real_write = inference.write_shard

    def timed_write(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real_write(*a, **k)
        finally:
            dt = time.perf_counter() - t0
            in_write["all"] += dt
            in_write["calls"] += 1
            if threading.current_thread() is serving:
                in_write["serving"] += dt

    inference.write_shard = timed_write  # both versions call it through the module global
    stop_serving: dict[str, float] = {}

    def stop(snap: Any) -> None:
        if snap.elapsed_s >= args.seconds:
            stop_serving["t"] = time.perf_counter()
            raise KeyboardInterrupt

    net = default_model(seed=0, config=ModelConfig.tiny())
    with tempfile.TemporaryDirectory(prefix="bench-write-stall-") as out:
        summary = inference.run_selfplay(
            engine,
            net,
            "cpu",
            out_dir=out,
            rounds_per_shard=args.rounds_per_shard,
            batch=args.batch,
            timeout_ms=preset.selfplay.timeout_ms,
            progress=stop,
            progress_interval_s=0.25,
        )
    served = np.array([t for t in engine.served if t <= stop_serving.get("t", np.inf)])
    gaps = np.diff(served) if len(served) > 1 else np.zeros(1)
    return {
        "seconds": args.seconds,
        "rounds": summary.rounds,
        "shards": len(summary.shards),
        "rounds_per_shard": args.rounds_per_shard,
        "batches": len(served),
        "evals_per_s": summary.evals_per_s,
        "mean_batch": summary.mean_batch,
        "max_gap_ms": 1000 * float(gaps.max()),
        "p99_gap_ms": 1000 * float(np.percentile(gaps, 99)),
        "median_gap_ms": 1000 * float(np.median(gaps)),
        "write_calls": in_write["calls"],
        "write_s_all_threads": in_write["all"],
        "write_s_serving_thread": in_write["serving"],
        "write_block_s": getattr(summary, "write_block_s", None),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--rounds-per-shard", type=int, default=100)
    p.add_argument("--preset", default="light")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--games-per-thread", type=int, default=32)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--players", type=int, default=4)
    p.add_argument("--cards", type=int, default=5)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    print(json.dumps(measure(p.parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
