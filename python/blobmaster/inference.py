"""The inference server loop: feed the engine's leaf batches to the network.

One Python thread does nothing but::

    ticket, states, masks = engine.next_batch(batch, timeout_ms)  # GIL released while waiting
    policy, value = model(states)                                  # on the device
    engine.submit(ticket, policy, value)

while the Rust workers keep searching and fill the next batch buffer during
the forward pass (the engine's ring holds ``pipeline_depth`` buffers). On
CUDA the states go through a pinned host buffer with a non-blocking copy,
the outputs come back the same way, and bf16 autocast is optional. Finished
rounds are collected with ``engine.take_examples()`` and handed, as replay
shards of ``rounds_per_shard`` whole rounds each, to a background writer
thread (shard_writer.ShardWriter, replay.write_shard: atomic), so that no
batch waits for a shard's compression and fsync.

Ctrl-C (KeyboardInterrupt, wherever it lands in the loop) stops the engine
and writes the rounds already finished, the last shard shorter; a second
Ctrl-C during those writes gives up the rounds not on disk yet (the shard
being written is finished: a write is atomic). Either way every shard on
disk is complete, the engine is closed, and run_selfplay returns a summary
with ``interrupted=True`` rather than raising.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from blobmaster._core import MAX_PLAYERS, NUM_ACTIONS, OBS_SIZE
from blobmaster.model import for_inference
from blobmaster.replay import ShardMetadata, next_shard_index, write_shard
from blobmaster.shard_writer import ShardWriter

__all__ = [
    "BatchOverflowError",
    "Engine",
    "Progress",
    "SelfPlaySummary",
    "run_selfplay",
]


class Engine(Protocol):
    """What run_selfplay needs of ``blobmaster.SelfPlayEngine``."""

    def next_batch(
        self, max_size: int | None = ..., timeout_ms: int = ...
    ) -> tuple[int, np.ndarray, np.ndarray]: ...
    def submit(self, ticket: int, policy_logits: np.ndarray, values: np.ndarray) -> None: ...
    def take_examples(self) -> dict[str, np.ndarray]: ...
    def stats(self) -> dict[str, float]: ...
    @property
    def finished(self) -> bool: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Progress:
    """A snapshot passed to the progress callback (about 4 times a second)."""

    rounds: int
    """Rounds finished by the engine so far."""
    target: int | None
    """Rounds requested (None: until the engine finishes)."""
    examples: int
    shards: int
    elapsed_s: float
    rounds_per_min: float
    evals_per_s: float
    """Positions evaluated by the network per second."""
    mean_batch: float
    batches: int


class SelfPlayRates:
    """The throughput figures every self-play summary reports (local or on Ray)."""

    rounds: int
    examples: int
    shards: list[Path]
    elapsed_s: float
    evaluations: int
    batches: int

    @property
    def rounds_per_min(self) -> float:
        return 60.0 * self.rounds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def evals_per_s(self) -> float:
        return self.evaluations / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mean_batch(self) -> float:
        return self.evaluations / self.batches if self.batches else 0.0

    def rate_fields(self) -> dict[str, Any]:
        """The counts and rates every summary's ``as_dict`` starts with."""
        return {
            "rounds": self.rounds,
            "examples": self.examples,
            "shards": len(self.shards),
            "elapsed_s": self.elapsed_s,
            "rounds_per_min": self.rounds_per_min,
            "evals_per_s": self.evals_per_s,
            "batches": self.batches,
            "mean_batch": self.mean_batch,
        }


