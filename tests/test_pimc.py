"""The PIMC reference agent (spec ``pimc``): its search from Python, its
spec, and the engine arena playing it exactly as its ``act`` does."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blobmaster import _core
from blobmaster.agent_specs import parse_agent_spec
from blobmaster.agents import AgentError, HeuristicAgent
from blobmaster.arena import arena_deal, play_duplicate
from blobmaster.pimc_agent import PimcAgent
from test_arena_engine import _comparable


def _position(phase: str, cards: int = 4, deal: int = 0):
    """The first decision with a choice in ``phase`` while the heuristic plays."""
    heuristic = HeuristicAgent()
    round = arena_deal(4, cards, deal, seed=9)
    while round.phase != "over":
        if round.phase == phase and len(round.legal_actions()) > 1:
            return round
        round.apply(heuristic.act(round))
    raise AssertionError("no such decision")


def test_card_values_are_mean_scores_and_the_best_is_played() -> None:
    round = _position("play")
    values, best = _core.pimc(round, worlds=16, seed=3)
    legal = round.legal_actions()
    assert values.shape == (66,)
    assert all(math.isnan(values[a]) for a in range(66) if a not in legal)
    chosen = [float(values[a]) for a in legal]
    assert all(0.0 <= v <= 1.0 for v in chosen)
    assert best == legal[int(np.argmax(chosen))]
    # Seeded: the same worlds, the same answer.
    again, best_again = _core.pimc(round, worlds=16, seed=3)
    np.testing.assert_array_equal(values, again)
    assert best_again == best


def test_bids_by_ismcts_or_solved() -> None:
    round = _position("bid")
    legal = round.legal_actions()
    shares, best = _core.pimc(round, worlds=8, seed=1, bid_iterations=200)
    assert best in legal
    assert sum(float(shares[a]) for a in legal) == pytest.approx(1.0)
    visits, _ = _core.ismcts(round, iterations=200, rollout="heuristic", seed=1)
    assert best == int(np.argmax(visits))
    solved, best = _core.pimc(round, worlds=8, seed=1, bidding="solve")
    assert best in legal and all(0.0 <= float(solved[a]) <= 1.0 for a in legal)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"worlds": 0}, _core.InvalidArgumentError),
        ({"worlds": -1}, _core.InvalidArgumentError),
        ({"bidding": "guess"}, _core.InvalidArgumentError),
        ({"bid_rollout": "sideways"}, _core.InvalidArgumentError),
        ({"inference": "policy"}, _core.InvalidArgumentError),
        ({"inference": "bids", "inference_candidates": 0}, _core.InvalidArgumentError),
        ({"seed": -1}, _core.InvalidArgumentError),
    ],
)
def test_bad_search_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        _core.pimc(_position("play"), **kwargs)


def test_a_finished_round_is_refused() -> None:
    round = arena_deal(4, 1, 0, seed=1)
    heuristic = HeuristicAgent()
    while round.phase != "over":
        round.apply(heuristic.act(round))
    with pytest.raises(_core.IllegalActionError):
        _core.pimc(round)


def test_specs() -> None:
    agent = parse_agent_spec("pimc", seed=1)
    assert isinstance(agent, PimcAgent)
    assert (agent.name, agent.worlds, agent.bidding) == ("pimc:100", 100, "ismcts")
    agent = parse_agent_spec("pimc:20:solve:bids=1", seed=1)
    assert agent.name == "pimc:20:solve:bids=1"
    keys = agent.engine_keys()
    assert (keys["worlds"], keys["bidding"], keys["inference"]) == (20, "solve", "bids")
    assert keys["inference_temperature"] == 1.0
    assert parse_agent_spec("pimc:5:bids").name == "pimc:5:bids"
    for bad in ("pimc:0", "pimc:x", "pimc:5:6", "pimc:5:bids=hot", "pimc:5:wild"):
        with pytest.raises(AgentError, match=r"pimc|worlds|bids"):
            parse_agent_spec(bad)
    with pytest.raises(AgentError, match="bidding"):
        PimcAgent(5, bidding="guess")
    with pytest.raises(AgentError, match="network"):
        PimcAgent(5, inference="policy")


def test_engine_arena_plays_pimc_as_python_does() -> None:
    agents = [
        parse_agent_spec("pimc:6:bids", seed=4),
        parse_agent_spec("pimc:4:solve", seed=5),
        parse_agent_spec("ismcts:30:heuristic", seed=6),
    ]
    python = play_duplicate(agents, 4, 3, 3, 2, progress=False, engine=False)
    engine = play_duplicate(agents, 4, 3, 3, 2, progress=False, engine=True)
    assert _comparable(python) == _comparable(engine)


def test_perfect_information_solves_the_true_deal() -> None:
    round = _position("play", cards=3)
    first, best = _core.pimc(round, worlds=2, seed=1, perfect_information=True)
    again, best_again = _core.pimc(round, worlds=5, seed=99, perfect_information=True)
    # One deal, whatever the seed or the number of copies.
    np.testing.assert_array_equal(first, again)
    assert best == best_again
    # The values are the deal's max^n outcome: every value is a score share
    # some seat can reach, 0 or (10 + bid) / 13 for a 3-card round.
    legal = round.legal_actions()
    reachable = {0.0} | {(10 + b) / 13 for b in range(4)}
    assert all(min(abs(float(first[a]) - r) for r in reachable) < 1e-6 for a in legal)
