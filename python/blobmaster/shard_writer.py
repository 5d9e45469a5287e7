"""A background thread that writes self-play's replay shards.

Writing a shard (zstd Parquet, fsync, rename) takes tens to hundreds of
milliseconds. Done inside self-play's serving loop it stopped every batch
for that long, and every search worker with it (issue #9). The serving
thread now hands whole shards to this writer and goes on serving.

One shard is in the writer at a time (a queue of one): the serving thread
hands over the next shard only once the previous one is on disk, so a crash
loses at most the shard being written plus the finished rounds not yet
handed over, as before. A write error is kept and re-raised in the serving
thread by the next :meth:`ShardWriter.raise_if_failed`, :meth:`submit` or
:meth:`wait_idle`; waiting never hangs on a dead writer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["ShardWriter"]

WriteShard = Callable[[dict[str, np.ndarray], int], Path]
"""``write(examples, index) -> path``: writes one shard atomically."""

_POLL_S = 0.05  # how often a waiting serving thread looks at the writer's state


class ShardWriter:
    """Writes shards with ``write(examples, index)`` on a background thread,
    numbering them from ``first_index``. Use as a context manager or call
    :meth:`close`."""

    def __init__(self, write: WriteShard, first_index: int) -> None:
        self._write = write
        self._next_index = first_index
        self._queue: queue.Queue[tuple[int, dict[str, np.ndarray], int] | None] = queue.Queue(
            maxsize=1
        )
        self._idle = threading.Event()
        self._idle.set()
        self._abandon = threading.Event()
        self._error: BaseException | None = None
        self.shards: list[Path] = []
        """Shards on disk, in write order."""
        self.rounds = 0
        """Rounds in the shards on disk."""
        self.examples = 0
        self.write_s = 0.0
        """Time the writer thread spent writing."""
        self._thread = threading.Thread(target=self._run, name="shard-writer", daemon=True)
        self._thread.start()

    # -- the serving thread's side

    @property
    def idle(self) -> bool:
        """True when no shard is waiting or being written."""
        return self._idle.is_set()

    def raise_if_failed(self) -> None:
        """Re-raises the writer's error, if a write failed."""
        if self._error is not None:
            raise self._error

    def submit(self, examples: dict[str, np.ndarray]) -> None:
        """Hands one shard's examples to the writer; call only when :attr:`idle`.
        Raises the writer's error if an earlier write failed."""
        # The thread stores an error before it sets idle, so idle and no error
        # here means the thread is alive and waiting for work.
        self.raise_if_failed()
        if not self.idle:
            raise RuntimeError("ShardWriter.submit while a shard is still being written")
        rounds = len(np.unique(examples["round_id"]))
        self._idle.clear()
        self._queue.put((self._next_index, examples, rounds))
        self._next_index += 1

    def wait_idle(self) -> float:
        """Waits until the writer is idle and returns the seconds waited;
        raises the writer's error if the write failed. Interruptible by
        Ctrl-C."""
        start = time.perf_counter()
        while not self._idle.wait(_POLL_S):
            pass
        self.raise_if_failed()
        return time.perf_counter() - start

    def abandon(self) -> None:
        """A shard handed over but not started is dropped; the one being
        written is finished (a write is atomic and cannot be cut short)."""
        self._abandon.set()

    def close(self) -> None:
        """Lets the writer finish what it holds and stops the thread
        (errors are not raised here: see :meth:`raise_if_failed`)."""
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=_POLL_S)
                break
            except queue.Full:
                continue
        self._thread.join()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            index, examples, rounds = item
            try:
                if not self._abandon.is_set():
                    start = time.perf_counter()
                    path = self._write(examples, index)
                    self.write_s += time.perf_counter() - start
                    self.shards.append(path)
                    self.rounds += rounds
                    self.examples += len(examples["seat"])
            except BaseException as e:  # kept for the serving thread; the writer stops
                self._error = e
                return
            finally:
                self._idle.set()
