"""The self-play actor: one SelfPlayEngine and its inference loop on one node.

The driver starts a *job* (a number of rounds, a seed, the network as bytes
from Ray's object store); the actor runs :func:`blobmaster.inference.run_selfplay`
in a background thread, writing shards atomically into a folder of its own
on its node's local disk. The driver long-polls :meth:`SelfPlayWorker.take`,
which returns the bytes of every finished shard not sent yet; the driver
writes them into the run folder and acknowledges them in its next call, and
only then does the actor delete its copy. So no shared filesystem is needed,
and a shard finished but not yet acknowledged when an actor dies is still on
disk: the replacement actor of the same slot (same folder) sends it again.

This class is plain Python; the pool wraps it with ``ray.remote``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["SelfPlayWorker", "worker_folder"]

_MAX_SHARDS_PER_REPLY = 16


def worker_folder(run_token: str, slot: int) -> Path:
    """The actor's private shard folder on its node (the same for a replacement)."""
    return Path(tempfile.gettempdir()) / "blobmaster-ray" / run_token / f"actor-{slot:03d}"


class SelfPlayWorker:
    """One self-play actor (see the module docstring)."""

    def __init__(self, slot: int, run_token: str, torch_threads: int, device: str) -> None:
        import torch

        from blobmaster.atomic import remove_temporary_files

        torch.set_num_threads(max(1, torch_threads))
        self.slot = slot
        self.device = device
        self.folder = worker_folder(run_token, slot)
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_temporary_files(self.folder)  # a killed predecessor's half-written shard
        self.sent: set[str] = set()
        self.model: Any = None
        self.model_sha = ""
        self.stop_flag = threading.Event()
        self.thread: threading.Thread | None = None
        self.snapshot: dict[str, float] = {}
        self.result: dict[str, Any] | None = None
        self.error: str | None = None

    def info(self) -> dict[str, Any]:
        """Where this actor runs (node_id is None outside Ray)."""
        import ray

        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        return {
            "slot": self.slot,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "node_id": node,
        }

    def _load(self, weights: bytes, sha256: str) -> None:
        from blobmaster.model import load_model

        path = self.folder / f"model-{sha256[:16]}.pt"
        path.write_bytes(weights)
        try:
            self.model = load_model(path, self.device)  # the same checks as a local run
        finally:
            path.unlink(missing_ok=True)
        self.model_sha = sha256

    def start(self, weights: bytes, sha256: str, job: dict[str, Any]) -> dict[str, Any]:
        """Loads the network (unless it is the one already loaded) and starts
        the job. Returns the sha256 of the weights it loaded and :meth:`info`."""
        if self.thread is not None and self.thread.is_alive():  # a job of a call that failed
            self.stop_flag.set()
            self.thread.join(timeout=60)
            if self.thread.is_alive():
                raise RuntimeError(f"actor {self.slot} could not stop its previous job")
        digest = hashlib.sha256(weights).hexdigest()
        if digest != sha256:
            raise ValueError(f"weights arrived with sha256 {digest}, expected {sha256}")
        if digest != self.model_sha:
            self._load(weights, digest)
        self.stop_flag.clear()
        self.snapshot, self.result, self.error = {}, None, None
        self.thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self.thread.start()
        return {"sha256": self.model_sha, **self.info()}

    def _progress(self, snap: Any) -> None:
        self.snapshot = {
            "rounds": snap.rounds,
            "examples": snap.examples,
            "evaluations": snap.mean_batch * snap.batches,
            "batches": snap.batches,
        }
        if self.stop_flag.is_set():  # run_selfplay treats it as Ctrl-C: writes, then returns
            raise KeyboardInterrupt

    def _run(self, job: dict[str, Any]) -> None:
        from blobmaster import SelfPlayEngine
        from blobmaster.inference import run_selfplay
        from blobmaster.replay import ShardMetadata

        try:
            engine = SelfPlayEngine(**job["engine"])
            summary = run_selfplay(
                engine,
                self.model,
                self.device,
                out_dir=self.folder,
                rounds=job["rounds"],
                rounds_per_shard=job["rounds_per_shard"],
                batch=job["engine"]["max_batch"],
                timeout_ms=job["timeout_ms"],
                bf16=job["bf16"],
                progress=self._progress,
                metadata=ShardMetadata(**job["metadata"]),
                shard_prefix=job["prefix"],
                first_shard_index=0,
                progress_interval_s=0.25,
            )
            self.result = {
                "rounds": summary.rounds,
                "examples": summary.examples,
                "elapsed_s": summary.elapsed_s,
                "evaluations": summary.evaluations,
                "batches": summary.batches,
                "interrupted": summary.interrupted,
                "discarded_rounds": summary.discarded_rounds,
                "device": summary.device,
            }
        except BaseException as e:
            self.error = "".join(traceback.format_exception_only(type(e), e)).strip()

    def _shard_entry(self, path: Path) -> dict[str, Any]:
        import polars as pl

        row = (
            pl.scan_parquet(path)
            .select(pl.len().alias("n"), pl.col("round_id").n_unique().alias("r"))
            .collect()
        )
        data = path.read_bytes()
        return {
            "name": path.name,
            "data": data,
            "sha256": hashlib.sha256(data).hexdigest(),
            "rounds": int(row["r"][0]),
            "examples": int(row["n"][0]),
        }

    def take(self, acked: list[str], wait_s: float) -> dict[str, Any]:
        """Deletes the acknowledged shards, then waits up to ``wait_s`` for a
        shard not sent yet (or the end of the job) and returns the unsent
        shards (at most 16) with the job's state. ``done`` is read before the folder is
        listed, so the last shards of a job always come with or before it."""
        from blobmaster.replay import list_shards

        for name in acked:
            (self.folder / name).unlink(missing_ok=True)
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            done = self.thread is None or not self.thread.is_alive()
            new = [p for p in list_shards(self.folder) if p.name not in self.sent]
            if new or done or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if len(new) > _MAX_SHARDS_PER_REPLY:  # bounded replies: the rest comes next call
            new, done = new[:_MAX_SHARDS_PER_REPLY], False
        shards = [self._shard_entry(p) for p in new]
        self.sent.update(s["name"] for s in shards)
        return {
            "shards": shards,
            "done": done,
            "result": self.result if done else None,
            "error": self.error if done else None,
            "progress": dict(self.snapshot),
        }

    def stop(self) -> None:
        """Asks the running job to write its finished rounds and end."""
        self.stop_flag.set()

    def cleanup(self) -> None:
        """Stops the job and removes this actor's folder (at pool close)."""
        self.stop_flag.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)
        try:  # the run's folder, once its last actor is gone
            self.folder.parent.rmdir()
        except OSError:
            pass
