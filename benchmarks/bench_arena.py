#!/usr/bin/env python
"""Arena throughput: two network agents in the Rust engine arena
(``blobmaster.arena_engine``) against the Python arena (one decision at a
time through ``act``), on the same agents, table and search.

Prints network evaluations/s and rounds/s for each path. Compare the
engine's evals/s with self-play's (``blobmaster bench --presets light``) at
the same threads and search. See benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from blobmaster.agents import parse_agent_spec
from blobmaster.arena import agent_seed, play_duplicate
from blobmaster.model import default_model, save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine-deals", type=int, default=200)
    parser.add_argument("--python-deals", type=int, default=3)
    parser.add_argument("--search", default="light")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--players", type=int, default=4)
    parser.add_argument("--cards", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        specs = []
        for k in range(2):
            path = Path(tmp) / f"net{k}.pt"
            save_model(default_model(seed=k), path)
            specs.append(f"model:{path}:{args.search}")
        for engine, deals in ((True, args.engine_deals), (False, args.python_deals)):
            agents = [
                parse_agent_spec(spec, device="cpu", seed=agent_seed(1, k))
                for k, spec in enumerate(specs)
            ]
            started = time.perf_counter()
            report = play_duplicate(
                agents, args.players, args.cards, deals, seed=1, progress=False, engine=engine
            )
            seconds = time.perf_counter() - started
            evals = sum(getattr(a, "evaluations", 0) for a in agents)
            print(
                f"{'engine' if engine else 'python'}: {report.played} rounds in {seconds:.1f} s "
                f"= {report.played / seconds:.2f} rounds/s; "
                f"{evals} network evaluations = {evals / seconds:,.0f} evals/s; "
                f"means {[round(a.mean, 3) for a in report.agents]}"
            )


if __name__ == "__main__":
    main()