@dataclass
class SelfPlaySummary(SelfPlayRates):
    """What a self-play run did and how fast (run_selfplay's result)."""

    rounds: int
    """Rounds whose examples were written to shards."""
    examples: int
    shards: list[Path]
    elapsed_s: float
    batches: int
    evaluations: int
    """Rows evaluated by the network (sum of batch sizes)."""
    forward_s: float
    """Time in the forward pass, host-to-device and device-to-host copies included."""
    python_s: float
    """Python time per batch outside the forward pass, summed: from
    next_batch's return to the forward start, and from the forward end to
    submit's return."""
    wait_s: float
    """Time inside next_batch (waiting for the engine to fill a batch)."""
    batch_sizes: np.ndarray = field(repr=False)
    """batch_sizes[b] = number of batches of exactly b rows."""
    interrupted: bool = False
    discarded_rounds: int = 0
    """Finished rounds not written (a second Ctrl-C during the last write)."""
    engine_stats: dict[str, float] = field(default_factory=dict, repr=False)
    device: str = "cpu"
    write_s: float = 0.0
    """Time the background writer spent writing shards (off the serving thread)."""
    write_block_s: float = 0.0
    """Time the serving loop waited for the writer (only when it fell behind)."""
    max_serve_gap_s: float = 0.0
    """Longest time between two consecutive batches answered."""

    @property
    def forward_ms_per_batch(self) -> float:
        return 1000.0 * self.forward_s / self.batches if self.batches else 0.0

    @property
    def python_ms_per_batch(self) -> float:
        return 1000.0 * self.python_s / self.batches if self.batches else 0.0

    @property
    def wait_ms_per_batch(self) -> float:
        return 1000.0 * self.wait_s / self.batches if self.batches else 0.0

    @property
    def forward_share(self) -> float:
        """Fraction of the wall time spent in the forward pass (device busy, at most)."""
        return self.forward_s / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def histogram(self) -> list[tuple[int, int, int]]:
        """Batch-size histogram in power-of-two buckets: (low, high, batches)
        for sizes low..high, empty buckets left out."""
        out = []
        sizes = self.batch_sizes
        low = 1
        while low < len(sizes):
            high = min(2 * low - 1, len(sizes) - 1)
            count = int(sizes[low : high + 1].sum())
            if count:
                out.append((low, high, count))
            low *= 2
        return out

    def histogram_text(self) -> str:
        """The histogram on one line, e.g. ``1: 3, 256-511: 40``."""
        return ", ".join(
            f"{lo}: {n}" if lo == hi else f"{lo}-{hi}: {n}" for lo, hi, n in self.histogram()
        )

    def as_dict(self) -> dict[str, Any]:
        """Every number, for JSON output and benchmarks."""
        return {
            **self.rate_fields(),
            "forward_ms_per_batch": self.forward_ms_per_batch,
            "python_ms_per_batch": self.python_ms_per_batch,
            "wait_ms_per_batch": self.wait_ms_per_batch,
            "forward_share": self.forward_share,
            "histogram": self.histogram_text(),
            "interrupted": self.interrupted,
            "discarded_rounds": self.discarded_rounds,
            "device": self.device,
            "cache_hit_rate": float(self.engine_stats.get("cache_hit_rate", math.nan)),
            "write_s": self.write_s,
            "write_block_s": self.write_block_s,
            "max_serve_gap_ms": 1000.0 * self.max_serve_gap_s,
        }

    def one_line(self) -> str:
        """A one-line human summary."""
        state = "interrupted: " if self.interrupted else ""
        return (
            f"{state}{self.rounds} rounds, {self.examples} examples in {len(self.shards)} shards, "
            f"{self.elapsed_s:.1f} s | {self.rounds_per_min:.1f} rounds/min, {self.evals_per_s:,.0f} evals/s, "
            f"mean batch {self.mean_batch:.1f}, forward {self.forward_ms_per_batch:.2f} ms/batch, "
            f"python {self.python_ms_per_batch:.3f} ms/batch ({self.device})"
        )


