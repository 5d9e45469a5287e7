"""The ISMCTS agents: :class:`IsmctsAgent`, single-observer information set
MCTS with playouts and no network (the reference player, ``Agent.ismcts``,
spec ``ismcts:N``), and :class:`GuidedIsmctsAgent`, the same search with a
network's policy as its root prior and, with ``rollout="network"``, the
network's values at its leaves (spec ``MODEL:ismcts:N``). Both are importable
from :mod:`blobmaster.agents` too."""

from __future__ import annotations

import math
import os
from typing import Any, Literal, cast

import numpy as np

from blobmaster._core import Round
from blobmaster._core import ismcts as _ismcts
from blobmaster.agents import (
    Agent,
    AgentError,
    NetworkUser,
    _check_seed,
    _legal,
    _most_visited,
    decision_seed,
)

__all__ = [
    "ISMCTS_EXPLORATION",
    "ISMCTS_ITERATIONS",
    "ISMCTS_PRIOR_WEIGHT",
    "ISMCTS_ROLLOUTS",
    "PLAYOUT_POLICIES",
    "GuidedIsmctsAgent",
    "IsmctsAgent",
]

ISMCTS_ITERATIONS = 1000
"""Iterations of ``Agent.ismcts()`` and of the spec ``ismcts``."""
ISMCTS_EXPLORATION = 0.7
"""The default UCT constant of ISMCTS (values are scores scaled to [0, 1])."""
ISMCTS_PRIOR_WEIGHT = 1.0
"""Weight of the network prior's root bonus in a guided ISMCTS agent."""
ISMCTS_MAX_ITERATIONS = 10_000_000
ISMCTS_BIDS_TEMPERATURE = 0.5
"""Softness of the bid model of ISMCTS bid inference (the best of 0.1-2 in
benchmarks/RESULTS.md, "Bid inference in ISMCTS")."""
ISMCTS_INFERENCE_CANDIDATES = 1024
"""Uniform worlds weighed per block of ISMCTS iterations with bid inference."""
ISMCTS_POLICY_CANDIDATES = 64
"""Worlds weighed per decision with policy inference (a network evaluation
per opponent action in each)."""
ISMCTS_ROLLOUTS = ("random", "heuristic", "network")
"""How an ISMCTS iteration is valued: a playout of random or rule-based
moves, or (network agents only) the network's value of the new node."""
PLAYOUT_POLICIES = ("heuristic", "network")
"""Who plays the playouts a guided search blends into its network leaf
values: the rule-based player, or the network's most likely move."""


