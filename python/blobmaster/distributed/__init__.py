"""Self-play across machines on Ray (the optional extra ``blobmaster[ray]``).

Self-play runs as Ray actors, each with its own SelfPlayEngine and inference
loop; this process (the learner, in ``blobmaster loop``) publishes each
network through Ray's object store and writes the shards the actors send
back into the run folder, atomically and under the usual names. No shared
filesystem is needed. docs/distributed.md shows how to start a cluster.

    from blobmaster.config import load_config
    from blobmaster.distributed import RaySelfPlayPool

    with RaySelfPlayPool("auto") as pool:            # one actor per node
        summary = pool.selfplay("best.pt", "shards/", preset=load_config("light"),
                                rounds=1000, seed=7)

Ray itself is imported only when a pool is created.
"""

from blobmaster.distributed.cluster import (
    ActorSlot,
    DistributedError,
    RayUnavailableError,
    connect,
    plan_actors,
)
from blobmaster.distributed.pool import RaySelfPlayPool, ray_selfplay
from blobmaster.distributed.summary import (
    ActorReport,
    RaySelfPlaySummary,
    ShardReceipt,
    split_rounds,
)

__all__ = [
    "ActorReport",
    "ActorSlot",
    "DistributedError",
    "RaySelfPlayPool",
    "RaySelfPlaySummary",
    "RayUnavailableError",
    "ShardReceipt",
    "connect",
    "plan_actors",
    "ray_selfplay",
    "split_rounds",
]
