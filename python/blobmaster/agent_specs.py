"""Agent specs: the strings that name an agent on the command line, in the
loop's ``[gate] references`` and in ``blobmaster eval`` (``heuristic``,
``model:PATH:light``, ``ismcts:1000``...), parsed into :mod:`blobmaster.agents`."""

from __future__ import annotations

from typing import Any

from blobmaster.agents import (
    Agent,
    AgentError,
    HeuristicAgent,
    ModelAgent,
    RandomAgent,
    RolloutAgent,
)
from blobmaster.ismcts_agents import (
    ISMCTS_EXPLORATION,
    ISMCTS_ITERATIONS,
    ISMCTS_PRIOR_WEIGHT,
    ISMCTS_ROLLOUTS,
    GuidedIsmctsAgent,
    IsmctsAgent,
)
from blobmaster.packaged import RANDOM_MODEL

__all__ = ["SPEC_HELP", "parse_agent_spec"]


def _ismcts_fields(rest: str, numbers: int) -> tuple[list[float], str, dict[str, Any]]:
    """``[N[:C...]][:ROLLOUT][:margin=M][:blend=L|netblend=L][:bids|policy[=T]]``
    (after ``ismcts:``) -> (at most ``numbers`` numbers, the rollout policy,
    the inference keywords, ``margin`` when given, and ``playout_weight``
    (and ``playout_policy``) when a blend is given)."""
    fields = [f.strip() for f in rest.split(":")] if rest else []
    inference: dict[str, Any] = {}
    if fields and fields[-1].lower().partition("=")[0] in ("bids", "policy"):
        name, _, temperature = fields.pop().lower().partition("=")
        inference["inference"] = name
        if temperature:
            try:
                inference["inference_temperature"] = float(temperature)
            except ValueError:
                raise AgentError(
                    f"{name}=T: T must be a positive number, got {temperature!r}"
                ) from None
    if fields and fields[-1].lower().partition("=")[0] in ("blend", "netblend"):
        key, _, weight = fields.pop().lower().partition("=")
        try:
            inference["playout_weight"] = float(weight)
        except ValueError:
            raise AgentError(f"{key}=L: L must be a number in 0..1, got {weight!r}") from None
        if key == "netblend":
            inference["playout_policy"] = "network"
    if fields and fields[-1].lower().partition("=")[0] == "margin":
        _, _, weight = fields.pop().lower().partition("=")
        try:
            inference["margin"] = float(weight)
        except ValueError:
            raise AgentError(f"margin=M: M must be a number in 0..1, got {weight!r}") from None
    rollout = "random"
    if fields and fields[-1].lower() in ISMCTS_ROLLOUTS:
        rollout = fields.pop().lower()
    if len(fields) > numbers:
        expected = "ismcts:N[:C]" if numbers == 2 else "ismcts:N[:C[:W]]"
        raise AgentError(
            f"expected {expected}[:random|heuristic|network][:margin=M][:blend=L|netblend=L]"
            "[:bids|policy[=T]] (N iterations, C the UCT exploration constant, W the weight of the "
            "network prior, M the weight of the score margin in the seats' utility, L the weight "
            "of heuristic (blend) or network-policy (netblend) playouts in network leaf values, T "
            "the bid model's softness)"
        )
    values: list[float] = []
    names = ("iterations must be a positive integer", "exploration must be a number >= 0",
             "the prior weight must be a number >= 0")  # fmt: skip
    for k, text in enumerate(fields):
        try:
            values.append(int(text) if k == 0 else float(text))
        except ValueError:
            raise AgentError(f"{names[k]}, got {text!r}") from None
    return values, rollout, inference


def _ismcts_from_spec(rest: str, seed: int | None) -> IsmctsAgent:
    """``[N[:C][:ROLLOUT]]`` (after ``ismcts:``) -> an IsmctsAgent."""
    values, rollout, inference = _ismcts_fields(rest, 2)
    if "playout_weight" in inference:
        raise AgentError(
            "blend=L mixes playouts into network leaf values: MODEL:ismcts:...:network"
        )
    defaults = [ISMCTS_ITERATIONS, ISMCTS_EXPLORATION]
    iterations, exploration = values + defaults[len(values) :]
    return IsmctsAgent(
        int(iterations), exploration=exploration, rollout=rollout, seed=seed, **inference
    )


