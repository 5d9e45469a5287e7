"""An agent that bids as one agent and plays its cards as another (spec
``bid=SPEC+play=SPEC``): the tool that says which half of an agent's game
its strength, or weakness, comes from (benchmarks/RESULTS.md, "Bidding or
card play")."""

from __future__ import annotations

from typing import Any

from blobmaster._core import Round
from blobmaster.agents import Agent

__all__ = ["SplitAgent"]


class SplitAgent(Agent):
    """Bids are ``bidder``'s, cards ``player``'s; each keeps its own seed,
    network and search. No engine path: ``blobmaster eval`` plays it one
    decision at a time in Python."""

    def __init__(self, bidder: Agent, player: Agent) -> None:
        self.bidder = bidder
        self.player = player
        self.seed = bidder.seed
        self.name = f"bid={bidder.name}+play={player.name}"

    def _half(self, round: Round) -> Agent:
        return self.bidder if round.phase == "bid" else self.player

    def _act(self, round: Round, legal: list[int]) -> int:
        return self._half(round).act(round)

    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]:
        return self._half(round).policy(round)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(bidder=self.bidder.describe(), player=self.player.describe())
        return out
