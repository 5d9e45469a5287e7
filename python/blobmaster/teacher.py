"""Teacher self-play: replay shards of rounds where every seat is played by
the reference ISMCTS search (``_core.TeacherEngine``, no network).

A network trained on them learns to imitate the search (expert iteration with
a search teacher): the policy target is the mover's ISMCTS root visit shares,
the value targets the round's scores, in exactly the replay format of network
self-play, so ``blobmaster train`` reads the shards unchanged. Rounds are
dealt from a preset's ``[selfplay]`` tables (the self-play sampler) and the
first ``[search] temperature_moves`` moves of a round are drawn from the
visits with ``[search] temperature``, as in self-play.

Rounds come out of the engine in id order and every random choice of round
``id`` depends on ``(seed, id)`` only, so the shards are the same for any
thread count, and a run resumed with ``first_round`` (the rounds already on
disk) writes the shards an uninterrupted run would have written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from blobmaster.config import Preset
from blobmaster.replay import ShardMetadata, next_shard_index, write_shard
from blobmaster.rich_bar import RichBar
from blobmaster.shard_writer import ShardWriter

__all__ = [
    "OpenedTeacher",
    "TeacherProgress",
    "TeacherRounds",
    "TeacherSpec",
    "TeacherSpecError",
    "TeacherSummary",
    "open_teacher",
    "run_teacher_selfplay",
    "teacher_engine_kwargs",
]


class TeacherSpecError(ValueError):
    """A teacher spec that is not ``ismcts:N[:C][:ROLLOUT]``."""


@dataclass(frozen=True)
class TeacherSpec:
    """The teacher's search: ISMCTS iterations, UCT exploration, rollout, and
    the world sampler (uniform, or bid inference at a temperature)."""

    iterations: int
    exploration: float
    rollout: str
    inference: str = "uniform"
    inference_temperature: float = 0.5
    inference_candidates: int = 1024
    margin: float = 0.0
    """Weight of the score margin in every seat's utility (``:margin=M``);
    the value targets stay the seats' own round scores."""

    @classmethod
    def parse(cls, text: str) -> TeacherSpec:
        """``ismcts:N[:C][:heuristic|random][:margin=M][:bids[=T]]``, parsed by the agent
        spec parser; raises TeacherSpecError for anything else."""
        from blobmaster.agent_specs import parse_agent_spec
        from blobmaster.agents import AgentError, IsmctsAgent

        if not isinstance(text, str) or not text.strip().lower().startswith("ismcts"):
            raise TeacherSpecError(
                f"teacher {text!r}: expected ismcts:N[:C][:heuristic][:margin=M][:bids[=T]] (the only search teacher)"
            )
        try:
            agent = parse_agent_spec(text, seed=0)
        except AgentError as e:
            raise TeacherSpecError(str(e)) from None
        if not isinstance(agent, IsmctsAgent):  # "ismctsfoo" names no agent: parse raised
            raise TeacherSpecError(f"teacher {text!r}: not an ISMCTS spec")
        return cls(
            agent.iterations, agent.exploration, agent.rollout, agent.inference,
            agent.inference_temperature, agent.inference_candidates, agent.margin,
        )  # fmt: skip

    def spec(self) -> str:
        """The canonical spec string, e.g. ``ismcts:1000:0.7:random`` or
        ``ismcts:1000:0.7:heuristic:bids=0.5``."""
        out = f"ismcts:{self.iterations}:{self.exploration:g}:{self.rollout}"
        if self.margin > 0:
            out += f":margin={self.margin:g}"
        if self.inference == "bids":
            out += f":bids={self.inference_temperature:g}"
        return out


def teacher_engine_kwargs(
    preset: Preset,
    teacher: TeacherSpec,
    *,
    rounds: int,
    seed: int,
    threads: int | None = None,
    first_round: int = 0,
) -> dict[str, Any]:
    """Keyword arguments of ``TeacherEngine``: the preset's tables, full_games,
    threads and temperature scheme, the teacher's search."""
    sp, search = preset.selfplay, preset.search
    return dict(
        rounds=rounds,
        threads=threads if threads is not None else sp.resolved_threads(),
        tables=[t.as_tuple() for t in sp.tables],
        full_games=sp.full_games,
        seed=seed,
        first_round=first_round,
        iterations=teacher.iterations,
        exploration=teacher.exploration,
        rollout=teacher.rollout,
        temperature_moves=search.temperature_moves,
        temperature=search.temperature,
        inference=teacher.inference,
        inference_candidates=teacher.inference_candidates,
        inference_temperature=teacher.inference_temperature,
        margin=teacher.margin,
    )


