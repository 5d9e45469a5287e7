"""``loop.json``: the run's manifest (config, best network, iterations done,
history of forced config changes). The chain of best networks itself lives
in the iterations' ``gate.json`` markers; the manifest is a summary of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blobmaster.atomic import read_json, utc_now, write_json
from blobmaster.loop.config import LoopConfig, LoopError
from blobmaster.loop.folder import LoopFolder

__all__ = ["MANIFEST_FORMAT", "MANIFEST_VERSION", "best_state", "read_manifest", "write_manifest"]

MANIFEST_FORMAT = "blobmaster-loop"
MANIFEST_VERSION = 1


def best_state(folder: LoopFolder, done: int) -> tuple[Path, int, int]:
    """(best network, its iteration, gates in a row without a promotion) after ``done`` iterations."""
    if done == 0:
        return folder.init_model, 0, 0
    gate = read_json(folder.iter_dir(done) / "gate.json")
    if gate is None:
        raise LoopError(f"{folder.iter_dir(done)}: finished iteration without gate.json")
    return folder.abs(gate["best_after"]), int(gate["best_iteration"]), int(gate["rejections"])


def write_manifest(
    folder: LoopFolder, cfg: LoopConfig, *, history: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    old = read_json(folder.manifest) or {}
    done = folder.done_iterations()
    best, best_iteration, rejections = best_state(folder, done)
    data = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "name": cfg.name,
        "source": cfg.source,
        "created": old.get("created", utc_now()),
        "updated": utc_now(),
        "iterations_done": done,
        "target_iterations": cfg.loop.iterations,
        "best_model": folder.rel(best),
        "best_iteration": best_iteration,
        "rejections": rejections,
        "config": cfg.to_dict(),
        "history": history,
        **extra,
    }
    write_json(folder.manifest, data)


def read_manifest(folder: LoopFolder) -> dict[str, Any]:
    data = read_json(folder.manifest)
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise LoopError(f"{folder.manifest}: not a blobmaster loop manifest")
    if int(data.get("version", 0)) > MANIFEST_VERSION:
        raise LoopError(
            f"{folder.manifest}: manifest version {data.get('version')} is newer than this blobmaster reads"
        )
    return data
