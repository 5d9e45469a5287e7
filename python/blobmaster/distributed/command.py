"""``blobmaster selfplay --ray ADDRESS``: the command's Ray branch.

The CLI checks its arguments as for a local run, then hands over here. Bad
input raises a ValueError (DistributedError, ModelError, ConfigError) that
the CLI prints as one line; the return value is the exit status.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from blobmaster.distributed.cluster import DistributedError

__all__ = ["selfplay_on_ray"]

EXIT_INTERRUPTED = 130


def _model_bytes(model: Path | None) -> tuple[bytes, str | None]:
    """The model file's bytes and the shard identity to use (None: its sha256 id);
    without a file, the default BlobNet of a local run (seed 0)."""
    if model is not None:
        from blobmaster.model import load_model_info

        load_model_info(model)  # ModelError for a file that is not a model, before Ray starts
        return model.read_bytes(), None
    from blobmaster.model import default_model, save_model

    with tempfile.TemporaryDirectory(prefix="blobmaster-ray-") as tmp:
        path = save_model(default_model(seed=0), Path(tmp) / "default.pt")
        return path.read_bytes(), "default:blobnet-seed0"


def selfplay_on_ray(
    address: str,
    actors: int | None,
    *,
    preset: Any,
    tables: list[tuple[int, int, float]] | None,
    model: Path | None,
    out: Path,
    rounds: int,
    seed: int,
    device: str,
    threads: int | None,
    games_per_thread: int | None,
    batch: int | None,
    rounds_per_shard: int | None,
    bf16: bool,
    full_games: bool | None,
    torch_threads: int | None,
    progress: bool,
    json_summary: bool,
) -> int:
    """Runs the self-play of ``blobmaster selfplay`` on Ray actors (one per
    node, or ``actors`` of ``threads`` CPUs each) and prints its summary."""
    if full_games:
        raise DistributedError("--ray plays single rounds: drop --full-games")
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise DistributedError(f"--device {device}: with --ray use auto, cpu or cuda")
    from blobmaster.distributed.pool import RaySelfPlayPool
    from blobmaster.progress import RichProgress
    from blobmaster.replay import ShardMetadata

    data, default_id = _model_bytes(model)
    with RaySelfPlayPool(
        address,
        actors=actors,
        cpus_per_actor=float(threads) if threads else None,
        gpus_per_actor=1.0 if device.startswith("cuda") else 0.0,
        torch_threads=torch_threads,
    ) as pool:
        metadata = None
        if default_id is not None:
            metadata = ShardMetadata(model=default_id, search=preset.search.to_json())
        if not json_summary:
            print(
                f"selfplay: {rounds} rounds, {preset.name} on Ray ({address}), "
                f"{len(pool.slots)} actors, out {out}",
                file=sys.stderr,
            )
        with RichProgress(rounds, enabled=progress) as bar:
            summary = pool.selfplay(
                data,
                out,
                preset=preset,
                rounds=rounds,
                seed=seed,
                rounds_per_shard=rounds_per_shard,
                games_per_thread=games_per_thread,
                batch=batch,
                tables=tables,
                bf16=bf16,
                metadata=metadata,
                progress=bar,
            )
    if json_summary:
        result = summary.as_dict()
        result.update(
            out=str(out), config=preset.name, shard_files=[p.name for p in summary.shards]
        )
        print(json.dumps(result))
    else:
        print(f"selfplay: {summary.one_line()} -> {out}")
    return EXIT_INTERRUPTED if summary.interrupted else 0