class IsmctsAgent(Agent):
    """Single-observer information set MCTS (Cowling, Powley and Whitehouse
    2012) through ``blobmaster._core.ismcts``: one tree over the mover's
    information sets, a fresh deal of the hidden cards (consistent with what
    the mover knows) every iteration, UCB1 with availability counts, random
    or heuristic playouts to the end of the round. Plays the most visited
    root action (ties to the higher root prior when a subclass gives one,
    then the lowest action id). No network: a reference
    opponent whose strength is set by ``iterations``."""

    seed: int  # always set: drawn once when None is given
    _rollouts: tuple[str, ...] = ("random", "heuristic")

    def __init__(
        self,
        iterations: int = ISMCTS_ITERATIONS,
        *,
        exploration: float = ISMCTS_EXPLORATION,
        rollout: str = "random",
        inference: str = "uniform",
        inference_temperature: float | None = None,
        inference_candidates: int | None = None,
        margin: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """``margin`` m in 0..1: every seat of the tree maximizes ``(1 - m) *
        own + m * (1 + own - mean of the others) / 2`` of a playout's score
        shares (``_core.ismcts``), valuing its opponents' losses too; 0 is its
        own score alone. ``inference="bids"`` weighs the sampled worlds by how likely each
        opponent's bid is under the soft rule-based bidder at
        ``inference_temperature`` (default 0.5), ``inference_candidates``
        (default 1024) uniform worlds per block of iterations
        (``_core.ismcts``). ``inference="policy"`` (network leaves only)
        weighs ``inference_candidates`` (default 64) worlds by the network's
        probability of every opponent's bid and card played from that
        opponent's view, to the power ``1 / inference_temperature`` (default
        1)."""
        if inference_temperature is None:
            inference_temperature = 1.0 if inference == "policy" else ISMCTS_BIDS_TEMPERATURE
        if inference_candidates is None:
            inference_candidates = (
                ISMCTS_POLICY_CANDIDATES if inference == "policy" else ISMCTS_INFERENCE_CANDIDATES
            )
        if isinstance(iterations, bool) or not isinstance(iterations, int):
            raise AgentError(
                f"iterations must be an integer, got {type(iterations).__name__} {iterations!r}"
            )
        if not 1 <= iterations <= ISMCTS_MAX_ITERATIONS:
            raise AgentError(f"iterations must be in 1..{ISMCTS_MAX_ITERATIONS}, got {iterations}")
        if isinstance(exploration, bool) or not isinstance(exploration, (int, float)):
            raise AgentError(
                f"exploration must be a number, got {type(exploration).__name__} {exploration!r}"
            )
        try:
            exploration = float(exploration)
        except OverflowError:
            exploration = math.inf
        if not (math.isfinite(exploration) and exploration >= 0):
            raise AgentError(f"exploration must be a finite number >= 0, got {exploration}")
        if rollout == "network" and rollout not in self._rollouts:
            raise AgentError(
                "rollout 'network' needs a network: use a guided ISMCTS agent "
                "(spec MODEL:ismcts:N[:C[:W]]:network)"
            )
        if rollout not in self._rollouts:
            allowed = ", ".join(repr(r) for r in self._rollouts)
            raise AgentError(f"rollout must be one of {allowed}, got {rollout!r}")
        if inference not in ("uniform", "bids", "policy"):
            raise AgentError(f"inference must be 'uniform', 'bids' or 'policy', got {inference!r}")
        if inference == "policy" and rollout != "network":
            raise AgentError(
                "inference 'policy' asks the network about the opponents' bids: it needs "
                "network leaves (spec MODEL:ismcts:N[:C[:W]]:network:policy)"
            )
        if isinstance(inference_temperature, bool) or not (
            isinstance(inference_temperature, (int, float))
            and math.isfinite(inference_temperature)
            and inference_temperature > 0
        ):
            raise AgentError(
                f"inference_temperature must be a positive number, got {inference_temperature!r}"
            )
        if isinstance(inference_candidates, bool) or not (
            isinstance(inference_candidates, int) and 1 <= inference_candidates <= 4096
        ):
            raise AgentError(
                f"inference_candidates must be an integer in 1..4096, got {inference_candidates!r}"
            )
        if isinstance(margin, bool) or not (isinstance(margin, (int, float)) and 0 <= margin <= 1):
            raise AgentError(f"margin must be a number in 0..1, got {margin!r}")
        if margin > 0 and rollout == "network":
            raise AgentError("margin weighs playout scores: network leaves take none")
        self.margin = float(margin)
        self.iterations = iterations
        self.exploration = exploration
        self.rollout = cast(Literal["random", "heuristic", "network"], rollout)  # checked above
        self.inference = inference
        self.inference_temperature = float(inference_temperature)
        self.inference_candidates = inference_candidates
        self.seed = _check_seed(seed)
        name = f"ismcts:{iterations}"
        if self.exploration != ISMCTS_EXPLORATION:
            name += f":{self.exploration:g}"
        self.name = name + self._search_suffix()

    def _search_suffix(self) -> str:
        """The spec's trailing fields: ``:ROLLOUT`` (unless random), then
        ``:bids`` or ``:bids=T`` with bid inference."""
        out = f":{self.rollout}" if self.rollout != "random" else ""
        if self.margin > 0:
            out += f":margin={self.margin:g}"
        if self.inference != "uniform":
            out += f":{self.inference}"
            default = 1.0 if self.inference == "policy" else ISMCTS_BIDS_TEMPERATURE
            if self.inference_temperature != default:
                out += f"={self.inference_temperature:g}"
        return out

    def search_kwargs(self) -> dict[str, Any]:
        """The ``_core.ismcts`` (and engine arena) keys of the seats' utility
        (``margin``) and of the world sampler."""
        return {"margin": self.margin} | self.inference_kwargs()

    def inference_kwargs(self) -> dict[str, Any]:
        """The ``_core.ismcts`` (and engine arena) keys of the world sampler."""
        return {
            "inference": self.inference,
            "inference_candidates": self.inference_candidates,
            "inference_temperature": self.inference_temperature,
        }

    def visits(self, round: Round) -> np.ndarray:
        """The root visit counts (66 floats) of this agent's search of the
        position (one visit on the only action of a forced move)."""
        return self._root(round)[0]

    def _root(self, round: Round) -> tuple[np.ndarray, np.ndarray | None]:
        """(root visit counts, the root prior or None without one)."""
        _legal(round)
        extra = self._prior(round)
        visits, _ = _ismcts(
            round,
            iterations=self.iterations,
            exploration=self.exploration,
            rollout=self.rollout,
            seed=decision_seed(self.seed, round),
            **self.search_kwargs(),
            **extra,
        )
        return visits, extra.get("prior")

    def _prior(self, round: Round) -> dict[str, Any]:
        """Extra ``_core.ismcts`` arguments for a root prior (none here)."""
        return {}

    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]:
        visits = self.visits(round)
        total = sum(float(visits[a]) for a in legal)
        return {a: float(visits[a]) / total for a in legal}

    def _act(self, round: Round, legal: list[int]) -> int:
        return _most_visited(legal, *self._root(round))

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(iterations=self.iterations, exploration=self.exploration, rollout=self.rollout)
        out.update(self.search_kwargs())
        return out


