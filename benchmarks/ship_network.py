#!/usr/bin/env python
"""Ships a loop run's network as the package's trained network (issue 11, item 2).

    python benchmarks/ship_network.py RUN_DIR ITERATION BY_TABLE_JSON --command "..."
    python benchmarks/ship_network.py MODEL.pt - BY_TABLE_JSON --command "..."

copies ``RUN_DIR/iter-NNNN/model.pt`` (or a model file given directly, for a
network made by ``blobmaster train`` outside a loop run; ITERATION is then
``-`` and the record keeps the training run's ``runs.csv`` instead of a loop's
config) to
``python/blobmaster/models/blobnet.pt`` and writes ``blobnet.json`` beside
it: the file's sha256 and size, the network's size and parameters, the run
(its name, iterations done, the saved ``config.toml`` text), the commands
that trained and evaluated it (``--command``, give each one in full), the
commit (``git rev-parse HEAD`` and whether the tree was clean) and the
per-table evaluation ``BY_TABLE_JSON`` (the rows written by
``blobmaster eval --tables ... --out``). Both files are written atomically.
``tests/test_agents.py`` then checks the shipped file against the record
and against the heuristic; docs/play.md, "The shipped network", has the
whole recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from blobmaster.atomic import atomic_write_bytes, utc_now, write_json
from blobmaster.model import load_model_info
from blobmaster.packaged import PACKAGED_MODEL, file_sha256

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "python" / "blobmaster" / "models"


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _loop_record(run: Path, iteration: int) -> dict[str, object]:
    loop = json.loads((run / "loop.json").read_text())
    return {
        "name": loop.get("name"),
        "iteration": iteration,
        "iterations_done": loop.get("iterations_done"),
        "config_toml": (run / "config.toml").read_text(),
    }


def _training_record(model: Path) -> dict[str, object]:
    """A ``blobmaster train --out DIR`` run: its runs.csv (settings, data, steps) when present."""
    runs = model.parent / "runs.csv"
    return {"model": str(model), "runs_csv": runs.read_text() if runs.is_file() else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="the loop run folder, or a model file")
    ap.add_argument("iteration", help="the iteration whose model.pt ships, or - for a model file")
    ap.add_argument("by_table", type=Path, help="JSON of blobmaster eval --tables --out")
    ap.add_argument(
        "--command", action="append", default=[], help="a command that made it (repeatable)"
    )
    args = ap.parse_args()
    direct = args.run.is_file()
    if direct != (args.iteration == "-"):
        sys.exit("ship_network: give RUN_DIR ITERATION, or MODEL.pt and - as the iteration")
    model = args.run if direct else args.run / f"iter-{int(args.iteration):04d}" / "model.pt"
    if not model.is_file():
        sys.exit(f"ship_network: no such model: {model}")
    evaluation = json.loads(args.by_table.read_text())
    if evaluation.get("format") != "blobmaster-table-eval":
        sys.exit(f"ship_network: {args.by_table} is not a `blobmaster eval --tables` report")
    run = _training_record(model) if direct else _loop_record(args.run, int(args.iteration))
    info = load_model_info(model)
    # Before the copy: the copy itself would make the tree look modified.
    commit, clean = (
        _git("rev-parse", "HEAD"),
        _git("status", "--porcelain", "--untracked-files=no") == "",
    )
    target = MODELS / PACKAGED_MODEL
    atomic_write_bytes(target, model.read_bytes())
    record = {
        "file": PACKAGED_MODEL,
        "sha256": file_sha256(target),
        "bytes": target.stat().st_size,
        "model_id": info.id,
        "model_config": dataclasses.asdict(info.config) if info.config is not None else None,
        "run": run,
        "commands": args.command,
        "commit": commit,
        "tree_clean": clean,
        "evaluation": {k: evaluation[k] for k in ("agents", "deals", "seed", "rows")},
        "shipped": utc_now(),
    }
    write_json(target.with_suffix(".json"), record)
    print(
        f"shipped {model} -> {target} (sha256 {record['sha256'][:16]}..., {record['bytes']:,} bytes)"
    )


if __name__ == "__main__":
    main()