class _Pending:
    """Finished examples not yet handed to the writer, grouped into whole rounds."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.round_ids: set[int] = set()
        self.collected_rounds = 0
        """Rounds taken from the engine so far (handed over or not)."""
        self.collected_examples = 0

    def add(self, examples: dict[str, np.ndarray]) -> None:
        if len(examples.get("seat", ())) == 0:
            return
        self.parts.append({k: np.asarray(v) for k, v in examples.items()})
        new = set(np.unique(examples["round_id"]).tolist()) - self.round_ids
        self.round_ids.update(new)
        self.collected_rounds += len(new)
        self.collected_examples += len(examples["seat"])

    @property
    def rounds(self) -> int:
        return len(self.round_ids)

    def take(self, max_rounds: int | None = None) -> dict[str, np.ndarray] | None:
        """Removes and returns the examples of the ``max_rounds`` lowest round
        ids (all of them if None), or None if there are none."""
        if not self.parts:
            return None
        merged = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        ids = merged["round_id"]
        if max_rounds is None or max_rounds >= self.rounds:
            self.parts, self.round_ids = [], set()
            return merged
        chosen = np.sort(np.fromiter(self.round_ids, dtype=np.uint64))[:max_rounds]
        sel = np.isin(ids, chosen)
        rest = {k: v[~sel] for k, v in merged.items()}
        self.parts = [rest]
        self.round_ids = set(np.unique(rest["round_id"]).tolist())
        return {k: v[sel] for k, v in merged.items()}


class BatchOverflowError(RuntimeError):
    """The engine handed out a batch that breaks its contract: more rows
    than were asked for (the pinned staging buffers hold exactly that many)
    or states of the wrong width."""


def _checked_rows(states: np.ndarray, capacity: int) -> int:
    """The rows of a batch, checked before anything is copied: the CUDA
    staging buffers have ``capacity`` rows, and writing past them would be
    a crash (or silent corruption) far from the cause."""
    if states.ndim != 2 or states.shape[1] != OBS_SIZE:
        raise BatchOverflowError(
            f"engine returned states of shape {states.shape}, expected (rows, {OBS_SIZE})"
        )
    rows = int(states.shape[0])
    if rows > capacity:
        raise BatchOverflowError(
            f"engine returned a batch of {rows} rows after being asked for at most {capacity}"
        )
    return rows


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    if t.dtype != torch.float32:
        t = t.float()
    return t.contiguous().numpy()


class _Forward:
    """The network on its device. On CUDA the states go through a pinned
    host buffer of ``capacity`` rows with a non-blocking copy, and the
    outputs come back the same way."""

    def __init__(
        self, model: torch.nn.Module, device: torch.device, capacity: int, bf16: bool
    ) -> None:
        self.model = model
        self.device = device
        self.capacity = capacity
        self.cuda = device.type == "cuda"
        self.autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
        if self.cuda:
            self.in_host = torch.empty((capacity, OBS_SIZE), dtype=torch.float32).pin_memory()
            self.pol_host = torch.empty((capacity, NUM_ACTIONS), dtype=torch.float32).pin_memory()
            self.val_host = torch.empty((capacity, MAX_PLAYERS), dtype=torch.float32).pin_memory()
            self.in_host_np = self.in_host.numpy()

    def __call__(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(policy logits, values) as float32 numpy arrays for ``states``
        (at most ``capacity`` rows: checked by the caller)."""
        rows = states.shape[0]
        if not self.cuda:
            with self.autocast:
                policy, value = self.model(torch.from_numpy(states))
            return _as_numpy(policy), _as_numpy(value)
        np.copyto(self.in_host_np[:rows], states)
        x = self.in_host[:rows].to(self.device, non_blocking=True)
        with self.autocast:
            policy, value = self.model(x)
        self.pol_host[:rows].copy_(policy, non_blocking=True)
        self.val_host[:rows].copy_(value, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        return self.pol_host[:rows].numpy(), self.val_host[:rows].numpy()


@dataclass
class _Counters:
    """Timings and counts of the serving loop (see SelfPlaySummary)."""

    sizes: np.ndarray
    batches: int = 0
    evaluations: int = 0
    forward_s: float = 0.0
    python_s: float = 0.0
    wait_s: float = 0.0
    write_block_s: float = 0.0
    max_serve_gap_s: float = 0.0
    last_served: float | None = None


class _SelfPlayRun:
    """One run_selfplay call: serve batches, collect finished rounds, hand
    whole shards to the background writer, write the rest at the end."""

    def __init__(
        self,
        engine: Engine,
        forward: _Forward,
        writer: ShardWriter,
        *,
        rounds: int | None,
        rounds_per_shard: int,
        timeout_ms: int,
        progress: Callable[[Progress], None] | None,
        progress_interval_s: float,
    ) -> None:
        self.engine = engine
        self.forward = forward
        self.writer = writer
        self.rounds = rounds
        self.rounds_per_shard = rounds_per_shard
        self.timeout_ms = timeout_ms
        self.progress = progress
        self.progress_interval_s = progress_interval_s
        self.pending = _Pending()
        self.counters = _Counters(sizes=np.zeros(forward.capacity + 1, dtype=np.int64))
        self.interrupted = False
        self.start = time.perf_counter()

    # -- serving

    def serve(self) -> None:
        """Serves batches until the engine finishes or the round target is met."""
        next_report = self.start + self.progress_interval_s
        next_collect = self.start + _COLLECT_EVERY_S
        with torch.inference_mode():
            while True:
                ticket = self.serve_batch()
                now = time.perf_counter()
                finished = self.engine.finished
                if finished or ticket < 0 or now >= next_collect:
                    self.collect(final=False)
                    next_collect = now + _COLLECT_EVERY_S
                    if self.rounds is not None and self.pending.collected_rounds >= self.rounds:
                        break
                if self.progress is not None and now >= next_report:
                    self.progress(self.snapshot())
                    next_report = now + self.progress_interval_s
                if finished:
                    break

    def serve_batch(self) -> int:
        """One batch: wait for it, evaluate it, answer it. Returns the ticket
        (negative: the engine had nothing before the timeout)."""
        c = self.counters
        t0 = time.perf_counter()
        ticket, states, _masks = self.engine.next_batch(self.forward.capacity, self.timeout_ms)
        t1 = time.perf_counter()
        c.wait_s += t1 - t0
        if ticket < 0:
            return ticket
        rows = _checked_rows(states, self.forward.capacity)
        t2 = time.perf_counter()
        policy, value = self.forward(states)
        t3 = time.perf_counter()
        self.engine.submit(ticket, policy, value)
        t4 = time.perf_counter()
        c.forward_s += t3 - t2
        c.python_s += (t2 - t1) + (t4 - t3)
        c.batches += 1
        c.evaluations += rows
        c.sizes[rows] += 1
        if c.last_served is not None:
            c.max_serve_gap_s = max(c.max_serve_gap_s, t4 - c.last_served)
        c.last_served = t4
        return ticket

    # -- shards

    def collect(self, final: bool) -> None:
        """Takes the finished rounds from the engine and hands whole shards
        to the writer: at once when it is idle; waiting for it (back-pressure)
        only when more than ``_BACKLOG_SHARDS`` shards' worth of rounds are
        pending, or at the end (``final``), when every round is handed over
        and written."""
        self.pending.add(self.engine.take_examples())
        self.writer.raise_if_failed()
        backlog = _BACKLOG_SHARDS * self.rounds_per_shard
        while self.pending.rounds >= self.rounds_per_shard or (final and self.pending.rounds):
            if not self.writer.idle:
                if not final and self.pending.rounds < backlog:
                    return
                waited = self.writer.wait_idle()
                if not final:
                    self.counters.write_block_s += waited
            chunk = self.pending.take(self.rounds_per_shard)
            if chunk is None:
                return
            self.writer.submit(chunk)
        if final:
            self.writer.wait_idle()

    def finish(self, failure: BaseException | None) -> None:
        """After the engine is closed: writes every finished round still
        waiting (unless the writer itself failed). A Ctrl-C here gives up the
        rounds not on disk yet; the shard being written is finished."""
        try:
            self.collect(final=True)
        except KeyboardInterrupt:
            self.interrupted = True
            self.pending.take()
            self.writer.abandon()
        except BaseException:
            self.pending.take()
            self.writer.abandon()
            if failure is None:
                raise
        finally:
            self.writer.close()

    # -- reports

    def snapshot(self) -> Progress:
        c = self.counters
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        done = int(self.engine.stats().get("rounds", self.pending.collected_rounds))
        return Progress(
            rounds=done,
            target=self.rounds,
            examples=self.pending.collected_examples,
            shards=len(self.writer.shards),
            elapsed_s=elapsed,
            rounds_per_min=60.0 * done / elapsed,
            evals_per_s=c.evaluations / elapsed,
            mean_batch=c.evaluations / c.batches if c.batches else 0.0,
            batches=c.batches,
        )

    def summary(self, device: torch.device) -> SelfPlaySummary:
        c = self.counters
        return SelfPlaySummary(
            rounds=self.writer.rounds,
            examples=self.writer.examples,
            shards=list(self.writer.shards),
            elapsed_s=time.perf_counter() - self.start,
            batches=c.batches,
            evaluations=c.evaluations,
            forward_s=c.forward_s,
            python_s=c.python_s,
            wait_s=c.wait_s,
            batch_sizes=c.sizes,
            interrupted=self.interrupted,
            discarded_rounds=self.pending.collected_rounds - self.writer.rounds,
            engine_stats=dict(self.engine.stats()),
            device=str(device),
            write_s=self.writer.write_s,
            write_block_s=c.write_block_s,
            max_serve_gap_s=c.max_serve_gap_s,
        )


_COLLECT_EVERY_S = 0.2
"""How often finished rounds are taken from the engine while serving."""
_BACKLOG_SHARDS = 2
"""Pending rounds (in shards) beyond which serving waits for a busy writer."""


def _capacity(engine: Engine, batch: int | None) -> int:
    """Rows per batch to ask for: ``batch`` capped by the engine's max_batch.

    Always ask for full batches: the engine hands one out when it is full or
    at the timeout. Asking for fewer rows after a short batch (so as not to
    wait for the timeout) was measured and is worse: the leaves in flight
    split into many small batches and the network runs far less efficiently
    (light, 2 threads x 8 games on 2 CPU cores: 16 instead of 89 rows per
    batch, 10-30% fewer rounds/min)."""
    engine_max = int(getattr(engine, "max_batch", 0) or 0)
    return min(batch, engine_max) if batch and engine_max else batch or engine_max or 512


def _check_arguments(rounds: int | None, rounds_per_shard: int, batch: int | None) -> None:
    if rounds is not None and rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if rounds_per_shard < 1:
        raise ValueError(f"rounds_per_shard must be >= 1, got {rounds_per_shard}")
    if batch is not None and batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")


def run_selfplay(
    engine: Engine,
    model: torch.nn.Module,
    device: torch.device | str = "cpu",
    *,
    out_dir: str | os.PathLike[str],
    rounds: int | None = None,
    rounds_per_shard: int = 100,
    batch: int | None = None,
    timeout_ms: int = 10,
    bf16: bool = False,
    progress: Callable[[Progress], None] | None = None,
    metadata: ShardMetadata | None = None,
    shard_prefix: str = "shard",
    first_shard_index: int | None = None,
    progress_interval_s: float = 0.25,
) -> SelfPlaySummary:
    """Serves ``engine``'s batches with ``model`` on ``device`` until the
    engine finishes (or ``rounds`` rounds are written, when given), writing
    shards of ``rounds_per_shard`` whole rounds to ``out_dir`` on a
    background thread (the serving never waits for a write unless the writer
    falls two shards behind).

    ``model`` maps float32 (B, 256) to (policy logits (B, 66), values (B, 8));
    it runs on ``device`` in eval mode (a copy there when it is elsewhere or
    in training mode: the caller's module is never moved or switched). ``batch`` caps the rows
    per batch (default: the engine's max_batch). ``progress`` is called with
    a Progress snapshot every ``progress_interval_s`` seconds and at the end;
    an exception it raises stops the run (KeyboardInterrupt is handled like
    Ctrl-C, anything else propagates after the engine is closed and the
    finished rounds are written). A failed shard write is raised in the same
    way. Shards are named ``<shard_prefix>-<index>.parquet`` from
    ``first_shard_index`` (default: after the shards already in
    ``out_dir``). The engine is always closed on return.
    """
    _check_arguments(rounds, rounds_per_shard, batch)  # before anything starts
    device = torch.device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = metadata or ShardMetadata(model="unknown", search="unknown")
    index = next_shard_index(out, shard_prefix) if first_shard_index is None else first_shard_index
    forward = _Forward(for_inference(model, device), device, _capacity(engine, batch), bf16)

    def write(examples: dict[str, np.ndarray], shard_index: int) -> Path:
        # looked up at call time, so a test can replace inference.write_shard
        return write_shard(examples, out, shard_index, meta, prefix=shard_prefix)

    run = _SelfPlayRun(
        engine,
        forward,
        ShardWriter(write, index),
        rounds=rounds,
        rounds_per_shard=rounds_per_shard,
        timeout_ms=timeout_ms,
        progress=progress,
        progress_interval_s=progress_interval_s,
    )
    failure: BaseException | None = None
    try:
        run.serve()
    except KeyboardInterrupt:
        run.interrupted = True
    except BaseException as e:  # closed and flushed below, then re-raised
        failure = e
    finally:
        engine.close()
    run.finish(failure)
    if failure is not None:
        raise failure
    summary = run.summary(device)
    if progress is not None and not run.interrupted:
        try:
            progress(run.snapshot())
        except KeyboardInterrupt:  # everything is written already
            summary.interrupted = True
    return summary
