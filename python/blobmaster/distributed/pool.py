"""The driver side of self-play on Ray: a pool of actors, one call per network.

:class:`RaySelfPlayPool` keeps its actors (one SelfPlayEngine each) alive
across calls, so a loop pays the actors' start-up once. Each
:meth:`RaySelfPlayPool.selfplay` call

1. publishes the network: its bytes go into Ray's object store once per
   version (``ray.put``), and every actor gets the ObjectRef and checks the
   sha256 of what it received;
2. splits the rounds among the actors; slot ``i`` plays with seed
   ``derive_seed("blobmaster-ray-selfplay", seed, i, attempt)``;
3. collects finished shards as bytes (see :mod:`blobmaster.distributed.worker`)
   and writes each one atomically into ``out_dir`` under the usual name
   ``<prefix>-<index>.parquet``, numbered in arrival order by this process
   (the only writer, so names never collide); the shard bytes are exactly
   what the actor's ``write_shard`` produced;
4. replaces an actor that dies (up to ``max_restarts`` per call): the
   shards it had finished are kept, the replacement first sends any it had
   not delivered, then plays the rounds still missing with the next seed of
   its slot.

Ctrl-C (or a KeyboardInterrupt from the progress callback) asks every actor
to write its finished rounds, collects them and returns with
``interrupted=True``; a second Ctrl-C returns at once. Either way every
shard in ``out_dir`` is complete.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blobmaster.distributed.cluster import ActorSlot, DistributedError, connect, plan_actors
from blobmaster.distributed.summary import (
    ActorReport,
    RaySelfPlaySummary,
    ShardReceipt,
    split_rounds,
)

if TYPE_CHECKING:
    from blobmaster.config import Preset
    from blobmaster.inference import Progress
    from blobmaster.replay import ShardMetadata

__all__ = ["RaySelfPlayPool", "ray_selfplay"]

_POLL_S = 0.5


@dataclass
class _Published:
    sha256: str
    ref: Any
    model_id: str


@dataclass
class _SlotState:
    """One slot during one selfplay call."""

    target: int
    report: ActorReport
    acks: list[str] = field(default_factory=list)
    received: set[str] = field(default_factory=set)
    attempt: int = 0
    job_prefix: str | None = None
    running: bool = False
    finished: bool = False
    progress: dict[str, float] = field(default_factory=dict)
    """The running job's last progress snapshot (empty between jobs)."""
    job_base_rounds: int = 0
    """Rounds delivered from this slot before its running job started."""


def _wait_for_room(ray: Any, slots: list[ActorSlot], wait_s: float = 10.0) -> None:
    """Actors that do not fit would wait for resources forever: after
    ``wait_s`` (resources of actors just ended come back with a delay), say so."""
    need = {"CPU": sum(s.num_cpus for s in slots), "GPU": sum(s.num_gpus for s in slots)}
    total = ray.cluster_resources()
    deadline = time.monotonic() + wait_s
    while True:
        available = ray.available_resources()
        short = [k for k, n in need.items() if n > float(available.get(k, 0.0)) + 1e-9]
        if not short:
            return
        never = [k for k in short if need[k] > float(total.get(k, 0.0)) + 1e-9]
        if never or time.monotonic() >= deadline:
            key = (never or short)[0]
            have = (
                f"{float(total.get(key, 0.0)):g} in all"
                if never
                else (f"{float(available.get(key, 0.0)):g} free")
            )
            raise DistributedError(
                f"{len(slots)} self-play actors need {need[key]:g} {key}s, the Ray cluster "
                f"has {have} (fewer actors or CPUs per actor)"
            )
        time.sleep(0.2)


