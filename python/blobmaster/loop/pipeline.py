"""How an iteration's phases share the machine: ``[loop] pipeline``.

* ``sequential``: self-play, then training (on the shards up to this
  iteration), each with every core.
* ``overlap`` (from iteration 2 on): the self-play of iteration k (with the
  best network after k-1) runs on a background thread while iteration k
  trains, in this thread, on the complete shards up to k-1: one iteration
  of staleness, as in KataGo's or asynchronous AlphaZero's pipelines. The
  two share the cores ([selfplay] threads engine workers, the rest for
  torch), and the iteration waits for both before its gate.

The phase markers are the same either way, so a crash anywhere resumes
phase by phase; a resumed iteration runs whichever of its two first phases
is missing (both at once when both are).

Training runs in the main thread because its Ctrl-C handling (checkpoint,
then stop) needs the signal; the self-play thread is stopped through its
progress callback (``selfplay_phase(stop=...)``), which makes it write its
finished rounds before it returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blobmaster.atomic import read_json
from blobmaster.loop import selfplay, training
from blobmaster.loop.config import LoopInterrupted
from blobmaster.loop.context import LoopContext

__all__ = ["PhaseTimer", "first_phases", "timed_phase"]


class PhaseTimer:
    """Wall and process CPU time (every thread: the Rust workers, torch's
    pool) over a block; ``busy_cores`` = CPU time / wall time."""

    def __enter__(self) -> PhaseTimer:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.wall_s = self.cpu_s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self.wall0
        self.cpu_s = time.process_time() - self.cpu0

    @property
    def busy_cores(self) -> float | None:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else None


def timed_phase(
    marker: Path, run: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], float | None]:
    """(``run()``, busy cores while it ran); None when its marker existed
    before (the phase was skipped, nothing to measure)."""
    existed = read_json(marker) is not None
    with PhaseTimer() as timer:
        result = run()
    return result, None if existed else timer.busy_cores


class _SelfPlayThread(threading.Thread):
    """``selfplay_phase`` on a thread, keeping its result or exception."""

    def __init__(self, ctx: LoopContext, k: int, best: Path) -> None:
        super().__init__(name=f"blobmaster-selfplay-{k}", daemon=True)
        self.ctx, self.k, self.best = ctx, k, best
        self.stop = threading.Event()
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = selfplay.selfplay_phase(self.ctx, self.k, self.best, self.stop)
        except BaseException as e:  # raised in the main thread by first_phases
            self.error = e


def first_phases(ctx: LoopContext, k: int, best: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The self-play and training markers of iteration ``k``, the two phases
    run one after the other or overlapped (module docstring)."""
    if ctx.cfg.loop.pipeline != "overlap" or k == 1:
        return selfplay.selfplay_phase(ctx, k, best), training.train_phase(ctx, k)
    it = ctx.folder.iter_dir(k)
    if read_json(it / "selfplay.json") is not None or read_json(it / "train.json") is not None:
        # one of the two is done: nothing to overlap, the other gets every core
        return selfplay.selfplay_phase(ctx, k, best), training.train_phase(ctx, k)
    ctx.log(f"iteration {k}: self-play and training overlap (training on iterations up to {k - 1})")
    worker = _SelfPlayThread(ctx, k, best)
    worker.start()
    try:
        tr = training.train_phase(ctx, k)
    except BaseException:  # a failed or interrupted training stops the self-play (rounds kept)
        worker.stop.set()
        _join(worker)
        raise
    interrupted = _join(worker)
    if worker.error is not None:
        raise worker.error
    if interrupted:
        raise LoopInterrupted(f"interrupted after the self-play of iteration {k}")
    assert worker.result is not None
    return worker.result, tr


def _join(worker: _SelfPlayThread) -> bool:
    """Waits for the self-play thread; a Ctrl-C meanwhile stops it (its
    finished rounds are written). Returns whether there was a Ctrl-C."""
    interrupted = False
    while worker.is_alive():
        try:
            worker.join(timeout=0.2)
        except KeyboardInterrupt:
            worker.stop.set()
            interrupted = True
    return interrupted
