"""The split agent (spec ``bid=SPEC+play=SPEC``): bids are one agent's,
cards the other's, and the arena plays it like any agent."""

from __future__ import annotations

import pytest

from blobmaster.agent_specs import parse_agent_spec
from blobmaster.agents import AgentError, HeuristicAgent, RandomAgent
from blobmaster.arena import arena_deal, evaluate_specs
from blobmaster.split_agent import SplitAgent


def _decisions(deals: int = 6) -> list:
    """Every position with a choice met while the heuristic plays some deals."""
    out = []
    heuristic = HeuristicAgent()
    for deal in range(deals):
        round = arena_deal(4, 4, deal, seed=3)
        while round.phase != "over":
            if len(round.legal_actions()) > 1:
                out.append(round.clone())
            round.apply(heuristic.act(round))
    return out


def test_bids_come_from_the_bidder_and_cards_from_the_player() -> None:
    split = parse_agent_spec("bid=random+play=heuristic", seed=11)
    assert isinstance(split, SplitAgent)
    assert split.name == "bid=random+play=heuristic"
    bidder, heuristic = RandomAgent(11), HeuristicAgent()
    # Seeded apart: the card half would be RandomAgent(12) were it random.
    assert parse_agent_spec("bid=heuristic+play=random", seed=11).player.seed == 12
    positions = _decisions()
    assert {r.phase for r in positions} == {"bid", "play"}
    for round in positions:
        if round.phase == "bid":
            assert split.act(round) == bidder.act(round)
            assert split.policy(round) == bidder.policy(round)
        else:
            assert split.act(round) == heuristic.act(round)
    assert split.describe()["bidder"]["kind"] == "RandomAgent"
    assert split.describe()["player"]["kind"] == "HeuristicAgent"


@pytest.mark.parametrize(
    "spec",
    ["bid=heuristic", "bid=+play=heuristic", "bid=heuristic+play=", "bid=bid=random+play=x+play=y",
     "bid=nonsense+play=heuristic"],
)  # fmt: skip
def test_bad_split_specs_name_the_problem(spec: str) -> None:
    with pytest.raises(AgentError, match=r"bid|nonsense"):
        parse_agent_spec(spec)


def test_the_arena_plays_a_split_agent() -> None:
    # A split of the heuristic with itself is the heuristic: level, every deal.
    report = evaluate_specs(
        ["bid=heuristic+play=heuristic", "heuristic"], cards=3, deals=4, seed=5, progress=False
    )
    assert report.agents[0].name == "bid=heuristic+play=heuristic"
    assert report.pair(0, 1).mean_diff == 0.0
    # Random bids lose points to the heuristic's.
    report = evaluate_specs(
        ["bid=random+play=heuristic", "heuristic"], cards=3, deals=30, seed=5, progress=False
    )
    assert report.pair(0, 1).mean_diff < 0
