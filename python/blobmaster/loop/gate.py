"""Phases 3 and 4 of an iteration: the gate (the new network against the
best one, on duplicate deals) and the reference games (the new network
against each ``[gate] references`` agent on the same deals every time)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from blobmaster.agent_specs import parse_agent_spec
from blobmaster.agents import Agent, AgentError
from blobmaster.arena import ArenaReport, agent_seed, derive_seed, play_duplicate
from blobmaster.atomic import read_json, utc_now, write_json
from blobmaster.loop.config import LoopConfigError
from blobmaster.loop.context import LoopContext
from blobmaster.loop.metrics import reference_slugs
from blobmaster.loop.reference_tables import reference_table_games

__all__ = ["build_references", "gate_decision", "gate_phase", "reference_games"]


def gate_decision(
    diff: float, ci95: float | None, threshold: float, force_after: int, rejections: int
) -> tuple[bool, str]:
    """The promotion rule. ``diff`` and ``ci95``: the new network's mean
    paired per-deal score difference against the best one and its 95%
    half-width (None with one deal); ``rejections``: gates in a row without
    a promotion before this one. Returns (promoted, reason):

    * ``(True, "interval")`` when the whole interval is above ``threshold``
      (``diff - ci95 > threshold``);
    * ``(True, "forced")`` otherwise, when ``force_after`` > 0, at least
      ``force_after`` gates in a row promoted nothing and ``diff > 0``;
    * ``(False, "rejected")`` otherwise.
    """
    if ci95 is not None and diff - ci95 > threshold:
        return True, "interval"
    if force_after and rejections >= force_after and diff > 0:
        return True, "forced"
    return False, "rejected"


def reference_seed(ctx: LoopContext) -> int:
    return derive_seed("blobmaster-loop-reference", ctx.cfg.loop.seed)


def build_references(ctx: LoopContext) -> None:
    """The reference agents, built once (they decide from the position and
    their seed only); a bad spec or a missing model file fails here,
    before the run folder is touched."""
    specs = ctx.cfg.gate.references
    for spec, slug in zip(specs, reference_slugs(specs)):
        try:
            agent = parse_agent_spec(
                spec, device=ctx.device, seed=agent_seed(reference_seed(ctx), 1)
            )
        except AgentError as e:
            raise LoopConfigError(f"[gate] references: {e}") from None
        ctx.references.append((spec, slug, agent))


def _network(ctx: LoopContext, model: Path, seed: int) -> Agent:
    return Agent.load(model, search=ctx.cfg.search, device=ctx.device, seed=seed)


def _iteration_of(ctx: LoopContext, model: Path) -> int:
    m = re.search(r"iter-(\d+)", ctx.rel(model))
    return int(m.group(1)) if m else 0


def _gate_games(ctx: LoopContext, k: int, candidate: Path, best: Path) -> ArenaReport:
    players, cards = ctx.cfg.gate_table
    deals = ctx.cfg.gate.deals
    seed = derive_seed("blobmaster-loop-gate", ctx.cfg.loop.seed, k)
    agents = [
        _network(ctx, candidate, agent_seed(seed, 0)),
        _network(ctx, best, agent_seed(seed, 1)),
    ]
    ctx.log(
        f"iteration {k} gate: {ctx.rel(candidate)} vs {ctx.rel(best)}, "
        f"{deals} deals of {players}x{cards}"
    )
    return play_duplicate(agents, players, cards, deals, seed, progress=ctx.progress)


def _versus(report: ArenaReport, other: str) -> dict[str, Any]:
    """The candidate (agent 0) against agent 1 of a two-agent arena: both
    means and intervals, the mean difference and its interval, wins, ties,
    losses and both Elo ratings; ``other`` names agent 1 in its keys."""
    h = report.pair(0, 1)
    return {
        "candidate_mean": report.agents[0].mean,
        "candidate_ci95": report.agents[0].ci95,
        f"{other}_mean": report.agents[1].mean,
        f"{other}_ci95": report.agents[1].ci95,
        "diff": h.mean_diff,
        "ci95": h.ci95,
        "wins": h.wins,
        "ties": h.ties,
        "losses": h.losses,
        "candidate_elo": report.agents[0].elo,
        f"{other}_elo": report.agents[1].elo,
    }


def _gate_numbers(report: ArenaReport) -> dict[str, Any]:
    h = report.pair(0, 1)
    return {
        "seed": report.seed,
        "rounds": report.rounds,
        "played": report.played,
        **_versus(report, "best"),
        "low": h.mean_diff - h.ci95 if h.ci95 is not None else None,
        "high": h.mean_diff + h.ci95 if h.ci95 is not None else None,
    }


def gate_phase(ctx: LoopContext, k: int, best: Path, rejections: int) -> dict[str, Any]:
    """Plays (or replays) the gate of iteration ``k``; returns the contents
    of its ``gate.json`` marker, which also records the best network after it."""
    it = ctx.folder.iter_dir(k)
    marker = it / "gate.json"
    done = read_json(marker)
    if done is not None:
        return done
    g = ctx.cfg.gate
    candidate = it / "model.pt"
    players, cards = ctx.cfg.gate_table
    started = time.perf_counter()
    result: dict[str, Any] = {
        "candidate": ctx.rel(candidate),
        "best_before": ctx.rel(best),
        "rejections_before": rejections,
        "deals": g.deals,
        "players": players,
        "cards": cards,
        "threshold": g.threshold,
        "force_after": g.force_after,
    }
    arena: dict[str, Any] | None = None
    if g.deals == 0:
        promoted, reason = True, "no gate"
    else:
        report = _gate_games(ctx, k, candidate, best)
        result.update(_gate_numbers(report))
        promoted, reason = gate_decision(
            result["diff"], result["ci95"], g.threshold, g.force_after, rejections
        )
        arena = report.to_dict()
    result.update(
        promoted=promoted,
        reason=reason,
        rejections=0 if promoted else rejections + 1,
        best_after=ctx.rel(candidate if promoted else best),
        best_iteration=k if promoted else _iteration_of(ctx, best),
        elapsed_s=time.perf_counter() - started,
        finished=utc_now(),
        arena=arena,
    )
    write_json(marker, result)
    ci = f" ± {result['ci95']:.2f}" if result.get("ci95") is not None else ""
    diff = f"diff {result['diff']:+.2f}{ci} points/round, " if "diff" in result else ""
    ctx.log(f"iteration {k} gate: {diff}{'promoted' if promoted else 'not promoted'} ({reason})")
    return result


def _reference_result(
    spec: str, slug: str, deals: int, seed: int, report: ArenaReport
) -> dict[str, Any]:
    return {
        "spec": spec,
        "slug": slug,
        "name": report.agents[1].name,
        "deals": deals,
        "seed": seed,
        **_versus(report, "reference"),
        "arena": report.to_dict(),
    }


def reference_games(ctx: LoopContext, model: Path, marker: Path, label: str) -> dict[str, Any]:
    """Plays ``model`` against every reference agent (unless ``marker``
    exists); returns and writes the marker's contents."""
    done = read_json(marker)
    if done is not None:
        return done
    players, cards = ctx.cfg.gate_table
    deals = ctx.cfg.gate.reference_deals
    seed = reference_seed(ctx)
    started = time.perf_counter()
    results = []
    for spec, slug, ref in ctx.references:
        cand = _network(ctx, model, agent_seed(seed, 0))
        ctx.log(
            f"{label} reference games: {ctx.rel(model)} vs {spec}, {deals} deals of {players}x{cards}"
        )
        report = play_duplicate([cand, ref], players, cards, deals, seed, progress=ctx.progress)
        results.append(_reference_result(spec, slug, deals, seed, report))
        h = report.pair(0, 1)
        ci = f" ± {h.ci95:.2f}" if h.ci95 is not None else ""
        ctx.log(
            f"{label} reference games vs {spec}: {report.agents[0].mean:.2f} vs "
            f"{report.agents[1].mean:.2f} points/round (diff {h.mean_diff:+.2f}{ci})"
        )
    result = {
        "model": ctx.rel(model),
        "players": players,
        "cards": cards,
        "references": results,
        "tables": reference_table_games(ctx, model, label),
        "elapsed_s": time.perf_counter() - started,
        "finished": utc_now(),
    }
    write_json(marker, result)
    return result