class RaySelfPlayPool:
    """Self-play actors on a Ray cluster (see the module docstring)."""

    def __init__(
        self,
        address: str = "auto",
        *,
        actors: int | None = None,
        cpus_per_actor: float | None = None,
        gpus_per_actor: float = 0.0,
        torch_threads: int | None = None,
        max_restarts: int = 3,
        local_cpus: int | None = None,
    ) -> None:
        if max_restarts < 0:
            raise DistributedError(f"max_restarts must be >= 0, got {max_restarts}")
        if torch_threads is not None and torch_threads < 1:
            raise DistributedError(f"torch_threads must be >= 1, got {torch_threads}")
        self.owns_ray = connect(address, local_cpus=local_cpus)
        import ray

        from blobmaster.distributed.worker import SelfPlayWorker

        self._ray = ray
        try:
            self.slots = plan_actors(
                ray.nodes(),
                actors=actors,
                cpus_per_actor=cpus_per_actor,
                gpus_per_actor=gpus_per_actor,
            )
            _wait_for_room(ray, self.slots)
        except BaseException:
            self._shutdown_ray()
            raise
        self.max_restarts = max_restarts
        self.torch_threads = torch_threads
        self.run_token = uuid.uuid4().hex[:12]  # names the actors' temp folders only
        self._remote = ray.remote(SelfPlayWorker)
        self.handles: list[Any] = [self._spawn(s) for s in self.slots]
        self._published: _Published | None = None
        self._jobs = 0

    # -- actors

    def _spawn(self, slot: ActorSlot) -> Any:
        options: dict[str, Any] = {"num_cpus": slot.num_cpus, "num_gpus": slot.num_gpus}
        if slot.node_id is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(slot.node_id, soft=True)
        threads = self.torch_threads or slot.engine_threads
        return self._remote.options(**options).remote(
            slot.index, self.run_token, threads, slot.device
        )

    def publish(self, model: str | os.PathLike[str] | bytes) -> _Published:
        """Puts a TorchScript model file (path or bytes) in the object store,
        once per distinct content."""
        from blobmaster.model import ModelError, load_model_info

        if isinstance(model, (bytes, bytearray)):
            data = bytes(model)
        else:
            try:
                load_model_info(model)  # a readable TorchScript file written by save_model
            except ModelError as e:
                raise DistributedError(str(e)) from None
            data = Path(model).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if self._published is None or self._published.sha256 != digest:
            self._published = _Published(digest, self._ray.put(data), f"sha256:{digest[:16]}")
        return self._published

    def close(self) -> None:
        """Removes the actors' folders, ends the actors and, if this pool
        started or joined Ray, disconnects."""
        ray = self._ray
        try:
            ray.get([h.cleanup.remote() for h in self.handles], timeout=60)
        except Exception:  # a dead actor has nothing to clean; close regardless
            pass
        for h in self.handles:
            ray.kill(h)
        self.handles = []
        self._shutdown_ray()

    def _shutdown_ray(self) -> None:
        if self.owns_ray:
            self._ray.shutdown()
            self.owns_ray = False

    def __enter__(self) -> RaySelfPlayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one call

    def selfplay(
        self,
        model: str | os.PathLike[str] | bytes,
        out_dir: str | os.PathLike[str],
        *,
        preset: Preset | str | os.PathLike[str],
        rounds: int,
        seed: int = 0,
        rounds_per_shard: int | None = None,
        games_per_thread: int | None = None,
        batch: int | None = None,
        tables: list[tuple[int, int, float]] | None = None,
        timeout_ms: int | None = None,
        bf16: bool = False,
        metadata: ShardMetadata | None = None,
        shard_prefix: str = "shard",
        progress: Callable[[Progress], None] | None = None,
        on_shard: Callable[[ShardReceipt], None] | None = None,
    ) -> RaySelfPlaySummary:
        """Plays ``rounds`` rounds of ``preset`` (a blobmaster.config.Preset, or
        a preset name or TOML file)
        with the network ``model`` on the pool's actors and writes the shards
        into ``out_dir``. ``progress`` gets a blobmaster.inference.Progress
        about twice a second, ``on_shard`` a ShardReceipt per written shard."""
        from blobmaster.replay import next_shard_index, shard_name

        if rounds < 1:
            raise DistributedError(f"rounds must be >= 1, got {rounds}")
        if isinstance(preset, (str, os.PathLike)):
            from blobmaster.config import load_config

            preset = load_config(preset)  # a preset name or TOML file; ConfigError if bad
        if preset.selfplay.full_games:
            raise DistributedError("self-play on Ray plays single rounds, not full games")
        shard_name(0, shard_prefix)  # a bad prefix raises ValueError before anything starts
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        pub = self.publish(model)
        meta = (
            {"model": metadata.model, "search": metadata.search}
            if metadata is not None
            else {"model": pub.model_id, "search": preset.search.to_json()}
        )
        job = {
            "rounds_per_shard": rounds_per_shard or preset.selfplay.rounds_per_shard,
            "timeout_ms": timeout_ms or preset.selfplay.timeout_ms,
            "bf16": bf16,
            "metadata": meta,
        }
        engine = dict(games_per_thread=games_per_thread, max_batch=batch, tables=tables)
        run = _Call(self, pub, out, next_shard_index(out, shard_prefix), shard_prefix)
        run.job_base, run.engine_overrides, run.preset, run.seed = job, engine, preset, seed
        run.progress_cb, run.on_shard = progress, on_shard
        return run.execute(rounds)


