"""Connecting to Ray and placing the self-play actors.

``address`` says which Ray to use:

* ``"auto"``: the cluster this machine belongs to (``ray start`` ran here,
  or ``RAY_ADDRESS`` is set);
* ``"local"``: a private Ray started by this process on this machine only,
  bound to 127.0.0.1 (for tests and single-machine use), shut down on close;
* anything else: a cluster address, ``HOST:PORT`` of the head node.

Ray is an optional dependency (``pip install blobmaster[ray]``); it is
imported only here, on first use.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ActorSlot",
    "DistributedError",
    "RayUnavailableError",
    "connect",
    "import_ray",
    "plan_actors",
]

# With this set to 0 before Ray starts, Ray uses the loopback address for
# every service (its behaviour on macOS/Windows): a "local" instance is then
# reachable from this machine only, and no test traffic leaves it.
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class DistributedError(ValueError):
    """Bad distributed self-play input (address, actor counts, a model) or a
    Ray cluster that cannot run it."""


class RayUnavailableError(DistributedError, ImportError):
    """Ray is not installed (it is the optional extra ``blobmaster[ray]``)."""


def import_ray(*, loopback: bool = False) -> Any:
    """The ``ray`` module, or RayUnavailableError. ``loopback`` makes a Ray
    started from now on by this process bind to 127.0.0.1 only."""
    if loopback:
        os.environ[_LOOPBACK_ENV] = "0"
        if "ray" in sys.modules:  # the constant is read at import time: set it too
            try:
                from ray._private import ray_constants

                ray_constants.ENABLE_RAY_CLUSTER = False
            except (ImportError, AttributeError):
                pass
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(
            "Ray is not installed: pip install 'blobmaster[ray]' (or pip install 'ray>=2.9')"
        ) from None
    return ray


def connect(address: str, *, local_cpus: int | None = None) -> bool:
    """Connects this process to Ray unless it is already connected; returns
    True when this call started or joined Ray (the caller shuts it down)."""
    if not address or not isinstance(address, str):
        raise DistributedError(f"bad Ray address {address!r}: use auto, local or HOST:PORT")
    local = address == "local"
    ray = import_ray(loopback=local)
    if ray.is_initialized():
        return False
    if local_cpus is not None and local_cpus < 1:
        raise DistributedError(f"local_cpus must be >= 1, got {local_cpus}")
    kwargs: dict[str, Any] = dict(
        include_dashboard=False, log_to_driver=False, configure_logging=False
    )
    if local:
        kwargs["num_cpus"] = local_cpus or os.cpu_count() or 1
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        text = str(e).strip()
        first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(e).__name__
        hint = " (start one with `ray start --head`, or use local)" if address == "auto" else ""
        raise DistributedError(f"cannot connect to Ray at {address}: {first}{hint}") from None
    return True


@dataclass(frozen=True)
class ActorSlot:
    """Where one self-play actor runs and what it reserves. A replacement for
    a dead actor gets the same slot (and so the same seed stream)."""

    index: int
    num_cpus: float
    num_gpus: float = 0.0
    node_id: str | None = None
    """Preferred node (soft affinity: a replacement may land elsewhere)."""

    @property
    def engine_threads(self) -> int:
        return max(1, int(self.num_cpus))

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus > 0 else "cpu"


def plan_actors(
    nodes: list[dict[str, Any]],
    *,
    actors: int | None,
    cpus_per_actor: float | None,
    gpus_per_actor: float,
) -> list[ActorSlot]:
    """The actor slots for ``ray.nodes()``: ``actors`` slots of
    ``cpus_per_actor`` CPUs (default 1) when given; otherwise one per alive
    node (all its CPUs) or, with ``gpus_per_actor`` > 0, one per
    ``gpus_per_actor`` GPUs of each node (its CPUs shared among them)."""
    if actors is not None and actors < 1:
        raise DistributedError(f"actors must be >= 1, got {actors}")
    if cpus_per_actor is not None and cpus_per_actor <= 0:
        raise DistributedError(f"cpus_per_actor must be > 0, got {cpus_per_actor}")
    if gpus_per_actor < 0:
        raise DistributedError(f"gpus_per_actor must be >= 0, got {gpus_per_actor}")
    if actors is not None:
        cpus = cpus_per_actor or 1.0
        return [ActorSlot(i, cpus, gpus_per_actor) for i in range(actors)]
    slots: list[ActorSlot] = []
    for node in nodes:
        if not node.get("Alive", False):
            continue
        res = node.get("Resources", {})
        node_cpus = float(res.get("CPU", 0.0))
        if gpus_per_actor > 0:
            count = int(float(res.get("GPU", 0.0)) // gpus_per_actor)
            cpus = cpus_per_actor or max(1.0, node_cpus // max(count, 1))
        else:
            count, cpus = 1, cpus_per_actor or max(1.0, node_cpus)
        for _ in range(count):
            slots.append(ActorSlot(len(slots), cpus, gpus_per_actor, node.get("NodeID")))
    if not slots:
        what = "GPUs" if gpus_per_actor > 0 else "alive nodes"
        raise DistributedError(f"the Ray cluster has no {what} for self-play actors")
    return slots