class OpenedTeacher(NamedTuple):
    """A started teacher: what :func:`run_teacher_selfplay` reads, the spec
    it plays, its shard metadata and its worker threads."""

    engine: TeacherRounds
    spec: str
    metadata: ShardMetadata
    threads: int


def open_teacher(
    spec: str,
    preset: Preset,
    *,
    rounds: int,
    seed: int,
    first_round: int = 0,
    device: Any = "auto",
) -> OpenedTeacher:
    """Starts the teacher of ``spec``: ISMCTS on Rust threads
    (``ismcts:...``, a ``TeacherEngine``) or a network agent's search in the
    recording engine arena (``model:...``/``default:...``, an
    :class:`~blobmaster.arena_teacher.ArenaTeacher`). Raises a ValueError
    subclass naming a bad spec or setting."""
    from blobmaster._core import TeacherEngine
    from blobmaster.arena_teacher import ArenaTeacher, is_network_teacher, parse_network_teacher

    if is_network_teacher(spec):
        name = spec.strip()
        agent = parse_network_teacher(name, seed=seed, device=device)
        arena = ArenaTeacher(agent, preset, rounds=rounds, seed=seed, first_round=first_round)
        return OpenedTeacher(arena, name, arena.metadata(name), arena.threads)
    teacher = TeacherSpec.parse(spec)
    kwargs = teacher_engine_kwargs(
        preset, teacher, rounds=rounds, seed=seed, first_round=first_round
    )
    return OpenedTeacher(
        TeacherEngine(**kwargs),
        teacher.spec(),
        teacher_metadata(teacher, kwargs),
        kwargs["threads"],
    )


def teacher_metadata(teacher: TeacherSpec, kwargs: dict[str, Any]) -> ShardMetadata:
    """Shard metadata saying where the rows came from: model
    ``teacher:ismcts:N:C:ROLLOUT`` and the search settings as JSON."""
    search = {
        "teacher": teacher.spec(),
        "iterations": teacher.iterations,
        "exploration": teacher.exploration,
        "rollout": teacher.rollout,
        "temperature_moves": kwargs["temperature_moves"],
        "temperature": kwargs["temperature"],
    }
    if teacher.margin > 0:
        search["margin"] = teacher.margin
    if teacher.inference != "uniform":
        search.update(
            inference=teacher.inference,
            inference_candidates=teacher.inference_candidates,
            inference_temperature=teacher.inference_temperature,
        )
    return ShardMetadata(
        model=f"teacher:{teacher.spec()}",
        search=json.dumps(search, sort_keys=True, separators=(",", ":")),
    )


@dataclass
class TeacherSummary:
    """What a teacher run wrote and how fast."""

    rounds: int
    """Rounds whose examples are in shards."""
    examples: int
    shards: list[Path]
    elapsed_s: float
    decisions: int
    iterations: int
    interrupted: bool = False
    engine_stats: dict[str, int] = field(default_factory=dict)

    @property
    def rounds_per_s(self) -> float:
        return self.rounds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def one_line(self) -> str:
        stop = " (interrupted)" if self.interrupted else ""
        return (
            f"{self.rounds} rounds, {self.examples} examples in {len(self.shards)} shards, "
            f"{self.elapsed_s:.1f} s, {self.rounds_per_s:.2f} rounds/s, "
            f"{self.decisions} searched decisions{stop}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "examples": self.examples,
            "shards": len(self.shards),
            "elapsed_s": self.elapsed_s,
            "rounds_per_s": self.rounds_per_s,
            "decisions": self.decisions,
            "iterations": self.iterations,
            "interrupted": self.interrupted,
        }


