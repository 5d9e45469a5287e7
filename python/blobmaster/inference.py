"""The inference server loop: feed the engine's leaf batches to the network.

One Python thread does nothing but::

    ticket, states, masks = engine.next_batch(batch, timeout_ms)  # GIL released while waiting
    policy, value = model(states)                                  # on the device
    engine.submit(ticket, policy, value)

while the Rust workers keep searching and fill the next batch buffer during
the forward pass (the engine's ring holds ``pipeline_depth`` buffers). On
CUDA the states go through a pinned host buffer with a non-blocking copy,
the outputs come back the same way, and bf16 autocast is optional. Finished
rounds are collected with ``engine.take_examples()`` and written as replay
shards of ``rounds_per_shard`` whole rounds each (replay.write_shard, atomic).

Ctrl-C (KeyboardInterrupt, wherever it lands in the loop) stops the engine
and writes the rounds already finished as a last, shorter shard; a second
Ctrl-C during that write discards it. Either way every shard on disk is
complete, the engine is closed, and run_selfplay returns a summary with
``interrupted=True`` rather than raising.
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

from blobmaster.replay import ShardMetadata, next_shard_index, write_shard

__all__ = [
    "BatchOverflowError",
    "Engine",
    "Progress",
    "SelfPlaySummary",
    "run_selfplay",
]

NUM_ACTIONS, MAX_PLAYERS, OBS_SIZE = 66, 8, 256


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


@dataclass
class SelfPlaySummary:
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

    @property
    def rounds_per_min(self) -> float:
        return 60.0 * self.rounds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def evals_per_s(self) -> float:
        return self.evaluations / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mean_batch(self) -> float:
        return self.evaluations / self.batches if self.batches else 0.0

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
            "rounds": self.rounds,
            "examples": self.examples,
            "shards": len(self.shards),
            "elapsed_s": self.elapsed_s,
            "rounds_per_min": self.rounds_per_min,
            "evals_per_s": self.evals_per_s,
            "batches": self.batches,
            "mean_batch": self.mean_batch,
            "forward_ms_per_batch": self.forward_ms_per_batch,
            "python_ms_per_batch": self.python_ms_per_batch,
            "wait_ms_per_batch": self.wait_ms_per_batch,
            "forward_share": self.forward_share,
            "histogram": self.histogram_text(),
            "interrupted": self.interrupted,
            "discarded_rounds": self.discarded_rounds,
            "device": self.device,
            "cache_hit_rate": float(self.engine_stats.get("cache_hit_rate", math.nan)),
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
    """Finished examples not yet written, grouped into whole rounds."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.round_ids: set[int] = set()

    def add(self, examples: dict[str, np.ndarray]) -> None:
        if len(examples.get("seat", ())) == 0:
            return
        self.parts.append({k: np.asarray(v) for k, v in examples.items()})
        self.round_ids.update(np.unique(examples["round_id"]).tolist())

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
    shards of ``rounds_per_shard`` whole rounds to ``out_dir``.

    ``model`` maps float32 (B, 256) to (policy logits (B, 66), values (B, 8));
    it is moved to ``device`` and put in eval mode. ``batch`` caps the rows
    per batch (default: the engine's max_batch). ``progress`` is called with
    a Progress snapshot every ``progress_interval_s`` seconds and at the end;
    an exception it raises stops the run (KeyboardInterrupt is handled like
    Ctrl-C, anything else propagates after the engine is closed and the
    finished rounds are written). Shards are named
    ``<shard_prefix>-<index>.parquet`` from ``first_shard_index`` (default:
    after the shards already in ``out_dir``). The engine is always closed
    on return.
    """
    # Argument errors raise before anything starts; the engine is left as it is.
    if rounds is not None and rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if rounds_per_shard < 1:
        raise ValueError(f"rounds_per_shard must be >= 1, got {rounds_per_shard}")
    if batch is not None and batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    device = torch.device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = metadata or ShardMetadata(model="unknown", search="unknown")
    index = next_shard_index(out, shard_prefix) if first_shard_index is None else first_shard_index
    model = model.to(device).eval()
    cuda = device.type == "cuda"
    engine_max = int(getattr(engine, "max_batch", 0) or 0)
    capacity = min(batch, engine_max) if batch and engine_max else batch or engine_max or 512
    # Always ask for full batches: the engine hands one out when it is full or
    # at the timeout. Asking for fewer rows after a short batch (so as not to
    # wait for the timeout) was measured and is worse: the leaves in flight
    # split into many small batches and the network runs far less efficiently
    # (light, 2 threads x 8 games on 2 CPU cores: 16 instead of 89 rows per
    # batch, 10-30% fewer rounds/min).

    if cuda:  # pinned staging buffers: async host<->device copies
        in_host = torch.empty((capacity, OBS_SIZE), dtype=torch.float32).pin_memory()
        pol_host = torch.empty((capacity, NUM_ACTIONS), dtype=torch.float32).pin_memory()
        val_host = torch.empty((capacity, MAX_PLAYERS), dtype=torch.float32).pin_memory()
        in_host_np = in_host.numpy()

    pending = _Pending()
    shards: list[Path] = []
    written_rounds = written_examples = 0
    sizes = np.zeros(capacity + 1, dtype=np.int64)
    batches = evaluations = 0
    forward_s = python_s = wait_s = 0.0
    interrupted = False
    discarded = 0
    start = time.perf_counter()
    next_report = start + progress_interval_s
    next_collect = start + 0.2

    in_write = 0  # rounds taken from `pending` whose shard is being written

    def flush(final: bool) -> None:
        nonlocal index, written_rounds, written_examples, in_write
        while pending.rounds and (final or pending.rounds >= rounds_per_shard):
            chunk = pending.take(rounds_per_shard)
            if chunk is None:
                break
            in_write = len(np.unique(chunk["round_id"]))
            path = write_shard(chunk, out, index, meta, prefix=shard_prefix)
            index += 1
            shards.append(path)
            written_rounds += in_write
            written_examples += len(chunk["seat"])
            in_write = 0

    def collect(final: bool = False) -> None:
        pending.add(engine.take_examples())
        flush(final)

    def snapshot() -> Progress:
        elapsed = max(time.perf_counter() - start, 1e-9)
        st = engine.stats()
        done = int(st.get("rounds", written_rounds + pending.rounds))
        return Progress(
            rounds=done,
            target=rounds,
            examples=written_examples + sum(len(p["seat"]) for p in pending.parts),
            shards=len(shards),
            elapsed_s=elapsed,
            rounds_per_min=60.0 * done / elapsed,
            evals_per_s=evaluations / elapsed,
            mean_batch=evaluations / batches if batches else 0.0,
            batches=batches,
        )

    def target_reached() -> bool:
        return rounds is not None and written_rounds + pending.rounds >= rounds

    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
    failure: BaseException | None = None
    try:
        with torch.inference_mode():
            while True:
                t0 = time.perf_counter()
                ticket, states, _masks = engine.next_batch(capacity, timeout_ms)
                t1 = time.perf_counter()
                wait_s += t1 - t0
                if ticket >= 0:
                    rows = _checked_rows(states, capacity)
                    if cuda:
                        np.copyto(in_host_np[:rows], states)
                        x = in_host[:rows].to(device, non_blocking=True)
                    else:
                        x = torch.from_numpy(states)
                    t2 = time.perf_counter()
                    with autocast:
                        policy, value = model(x)
                    if cuda:
                        pol_host[:rows].copy_(policy, non_blocking=True)
                        val_host[:rows].copy_(value, non_blocking=True)
                        torch.cuda.current_stream(device).synchronize()
                        policy_np, value_np = pol_host[:rows].numpy(), val_host[:rows].numpy()
                    else:
                        policy_np, value_np = _as_numpy(policy), _as_numpy(value)
                    t3 = time.perf_counter()
                    engine.submit(ticket, policy_np, value_np)
                    t4 = time.perf_counter()
                    forward_s += t3 - t2
                    python_s += (t2 - t1) + (t4 - t3)
                    batches += 1
                    evaluations += rows
                    sizes[min(rows, capacity)] += 1
                now = time.perf_counter()
                finished = engine.finished
                if finished or ticket < 0 or now >= next_collect:
                    collect()
                    next_collect = now + 0.2
                    if target_reached():
                        break
                if progress is not None and now >= next_report:
                    progress(snapshot())
                    next_report = now + progress_interval_s
                if finished:
                    break
    except KeyboardInterrupt:
        interrupted = True
        discarded += in_write  # a shard being written when Ctrl-C came is not on disk
        in_write = 0
    except BaseException as e:  # closed and flushed below, then re-raised
        failure = e
    finally:
        engine.close()
    # The engine is stopped: write every finished round still waiting.
    try:
        collect(final=True)
    except KeyboardInterrupt:  # a second Ctrl-C: give up the unwritten rounds
        interrupted = True
        discarded += pending.rounds + in_write
        pending.take()
    except Exception:
        if failure is None:
            raise
    if failure is not None:
        raise failure
    elapsed = time.perf_counter() - start
    summary = SelfPlaySummary(
        rounds=written_rounds,
        examples=written_examples,
        shards=shards,
        elapsed_s=elapsed,
        batches=batches,
        evaluations=evaluations,
        forward_s=forward_s,
        python_s=python_s,
        wait_s=wait_s,
        batch_sizes=sizes,
        interrupted=interrupted,
        discarded_rounds=discarded,
        engine_stats=dict(engine.stats()),
        device=str(device),
    )
    if progress is not None and not interrupted:
        try:
            progress(snapshot())
        except KeyboardInterrupt:  # everything is written already
            summary.interrupted = True
    return summary
