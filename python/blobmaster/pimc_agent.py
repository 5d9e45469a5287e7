"""Perfect-information Monte Carlo (PIMC), spec ``pimc[:W][:solve][:bids[=T]]``:
for each card decision, ``W`` deals of the hidden cards consistent with what
the mover knows, each solved exactly (max^n, every seat seeing every hand),
and the card with the best mean score (``blobmaster._core.pimc``). The
classic search of trick-taking games (GIB for bridge), kept as a reference
opponent next to ISMCTS: no network, strength set by ``worlds``.

Bids are chosen by an ISMCTS search with heuristic playouts, as the
teacher bids (``bidding="ismcts"``, the default), or solved in every world
(``bidding="solve"``, spec ``:solve``): solving assumes everyone will play
seeing every hand, and bids far too boldly for real play
(benchmarks/RESULTS.md, "PIMC")."""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np

from blobmaster._core import Round
from blobmaster._core import pimc as _pimc
from blobmaster.agents import Agent, AgentError, _check_seed, _legal, decision_seed
from blobmaster.ismcts_agents import ISMCTS_BIDS_TEMPERATURE, IsmctsAgent

__all__ = ["PIMC_MAX_WORLDS", "PIMC_WORLDS", "PimcAgent"]

PIMC_WORLDS = 100
"""Worlds per decision of the spec ``pimc``."""
PIMC_MAX_WORLDS = 100_000


class PimcAgent(Agent):
    """PIMC card play (see the module); bids by ISMCTS or solved."""

    seed: int  # always set: drawn once when None is given

    def __init__(
        self,
        worlds: int = PIMC_WORLDS,
        *,
        bidding: str = "ismcts",
        bid_iterations: int = 1000,
        bid_exploration: float = 0.7,
        bid_rollout: str = "heuristic",
        inference: str = "uniform",
        inference_temperature: float | None = None,
        inference_candidates: int | None = None,
        seed: int | None = None,
    ) -> None:
        """``worlds`` per decision; ``inference="bids"`` weighs them by the
        opponents' bids as ISMCTS does (``inference_temperature``, default
        0.5; ``inference_candidates``, default 1024). The bid search (with
        ``bidding="ismcts"``) is ISMCTS with ``bid_iterations`` iterations,
        UCT constant ``bid_exploration`` and ``bid_rollout`` playouts, over
        the same worlds' sampler."""
        if isinstance(worlds, bool) or not isinstance(worlds, int):
            raise AgentError(f"worlds must be an integer, got {type(worlds).__name__} {worlds!r}")
        if not 1 <= worlds <= PIMC_MAX_WORLDS:
            raise AgentError(f"worlds must be in 1..{PIMC_MAX_WORLDS}, got {worlds}")
        if bidding not in ("ismcts", "solve"):
            raise AgentError(f"bidding must be 'ismcts' or 'solve', got {bidding!r}")
        if inference == "policy":
            raise AgentError("PIMC samples worlds without a network: use 'uniform' or 'bids'")
        # The bid search's knobs and the sampler's are ISMCTS's: its agent
        # checks them (and names the bad one).
        self._bid_search = IsmctsAgent(
            bid_iterations, exploration=bid_exploration, rollout=bid_rollout,
            inference=inference, inference_temperature=inference_temperature,
            inference_candidates=inference_candidates, seed=0,
        )  # fmt: skip
        self.worlds = worlds
        self.bidding = cast(Literal["ismcts", "solve"], bidding)  # checked above
        self.seed = _check_seed(seed)
        name = f"pimc:{worlds}" + (":solve" if bidding == "solve" else "")
        search = self._bid_search
        if search.inference != "uniform":
            name += ":bids"
            if search.inference_temperature != ISMCTS_BIDS_TEMPERATURE:
                name += f"={search.inference_temperature:g}"
        self.name = name

    def engine_keys(self) -> dict[str, Any]:
        """The ``_core.pimc`` (and engine arena) keys of this agent's search."""
        search = self._bid_search
        return {
            "worlds": self.worlds,
            "bidding": self.bidding,
            "bid_iterations": search.iterations,
            "bid_exploration": search.exploration,
            "bid_rollout": search.rollout,
        } | search.inference_kwargs()

    def values(self, round: Round) -> np.ndarray:
        """The search's value of each action (66 floats, NaN off the legal
        ones): a card's mean score share over the worlds, a bid's visit
        share in the bid search (or, solved, its mean score share)."""
        _legal(round)
        return self._search(round)[0]

    def _search(self, round: Round) -> tuple[np.ndarray, int]:
        values, best = _pimc(round, seed=decision_seed(self.seed, round), **self.engine_keys())
        return values, int(best)

    def _act(self, round: Round, legal: list[int]) -> int:
        return self._search(round)[1]

    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]:
        # PIMC picks one action; it has no distribution worth the name.
        best = self._act(round, legal)
        return {a: float(a == best) for a in legal}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(self.engine_keys())
        return out
