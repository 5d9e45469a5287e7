#!/usr/bin/env python
"""Arena throughput: two network agents in the Rust engine arena
(``blobmaster.arena_engine``) against the Python arena (one decision at a
time through ``act``), on the same agents, table and search; and self-play
(``SelfPlayEngine``) with the first network at the same search, threads
and games per thread, served by the same loop, so the two engines' evals/s
can be compared on a machine whose load changes (``--repeat`` alternates
self-play and arena runs). See benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from blobmaster.agent_specs import parse_agent_spec
from blobmaster.arena import agent_seed, play_duplicate
from blobmaster.model import default_model, save_model


def selfplay_evals_per_s(path: Path, search: str, threads: int, rounds: int) -> tuple[float, float]:
    """(evals/s, rounds/s) of self-play: ``rounds`` rounds at 4 x 5 with the
    network in ``path``, served as the arena engine serves its queues."""
    import numpy as np

    from blobmaster._core import SelfPlayEngine
    from blobmaster.config import load_config
    from blobmaster.inference import _Forward
    from blobmaster.model import load_model

    device = torch.device("cpu")
    forward = _Forward(load_model(path, device), device, 512, bf16=False)
    kwargs = load_config(search).engine_kwargs(
        threads=threads, games_per_thread=64, max_batch=512, rounds=rounds, tables=[(4, 5, 1.0)]
    )
    started = time.perf_counter()
    with SelfPlayEngine(**kwargs) as engine:
        while not engine.finished:
            ticket, states, _ = engine.next_batch(timeout_ms=2)
            if ticket < 0:
                continue
            with torch.inference_mode():
                policy, values = forward(np.ascontiguousarray(states))
            engine.submit(ticket, policy, values)
            engine.take_examples()
        evals = engine.stats()["leaves_evaluated"]
    seconds = time.perf_counter() - started
    return evals / seconds, rounds / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine-deals", type=int, default=200)
    parser.add_argument("--python-deals", type=int, default=3)
    parser.add_argument("--search", default="light")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--players", type=int, default=4)
    parser.add_argument("--cards", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--selfplay-rounds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        specs = []
        for k in range(2):
            path = Path(tmp) / f"net{k}.pt"
            save_model(default_model(seed=k), path)
            specs.append(f"model:{path}:{args.search}")
        runs = [("selfplay", 0), ("engine", args.engine_deals)] * args.repeat
        runs.append(("python", args.python_deals))
        for kind, deals in runs:
            if kind == "selfplay":
                evals_s, rounds_s = selfplay_evals_per_s(
                    Path(tmp) / "net0.pt", args.search, args.threads, args.selfplay_rounds
                )
                print(f"selfplay: {rounds_s:.2f} rounds/s; {evals_s:,.0f} evals/s", flush=True)
                continue
            if deals == 0:
                continue
            engine = kind == "engine"
            agents = [
                parse_agent_spec(spec, device="cpu", seed=agent_seed(1, k))
                for k, spec in enumerate(specs)
            ]
            started = time.perf_counter()
            report = play_duplicate(
                agents,
                args.players,
                args.cards,
                deals,
                seed=1,
                progress=False,
                engine=engine,
                threads=args.threads,
            )
            seconds = time.perf_counter() - started
            evals = sum(getattr(a, "evaluations", 0) for a in agents)
            print(
                f"{'engine' if engine else 'python'}: {report.played} rounds in {seconds:.1f} s "
                f"= {report.played / seconds:.2f} rounds/s; "
                f"{evals} network evaluations = {evals / seconds:,.0f} evals/s; "
                f"means {[round(a.mean, 3) for a in report.agents]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
