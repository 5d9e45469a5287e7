"""metrics.csv of a loop run: one row per finished iteration, rebuilt from
the iterations' DONE markers. Torch-free (``blobmaster report`` uses the
column names)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blobmaster.atomic import utc_now
from blobmaster.loop.folder import LoopFolder
from blobmaster.metrics_csv import read_csv_rows, write_csv_table

__all__ = [
    "BASE_COLUMNS",
    "REF_FIELDS",
    "TABLE_FIELDS",
    "iteration_row",
    "loss_summary",
    "reference_slug",
    "reference_slugs",
    "table_column",
    "write_metrics",
]

BASE_COLUMNS = (
    "iteration",
    "finished",
    "iteration_s",
    "selfplay_rounds",
    "selfplay_examples",
    "selfplay_shards",
    "selfplay_parts",
    "selfplay_s",
    "rounds_per_min",
    "evals_per_s",
    "mean_batch",
    "train_steps",
    "train_s",
    "train_examples_per_s",
    "window_first_iteration",
    "window_shards",
    "window_examples",
    "loss",
    "policy_loss",
    "value_loss",
    "first_loss",
    "val_loss",
    "val_policy_loss",
    "val_value_loss",
    "val_policy_acc",
    "gate_deals",
    "gate_s",
    "gate_candidate_mean",
    "gate_best_mean",
    "gate_diff",
    "gate_ci95",
    "gate_low",
    "gate_candidate_elo",
    "promoted",
    "promotion",
    "rejections",
    "best_iteration",
    "eval_s",
)
"""The first columns of metrics.csv; then ``ref_<name>_<field>`` for every
reference agent and ``table_<PxC>_<name>_<field>`` for every reference
table and agent."""
REF_FIELDS = ("candidate_mean", "reference_mean", "diff", "ci95", "candidate_elo")
TABLE_FIELDS = ("candidate_mean", "reference_mean", "diff", "ci95")
"""The columns of one per-table reference match (``[gate] reference_tables``)."""


def table_column(table: str, slug: str, field: str) -> str:
    """``table_4x5_heuristic_diff``: a per-table reference column."""
    return f"table_{table}_{slug}_{field}"


def reference_slug(spec: str) -> str:
    """The column-name form of a reference agent spec (``rollout:light`` -> ``rollout_light``)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", spec).strip("_").lower()
    return slug or "agent"


def reference_slugs(specs: Sequence[str]) -> list[str]:
    """The column names of several reference specs, made unique (``x``, ``x_2``, ...)."""
    out: list[str] = []
    for spec in specs:
        slug = reference_slug(spec)
        base, n = slug, 2
        while slug in out:
            slug, n = f"{base}_{n}", n + 1
        out.append(slug)
    return out


def write_metrics(folder: LoopFolder) -> Path:
    """Rewrites metrics.csv (atomically) from the DONE markers of the finished iterations."""
    rows = folder.rows()
    columns = list(BASE_COLUMNS)
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return write_csv_table(folder.metrics, columns, rows)


def loss_summary(train_dir: Path, steps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Mean losses over the last and the first ``steps`` steps of the
    trainer's metrics.csv in ``train_dir`` (all of a resumed run's steps)."""
    _, rows = read_csv_rows(train_dir / "metrics.csv")

    def mean(rs: list[dict[str, str]]) -> dict[str, float]:
        out = {}
        for key in ("loss", "policy_loss", "value_loss"):
            vals = [float(r[key]) for r in rs if r.get(key) not in (None, "", "nan")]
            out[key] = float(sum(vals) / len(vals)) if vals else math.nan
        return out

    return mean(rows[-steps:]), mean(rows[:steps])


def iteration_row(
    k: int, sp: dict[str, Any], tr: dict[str, Any], gate: dict[str, Any], ev: dict[str, Any]
) -> dict[str, Any]:
    """The metrics row of iteration ``k`` from its four phase markers."""
    losses, first, val = (
        tr.get("losses") or {},
        tr.get("first_losses") or {},
        tr.get("val") or {},
    )
    times = [
        sp.get("elapsed_s"),
        tr.get("elapsed_s"),
        gate.get("elapsed_s"),
        ev.get("elapsed_s"),
    ]
    row: dict[str, Any] = {
        "iteration": k,
        "finished": utc_now(),
        "iteration_s": sum(t for t in times if t is not None),
        "selfplay_rounds": sp.get("rounds"),
        "selfplay_examples": sp.get("examples"),
        "selfplay_shards": sp.get("shards"),
        "selfplay_parts": sp.get("parts"),
        "selfplay_s": sp.get("elapsed_s"),
        "rounds_per_min": sp.get("rounds_per_min"),
        "evals_per_s": sp.get("evals_per_s"),
        "mean_batch": sp.get("mean_batch"),
        "train_steps": tr.get("steps"),
        "train_s": tr.get("elapsed_s"),
        "train_examples_per_s": tr.get("examples_per_s"),
        "window_first_iteration": tr.get("window_first_iteration"),
        "window_shards": tr.get("window_shards"),
        "window_examples": tr.get("window_examples"),
        "loss": losses.get("loss"),
        "policy_loss": losses.get("policy_loss"),
        "value_loss": losses.get("value_loss"),
        "first_loss": first.get("loss"),
        "val_loss": val.get("val_loss"),
        "val_policy_loss": val.get("val_policy_loss"),
        "val_value_loss": val.get("val_value_loss"),
        "val_policy_acc": val.get("val_policy_acc"),
        "gate_deals": gate.get("deals"),
        "gate_s": gate.get("elapsed_s"),
        "gate_candidate_mean": gate.get("candidate_mean"),
        "gate_best_mean": gate.get("best_mean"),
        "gate_diff": gate.get("diff"),
        "gate_ci95": gate.get("ci95"),
        "gate_low": gate.get("low"),
        "gate_candidate_elo": gate.get("candidate_elo"),
        "promoted": gate.get("promoted"),
        "promotion": gate.get("reason"),
        "rejections": gate.get("rejections"),
        "best_iteration": gate.get("best_iteration"),
        "eval_s": ev.get("elapsed_s"),
    }
    for ref in ev.get("references", []):
        for key in REF_FIELDS:
            row[f"ref_{ref['slug']}_{key}"] = ref.get(key)
    for res in ev.get("tables", []):
        for key in TABLE_FIELDS:
            row[table_column(res["table"], res["slug"], key)] = res.get(key)
    return row
