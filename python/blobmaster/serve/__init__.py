"""``blobmaster serve``: a web table where a person plays Blob against the
agents in the browser.

The server (FastAPI, run by uvicorn) holds every game and sends the page
only what the person's seat may see (:mod:`blobmaster.serve.app`); the page
is one static HTML file with plain JavaScript and CSS (``static/``, shipped
inside the package, no build step).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "run_command"]


def create_app(agent: Any, **options: Any) -> Any:
    """The FastAPI app (see :func:`blobmaster.serve.app.create_app`)."""
    from blobmaster.serve.app import create_app as _create_app

    return _create_app(agent, **options)


def run_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    search: str = "light",
    model: str | None = None,
    agent: str | None = None,
    device: str = "cpu",
    seed: int | None = None,
    delay: float = 0.6,
    max_games: int = 64,
    idle_minutes: float = 60.0,
    echo: Any = print,
) -> None:
    """The body of ``blobmaster serve``: builds the agents and serves until
    Ctrl-C. Raises AgentError for a bad agent option."""
    import uvicorn

    from blobmaster.table import make_agent, warm_up

    opponents = make_agent(model, search=search, agent=agent, device=device, seed=seed)
    warm_up(opponents)
    app = create_app(opponents, delay=delay, max_games=max_games, idle_seconds=idle_minutes * 60.0)
    shown = f"[{host}]" if ":" in host else host
    echo(f"BlobMaster table: http://{shown}:{port}/  (agents: {opponents.name}; Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