def _pimc_from_spec(rest: str, seed: int | None) -> Agent:
    """``[W][:solve][:bids[=T]]`` (after ``pimc:``) -> a PimcAgent."""
    from blobmaster.pimc_agent import PIMC_WORLDS, PimcAgent

    fields = [f.strip().lower() for f in rest.split(":")] if rest else []
    keywords: dict[str, Any] = {}
    if fields and fields[-1].partition("=")[0] == "bids":
        _, _, temperature = fields.pop().partition("=")
        keywords["inference"] = "bids"
        if temperature:
            try:
                keywords["inference_temperature"] = float(temperature)
            except ValueError:
                raise AgentError(
                    f"bids=T: T must be a positive number, got {temperature!r}"
                ) from None
    if fields and fields[-1] == "solve":
        fields.pop()
        keywords["bidding"] = "solve"
    if len(fields) > 1:
        raise AgentError(
            "expected pimc[:W][:solve][:bids[=T]] (W worlds per decision, :solve to solve the "
            "bids too, :bids to weigh the worlds by the opponents' bids)"
        )
    worlds = PIMC_WORLDS
    if fields:
        try:
            worlds = int(fields[0])
        except ValueError:
            raise AgentError(f"worlds must be a positive integer, got {fields[0]!r}") from None
    return PimcAgent(worlds, seed=seed, **keywords)


def _guided_from_spec(
    model: str | None, rest: str, *, device: Any, seed: int | None
) -> GuidedIsmctsAgent:
    """``[N[:C[:W]]][:ROLLOUT]`` (after ``MODEL:ismcts``) -> a GuidedIsmctsAgent
    (``model`` None: the shipped network)."""
    values, rollout, inference = _ismcts_fields(rest, 3)
    defaults = [ISMCTS_ITERATIONS, ISMCTS_EXPLORATION, ISMCTS_PRIOR_WEIGHT]
    iterations, exploration, weight = values + defaults[len(values) :]
    label = None
    if model is None:
        from blobmaster.packaged import default_model_path

        shipped = default_model_path()
        model, label = (RANDOM_MODEL if shipped is None else str(shipped)), "default"
    return GuidedIsmctsAgent(
        model, int(iterations), exploration=exploration, prior_weight=weight, rollout=rollout,
        device=device, seed=seed, label=label, **inference,
    )  # fmt: skip


def _split_guided(rest: str) -> tuple[str, str] | None:
    """``PATH:ismcts[:...]`` -> (PATH, what follows ``ismcts``), or None when
    the spec names no ISMCTS search (the last ``:ismcts`` field splits, so
    paths with colons work)."""
    fields = rest.split(":")
    for k in range(len(fields) - 1, 0, -1):
        if fields[k].strip().lower() == "ismcts":
            return ":".join(fields[:k]), ":".join(fields[k + 1 :])
    return None


SPEC_HELP = (
    "heuristic | random | rollout[:SEARCH] | default[:SEARCH] | model:PATH[:SEARCH] | ismcts:N[:C] "
    "| default:ismcts:N[:C[:W]] | model:PATH:ismcts:N[:C[:W]] "
    "(SEARCH: light, medium, heavy or a .toml preset file; default medium; "
    "N: ISMCTS iterations, C: its UCT exploration constant, default 0.7; "
    "W: the weight of the network's prior at the root, default 1; any ISMCTS spec may end in "
    ":random or :heuristic playouts, a network one in :network, the network's value at leaves, "
    "and :blend=L, a heuristic playout's share L of that value (:netblend=L, a playout by the "
    "network's policy); "
    ":margin=M makes every seat value its opponents' losses (weight M of the score margin); "
    "then :bids[=T] weighs the sampled hands by the opponents' bids; "
    "pimc[:W][:solve][:bids[=T]] solves W sampled worlds per card; "
    "bid=SPEC+play=SPEC bids as one agent and plays cards as another)"
)


