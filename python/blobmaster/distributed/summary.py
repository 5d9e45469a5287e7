"""What a self-play call on Ray did: per actor, per shard, and in total."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blobmaster.inference import SelfPlayRates

__all__ = ["ActorReport", "RaySelfPlaySummary", "ShardReceipt", "split_rounds"]


def split_rounds(rounds: int, weights: Sequence[float]) -> list[int]:
    """``rounds`` split in proportion to ``weights`` (an actor's engine
    threads: a bigger machine gets more), by largest remainder: every share
    is within one round of its exact proportion and they add up to ``rounds``."""
    if not weights or any(w <= 0 for w in weights):
        raise ValueError(f"weights must be positive, got {list(weights)}")
    total = float(sum(weights))
    exact = [rounds * w / total for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: rounds - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class ShardReceipt:
    """One shard written into the run folder."""

    slot: int
    """The actor slot that played it."""
    path: Path
    rounds: int
    examples: int
    sha256: str
    """Of the file's bytes, as the actor wrote them."""


@dataclass
class ActorReport:
    """One actor slot over one call (its replacements included)."""

    slot: int
    rounds: int = 0
    """Rounds in the shards delivered from this slot."""
    examples: int = 0
    shards: int = 0
    restarts: int = 0
    threads: int = 0
    """Engine worker threads of the actor."""
    seeds: list[int] = field(default_factory=list)
    """The seed of each job started in this slot (a replacement takes the next)."""
    jobs: list[str] = field(default_factory=list)
    model_sha256: list[str] = field(default_factory=list)
    """The sha256 of the weights each job loaded, as the actor computed it."""
    nodes: list[str | None] = field(default_factory=list)
    evaluations: int = 0
    batches: int = 0
    busy_s: float = 0.0
    """Time inside run_selfplay, summed over the slot's completed jobs."""
    interrupted: bool = False
    device: str = "cpu"

    def add_result(self, result: dict[str, Any]) -> None:
        self.evaluations += int(result["evaluations"])
        self.batches += int(result["batches"])
        self.busy_s += float(result["elapsed_s"])
        self.interrupted = self.interrupted or bool(result["interrupted"])
        self.device = str(result["device"])


@dataclass
class RaySelfPlaySummary(SelfPlayRates):
    """The result of RaySelfPlayPool.selfplay (fields named as in
    blobmaster.inference.SelfPlaySummary where they mean the same)."""

    rounds: int
    examples: int
    shards: list[Path]
    elapsed_s: float
    """Wall time of the call, publishing and collecting included."""
    evaluations: int
    batches: int
    interrupted: bool
    restarts: int
    model_sha256: str
    """The published network's sha256."""
    actors: list[ActorReport] = field(repr=False)
    receipts: list[ShardReceipt] = field(repr=False)
    threads: int = 0
    """Engine worker threads, summed over the actors."""
    device: str = "cpu"

    @classmethod
    def build(
        cls,
        states: list[Any],
        receipts: list[ShardReceipt],
        elapsed: float,
        interrupted: bool,
        sha256: str,
    ) -> RaySelfPlaySummary:
        reports = [s.report for s in states]
        devices = sorted({r.device for r in reports})
        return cls(
            rounds=sum(r.rounds for r in receipts),
            examples=sum(r.examples for r in receipts),
            shards=[r.path for r in receipts],
            elapsed_s=elapsed,
            evaluations=sum(a.evaluations for a in reports),
            batches=sum(a.batches for a in reports),
            interrupted=interrupted,
            restarts=sum(a.restarts for a in reports),
            model_sha256=sha256,
            actors=reports,
            receipts=list(receipts),
            threads=sum(a.threads for a in reports),
            device=",".join(devices),
        )

    def as_dict(self) -> dict[str, Any]:
        """Every number, for JSON output and benchmarks."""
        return {
            **self.rate_fields(),
            "interrupted": self.interrupted,
            "restarts": self.restarts,
            "actors": len(self.actors),
            "threads": self.threads,
            "device": self.device,
            "model_sha256": self.model_sha256,
            "per_actor": [
                {
                    "slot": a.slot,
                    "rounds": a.rounds,
                    "shards": a.shards,
                    "restarts": a.restarts,
                    "seeds": a.seeds,
                    "nodes": a.nodes,
                }
                for a in self.actors
            ],
        }

    def one_line(self) -> str:
        """A one-line human summary."""
        state = "interrupted: " if self.interrupted else ""
        restarts = f", {self.restarts} actor restarts" if self.restarts else ""
        return (
            f"{state}{self.rounds} rounds, {self.examples} examples in {len(self.shards)} shards "
            f"from {len(self.actors)} Ray actors{restarts}, {self.elapsed_s:.1f} s | "
            f"{self.rounds_per_min:.1f} rounds/min, {self.evals_per_s:,.0f} evals/s, "
            f"mean batch {self.mean_batch:.1f} ({self.device})"
        )
