"""`blobmaster serve`: the web table's HTTP API, through httpx (FastAPI's
TestClient). Every response is checked for cards the person may not see."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster.cli import app as cli_app
from blobmaster.serve import create_app
from blobmaster.serve.app import GameStore
from blobmaster.table import Table


class TestClient:
    """Synchronous calls to the app through httpx's ASGI transport, on one
    event loop of its own (no server, no socket)."""

    __test__ = False

    def __init__(self, app: Any) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://table.test")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> GameStore:
    return GameStore(max_games=4, idle_seconds=60.0, clock=Clock())


@pytest.fixture
def client(store: GameStore) -> Iterator[TestClient]:
    client = TestClient(create_app(bm.Agent.heuristic(), delay=0, store=store))
    yield client
    client.close()


def table_of(store: GameStore, game_id: str) -> Table:
    return store._games[game_id].table


def assert_no_unseen_card(table: Table, body: str) -> None:
    """No card of another seat's current hand in a response of a one-round
    game (where nothing was dealt before, so no card name may repeat)."""
    r = table.round
    for seat, hand in enumerate(r.hands):
        if seat != table.seat:
            for c in hand:
                assert f'"{bm.card_name(c)}"' not in body, f"unseen {bm.card_name(c)} sent"


def new_game(client: TestClient, **body: object) -> dict:
    res = client.post("/api/games", json={"players": 4, "cards": 3, "one_round": True, **body})
    assert res.status_code == 201, res.text
    return res.json()


def person_move(client: TestClient, view: dict, rng: random.Random) -> httpx.Response:
    gid, since = view["id"], view["event_count"]
    if view["phase"] == "bid":
        res = client.post(
            f"/api/games/{gid}/bid?since={since}", json={"bid": rng.choice(view["legal_bids"])}
        )
    else:
        res = client.post(
            f"/api/games/{gid}/play?since={since}", json={"card": rng.choice(view["legal_cards"])}
        )
    assert res.status_code == 200, res.text
    return res


def play_through(client: TestClient, store: GameStore, view: dict, seed: int) -> dict:
    """Plays to the end through the API, checking every response."""
    rng = random.Random(seed)
    gid = view["id"]
    table = table_of(store, gid)
    seen_events = len(view["events"])
    while not view["over"]:
        if view["your_turn"]:
            res = person_move(client, view, rng)
        else:
            res = client.post(f"/api/games/{gid}/step?since={seen_events}")
            assert res.status_code == 200, res.text
        view = res.json()
        if table.settings.one_round:
            assert_no_unseen_card(table, res.text)
        else:
            current = {
                k: v for k, v in view.items() if k not in ("events", "last_trick", "results")
            }
            if not view["over"]:
                assert_no_unseen_card(table, json.dumps(current))
        assert [e["index"] for e in view["events"]] == list(range(seen_events, view["event_count"]))
        # the public record: exactly the moves that were made
        assert view["events"] == [table.events[e["index"]].to_json() for e in view["events"]]
        seen_events = view["event_count"]
    return view


def test_a_whole_round_through_the_api(client: TestClient, store: GameStore) -> None:
    view = new_game(client, seed=3)
    gid = view["id"]
    assert len(gid) >= 24 and view["seat"] == 0 and len(view["hand"]) == 3
    table = table_of(store, gid)
    assert_no_unseen_card(table, json.dumps(view))
    final = play_through(client, store, view, seed=1)
    assert final["over"] and final["phase"] == "over" and len(final["results"]) == 1
    result = final["results"][0]
    assert sum(result["tricks_won"]) == 3 and final["totals"] == result["scores"]
    assert final["event_count"] == 4 + 12
    # the game is freed with the response that finished it
    assert gid not in store
    assert client.get(f"/api/games/{gid}").status_code == 404


def test_a_full_game_through_the_api(client: TestClient, store: GameStore) -> None:
    view = new_game(client, players=3, cards=2, one_round=False, seed=8)
    assert view["mode"] == "game" and view["schedule"] == [2, 1, 1, 1, 2]
    final = play_through(client, store, view, seed=2)
    assert len(final["results"]) == 5
    assert final["totals"] == [sum(r["scores"][s] for r in final["results"]) for s in range(3)]
    best = max(final["totals"])
    assert final["winners"] == [s for s in range(3) if final["totals"][s] == best]
    assert len(store) == 0


def test_illegal_and_malformed_requests_are_4xx_and_change_nothing(
    client: TestClient, store: GameStore
) -> None:
    view = new_game(client, seed=5, seat=1)  # dealer seat 0: seat 1 bids first
    gid = view["id"]
    assert view["your_turn"] and view["phase"] == "bid"
    table = table_of(store, gid)
    unseen = next(bm.card_name(c) for s, h in enumerate(table.round.hands) if s != 1 for c in h)

    def state() -> str:
        return client.get(f"/api/games/{gid}").text

    before = state()
    bad = [
        ("post", f"/api/games/{gid}/bid", {"bid": 4}, 400, "you cannot bid 4"),
        ("post", f"/api/games/{gid}/bid", {"bid": -1}, 400, "a bid is a number of tricks"),
        ("post", f"/api/games/{gid}/bid", {"bid": "two"}, 422, "malformed request: bid"),
        ("post", f"/api/games/{gid}/bid", {"bid": 1.0}, 422, "malformed request"),
        ("post", f"/api/games/{gid}/bid", {"bid": True}, 422, "malformed request"),
        ("post", f"/api/games/{gid}/bid", {}, 422, "malformed request: bid: Field required"),
        ("post", f"/api/games/{gid}/bid", {"bid": 1, "x": 2}, 422, "malformed request: x"),
        ("post", f"/api/games/{gid}/play", {"card": view["hand"][0]}, 400, "time to bid"),
        ("post", f"/api/games/{gid}/play", {"card": unseen}, 400, "time to bid"),
        ("post", f"/api/games/{gid}/play", {"card": "ZZ"}, 400, "'ZZ' is not a card"),
        ("post", f"/api/games/{gid}/play", {"card": 12}, 422, "malformed request: card"),
        ("post", f"/api/games/{gid}/step", None, 409, "it is the person's turn"),
        ("get", f"/api/games/{gid}?since=-1", None, 422, "since"),
        ("get", f"/api/games/{gid}/nope", None, 404, None),
        ("post", "/api/games/not-a-game/bid", {"bid": 1}, 404, "no such game"),
        ("delete", "/api/games/not-a-game", None, 404, "no such game"),
    ]
    for method, url, body, code, message in bad:
        kwargs = {} if body is None else {"json": body}
        res = client.request(method.upper(), url, **kwargs)
        assert res.status_code == code, (url, body, res.text)
        if message:
            assert message in res.json()["detail"], res.text
        assert_no_unseen_card(table, res.text)
        assert state() == before
    res = client.post(
        f"/api/games/{gid}/bid", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert res.status_code == 422 and state() == before
    # a legal bid, then a move out of turn (the agents are to move)
    res = client.post(f"/api/games/{gid}/bid", json={"bid": 1})
    assert res.status_code == 200 and res.json()["bids"][1] == 1
    after = state()
    res = client.post(f"/api/games/{gid}/bid", json={"bid": 0})
    assert res.status_code == 409 and "not your turn" in res.json()["detail"]
    assert state() == after


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"players": 9}, "players must be 3..8"),
        ({"cards": 0}, "cards must be 1..13"),
        ({"players": 8, "cards": 7}, "cards must be 1..6"),
        ({"seat": 4}, "seat must be 0..3"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_new_games_are_400(
    client: TestClient, store: GameStore, body: dict, message: str
) -> None:
    res = client.post("/api/games", json=body)
    assert res.status_code == 400 and message in res.json()["detail"]
    assert len(store) == 0


def test_games_are_isolated(client: TestClient, store: GameStore) -> None:
    a = new_game(client, seed=1)
    b = new_game(client, seed=1)
    assert a["id"] != b["id"] and a["hand"] == b["hand"]
    res = client.post(f"/api/games/{a['id']}/bid", json={"bid": a["legal_bids"][0]})
    assert res.status_code == 200
    assert client.get(f"/api/games/{b['id']}").json()["bids"] == [None] * 4
    assert client.get(f"/api/games/{a['id']}").json()["bids"][0] == a["legal_bids"][0]
    assert len({new_game(client)["id"] for _ in range(2)} | {a["id"], b["id"]}) == 4


def test_the_store_is_bounded_and_frees_abandoned_games(
    client: TestClient, store: GameStore
) -> None:
    ids = [new_game(client, seed=i)["id"] for i in range(4)]
    res = client.post("/api/games", json={})
    assert res.status_code == 503 and "full" in res.json()["detail"]
    assert client.delete(f"/api/games/{ids[0]}").status_code == 204
    assert client.post(f"/api/games/{ids[1]}/abandon").status_code == 204
    assert len(store) == 2
    new_game(client)
    store.clock.now += 30  # type: ignore[attr-defined]
    assert client.get(f"/api/games/{ids[2]}").status_code == 200  # touched: stays fresh
    store.clock.now += 45  # type: ignore[attr-defined]
    # ids[3] and the new one idle for 75 s > 60 s; ids[2] for 45 s
    assert client.get(f"/api/games/{ids[3]}").status_code == 404
    new_game(client)
    assert ids[2] in store and len(store) == 2


def test_hint_is_for_the_persons_own_move(client: TestClient) -> None:
    view = new_game(client, seed=2)
    res = client.get(f"/api/games/{view['id']}/hint")
    assert res.status_code == 200
    policy = res.json()["policy"]
    assert sorted(m["move"] for m in policy) == sorted(f"bid {b}" for b in view["legal_bids"])
    assert sum(m["p"] for m in policy) == pytest.approx(1.0)
    client.post(f"/api/games/{view['id']}/bid", json={"bid": 0})
    assert client.get(f"/api/games/{view['id']}/hint").status_code == 409


def test_the_page_and_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/table.js">' in page.text
    for name in ("table.js", "table.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/api/config").json() == {"delay_ms": 0, "agent": "heuristic"}


def test_the_default_agents_play_through_the_api() -> None:
    agent = bm.table.make_agent(search="light", seed=0)
    store = GameStore()
    client = TestClient(create_app(agent, delay=0, store=store))
    view = new_game(client, players=3, cards=2, seed=4)
    final = play_through(client, store, view, seed=0)
    client.close()
    assert final["over"] and sum(final["results"][0]["tricks_won"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "--port must be 1..65535"),
        (["--delay", "-1"], "--delay must be"),
        (["--max-games", "0"], "--max-games must be"),
        (["--idle-minutes", "0"], "--idle-minutes must be"),
        (["--agent", "nonsense"], "unknown agent spec"),
    ],
)
def test_bad_serve_options_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli_app, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
