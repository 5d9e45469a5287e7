"""Teacher self-play with a network search: expert iteration's next teacher.

The network-free teacher (:mod:`blobmaster.teacher`) plays ISMCTS with
playouts on Rust threads. A search that asks the network at its leaves (ISMCTS
with network leaves and policy inference, ``model:M:ismcts:200:0.7:1:network:
policy=0.5``, the strongest agent measured against ISMCTS-1000) needs the
network's batches answered; the engine arena already does that for ``eval``.
:class:`ArenaTeacher` runs the arena with that agent on every seat, recording
every searched decision in the teacher's format (``ArenaEngine(record=True)``:
the mover's normalized root visits as the policy, one row per seat with the
round's scores as values, forced moves unrecorded, the first moves of a round
drawn from the visits with the preset's temperature), and answers the network
on a background thread. It reads like a ``TeacherEngine``, so
:func:`blobmaster.teacher.run_teacher_selfplay` writes its shards.

Round ``i`` is the arena deal ``i`` of a seed derived from the run's seed (so
never an evaluation's deals) and its examples carry round id ``i``. Rounds
are handed out in order (one that finishes early waits for the ones before
it), so the shards always hold a prefix of the rounds, and a run resumed
with ``first_round`` (one past the last round on disk) plays and records
exactly what the uninterrupted run would have, up to float rounding. With one
worker thread the rounds and examples are reproducible up to the float
rounding of batches of different sizes.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from blobmaster._core import ArenaEngine
from blobmaster.arena import arena_deal, derive_seed
from blobmaster.arena_engine import ArenaServer, engine_specs
from blobmaster.config import Preset
from blobmaster.replay import ShardMetadata

__all__ = [
    "CURRENT_NETWORK",
    "ArenaTeacher",
    "NetworkTeacherError",
    "current_network_search",
    "is_network_teacher",
    "parse_network_teacher",
]

CURRENT_NETWORK = "current"
"""The model part of a loop teacher spec that means the loop's own network at
the start of each iteration (``current:ismcts:200:0.7:1:network:policy=0.5``)."""


class NetworkTeacherError(ValueError):
    """A network teacher spec or run that cannot be played."""


def is_network_teacher(spec: str) -> bool:
    """Whether a ``--teacher`` spec names a network agent (``model:...`` or
    ``default:...``) rather than network-free ISMCTS."""
    head = spec.strip().lower().partition(":")[0]
    return head in ("model", "default")


def current_network_search(spec: str) -> str | None:
    """The search part of a ``current:ismcts:...`` teacher spec (``ismcts:...``),
    checked by building it on an untrained network; None for any other spec.
    Raises NetworkTeacherError for a bad one."""
    head, _, search = spec.strip().partition(":")
    if head.lower() != CURRENT_NETWORK:
        return None
    if not search.lower().startswith("ismcts"):
        raise NetworkTeacherError(
            f"teacher {spec!r}: expected current:ismcts:N[:C[:W]][:network][:policy[=T]]"
        )
    parse_network_teacher(f"model:random:{search}", seed=0, device="cpu")
    return search


def parse_network_teacher(spec: str, *, seed: int, device: Any = "auto") -> Any:
    """The agent of a network teacher spec (any ``blobmaster eval`` agent
    spec that searches with a network and that the engine arena plays);
    raises NetworkTeacherError otherwise."""
    from blobmaster.agent_specs import parse_agent_spec
    from blobmaster.agents import AgentError

    try:
        agent = parse_agent_spec(spec, seed=seed, device=device)
    except AgentError as e:
        raise NetworkTeacherError(str(e)) from None
    described = engine_specs([agent])
    if described is None or not described[1]:
        raise NetworkTeacherError(
            f"teacher {spec!r}: not a network agent the engine arena plays "
            "(model:PATH[:SEARCH] or model:PATH:ismcts:N[:C[:W]][:network][:policy[=T]])"
        )
    return agent


class ArenaTeacher:
    """An engine arena that records, with ``agent`` on every seat and its
    network answered on a background thread. It has what
    :func:`~blobmaster.teacher.run_teacher_selfplay` reads: ``finished``,
    ``take_examples()``, ``stats()`` and ``close()``."""

    def __init__(
        self,
        agent: Any,
        preset: Preset,
        *,
        rounds: int,
        seed: int,
        first_round: int = 0,
        threads: int | None = None,
    ) -> None:
        sp, search = preset.selfplay, preset.search
        if sp.full_games:
            raise NetworkTeacherError("the network teacher plays single rounds, not full games")
        if len(sp.tables) != 1:
            raise NetworkTeacherError(
                f"the network teacher plays one table kind; preset {preset.name!r} has "
                f"{len(sp.tables)}: give --players and --cards"
            )
        if not 0 <= first_round < rounds:
            raise NetworkTeacherError(f"first round {first_round} is not below {rounds} rounds")
        described = engine_specs([agent])
        if described is None or not described[1]:
            raise NetworkTeacherError("the teacher must be a network agent the engine plays")
        specs, nets = described
        table = sp.tables[0]
        deal_seed = derive_seed("blobmaster-network-teacher", seed)
        deals = [
            arena_deal(table.players, table.cards, i, deal_seed) for i in range(first_round, rounds)
        ]
        self.temperature_moves = search.temperature_moves
        self.temperature = search.temperature
        self.threads = threads if threads is not None else sp.resolved_threads()
        self.engine = ArenaEngine(
            deals,
            [[0] * table.players],
            specs,
            networks=len(nets),
            threads=self.threads,
            games_per_thread=max(1, min(sp.games_per_thread, -(-len(deals) // self.threads))),
            max_batch=sp.max_batch,
            record=True,
            record_seed=seed,
            first_round_id=first_round,
            temperature_moves=self.temperature_moves,
            temperature=self.temperature,
        )
        self._server = ArenaServer(self.engine, nets)
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="blob-teacher-net", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set() and not self.engine.finished:
                self._server.serve_once(timeout_ms=5)
        except BaseException as e:  # handed to the reader by take_examples
            self._failure = e

    @property
    def finished(self) -> bool:
        """Every round played, or the network server failed."""
        return self._failure is not None or self.engine.finished

    def take_examples(self) -> dict[str, np.ndarray]:
        """The examples of the rounds finished since the last call; raises
        the network server's failure, if any."""
        if self._failure is not None:
            raise NetworkTeacherError(
                f"the teacher's network failed: {self._failure!r}"
            ) from self._failure
        return self.engine.take_examples()

    def stats(self) -> dict[str, Any]:
        """The arena's counters (rounds, decisions, simulations,
        leaves_evaluated, ...), ``iterations`` being its network leaves."""
        stats = dict(self.engine.stats())
        stats["iterations"] = int(stats.get("leaves_evaluated", 0))
        return stats

    def close(self) -> None:
        """Stops the workers and the server thread (idempotent)."""
        self._stop.set()
        self.engine.close()
        self._thread.join()

    def metadata(self, spec: str) -> ShardMetadata:
        """Shard metadata: model ``teacher:<spec>`` and the recording settings."""
        import json

        search = {
            "teacher": spec,
            "temperature_moves": self.temperature_moves,
            "temperature": self.temperature,
        }
        return ShardMetadata(
            model=f"teacher:{spec}",
            search=json.dumps(search, sort_keys=True, separators=(",", ":")),
        )
