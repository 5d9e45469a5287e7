"""The duplicate arena played inside the Rust engine (``_core.ArenaEngine``).

:func:`blobmaster.arena.play_duplicate` comes here when every agent is one
the engine can play (:func:`engine_specs`): network agents
(:class:`~blobmaster.agents.ModelAgent`), heuristic, random, rollout MCTS,
ISMCTS, PIMC and network-guided ISMCTS agents, of exactly those classes (a subclass may decide differently,
so it keeps the Python path). The engine plays many rounds of the schedule
at once on its worker threads; the network agents' leaves come here in
batches, one queue per distinct network, and each network answers its own
queue's batches. Each agent decides exactly as its ``act`` does (same
decision seeds, same search, most visited action), so the rounds, and so
the report, are those of the Python path; with network agents they can
differ only by the float rounding of different batch sizes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from blobmaster._core import ArenaEngine, Round
from blobmaster.agents import (
    SEARCH_KEYS,
    GuidedIsmctsAgent,
    HeuristicAgent,
    IsmctsAgent,
    ModelAgent,
    RandomAgent,
    RolloutAgent,
)
from blobmaster.pimc_agent import PimcAgent

__all__ = ["DEFAULT_ARENA_THREADS", "ArenaServer", "engine_specs", "play_rounds"]

DEFAULT_ARENA_THREADS = max(1, min(8, os.cpu_count() or 1))
"""Worker threads of an engine arena unless told otherwise."""


def engine_specs(
    agents: Sequence[Any],
) -> tuple[list[dict[str, Any]], list[ModelAgent | GuidedIsmctsAgent]] | None:
    """The engine's description of each agent and the distinct network
    agents' models (by network: agents sharing one module share a queue),
    or None when some agent is not engine-playable."""
    specs: list[dict[str, Any]] = []
    nets: list[ModelAgent | GuidedIsmctsAgent] = []
    for agent in agents:
        kind = type(agent)
        if kind is HeuristicAgent:
            specs.append({"kind": "heuristic"})
        elif kind is RandomAgent:
            specs.append({"kind": "random", "seed": agent.seed})
        elif kind is RolloutAgent:
            specs.append({"kind": "rollout", "seed": agent.seed, **_search_keys(agent)})
        elif kind is IsmctsAgent:
            specs.append(
                {
                    "kind": "ismcts",
                    "seed": agent.seed,
                    "iterations": agent.iterations,
                    "exploration": agent.exploration,
                    "rollout": agent.rollout,
                }
                | agent.search_kwargs()
            )
        elif kind is PimcAgent:
            specs.append({"kind": "pimc", "seed": agent.seed} | agent.engine_keys())
        elif kind is ModelAgent:
            specs.append(
                {"kind": "network", "net": _net(nets, agent), "seed": agent.seed}
                | _search_keys(agent)
            )
        elif kind is GuidedIsmctsAgent:
            specs.append(
                {
                    "kind": "guided_ismcts",
                    "net": _net(nets, agent),
                    "seed": agent.seed,
                    "iterations": agent.iterations,
                    "exploration": agent.exploration,
                    "rollout": agent.rollout,
                    "prior_weight": agent.prior_weight,
                    "playout_weight": agent.playout_weight,
                    "playout_policy": agent.playout_policy,
                }
                | agent.search_kwargs()
            )
        else:
            return None
    return specs, nets


def _net(nets: list[Any], agent: Any) -> int:
    """The index of ``agent``'s network in ``nets`` (appended when new:
    agents sharing one module share a queue)."""
    net = next((i for i, m in enumerate(nets) if m.net is agent.net), None)
    if net is None:
        net = len(nets)
        nets.append(agent)
    return net


def _search_keys(agent: Any) -> dict[str, Any]:
    cfg = agent.search_config
    return {key: getattr(cfg, key) for key in SEARCH_KEYS}


class ArenaServer:
    """Answers the batches of every network queue in turn."""

    def __init__(self, engine: ArenaEngine, nets: list[ModelAgent | GuidedIsmctsAgent]) -> None:
        from blobmaster.inference import _Forward

        self.engine = engine
        self.agents = nets
        self.forwards = [_Forward(a.net, a.device, engine.max_batch, bf16=False) for a in nets]

    def serve_once(self, timeout_ms: int) -> int:
        """One batch from each queue that has one; the rows answered."""
        import torch

        rows = 0
        for net, forward in enumerate(self.forwards):
            ticket, states, _masks = self.engine.next_batch(net, timeout_ms=timeout_ms)
            if ticket < 0:
                continue
            with torch.inference_mode():
                policy, values = forward(np.ascontiguousarray(states, dtype=np.float32))
            self.engine.submit(
                net,
                ticket,
                np.ascontiguousarray(policy, dtype=np.float32),
                np.ascontiguousarray(values, dtype=np.float32),
            )
            agent = self.agents[net]
            agent.batches += 1
            agent.evaluations += len(states)
            rows += len(states)
        return rows


def play_rounds(
    agents: Sequence[Any],
    deals: Sequence[Round],
    seatings: Sequence[Sequence[int]],
    *,
    threads: int = DEFAULT_ARENA_THREADS,
    games_per_thread: int = 64,
    max_batch: int = 512,
    on_round: Callable[[int], None] | None = None,
    stats: dict[str, Any] | None = None,
) -> list[Round]:
    """Every deal played in every seating by the engine; the final rounds in
    schedule order (deal-major: round ``d * len(seatings) + s``).
    ``on_round(done)`` is called as rounds finish; ``stats``, when given,
    receives the engine's counters at the end. Raises ValueError when an
    agent is not engine-playable."""
    described = engine_specs(agents)
    if described is None:
        raise ValueError("some agent cannot be played by the engine (see engine_specs)")
    specs, nets = described
    total = len(deals) * len(seatings)
    ends: list[Round | None] = [None] * total
    done = 0
    with ArenaEngine(
        list(deals),
        [list(s) for s in seatings],
        specs,
        networks=len(nets),
        threads=threads,
        games_per_thread=max(1, min(games_per_thread, -(-total // threads))),
        max_batch=max_batch,
    ) as engine:
        server = ArenaServer(engine, nets) if nets else None
        while True:
            finished = engine.finished
            if server is not None:
                server.serve_once(timeout_ms=2)
            else:
                import time

                time.sleep(0.002)
            for index, end in engine.take_results():
                ends[index] = end
                done += 1
                if on_round is not None:
                    on_round(done)
            if finished:
                break
        if stats is not None:
            stats.update(engine.stats())
    missing = [i for i, e in enumerate(ends) if e is None]
    if missing:
        raise RuntimeError(f"the arena engine stopped with {len(missing)} rounds unplayed")
    return [e for e in ends if e is not None]
