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
import os
import random
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from blobmaster._core import IllegalActionError, Round, heuristic_action
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


class NetworkUser:
    """What every agent that asks a BlobNet holds: the module, its device,
    the model's label and source, and counters of what it was asked (for
    throughput reports)."""

    net: Any
    device: Any
    model_label: str
    model_source: str | None
    """The model file, None for a module or the untrained network."""
    evaluations: int
    """Positions sent to the network so far."""
    batches: int
    """Network calls so far."""

    def _load_network(self, model: Any, device: Any, label: str | None) -> None:
        """Loads ``model`` (see :func:`load_network`) on ``device``; ``label``:
        the name's model part instead of the one derived from ``model``."""
        self.net, self.device, self.model_label, self.model_source = load_network(model, device)
        if label is not None:
            self.model_label = label
        self.evaluations = 0
        self.batches = 0

    def _evaluate(self, states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.batches += 1
        self.evaluations += len(states)
        return _forward(self.net, self.device, states)


class ModelAgent(NetworkUser, SearchAgent):
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
        self._load_network(model, device, label)
        self.name = f"{self.model_label}:{self.search_label}"

    @property
    def evaluator(self) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return self._evaluate

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


# The ISMCTS agents live in their own module; they stay importable from here,
# where every other agent is. Imported last: that module builds on the above.
from blobmaster.ismcts_agents import GuidedIsmctsAgent, IsmctsAgent  # noqa: E402