class GuidedIsmctsAgent(NetworkUser, IsmctsAgent):
    """ISMCTS with a network's policy as the root prior: the network reads
    the mover's own view once per decision, and its policy adds the bonus
    ``prior_weight * P(a) * sqrt(available) / (1 + visits)`` to each root
    child's UCB1 score (``blobmaster._core.ismcts(prior=...)``). The rest of
    the tree and the playouts are plain ISMCTS, so the cost is one network
    evaluation plus ``iterations`` iterations per decision.

    With ``rollout="network"`` there are no playouts: every iteration's new
    node is valued by the network from the mover's own view (the search's
    observer), one network evaluation per iteration. Here they go one at a
    time; ``blobmaster eval`` runs the same search in the engine arena with
    the leaves of many rounds batched. ``playout_weight`` λ > 0 blends a
    heuristic playout in the iteration's world into each such value:
    ``λ * playout + (1 - λ) * network`` (the network is blind to the sampled
    hands, the playout reads them); ``playout_policy="network"`` plays that
    playout with the network's most likely move on every seat instead, each
    asked from the mover's own view in the world (one evaluation per move
    with a choice)."""

    _rollouts = ISMCTS_ROLLOUTS

    def __init__(
        self,
        model: str | os.PathLike[str] | Any | None = None,
        iterations: int = ISMCTS_ITERATIONS,
        *,
        exploration: float = ISMCTS_EXPLORATION,
        prior_weight: float = ISMCTS_PRIOR_WEIGHT,
        rollout: str = "random",
        inference: str = "uniform",
        inference_temperature: float | None = None,
        inference_candidates: int | None = None,
        playout_weight: float = 0.0,
        playout_policy: str = "heuristic",
        margin: float = 0.0,
        device: Any = "auto",
        seed: int | None = None,
        label: str | None = None,
    ) -> None:
        """``model`` as for :class:`ModelAgent`; ``label``: the name's model
        part instead of the one derived from ``model``; the rest as for
        :class:`IsmctsAgent`."""
        if isinstance(playout_weight, bool) or not (
            isinstance(playout_weight, (int, float)) and 0 <= playout_weight <= 1
        ):
            raise AgentError(f"playout_weight must be a number in 0..1, got {playout_weight!r}")
        if playout_weight > 0 and rollout != "network":
            raise AgentError(
                "playout_weight blends playouts into the network's leaf values: it needs "
                "network leaves (spec MODEL:ismcts:N[:C[:W]]:network:blend=L)"
            )
        if playout_policy not in PLAYOUT_POLICIES:
            raise AgentError(
                f"playout_policy must be one of {', '.join(PLAYOUT_POLICIES)}, "
                f"got {playout_policy!r}"
            )
        if playout_policy == "network" and playout_weight == 0:
            raise AgentError(
                "a network playout policy plays the playouts blended into leaf values: it needs "
                "playout_weight > 0 (spec MODEL:ismcts:N[:C[:W]]:network:netblend=L)"
            )
        self.playout_weight = float(playout_weight)
        self.playout_policy = cast(Literal["heuristic", "network"], playout_policy)  # checked above
        super().__init__(
            iterations, exploration=exploration, rollout=rollout, inference=inference,
            inference_temperature=inference_temperature,
            inference_candidates=inference_candidates, margin=margin, seed=seed,
        )  # fmt: skip
        if isinstance(prior_weight, bool) or not isinstance(prior_weight, (int, float)):
            raise AgentError(
                f"prior_weight must be a number, got {type(prior_weight).__name__} {prior_weight!r}"
            )
        if not (math.isfinite(prior_weight) and prior_weight >= 0):
            raise AgentError(f"prior_weight must be a finite number >= 0, got {prior_weight}")
        self.prior_weight = float(prior_weight)
        self._load_network(model, device, label)
        # The spec that builds this agent again:
        # MODEL:ismcts:N[:C[:W]][:ROLLOUT][:blend=L][:bids|policy[=T]].
        search = f"ismcts:{self.iterations}"
        if self.prior_weight != ISMCTS_PRIOR_WEIGHT:
            search += f":{self.exploration:g}:{self.prior_weight:g}"
        elif self.exploration != ISMCTS_EXPLORATION:
            search += f":{self.exploration:g}"
        self.name = f"{self.model_label}:{search}{self._search_suffix()}"

    def _search_suffix(self) -> str:
        out = super()._search_suffix()
        if self.playout_weight > 0:
            rollout = f":{self.rollout}"
            head, _, tail = out.partition(rollout)
            blend = "netblend" if self.playout_policy == "network" else "blend"
            out = f"{head}{rollout}:{blend}={self.playout_weight:g}{tail}"
        return out

    def prior(self, round: Round) -> np.ndarray:
        """The network's policy (66 float32, zero off the legal actions) for
        the mover's own view of ``round``."""
        legal = _legal(round)
        logits, _ = self._evaluate(np.asarray(round.observation())[None, :], np.ones((1, 66), bool))
        row = logits[0]
        chosen = row[legal]
        weights = (
            np.exp(chosen - chosen.max()) if np.isfinite(chosen.max()) else np.ones(len(legal))
        )
        prior = np.zeros(row.shape[0], dtype=np.float32)
        prior[legal] = weights / weights.sum()
        return prior

    def _prior(self, round: Round) -> dict[str, Any]:
        if len(round.legal_actions()) == 1:  # forced: no search, no network call
            return {}
        return {"prior": self.prior(round), "prior_weight": self.prior_weight}

    def _root(self, round: Round) -> tuple[np.ndarray, np.ndarray | None]:
        if self.rollout != "network":
            return super()._root(round)
        legal = _legal(round)
        visits, _ = _ismcts(
            round,
            iterations=self.iterations,
            exploration=self.exploration,
            rollout="network",
            prior_weight=self.prior_weight,
            playout_weight=self.playout_weight,
            playout_policy=self.playout_policy,
            evaluator=self._evaluate,
            seed=decision_seed(self.seed, round),
            **self.search_kwargs(),
        )
        # Visit ties go to the root prior the search used: the network's
        # policy, or none when its weight is 0 (as in the engine arena).
        guided = self.prior_weight > 0 and len(legal) > 1
        return visits, (self.prior(round) if guided else None)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            prior_weight=self.prior_weight, playout_weight=self.playout_weight,
            playout_policy=self.playout_policy, model=self.model_source, device=str(self.device),
        )  # fmt: skip
        return out
