"""The duplicate arena played in the Rust engine (blobmaster.arena_engine):
the same rounds, and so the same report, as the Python path; network
agents served in batches, one queue per network; bad input rejected."""

from __future__ import annotations

import pytest
import torch

import blobmaster as bm
from blobmaster._core import ArenaEngine, InvalidArgumentError
from blobmaster.agents import Agent, HeuristicAgent
from blobmaster.arena import (
    ArenaError,
    ArenaReport,
    arena_deal,
    distinct_seatings,
    play_duplicate,
)
from blobmaster.arena_engine import engine_specs, play_rounds
from blobmaster.model import ModelConfig, default_model


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _comparable(report: ArenaReport) -> dict:
    """Everything but the timings."""
    out = report.to_dict()
    for timing in ("seconds", "rounds_per_s"):
        out.pop(timing)
    return out


def _both(agents, players: int, cards: int, deals: int, seed: int):
    python = play_duplicate(agents, players, cards, deals, seed, progress=False, engine=False)
    engine = play_duplicate(agents, players, cards, deals, seed, progress=False, engine=True)
    return python, engine


@pytest.mark.parametrize(
    ("players", "cards", "make"),
    [
        (4, 5, lambda: [Agent.heuristic(), Agent.random(7)]),
        (
            4,
            3,
            lambda: [
                Agent.heuristic(),
                Agent.random(1),
                Agent.rollout_mcts("light", seed=2),
                Agent.ismcts(40, seed=3, rollout="heuristic"),
            ],
        ),
        (
            3,
            4,
            lambda: [Agent.random(5), Agent.random(6), Agent.heuristic(), Agent.ismcts(30, seed=4)],
        ),
    ],
)
def test_rust_agents_give_the_python_report_exactly(players: int, cards: int, make) -> None:
    python, engine = _both(make(), players, cards, 6, seed=21)
    assert python.per_deal == engine.per_deal
    assert python.wins == engine.wins and python.ties == engine.ties
    assert _comparable(python) == _comparable(engine)


@pytest.mark.parametrize(
    "search_b",
    [
        "light",
        {"determinizations": 2, "simulations": 20, "c_puct": 1.25, "normalize_q": True},
        {"determinizations": 2, "simulations": 20, "inference": "bids", "inference_candidates": 8},
    ],
)
def test_network_agents_play_the_python_rounds(search_b: object) -> None:
    """Two different networks (two queues) and the heuristic: the engine's
    rounds are the Python agents' rounds, move for move (batched answers
    could differ in the last float bit, which would only matter in an exact
    tie of visit counts: allow a few rounds)."""
    net_a = default_model(seed=1, config=ModelConfig.tiny())
    net_b = default_model(seed=2, config=ModelConfig.tiny())
    agents = [
        Agent.load(net_a, search="light", device="cpu", seed=11),
        Agent.load(net_b, search=search_b, device="cpu", seed=12),
        Agent.heuristic(),
    ]
    specs = engine_specs(agents)
    assert specs is not None and len(specs[1]) == 2
    seatings = distinct_seatings(4, 3)
    deals = [arena_deal(4, 4, d, 5) for d in range(3)]
    stats: dict = {}
    ends = play_rounds(agents, deals, seatings, threads=2, stats=stats)
    from blobmaster.arena import _play_round

    same = 0
    for i, end in enumerate(ends):
        start = deals[i // len(seatings)].clone()
        ref = _play_round(agents, seatings[i % len(seatings)], start)
        same += ref == end
    assert same >= len(ends) - 1, f"{same} of {len(ends)} rounds identical"
    assert stats["rounds"] == len(ends) and stats["leaves_evaluated"] > 0
    assert agents[0].evaluations > 0 and agents[1].evaluations > 0


def test_agents_sharing_a_network_share_a_queue() -> None:
    net = default_model(seed=3, config=ModelConfig.tiny())
    a = Agent.load(net, search="light", device="cpu", seed=1)
    b = Agent.load(net, search="light", device="cpu", seed=2)
    b.net = a.net
    specs = engine_specs([a, b, Agent.random(0)])
    assert specs is not None
    assert [s.get("net") for s in specs[0]] == [0, 0, None]
    assert len(specs[1]) == 1


class Lowest:
    name = "lowest"

    def act(self, round: bm.Round) -> int:
        return round.legal_actions()[0]


class StubbornHeuristic(HeuristicAgent):
    """A subclass may decide differently: it keeps the Python path."""

    def _act(self, round: bm.Round, legal: list[int]) -> int:
        return legal[-1]


def test_other_agents_keep_the_python_path() -> None:
    assert engine_specs([Agent.heuristic(), Lowest()]) is None
    assert engine_specs([Agent.heuristic(), StubbornHeuristic()]) is None
    report = play_duplicate([Agent.heuristic(), Lowest()], 4, 3, 2, progress=False)
    assert report.played == 2 * len(distinct_seatings(4, 2))
    with pytest.raises(ArenaError, match="engine-playable"):
        play_duplicate([Agent.heuristic(), Lowest()], 4, 3, 2, progress=False, engine=True)


def test_progress_callback_counts_every_round() -> None:
    seen: list[tuple[int, int]] = []
    play_duplicate(
        [Agent.heuristic(), Agent.random(1), Agent.random(2)],
        5,
        2,
        3,
        progress=False,
        on_round=lambda done, total: seen.append((done, total)),
        engine=True,
    )
    total = 3 * len(distinct_seatings(5, 3))
    assert [d for d, _ in seen] == list(range(1, total + 1))
    assert {t for _, t in seen} == {total}


@pytest.mark.parametrize(
    ("seatings", "agents", "networks", "match"),
    [
        ([[0, 1, 2, 9]], [{"kind": "heuristic"}] * 3, 0, "agent 9"),
        ([[0, 1, 0]], [{"kind": "heuristic"}] * 2, 0, "seats"),
        ([[0, 0, 0, 0]], [{"kind": "wizard"}], 0, "unknown kind"),
        ([[0, 0, 0, 0]], [{"kind": "network", "net": 1, "seed": 0}], 1, "network 1"),
        ([[0, 0, 0, 0]], [{"kind": "random"}], 0, "seed missing"),
        ([[0, 0, 0, 0]], [{"kind": "random", "seed": -1}], 0, "seed"),
        ([[0, 0, 0, 0]], [{"kind": "rollout", "seed": 1, "simulations": 0}], 0, "simulations"),
    ],
)
def test_bad_engine_input(seatings, agents, networks, match) -> None:
    deal = arena_deal(4, 3, 0, 0)
    with pytest.raises(InvalidArgumentError, match=match):
        ArenaEngine([deal], seatings, agents, networks=networks)
    with pytest.raises(ValueError):
        ArenaEngine([deal], seatings, agents, networks=networks)
