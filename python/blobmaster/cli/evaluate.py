"""``blobmaster eval``: agents against each other in the duplicate arena."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from blobmaster.cli._common import (
    _MAX_SEED,
    Json,
    Progress,
    TorchThreads,
    _check_range,
    _exits_on,
    _fail,
    _set_torch_threads,
    app,
)


@app.command("eval")
def eval_agents(
    agent: Annotated[
        list[str] | None,
        typer.Option(
            "--agent",
            "-a",
            metavar="SPEC",
            help="An agent, given twice or more: heuristic, random, rollout[:SEARCH], default[:SEARCH], "
            "model:PATH[:SEARCH] or ismcts:N[:C], SEARCH = light, medium (default) or heavy. See docs/evaluation.md.",
        ),
    ] = None,
    players: Annotated[
        int | None, typer.Option(help="Seats at the table, 3..8 [default: 4]")
    ] = None,
    cards: Annotated[
        int | None,
        typer.Option(help="Cards per player, 1..13, players x cards <= 52 [default: 5]"),
    ] = None,
    tables: Annotated[
        str | None,
        typer.Option(
            metavar="PxC,...",
            help="Several tables instead of --players/--cards, e.g. 3x5,4x5,5x10,7x7: "
            "the match on each, reported by table (points per round and the paired "
            "difference against the first agent, with 95% intervals).",
        ),
    ] = None,
    deals: Annotated[
        int,
        typer.Option(
            help="Deals (per table with --tables); each is played once per distinct rotation of the seats."
        ),
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the deals and of every agent.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Also write the report as a JSON file here.")
    ] = None,
    device: Annotated[
        str, typer.Option(help="For network agents: auto, cpu, cuda or cuda:N.")
    ] = "auto",
    torch_threads: TorchThreads = None,
    progress: Progress = True,
    json_out: Json = False,
) -> None:
    """Play agents against each other on seat-rotated duplicate deals; print scores, head-to-head and ratings."""
    if tables is not None and (players is not None or cards is not None):
        _fail("give either --tables or --players/--cards, not both")
    players = 4 if players is None else players
    cards = 5 if cards is None else cards
    _check_range("--players", players, 3, 8)
    _check_range("--cards", cards, 1, 13)
    _check_range("--deals", deals, 1)
    _check_range("--seed", seed, 0, _MAX_SEED)
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        _fail(
            f"--out {out} is a folder (give a file name)"
            if out.is_dir()
            else f"--out {out}: folder {out.parent} does not exist"
        )
    from blobmaster.agents import AgentError
    from blobmaster.arena import ArenaError, evaluate_specs
    from blobmaster.table_specs import TableSpecError, parse_tables

    if tables is not None:
        try:
            parse_tables(tables)  # before any network is loaded
        except TableSpecError as e:
            _fail(f"--tables: {e}")
    _set_torch_threads(torch_threads)
    report: Any
    with _exits_on(AgentError, ArenaError):
        if tables is not None:
            from blobmaster.table_eval import evaluate_tables

            report = evaluate_tables(
                agent or [], tables, deals=deals, seed=seed, device=device, progress=progress
            )
        else:
            report = evaluate_specs(
                agent or [],
                num_players=players,
                cards=cards,
                deals=deals,
                seed=seed,
                device=device,
                progress=progress,
            )
    if out is not None:
        try:
            report.save(out)
        except OSError as e:
            _fail(f"--out {out}: {e.strerror or e}")
    if json_out:
        typer.echo(report.to_json())
    else:
        report.print()