class _Call:
    """The state and event loop of one RaySelfPlayPool.selfplay call."""

    def __init__(
        self, pool: RaySelfPlayPool, pub: _Published, out: Path, first_index: int, prefix: str
    ) -> None:
        self.pool, self.pub, self.out = pool, pub, out
        self.index, self.prefix = first_index, prefix
        self.pending: dict[Any, tuple[int, str]] = {}  # ObjectRef -> (slot, kind)
        self.receipts: list[ShardReceipt] = []
        self.interrupted = False
        self.job_base: dict[str, Any] = {}
        self.engine_overrides: dict[str, Any] = {}
        self.preset: Any = None
        self.seed = 0
        self.progress_cb: Callable[[Any], None] | None = None
        self.on_shard: Callable[[ShardReceipt], None] | None = None
        self.states: list[_SlotState] = []

    # -- job control

    def _launch(self, i: int) -> None:
        """Starts slot i's next job for the rounds it still owes."""
        from blobmaster.arena import derive_seed

        st, pool = self.states[i], self.pool
        missing = st.target - st.report.rounds
        if missing <= 0 or self.interrupted:
            st.finished = True
            return
        slot = pool.slots[i]
        seed = derive_seed("blobmaster-ray-selfplay", self.seed, i, st.attempt)
        kwargs = self.preset.engine_kwargs(
            threads=slot.engine_threads, rounds=missing, seed=seed, **self.engine_overrides
        )
        pool._jobs += 1
        st.job_prefix = f"j{pool._jobs:06d}"
        st.report.jobs.append(st.job_prefix)  # before start replies: its shards are ours
        job = dict(self.job_base, engine=kwargs, rounds=missing, prefix=st.job_prefix)
        st.job_base_rounds = st.report.rounds
        st.report.seeds.append(seed)
        st.report.threads = slot.engine_threads
        st.attempt += 1
        st.running = True
        ref = pool.handles[i].start.remote(self.pub.ref, self.pub.sha256, job)
        self.pending[ref] = (i, "start")

    def _take(self, i: int, wait_s: float, kind: str = "take") -> None:
        st = self.states[i]
        ref = self.pool.handles[i].take.remote(st.acks, wait_s)
        st.acks = []
        self.pending[ref] = (i, kind)

    def _replace(self, i: int, error: BaseException) -> None:
        """A dead actor: a new one in the same slot recovers its undelivered
        shards first (kind "recover"), then plays the missing rounds."""
        st = self.states[i]
        for ref, (j, _) in list(self.pending.items()):
            if j == i:
                del self.pending[ref]
        if st.report.restarts >= self.pool.max_restarts:
            raise DistributedError(
                f"self-play actor {i} died after {st.report.restarts} replacements "
                f"(max_restarts {self.pool.max_restarts}): {error}"
            ) from None
        st.report.restarts += 1
        st.running, st.acks, st.progress = False, [], {}
        self.pool._ray.kill(self.pool.handles[i])
        self.pool.handles[i] = self.pool._spawn(self.pool.slots[i])
        self._take(i, 0.0, "recover")

    # -- results

    def _write(self, i: int, shard: dict[str, Any]) -> None:
        from blobmaster.atomic import atomic_write_bytes
        from blobmaster.replay import shard_name

        st = self.states[i]
        st.acks.append(shard["name"])
        is_ours = shard["name"].split("-")[0] in st.report.jobs
        if not is_ours or shard["name"] in st.received:
            return  # an old call's leftover, or sent again after a lost acknowledgement
        if hashlib.sha256(shard["data"]).hexdigest() != shard["sha256"]:
            raise DistributedError(f"shard {shard['name']} from actor {i} arrived corrupted")
        while True:
            path = self.out / shard_name(self.index, self.prefix)
            self.index += 1
            try:
                atomic_write_bytes(path, shard["data"], overwrite=False)
                break
            except FileExistsError:  # someone else wrote this name meanwhile: take the next
                continue
        st.received.add(shard["name"])
        st.report.rounds += shard["rounds"]
        st.report.examples += shard["examples"]
        st.report.shards += 1
        receipt = ShardReceipt(i, path, shard["rounds"], shard["examples"], shard["sha256"])
        self.receipts.append(receipt)
        if self.on_shard is not None:
            self.on_shard(receipt)

    def _handle(self, ref: Any, i: int, kind: str) -> None:
        st = self.states[i]
        value = self.pool._ray.get(ref)  # RayActorError when the actor died
        if kind == "start":
            st.report.model_sha256.append(value["sha256"])
            st.report.nodes.append(value["node_id"])
            self._take(i, _POLL_S)
            return
        for shard in value["shards"]:
            self._write(i, shard)
        if kind == "ack":
            if value["shards"]:  # a recovery left more than one reply's worth: go on
                self._take(i, 0.0, "ack")
            return
        if kind == "take" and not value["done"]:
            st.progress = value["progress"]
            self._take(i, _POLL_S)
            return
        if kind == "take":  # the job ended
            if value["error"] is not None:
                raise DistributedError(f"self-play actor {i} failed: {value['error']}")
            st.running, st.progress = False, {}
            st.report.add_result(value["result"])
            if value["result"]["rounds"] == 0 and not self.interrupted:
                raise DistributedError(f"self-play actor {i} finished a job without any round")
        self._launch(i)  # after a job or a recovery: the rounds still missing, if any
        if st.finished:
            self._take(i, 0.0, "ack")  # deletes the delivered shards on the actor

    def _snapshot(self, start: float) -> Any:
        from blobmaster.inference import Progress

        elapsed = max(time.perf_counter() - start, 1e-9)
        rounds = sum(
            max(s.report.rounds, s.job_base_rounds + int(s.progress.get("rounds", 0)))
            for s in self.states
        )
        evals = sum(s.report.evaluations + s.progress.get("evaluations", 0) for s in self.states)
        batches = sum(s.report.batches + s.progress.get("batches", 0) for s in self.states)
        return Progress(
            rounds=int(rounds),
            target=sum(s.target for s in self.states),
            examples=sum(s.report.examples for s in self.states),
            shards=len(self.receipts),
            elapsed_s=elapsed,
            rounds_per_min=60.0 * rounds / elapsed,
            evals_per_s=evals / elapsed,
            mean_batch=evals / batches if batches else 0.0,
            batches=int(batches),
        )

    def _interrupt(self) -> None:
        """Asks every running job to write its finished rounds and end; a
        slot whose poll was lost to the interrupt is polled again."""
        self.interrupted = True
        polled = {i for i, _ in self.pending.values()}
        for i, st in enumerate(self.states):
            if st.running:
                self.pool.handles[i].stop.remote()
                if i not in polled:
                    self._take(i, _POLL_S)

    def execute(self, rounds: int) -> RaySelfPlaySummary:
        ray = self.pool._ray
        from ray.exceptions import ObjectLostError, RayActorError, RayTaskError

        shares = split_rounds(rounds, [s.engine_threads for s in self.pool.slots])
        self.states = [_SlotState(n, ActorReport(slot=i)) for i, n in enumerate(shares)]
        start = time.perf_counter()
        next_report = start
        for i in range(len(self.states)):
            self._launch(i)
        while self.pending:
            try:
                ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=_POLL_S)
                for ref in ready:
                    i, kind = self.pending.pop(ref)
                    try:
                        self._handle(ref, i, kind)
                    except RayTaskError as e:  # a method raised: not worth a restart
                        cause = getattr(e, "cause", None) or e
                        raise DistributedError(f"self-play actor {i} failed: {cause}") from None
                    except (RayActorError, ObjectLostError) as e:  # the actor or its node died
                        if kind == "ack":
                            continue  # everything was delivered already
                        if self.interrupted:
                            self.states[i].finished = True  # keep what arrived, replace no one
                            continue
                        self._replace(i, e)
                if self.progress_cb is not None and time.perf_counter() >= next_report:
                    next_report = time.perf_counter() + 0.5
                    self.progress_cb(self._snapshot(start))
            except KeyboardInterrupt:
                if self.interrupted:  # a second Ctrl-C: every shard on disk is complete
                    break
                self._interrupt()
            except BaseException:
                self._interrupt()
                raise
        elapsed = time.perf_counter() - start
        return RaySelfPlaySummary.build(
            self.states, self.receipts, elapsed, self.interrupted, self.pub.sha256
        )


def ray_selfplay(
    model: str | os.PathLike[str] | bytes,
    out_dir: str | os.PathLike[str],
    *,
    preset: Preset | str | os.PathLike[str],
    rounds: int,
    address: str = "auto",
    actors: int | None = None,
    cpus_per_actor: float | None = None,
    gpus_per_actor: float = 0.0,
    torch_threads: int | None = None,
    max_restarts: int = 3,
    seed: int = 0,
    **kwargs: Any,
) -> RaySelfPlaySummary:
    """One self-play run on Ray: a pool for this call only (see
    RaySelfPlayPool.selfplay for ``kwargs``)."""
    with RaySelfPlayPool(
        address,
        actors=actors,
        cpus_per_actor=cpus_per_actor,
        gpus_per_actor=gpus_per_actor,
        torch_threads=torch_threads,
        max_restarts=max_restarts,
    ) as pool:
        return pool.selfplay(model, out_dir, preset=preset, rounds=rounds, seed=seed, **kwargs)