def _split_search(rest: str) -> tuple[str, str | None]:
    """``PATH[:SEARCH]`` -> (PATH, SEARCH or None). The last ``:`` splits off
    the search only when what follows is a preset name or a .toml file, so
    paths that contain colons still work."""
    from blobmaster.config import BUILTIN_PRESETS

    head, sep, tail = rest.rpartition(":")
    if sep and head and (tail.strip().lower() in BUILTIN_PRESETS or tail.endswith(".toml")):
        return head, tail
    return rest, None


def _split_from_spec(spec: str, *, device: Any, seed: int | None) -> Agent:
    """``bid=SPEC+play=SPEC`` -> a SplitAgent (the card player seeded
    apart from the bidder)."""
    from blobmaster.split_agent import SplitAgent

    bid, sep, play = spec[len("bid=") :].partition("+play=")
    if not sep or not bid.strip() or not play.strip():
        raise AgentError(f"agent {spec!r}: expected bid=SPEC+play=SPEC")
    if bid.lower().startswith("bid=") or play.lower().startswith("bid="):
        raise AgentError(f"agent {spec!r}: a split agent's halves cannot be split agents")
    play_seed = None if seed is None else (seed + 1) % 2**64
    return SplitAgent(
        parse_agent_spec(bid, device=device, seed=seed),
        parse_agent_spec(play, device=device, seed=play_seed),
    )


def parse_agent_spec(spec: str, *, device: Any = "auto", seed: int | None = None) -> Agent:
    """An agent from a spec string::

        heuristic              the rule-based player
        random                 uniformly random legal moves
        rollout[:SEARCH]       MCTS with random-playout leaves
        default[:SEARCH]       MCTS with the built-in default BlobNet (Agent.load())
        model:PATH[:SEARCH]    MCTS with the BlobNet in the TorchScript file PATH
                               (model:random: the untrained seed-0 BlobNet)
        ismcts:N[:C]           single-observer ISMCTS, N iterations, UCT constant C
        default:ismcts:N[:C[:W]]     ISMCTS with the shipped network's policy as
        model:PATH:ismcts:N[:C[:W]]  the root prior (weight W, default 1)
        pimc[:W][:solve]       PIMC: W worlds (default 100) solved exactly per card;
                               bids by ISMCTS-1000 with heuristic playouts, or solved
        bid=SPEC+play=SPEC     bids as agent SPEC, plays cards as the other

    An ISMCTS spec may end in ``:random`` (the default) or ``:heuristic``
    (the playouts), a network one also in ``:network``: no playouts, the
    network values every iteration's new node. Then ``:bids`` or
    ``:bids=T``: worlds weighted by the opponents' bids (T the bid model's
    softness, default 0.5).

    SEARCH is light, medium (the default) or heavy, or a preset .toml file.
    ``ismcts`` alone is 1000 iterations; C defaults to 0.7; a last field
    ``:heuristic`` (or ``:random``, the default) picks the playout policy.
    ``device`` applies to the network agents, ``seed`` to all but the
    heuristic. Raises AgentError for a bad spec.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise AgentError(f"empty agent spec; expected {SPEC_HELP}")
    text = spec.strip()
    if text.lower().startswith("bid="):
        return _split_from_spec(text, device=device, seed=seed)
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    try:
        if kind == "heuristic" and not rest:
            return HeuristicAgent()
        if kind == "random" and not rest:
            return RandomAgent(seed)
        if kind == "rollout":
            return RolloutAgent(search=rest or "medium", seed=seed)
        if kind == "default":
            if rest.strip().lower().partition(":")[0] == "ismcts":
                after = rest.strip().partition(":")[2]
                return _guided_from_spec(None, after, device=device, seed=seed)
            return Agent.load(None, search=rest or "medium", device=device, seed=seed)
        if kind == "ismcts":
            return _ismcts_from_spec(rest, seed)
        if kind == "pimc":
            return _pimc_from_spec(rest, seed)
        if kind == "model":
            if not rest:
                raise AgentError("model needs a file: model:PATH[:SEARCH]")
            guided = _split_guided(rest)
            if guided is not None:
                return _guided_from_spec(guided[0], guided[1], device=device, seed=seed)
            path, search = _split_search(rest)
            return ModelAgent(path, search=search or "medium", device=device, seed=seed)
    except AgentError as e:
        raise AgentError(f"agent {spec!r}: {e}") from None
    raise AgentError(f"unknown agent spec {spec!r}; expected {SPEC_HELP}")
