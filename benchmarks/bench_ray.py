#!/usr/bin/env python
"""Self-play on Ray vs one process, on this machine: the cluster overhead.

Plays the same rounds at the same settings (by default the ``loop_proof``
loop preset: small BlobNet, 2x20 search, 4 players x 5 cards, 128 games per
engine thread) two ways, alternating, ``--repeats`` times each:

* **local**: one process, one SelfPlayEngine with 2 threads, torch with
  ``--local-torch-threads`` threads (each value given is measured), timed
  like ``blobmaster loop`` times its self-play (run_selfplay's elapsed time);
* **ray**: a private Ray on 127.0.0.1 with 2 CPUs and 2 actors of 1 engine
  thread and 1 torch thread each, timed over the whole
  RaySelfPlayPool.selfplay call, which publishes a new network version
  first (as each loop iteration does): object store, actors' model load and
  shard transfer included. The actors start once, before the timed calls,
  as in a loop after its first iteration.

Prints a Markdown table and the ratio of the best Ray run to the best
local run (the goal of issue 9 is >= 85%).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _preset(spec: str) -> Any:
    from blobmaster.loop import load_loop_config

    return load_loop_config(spec)


def _model(size: str, seed: int, folder: Path) -> Path:
    from blobmaster.checkpoint import model_config_for
    from blobmaster.model import default_model, save_model

    return save_model(
        default_model(seed=seed, config=model_config_for(size)), folder / f"m{seed}.pt"
    )


def local_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One single-process run (in a fresh process: its own torch threads)."""
    import torch

    from blobmaster import SelfPlayEngine
    from blobmaster.inference import run_selfplay
    from blobmaster.model import load_model

    torch.set_num_threads(spec["torch_threads"])
    cfg = _preset(spec["config"])
    kwargs = cfg.preset.engine_kwargs(threads=2, rounds=spec["rounds"], seed=spec["seed"])
    model = load_model(spec["model"], "cpu")
    with tempfile.TemporaryDirectory() as out:
        summary = run_selfplay(
            SelfPlayEngine(**kwargs),
            model,
            "cpu",
            out_dir=out,
            rounds=spec["rounds"],
            rounds_per_shard=cfg.selfplay.rounds_per_shard,
            batch=kwargs["max_batch"],
            timeout_ms=cfg.selfplay.timeout_ms,
        )
    return {
        "rounds": summary.rounds,
        "elapsed_s": summary.elapsed_s,
        "mean_batch": summary.mean_batch,
    }


def run_local(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="loop_proof", help="loop preset or TOML file")
    ap.add_argument("--model-size", default="small")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--local-torch-threads", default="1,2")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(local_child(json.loads(args.child))))
        return

    from blobmaster.distributed import RaySelfPlayPool

    cfg = _preset(args.config)
    torch_threads = [int(t) for t in args.local_torch_threads.split(",")]
    rows: list[tuple[str, float, int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = [_model(args.model_size, seed, folder) for seed in range(args.repeats + 1)]
        with RaySelfPlayPool("local", actors=2, cpus_per_actor=1, local_cpus=2) as pool:
            pool.selfplay(models[0], folder / "warmup", preset=cfg.preset, rounds=20)
            for rep in range(args.repeats):
                for t in torch_threads:
                    spec = dict(config=args.config, model=str(models[rep + 1]), rounds=args.rounds)
                    r = run_local(dict(spec, torch_threads=t, seed=100 + rep))
                    rows.append((f"local, 2 engine threads, torch {t}", r["elapsed_s"], r["rounds"], r["mean_batch"], 60 * r["rounds"] / r["elapsed_s"]))  # fmt: skip
                    print(rows[-1], file=sys.stderr)
                t0 = time.perf_counter()
                s = pool.selfplay(
                    models[rep + 1], folder / f"ray{rep}", preset=cfg.preset, rounds=args.rounds, seed=100 + rep
                )  # fmt: skip
                wall = time.perf_counter() - t0
                rows.append(("Ray, 2 actors x (1 engine thread, torch 1)", wall, s.rounds, s.mean_batch, 60 * s.rounds / wall))  # fmt: skip
                print(rows[-1], file=sys.stderr)
    print("| run | rounds | wall s | mean batch | rounds/min |")
    print("|---|---:|---:|---:|---:|")
    for name, wall, rounds, batch, rpm in rows:
        print(f"| {name} | {rounds} | {wall:.1f} | {batch:.1f} | {rpm:,.0f} |")
    best_local = max(r[4] for r in rows if r[0].startswith("local"))
    best_ray = max(r[4] for r in rows if r[0].startswith("Ray"))
    print(
        f"\nbest Ray / best local = {best_ray:,.0f} / {best_local:,.0f} = {best_ray / best_local:.1%}"
    )


if __name__ == "__main__":
    main()
