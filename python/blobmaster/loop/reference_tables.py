"""The per-table reference games (``[gate] reference_tables``): the network
plays every reference agent on each listed table, ``reference_table_deals``
duplicate deals each, the same deals every iteration. Called from
:func:`blobmaster.loop.gate.reference_games`, whose ``eval.json`` marker
keeps the results under ``"tables"`` (metrics.csv: ``table_<PxC>_<name>_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blobmaster.agents import Agent
from blobmaster.arena import agent_seed, derive_seed, play_duplicate
from blobmaster.loop.context import LoopContext
from blobmaster.table_specs import table_label

__all__ = ["reference_table_games", "table_seed"]


def table_seed(loop_seed: int, players: int, cards: int) -> int:
    """The seed of a table's deals and agents: fixed for the run, so every
    iteration plays the same deals."""
    return derive_seed("blobmaster-loop-reference-table", loop_seed, players, cards)


def reference_table_games(ctx: LoopContext, model: Path, label: str) -> list[dict[str, Any]]:
    """``model`` against every reference agent on every reference table; one
    result per (table, reference), tables in config order."""
    tables = ctx.cfg.reference_tables
    if not tables or not ctx.references:
        return []
    deals = ctx.cfg.gate.reference_table_deals
    results = []
    for players, cards in tables:
        seed = table_seed(ctx.cfg.loop.seed, players, cards)
        # decisions depend on the position and the agent's seed only: one agent per table
        net = Agent.load(model, search=ctx.cfg.search, device=ctx.device, seed=agent_seed(seed, 0))
        for spec, slug, ref in ctx.references:
            report = play_duplicate([net, ref], players, cards, deals, seed, progress=ctx.progress)
            h = report.pair(0, 1)
            results.append(
                {
                    "table": table_label(players, cards),
                    "players": players,
                    "cards": cards,
                    "spec": spec,
                    "slug": slug,
                    "deals": deals,
                    "seed": seed,
                    "candidate_mean": report.agents[0].mean,
                    "candidate_ci95": report.agents[0].ci95,
                    "reference_mean": report.agents[1].mean,
                    "reference_ci95": report.agents[1].ci95,
                    "diff": h.mean_diff,
                    "ci95": h.ci95,
                }
            )
        ctx.log(
            f"{label} reference games on {table_label(players, cards)} ({deals} deals): "
            + ", ".join(
                f"vs {r['spec']} {r['diff']:+.2f}"
                + (f" ± {r['ci95']:.2f}" if r["ci95"] is not None else "")
                for r in results[-len(ctx.references) :]
            )
        )
    return results
