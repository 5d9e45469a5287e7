"""Agent specs: the strings that name an agent on the command line, in the
loop's ``[gate] references`` and in ``blobmaster eval`` (``heuristic``,
``model:PATH:light``, ``ismcts:1000``...), parsed into :mod:`blobmaster.agents`."""

from __future__ import annotations

from typing import Any

from blobmaster.agents import (
    ISMCTS_EXPLORATION,
    ISMCTS_ITERATIONS,
    ISMCTS_ROLLOUTS,
    Agent,
    AgentError,
    HeuristicAgent,
    IsmctsAgent,
    ModelAgent,
    RandomAgent,
    RolloutAgent,
)

__all__ = ["SPEC_HELP", "parse_agent_spec"]


def _ismcts_from_spec(rest: str, seed: int | None) -> IsmctsAgent:
    """``[N[:C][:ROLLOUT]]`` (after ``ismcts:``) -> an IsmctsAgent."""
    fields = [f.strip() for f in rest.split(":")] if rest else []
    rollout = "random"
    if fields and fields[-1].lower() in ISMCTS_ROLLOUTS:
        rollout = fields.pop().lower()
    if len(fields) > 2:
        raise AgentError("expected ismcts:N[:C] (N iterations, C the UCT exploration constant)")
    iterations, exploration = ISMCTS_ITERATIONS, ISMCTS_EXPLORATION
    if fields:
        try:
            iterations = int(fields[0])
        except ValueError:
            raise AgentError(f"iterations must be a positive integer, got {fields[0]!r}") from None
    if len(fields) == 2:
        try:
            exploration = float(fields[1])
        except ValueError:
            raise AgentError(f"exploration must be a number >= 0, got {fields[1]!r}") from None
    return IsmctsAgent(iterations, exploration=exploration, rollout=rollout, seed=seed)


SPEC_HELP = (
    "heuristic | random | rollout[:SEARCH] | default[:SEARCH] | model:PATH[:SEARCH] | ismcts:N[:C] "
    "(SEARCH: light, medium, heavy or a .toml preset file; default medium; "
    "N: ISMCTS iterations, C: its UCT exploration constant, default 0.7)"
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


def parse_agent_spec(spec: str, *, device: Any = "auto", seed: int | None = None) -> Agent:
    """An agent from a spec string::

        heuristic              the rule-based player
        random                 uniformly random legal moves
        rollout[:SEARCH]       MCTS with random-playout leaves
        default[:SEARCH]       MCTS with the built-in default BlobNet (Agent.load())
        model:PATH[:SEARCH]    MCTS with the BlobNet in the TorchScript file PATH
                               (model:random: the untrained seed-0 BlobNet)
        ismcts:N[:C]           single-observer ISMCTS, N iterations, UCT constant C

    SEARCH is light, medium (the default) or heavy, or a preset .toml file.
    ``ismcts`` alone is 1000 iterations; C defaults to 0.7; a last field
    ``:heuristic`` (or ``:random``, the default) picks the playout policy.
    ``device`` applies to the network agents, ``seed`` to all but the
    heuristic. Raises AgentError for a bad spec.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise AgentError(f"empty agent spec; expected {SPEC_HELP}")
    text = spec.strip()
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
            return Agent.load(None, search=rest or "medium", device=device, seed=seed)
        if kind == "ismcts":
            return _ismcts_from_spec(rest, seed)
        if kind == "model":
            if not rest:
                raise AgentError("model needs a file: model:PATH[:SEARCH]")
            path, search = _split_search(rest)
            return ModelAgent(path, search=search or "medium", device=device, seed=seed)
    except AgentError as e:
        raise AgentError(f"agent {spec!r}: {e}") from None
    raise AgentError(f"unknown agent spec {spec!r}; expected {SPEC_HELP}")
