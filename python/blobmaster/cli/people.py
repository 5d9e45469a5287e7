"""``blobmaster play`` and ``blobmaster serve``: a person at a table with the agents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from blobmaster.cli._common import (
    _MAX_SEED,
    EXIT_INTERRUPTED,
    _check_range,
    _fail,
    app,
)

# ---- play / serve: a person against the agents (bodies in blobmaster.play and blobmaster.serve)

_SEARCH_HELP = "Agents' search: light (fast), medium, heavy, or a preset TOML file."
_MODEL_HELP = (
    "TorchScript BlobNet file for the agents, or 'random' for the untrained seed-0 network "
    "[default: the trained network shipped in the package; the seed-0 one, with a warning, "
    "if it has none]"
)
_AGENT_HELP = "Another agent instead of the network, e.g. heuristic (see blobmaster eval)."


@app.command("play")
def play_command(
    players: Annotated[int, typer.Option(help="Seats at the table, 3..8.")] = 4,
    cards: Annotated[
        int,
        typer.Option(help="Starting hand size of the game (the hand size with --one-round)."),
    ] = 5,
    seat: Annotated[int, typer.Option(help="Your seat, 0..players-1.")] = 0,
    one_round: Annotated[
        bool, typer.Option("--one-round", help="Play one round instead of a full game.")
    ] = False,
    search: Annotated[str, typer.Option(help=_SEARCH_HELP)] = "light",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    agent: Annotated[str | None, typer.Option(metavar="SPEC", help=_AGENT_HELP)] = None,
    hint: Annotated[
        bool, typer.Option("--hint", help="Show the agent's policy for your own moves.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the deals and agents.")] = None,
    device: Annotated[str, typer.Option(help="For the network: cpu, auto, cuda.")] = "cpu",
) -> None:
    """Play Blob against the agents in the terminal (docs/play.md)."""
    _check_range("--seed", seed, 0, _MAX_SEED)
    from blobmaster.agents import AgentError
    from blobmaster.play import run_command
    from blobmaster.table import TableError

    try:
        code = run_command(
            players=players, cards=cards, seat=seat, one_round=one_round, search=search,
            model=None if model is None else str(model), agent=agent, device=device,
            seed=seed, hint=hint,
        )  # fmt: skip
    except (AgentError, TableError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo("\nblobmaster: interrupted, game abandoned", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(code)


@app.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    search: Annotated[str, typer.Option(help=_SEARCH_HELP)] = "light",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    agent: Annotated[str | None, typer.Option(metavar="SPEC", help=_AGENT_HELP)] = None,
    delay: Annotated[
        float, typer.Option(help="Seconds the page waits before each agent move.")
    ] = 0.6,
    max_games: Annotated[int, typer.Option(help="Games held at once.")] = 64,
    idle_minutes: Annotated[
        float, typer.Option(help="A game with no request for this long is dropped.")
    ] = 60.0,
    seed: Annotated[int | None, typer.Option(help="Seed of the agents.")] = None,
    device: Annotated[str, typer.Option(help="For the network: cpu, auto, cuda.")] = "cpu",
) -> None:
    """Serve a web table: play Blob against the agents in the browser (docs/play.md)."""
    _check_range("--port", port, 1, 65535)
    _check_range("--max-games", max_games, 1, 100_000)
    _check_range("--seed", seed, 0, _MAX_SEED)
    if not 0 <= delay <= 60:
        _fail(f"--delay must be 0..60 seconds, got {delay}")
    if not 0 < idle_minutes <= 7 * 24 * 60:
        _fail(f"--idle-minutes must be > 0 and at most a week, got {idle_minutes}")
    from blobmaster.agents import AgentError
    from blobmaster.serve import run_command

    try:
        run_command(
            host=host, port=port, search=search, model=None if model is None else str(model),
            agent=agent, device=device, seed=seed, delay=delay, max_games=max_games,
            idle_minutes=idle_minutes, echo=typer.echo,
        )  # fmt: skip
    except AgentError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