class TeacherProgress(RichBar):
    """Progress bar of a teacher run: rounds done, rounds/s, searches/s."""

    def __init__(self, total: int | None, *, enabled: bool = True) -> None:
        super().__init__(
            "teacher",
            ["rounds", "{task.fields[rps]:>7.2f} rounds/s", "{task.fields[dps]:>8.1f} moves/s"],
            enabled=enabled,
        )
        self.task = self.progress.add_task("teacher", total=total, rps=0.0, dps=0.0)

    def __call__(self, stats: dict[str, int], elapsed_s: float) -> None:
        t = max(elapsed_s, 1e-9)
        self.progress.update(
            self.task,
            completed=stats.get("rounds", 0),
            rps=stats.get("rounds", 0) / t,
            dps=stats.get("decisions", 0) / t,
        )


class _Rounds:
    """Finished examples not yet in a shard. The engine hands out whole rounds
    in id order, so the first ``n`` distinct round ids are the next shard."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.ids: list[int] = []  # distinct round ids, in order

    def add(self, examples: dict[str, np.ndarray]) -> None:
        if len(examples["seat"]) == 0:
            return
        self.parts.append(examples)
        ids = examples["round_id"]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        self.ids.extend(int(i) for i in ids[starts])

    def take(self, rounds: int) -> dict[str, np.ndarray]:
        merged = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        if rounds >= len(self.ids):
            self.parts, self.ids = [], []
            return merged
        cut = int(np.argmax(merged["round_id"] == self.ids[rounds]))
        self.parts = [{k: v[cut:] for k, v in merged.items()}]
        self.ids = self.ids[rounds:]
        return {k: v[:cut] for k, v in merged.items()}


class TeacherRounds(Protocol):
    """What :func:`run_teacher_selfplay` reads: a ``TeacherEngine``, or an
    :class:`~blobmaster.arena_teacher.ArenaTeacher` (a network search)."""

    @property
    def finished(self) -> bool: ...
    def take_examples(self) -> dict[str, np.ndarray]: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


def run_teacher_selfplay(
    engine: TeacherRounds,
    *,
    out_dir: str | Path,
    metadata: ShardMetadata,
    rounds_per_shard: int = 100,
    progress: Callable[[dict[str, int], float], None] | None = None,
    shard_prefix: str = "shard",
    first_shard_index: int | None = None,
    poll_s: float = 0.05,
) -> TeacherSummary:
    """Collects ``engine``'s finished rounds until it finishes and writes them
    as shards of ``rounds_per_shard`` whole rounds (the last one may be
    shorter) to ``out_dir`` on a background writer, each atomically.
    ``progress(stats, elapsed_s)`` is called every poll. Ctrl-C stops the
    engine, writes the finished rounds and returns with ``interrupted``; any
    other error is raised after that. The engine is always closed."""
    if rounds_per_shard < 1:
        raise ValueError(f"rounds_per_shard must be >= 1, got {rounds_per_shard}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = next_shard_index(out, shard_prefix) if first_shard_index is None else first_shard_index

    def write(examples: dict[str, np.ndarray], shard_index: int) -> Path:
        return write_shard(examples, out, shard_index, metadata, prefix=shard_prefix)

    start = time.perf_counter()
    pending, interrupted, failure = _Rounds(), False, None
    with ShardWriter(write, index) as writer:
        try:
            while True:
                finished = engine.finished  # before taking: nothing is left behind
                pending.add(engine.take_examples())
                while len(pending.ids) >= rounds_per_shard and writer.idle:
                    writer.submit(pending.take(rounds_per_shard))
                writer.raise_if_failed()
                if progress is not None:
                    progress(engine.stats(), time.perf_counter() - start)
                if finished:
                    break
                time.sleep(poll_s)
        except KeyboardInterrupt:
            interrupted = True
        except BaseException as e:  # the finished rounds are written first
            failure = e
        finally:
            engine.close()
        try:
            pending.add(engine.take_examples())
            while pending.ids:
                writer.wait_idle()
                writer.submit(pending.take(rounds_per_shard))
            writer.wait_idle()
        except KeyboardInterrupt:
            interrupted = True
            writer.abandon()
        except BaseException as e:
            writer.abandon()
            failure = failure or e
    if failure is not None:
        raise failure
    stats = dict(engine.stats())
    return TeacherSummary(
        rounds=writer.rounds,
        examples=writer.examples,
        shards=list(writer.shards),
        elapsed_s=time.perf_counter() - start,
        decisions=int(stats.get("decisions", 0)),
        iterations=int(stats.get("iterations", 0)),
        interrupted=interrupted,
        engine_stats=stats,
    )
