"""Agents: players that choose an action for the seat to move in a Round.

Five kinds, all built through :class:`Agent`:

* ``Agent.heuristic()``: the rule-based player of the Rust crate.
* ``Agent.random(seed)``: a uniformly random legal action.
* ``Agent.rollout_mcts(search, seed)``: determinized MCTS whose leaves are
  valued by random playouts (no network).
* ``Agent.load(model, search=..., device=..., seed=...)``: determinized MCTS
  guided by a BlobNet: with ``model`` None the built-in default network (the
  trained one shipped in ``blobmaster/models/``, or the untrained seed-0
  network with a warning when none is shipped), ``"random"`` for the
  untrained seed-0 network, else a TorchScript file written by
  :func:`blobmaster.model.save_model`.
* ``Agent.ismcts(iterations, seed)``: single-observer information set MCTS
  with random playouts (no network), the reference player.

``agent.act(round)`` returns a legal action for ``round.current_player``;
``agent.policy(round)`` the distribution behind it (normalized root visit
counts for the search agents, one-hot for the heuristic, uniform for random).

**Only what the seat may know.** The search agents search determinizations
(the other hands resampled from what the player to move knows), and every
random choice of a decision is seeded from the agent's seed and a hash of
the acting seat's observation (``round.observation()``), which holds only
public information and that seat's own hand. Two rounds that differ only in
cards the player to move cannot see therefore get the same action, and the
same position always gets the same answer from the same agent (no hidden
call counter). A move with one legal action is answered without search.

Every bad input raises :class:`AgentError` (a ``ValueError``): an unknown
preset or search setting, a missing or broken model file, an unknown device,
a round that is already over. ``docs/evaluation.md`` has the details.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import math
import os
import random
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from blobmaster._core import IllegalActionError, Round, heuristic_action
from blobmaster._core import ismcts as _ismcts
from blobmaster._core import search as _search
from blobmaster.packaged import RANDOM_MODEL

if TYPE_CHECKING:  # torch is imported only by model agents
    pass

__all__ = [
    "SEARCH_KEYS",
    "Agent",
    "AgentError",
    "GuidedIsmctsAgent",
    "HeuristicAgent",
    "IsmctsAgent",
    "ModelAgent",
    "RandomAgent",
    "RolloutAgent",
    "SearchAgent",
    "decision_seed",
    "resolve_search",
]

_SEED_MASK = (1 << 64) - 1

SEARCH_KEYS = (
    "determinizations",
    "simulations",
    "c_puct",
    "fpu_reduction",
    "virtual_loss",
    "max_pending_per_tree",
    "normalize_q",
    "inference",
    "inference_candidates",
    "inference_temperature",
)
"""The SearchConfig fields an agent's search uses. The self-play-only fields
(Dirichlet noise, temperature, the playout cap) are accepted and ignored:
agents search every decision in full and play the most visited action,
with no root noise. So are the Gumbel ones for now: agents
search with PUCT even for a network trained by Gumbel self-play."""


def load_network(
    model: str | os.PathLike[str] | Any | None, device: Any
) -> tuple[Any, Any, str, str | None]:
    """(scripted network on its device in inference mode, that device, a
    label for names, the model file or None) for ``model``: None or
    ``"random"`` for the untrained seed-0 network, a TorchScript file, or a
    torch module (used as a copy when it must move or change mode). Raises
    AgentError for a bad model or device."""
    import torch

    from blobmaster.model import (
        DeviceError,
        ModelError,
        default_model,
        load_model,
        resolve_device,
        script_model,
    )

    try:
        resolved = resolve_device(device)
    except DeviceError as e:
        raise AgentError(f"device: {e}") from None
    except (TypeError, RuntimeError) as e:
        raise AgentError(f"bad device {device!r}: {e}") from None
    try:
        if model is None or (isinstance(model, str) and model == RANDOM_MODEL):
            net: torch.nn.Module = script_model(default_model(seed=0)).to(resolved)
            label = "default" if model is None else "random-net"
        elif isinstance(model, (str, os.PathLike)):
            path = Path(model)
            net = load_model(path, resolved)
            label = f"model:{path.name}"
        elif isinstance(model, torch.nn.Module):
            from blobmaster.model import check_model, for_inference

            # A copy when needed: the caller's module keeps its device and mode.
            net = for_inference(model, resolved)
            check_model(net, resolved, name=type(model).__name__)
            label = f"module:{type(model).__name__}"
        else:
            raise AgentError(
                f"model must be None, a model file path or a torch module, got {type(model).__name__}"
            )
    except ModelError as e:
        raise AgentError(str(e)) from None
    source = (
        None
        if model is None or model == RANDOM_MODEL or not isinstance(model, (str, os.PathLike))
        else str(model)
    )
    return net, resolved, label, source


class AgentError(ValueError):
    """An agent that cannot be built or asked: the message says why."""


# --------------------------------------------------------------------- seeds


def _check_seed(seed: int | None, what: str = "seed") -> int:
    """``seed`` as a 64-bit integer; None draws one from the OS (once)."""
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AgentError(f"{what} must be an integer or None, got {type(seed).__name__} {seed!r}")
    if not 0 <= seed <= _SEED_MASK:
        raise AgentError(f"{what} must be in 0..2**64-1, got {seed}")
    return seed


def decision_seed(seed: int, round: Round) -> int:
    """The seed of one decision: a 64-bit hash of the agent's ``seed`` and the
    observation of the player to move (public information and that seat's
    own hand only), so hidden cards never change it."""
    obs = np.ascontiguousarray(round.observation(), dtype=np.float32)
    digest = hashlib.blake2b(obs.tobytes(), digest_size=8, key=seed.to_bytes(8, "little")).digest()
    return int.from_bytes(digest, "little")


# -------------------------------------------------------------- search config


def resolve_search(search: Any) -> tuple[Any, str]:
    """A :class:`blobmaster.config.SearchConfig` and a short label from a
    preset name (light, medium, heavy), a preset TOML file, a dict of
    ``[search]`` keys, a SearchConfig or a Preset. Raises AgentError."""
    from blobmaster.config import ConfigError, Preset, SearchConfig, load_config

    if isinstance(search, Preset):
        return search.search, search.name
    if isinstance(search, SearchConfig):
        return search, search.label()
    if isinstance(search, (str, os.PathLike)):
        try:
            preset = load_config(search)
        except ConfigError as e:
            raise AgentError(f"search: {e}") from None
        return preset.search, preset.name
    if isinstance(search, Mapping):
        from blobmaster import config as _config

        for key in search:
            if not isinstance(key, str):
                raise AgentError(f"search: keys must be strings, got {key!r}")
        try:
            # The preset files' own checker: unknown keys, types and ranges.
            cfg = _config.parse_search(search, source="search dict: [search]")
        except ConfigError as e:
            raise AgentError(str(e)) from None
        return cfg, cfg.label()
    raise AgentError(
        "search must be a preset name (light, medium, heavy), a TOML file, a dict of [search] keys "
        f"or a SearchConfig, got {type(search).__name__} {search!r}"
    )


# -------------------------------------------------------------------- agents


def _legal(round: Round) -> list[int]:
    if not isinstance(round, Round):
        raise AgentError(f"expected a blobmaster.Round, got {type(round).__name__}")
    if round.is_over:
        raise AgentError("the round is over: there is no player to move")
    return round.legal_actions()


def _most_visited(legal: list[int], visits: np.ndarray, prior: np.ndarray | None) -> int:
    """The most visited of ``legal``; ties go to the higher root prior (when
    there is one), then the lowest id, as in the engine (``search::most_visited``):
    a small budget can leave several children with one visit each, and the
    lowest id (bid 0, the lowest card) is no choice at all."""
    return max(
        legal,
        key=lambda a: (float(visits[a]), 0.0 if prior is None else float(prior[a]), -a),
    )


class Agent(abc.ABC):
    """A player for whichever seat is to move. Build one with
    :meth:`load`, :meth:`heuristic`, :meth:`random` or :meth:`rollout_mcts`.

    Subclasses implement :meth:`_policy` (and may override :meth:`_act`);
    :meth:`act` and :meth:`policy` check the round and answer forced moves.
    """

    name: str
    """A short name for reports, e.g. ``heuristic`` or ``default:light``."""
    seed: int | None
    """The seed behind every random choice (None for the deterministic heuristic)."""

    # ---- constructors

    @staticmethod
    def load(
        model: str | os.PathLike[str] | Any | None = None,
        *,
        search: Any = "medium",
        device: Any = "auto",
        seed: int | None = None,
    ) -> ModelAgent:
        """A network-guided MCTS agent. ``model``: None for the built-in
        default network: the trained network shipped in the package
        (``blobmaster/models/blobnet.pt``), or, when the package has none,
        the untrained seed-0 network with a one-line warning on stderr;
        ``"random"`` for the untrained seed-0 network
        (``blobmaster.model.default_model(seed=0)``, the benchmarks'
        network); a path to a TorchScript model file; or a torch module.
        ``search``: a preset name, a TOML file, a dict of ``[search]`` keys
        or a SearchConfig. ``device``: auto, cpu, cuda or cuda:N."""
        if model is None:
            from blobmaster.packaged import default_model_path, warn_no_packaged_model

            shipped = default_model_path()
            agent = ModelAgent(
                RANDOM_MODEL if shipped is None else shipped, search=search, device=device,
                seed=seed, label="default",
            )  # fmt: skip
            if shipped is None:  # only once the agent exists: bad input stays one error line
                warn_no_packaged_model()
            return agent
        return ModelAgent(model, search=search, device=device, seed=seed)

    @staticmethod
    def heuristic() -> HeuristicAgent:
        """The rule-based player (deterministic)."""
        return HeuristicAgent()

    @staticmethod
    def random(seed: int | None = None) -> RandomAgent:
        """Uniformly random legal actions."""
        return RandomAgent(seed)

    @staticmethod
    def rollout_mcts(search: Any = "medium", seed: int | None = None) -> RolloutAgent:
        """Determinized MCTS with random-playout leaf values (no network)."""
        return RolloutAgent(search=search, seed=seed)

    @staticmethod
    def ismcts(
        iterations: int = 1000,
        seed: int | None = None,
        *,
        exploration: float = 0.7,
        rollout: str = "random",
        inference: str = "uniform",
    ) -> IsmctsAgent:
        """Single-observer ISMCTS with ``iterations`` iterations (UCT constant
        ``exploration``, ``random`` or ``heuristic`` playouts, ``uniform``
        worlds or ``bids`` inference; no network)."""
        return IsmctsAgent(
            iterations, exploration=exploration, rollout=rollout, inference=inference, seed=seed
        )

    @staticmethod
    def from_spec(spec: str, *, device: Any = "auto", seed: int | None = None) -> Agent:
        """An agent from a command-line spec (see :func:`blobmaster.agent_specs.parse_agent_spec`)."""
        from blobmaster.agent_specs import parse_agent_spec

        return parse_agent_spec(spec, device=device, seed=seed)

    # ---- the interface

    def act(self, round: Round) -> int:
        """A legal action for ``round.current_player`` (AgentError if the
        round is over). The round is not modified."""
        legal = _legal(round)
        if len(legal) == 1:
            return legal[0]
        action = self._act(round, legal)
        if action not in legal:  # a bug in a subclass, never bad user input
            raise RuntimeError(f"agent {self.name} chose illegal action {action} (legal: {legal})")
        return action

    def policy(self, round: Round) -> dict[int, float]:
        """The distribution behind :meth:`act`: legal action -> probability,
        summing to 1 (a forced move gets probability 1 without search)."""
        legal = _legal(round)
        if len(legal) == 1:
            return {legal[0]: 1.0}
        return self._policy(round, legal)

    def _act(self, round: Round, legal: list[int]) -> int:
        pol = self._policy(round, legal)
        best = max(pol.values())
        return min(a for a, p in pol.items() if p == best)

    @abc.abstractmethod
    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]: ...

    def describe(self) -> dict[str, Any]:
        """Name, kind and settings, for reports."""
        return {"name": self.name, "kind": type(self).__name__, "seed": self.seed}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class HeuristicAgent(Agent):
    """The rule-based player of ``blob_search::heuristic`` (deterministic)."""

    def __init__(self) -> None:
        self.name = "heuristic"
        self.seed = None

    def _act(self, round: Round, legal: list[int]) -> int:
        try:
            return heuristic_action(round)
        except IllegalActionError as e:  # the round is checked first; kept for safety
            raise AgentError(str(e)) from None

    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]:
        chosen = self._act(round, legal)
        return {a: 1.0 if a == chosen else 0.0 for a in legal}


class RandomAgent(Agent):
    """Picks uniformly among the legal actions, with a generator seeded by
    :func:`decision_seed` (so it is a fixed function of the information set)."""

    seed: int  # always set: drawn once when None is given

    def __init__(self, seed: int | None = None) -> None:
        self.seed = _check_seed(seed)
        self.name = "random"

    def _act(self, round: Round, legal: list[int]) -> int:
        return random.Random(decision_seed(self.seed, round)).choice(legal)

    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]:
        p = 1.0 / len(legal)
        return dict.fromkeys(legal, p)


class SearchAgent(Agent):
    """Determinized MCTS through ``blobmaster._core.search``: plays the most
    visited root action (ties to the higher root prior, then the lowest
    action id), no root noise, no temperature. Subclasses supply the
    evaluator."""

    seed: int  # always set: drawn once when None is given

    def __init__(self, search: Any, seed: int | None) -> None:
        self.search_config, self.search_label = resolve_search(search)
        self.seed = _check_seed(seed)
        cfg = self.search_config
        self._kwargs = {key: getattr(cfg, key) for key in SEARCH_KEYS}

    @property
    def evaluator(self) -> str | Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def visits(self, round: Round) -> np.ndarray:
        """The summed root visit counts (66 floats) of this agent's search of
        the position (searched even for a forced move)."""
        return self._root(round)[0]

    def _root(self, round: Round) -> tuple[np.ndarray, np.ndarray]:
        """(summed root visit counts, summed root priors), 66 floats each."""
        _legal(round)
        visits, _, prior = _search(
            round,
            evaluator=self.evaluator,
            seed=decision_seed(self.seed, round),
            with_prior=True,
            **self._kwargs,
        )
        return visits, prior

    def _policy(self, round: Round, legal: list[int]) -> dict[int, float]:
        visits = self.visits(round)
        counts = np.array([float(visits[a]) for a in legal])
        total = counts.sum()
        if total <= 0:  # cannot happen with >= 2 simulations; keep a valid answer
            return self._heuristic_policy(round, legal)
        return {a: float(c / total) for a, c in zip(legal, counts)}

    def _act(self, round: Round, legal: list[int]) -> int:
        visits, prior = self._root(round)
        best = _most_visited(legal, visits, prior)
        if float(visits[best]) <= 0:
            return heuristic_action(round)
        return best

    @staticmethod
    def _heuristic_policy(round: Round, legal: list[int]) -> dict[int, float]:
        chosen = heuristic_action(round)
        return {a: 1.0 if a == chosen else 0.0 for a in legal}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["search"] = dataclasses.asdict(self.search_config)
        return out


class RolloutAgent(SearchAgent):
    """Determinized MCTS whose leaves are valued by one random playout each."""

    def __init__(self, search: Any = "medium", seed: int | None = None) -> None:
        super().__init__(search, seed)
        self.name = f"rollout:{self.search_label}"

    @property
    def evaluator(self) -> str:
        return "rollout"


class ModelAgent(SearchAgent):
    """Determinized MCTS guided by a BlobNet run under ``torch.inference_mode``.

    The search sends the network small batches (its pending leaves, at most
    ``determinizations x max_pending_per_tree`` positions at a time).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Any | None = None,
        *,
        search: Any = "medium",
        device: Any = "auto",
        seed: int | None = None,
        label: str | None = None,
    ) -> None:
        """``model``: None or ``"random"`` for the untrained seed-0 network,
        a TorchScript file or a torch module (:meth:`Agent.load` resolves
        its own None to the shipped network first). ``label``: the name's
        model part instead of the one derived from ``model``."""
        super().__init__(search, seed)
        self.net, self.device, self.model_label, self.model_source = load_network(model, device)
        if label is not None:
            self.model_label = label
        self.name = f"{self.model_label}:{self.search_label}"
        self.evaluations = 0
        """Positions sent to the network so far (for throughput reports)."""
        self.batches = 0
        """Network calls so far."""

    @property
    def evaluator(self) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return self._evaluate

    def _evaluate(self, states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.batches += 1
        self.evaluations += len(states)
        return _forward(self.net, self.device, states)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(model=self.model_source, device=str(self.device))
        return out


def _forward(net: Any, device: Any, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's (policy logits [B, 66], values [B, 8]) for a batch of
    observations, as float32 numpy arrays."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(states, dtype=np.float32))
        if device.type != "cpu":
            x = x.to(device, non_blocking=True)
        logits, values = net(x)
        return logits.float().cpu().numpy(), values.float().cpu().numpy()


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
        seed: int | None = None,
    ) -> None:
        """``inference="bids"`` weighs the sampled worlds by how likely each
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
        if self.inference != "uniform":
            out += f":{self.inference}"
            default = 1.0 if self.inference == "policy" else ISMCTS_BIDS_TEMPERATURE
            if self.inference_temperature != default:
                out += f"={self.inference_temperature:g}"
        return out

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
            **self.inference_kwargs(),
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
        out.update(self.inference_kwargs())
        return out


class GuidedIsmctsAgent(IsmctsAgent):
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
            inference_candidates=inference_candidates, seed=seed,
        )  # fmt: skip
        if isinstance(prior_weight, bool) or not isinstance(prior_weight, (int, float)):
            raise AgentError(
                f"prior_weight must be a number, got {type(prior_weight).__name__} {prior_weight!r}"
            )
        if not (math.isfinite(prior_weight) and prior_weight >= 0):
            raise AgentError(f"prior_weight must be a finite number >= 0, got {prior_weight}")
        self.prior_weight = float(prior_weight)
        self.net, self.device, self.model_label, self.model_source = load_network(model, device)
        if label is not None:
            self.model_label = label
        # The spec that builds this agent again:
        # MODEL:ismcts:N[:C[:W]][:ROLLOUT][:blend=L][:bids|policy[=T]].
        search = f"ismcts:{self.iterations}"
        if self.prior_weight != ISMCTS_PRIOR_WEIGHT:
            search += f":{self.exploration:g}:{self.prior_weight:g}"
        elif self.exploration != ISMCTS_EXPLORATION:
            search += f":{self.exploration:g}"
        self.name = f"{self.model_label}:{search}{self._search_suffix()}"
        self.evaluations = 0
        """Positions sent to the network so far."""
        self.batches = 0
        """Network calls so far."""

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
        self.batches += 1
        self.evaluations += 1
        logits, _ = _forward(self.net, self.device, np.asarray(round.observation())[None, :])
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
            **self.inference_kwargs(),
        )
        # Visit ties go to the root prior the search used: the network's
        # policy, or none when its weight is 0 (as in the engine arena).
        guided = self.prior_weight > 0 and len(legal) > 1
        return visits, (self.prior(round) if guided else None)

    def _evaluate(self, states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.batches += 1
        self.evaluations += len(states)
        return _forward(self.net, self.device, states)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            prior_weight=self.prior_weight, playout_weight=self.playout_weight,
            playout_policy=self.playout_policy, model=self.model_source, device=str(self.device),
        )  # fmt: skip
        return out
