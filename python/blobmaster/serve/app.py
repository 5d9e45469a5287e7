"""The web table's HTTP API (FastAPI) and its store of games.

Every game lives on the server in a :class:`GameStore` under an unguessable
id (``secrets.token_urlsafe``); the client only ever receives
:meth:`blobmaster.table.Table.view` of the person's seat. Agents move one
at a time when the client asks (``POST .../step``), so the page can show
each bid and card with a delay of its choosing; the agent's search runs in a
worker thread, never on the event loop. One lock per game serialises its
requests. A finished game is removed from the store with the response that
finishes it; an abandoned one (no request for ``idle_seconds``) is removed
when the next game is created, and the store holds at most ``max_games``.

Errors: an unknown or expired game is 404, a move out of turn 409, an
illegal or malformed move 400/422, a full store 503; the body is always
``{"detail": "<message>"}`` and the game is unchanged.

``create_app`` is longer than the project's usual function: FastAPI routes
are closures over the app's store and settings, each a few lines, and they
read best side by side in one place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from blobmaster._core import BID_OFFSET, MAX_CARDS, InvalidArgumentError, card_index
from blobmaster.table import NotYourTurnError, Table, TableError, TableSettings, action_label

__all__ = ["STATIC_DIR", "GameStore", "StoreFullError", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


class StoreFullError(RuntimeError):
    """Every game slot is taken by a game that is still in play."""


@dataclasses.dataclass
class Session:
    table: Table
    lock: asyncio.Lock
    last_seen: float


class GameStore:
    """Games by id, at most ``max_games``; a game idle for ``idle_seconds``
    is dropped when a new game needs room or is created."""

    def __init__(
        self,
        max_games: int = 64,
        idle_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_games < 1:
            raise ValueError(f"max_games must be >= 1, got {max_games}")
        if idle_seconds <= 0:
            raise ValueError(f"idle_seconds must be > 0, got {idle_seconds}")
        self.max_games = max_games
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._games: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._games)

    def __contains__(self, game_id: object) -> bool:
        return game_id in self._games

    def purge(self) -> int:
        """Drops the abandoned games; returns how many."""
        now = self.clock()
        stale = [k for k, s in self._games.items() if now - s.last_seen > self.idle_seconds]
        for key in stale:
            del self._games[key]
        return len(stale)

    def add(self, table: Table) -> str:
        self.purge()
        if len(self._games) >= self.max_games:
            raise StoreFullError(
                f"the server is full ({self.max_games} games in play); try again later"
            )
        game_id = secrets.token_urlsafe(18)
        self._games[game_id] = Session(table, asyncio.Lock(), self.clock())
        return game_id

    def get(self, game_id: str) -> Session:
        session = self._games.get(game_id)
        if session is None or self.clock() - session.last_seen > self.idle_seconds:
            self._games.pop(game_id, None)
            raise HTTPException(404, "no such game: it is finished, abandoned or never existed")
        session.last_seen = self.clock()
        return session

    def remove(self, game_id: str) -> bool:
        return self._games.pop(game_id, None) is not None


class NewGame(BaseModel):
    model_config = ConfigDict(extra="forbid")
    players: StrictInt = 4
    cards: StrictInt = 5
    one_round: StrictBool = False
    seat: StrictInt = 0
    seed: StrictInt | None = None


class BidMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bid: StrictInt


class CardMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card: StrictStr


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "malformed request: " + "; ".join(parts)


def create_app(
    agent: Any,
    *,
    delay: float = 0.6,
    max_games: int = 64,
    idle_seconds: float = 3600.0,
    store: GameStore | None = None,
) -> FastAPI:
    """The web table: ``agent`` plays every seat but the person's in every
    game; the page waits ``delay`` seconds before each agent move."""
    app = FastAPI(title="BlobMaster table", docs_url=None, redoc_url=None, openapi_url=None)
    games = store if store is not None else GameStore(max_games, idle_seconds)
    app.state.games = games

    @app.exception_handler(RequestValidationError)
    async def _malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    def reply(game_id: str, table: Table, since: int) -> dict[str, Any]:
        view = table.view(since=since)
        if table.is_over:  # the response that finishes a game frees it
            games.remove(game_id)
        return {"id": game_id, **view}

    async def move(game_id: str, since: int, play: Callable[[Table], Any]) -> dict[str, Any]:
        session = games.get(game_id)
        async with session.lock:
            if game_id not in games:
                raise HTTPException(404, "no such game: it is finished")
            try:
                await run_in_threadpool(play, session.table)
            except NotYourTurnError as e:
                raise HTTPException(409, str(e)) from None
            except TableError as e:
                raise HTTPException(400, str(e)) from None
            return reply(game_id, session.table, since)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/api/config")
    async def config() -> dict[str, Any]:
        return {"delay_ms": round(delay * 1000), "agent": getattr(agent, "name", str(agent))}

    @app.post("/api/games", status_code=201)
    async def new_game(body: NewGame) -> dict[str, Any]:
        settings = TableSettings(
            players=body.players,
            cards=body.cards,
            seat=body.seat,
            one_round=body.one_round,
            seed=body.seed,
        )
        try:
            table = Table(settings, agent)
        except TableError as e:
            raise HTTPException(400, str(e)) from None
        try:
            game_id = games.add(table)
        except StoreFullError as e:
            raise HTTPException(503, str(e)) from None
        return reply(game_id, table, 0)

    @app.get("/api/games/{game_id}")
    async def get_game(game_id: str, since: int = Query(0, ge=0)) -> dict[str, Any]:
        session = games.get(game_id)
        async with session.lock:
            return reply(game_id, session.table, since)

    @app.post("/api/games/{game_id}/bid")
    async def bid(game_id: str, body: BidMove, since: int = Query(0, ge=0)) -> dict[str, Any]:
        if not 0 <= body.bid <= MAX_CARDS:
            raise HTTPException(400, f"a bid is a number of tricks 0..{MAX_CARDS}, got {body.bid}")
        return await move(game_id, since, lambda t: t.play_person(BID_OFFSET + body.bid))

    @app.post("/api/games/{game_id}/play")
    async def play(game_id: str, body: CardMove, since: int = Query(0, ge=0)) -> dict[str, Any]:
        try:
            card = card_index(body.card)
        except InvalidArgumentError:
            raise HTTPException(
                400, f"{body.card[:20]!r} is not a card: rank then suit, e.g. QH, 10S"
            ) from None
        return await move(game_id, since, lambda t: t.play_person(card))

    @app.post("/api/games/{game_id}/step")
    async def step(game_id: str, since: int = Query(0, ge=0)) -> dict[str, Any]:
        return await move(game_id, since, lambda t: t.play_agent())

    @app.get("/api/games/{game_id}/hint")
    async def hint(game_id: str) -> dict[str, Any]:
        session = games.get(game_id)
        async with session.lock:
            try:
                policy = await run_in_threadpool(session.table.hint)
            except NotYourTurnError as e:
                raise HTTPException(409, str(e)) from None
        return {"policy": [{"move": action_label(a), "p": p} for a, p in policy]}

    @app.delete("/api/games/{game_id}", status_code=204)
    async def abandon(game_id: str) -> None:
        if not games.remove(game_id):
            raise HTTPException(404, "no such game")

    # navigator.sendBeacon (when the page is closed) can only POST.
    app.post("/api/games/{game_id}/abandon", status_code=204)(abandon)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
