"""Plots and a Markdown summary of a loop run folder (``blobmaster report``).

``write_report(run_dir, out)`` reads what :mod:`blobmaster.loop` wrote
(loop.json, metrics.csv, every iteration's ``train/metrics.csv``, the
reference games of the first network in ``init/eval.json``) and writes to
``out`` (default ``RUN_DIR/report``):

* ``losses.png``: the training losses (and the policy KL) step by step over the whole run
  (iteration boundaries marked), and each iteration's final and validation
  losses;
* ``strength.png``: the gate (the new network's paired score difference
  against the best one, with its 95% interval, promoted or not) and the
  reference games (the difference against each reference agent and the
  mean round scores) by iteration, the first network as iteration 0; with
  ``[gate] reference_tables``, a fourth panel: the difference on each table;
* ``throughput.png``: self-play rounds/min and network evaluations/s,
  training examples/s, and the wall time of each phase by iteration;
* ``report.md``: a short summary with a table of the iterations (and, with
  reference tables, a table of the first and the last network by table).

The plots use matplotlib's Agg renderer only (no display, no pyplot state).
Every file is written atomically. A run folder with no finished iteration
still gets a report (empty plots say so). Bad input raises ReportError.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blobmaster.atomic import atomic_write_bytes, read_json
from blobmaster.loop.folder import LoopFolder
from blobmaster.loop.manifest import MANIFEST_FORMAT
from blobmaster.loop.metrics import reference_slugs, table_column
from blobmaster.metrics_csv import read_csv_rows

__all__ = ["ReportError", "ReportResult", "RunData", "load_run", "write_report"]

_PHASES = (
    ("selfplay_s", "self-play"),
    ("train_s", "train"),
    ("gate_s", "gate"),
    ("eval_s", "reference games"),
)


class ReportError(ValueError):
    """A run folder that cannot be reported on, or an output folder that cannot be written."""


def _number(text: Any) -> float | None:
    if text is None:
        return None
    if isinstance(text, bool):
        return float(text)
    if isinstance(text, (int, float)):
        return float(text) if math.isfinite(float(text)) else None
    s = str(text).strip().lower()
    if s in ("true", "false"):
        return 1.0 if s == "true" else 0.0
    try:
        value = float(s)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class RunData:
    """Everything the report shows, read from a run folder."""

    root: Path
    manifest: dict[str, Any]
    rows: list[dict[str, str]]
    """metrics.csv, one dict per finished iteration (values as text)."""
    steps: dict[int, list[dict[str, str]]]
    """Per iteration: the trainer's per-step metrics rows."""
    baseline: dict[str, Any] | None
    """init/eval.json: the first network's reference games."""
    references: list[tuple[str, str]] = field(default_factory=list)
    """(spec, slug) of the reference agents, from the metrics columns."""
    tables: list[tuple[str, str, str]] = field(default_factory=list)
    """(table, spec, slug) of the per-table reference games (``table_<PxC>_<slug>_*`` columns)."""

    def column(self, name: str) -> list[float | None]:
        return [_number(r.get(name)) for r in self.rows]

    @property
    def iterations(self) -> list[int]:
        return [int(float(r["iteration"])) for r in self.rows]


def load_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Reads a loop run folder. Raises ReportError for a missing folder or
    one that is not a loop run (no readable loop.json)."""
    folder = LoopFolder(run_dir)
    root = folder.root
    if not root.exists():
        raise ReportError(f"no such run folder: {root}")
    if not root.is_dir():
        raise ReportError(f"run folder {root} is not a folder")
    manifest = read_json(folder.manifest)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ReportError(f"{root} is not a loop run folder (no readable loop.json)")
    rows: list[dict[str, str]] = []
    if folder.metrics.is_file():
        try:
            rows = [
                r for r in read_csv_rows(folder.metrics)[1] if (r.get("iteration") or "").strip()
            ]
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise ReportError(f"cannot read {folder.metrics}: {e}") from None
    else:  # metrics.csv is rebuilt from the DONE markers; use them directly
        rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in folder.rows()]
    steps: dict[int, list[dict[str, str]]] = {}
    for r in rows:
        k = int(float(r["iteration"]))
        path = folder.iter_dir(k) / "train" / "metrics.csv"
        if not path.is_file():
            continue
        try:
            steps[k] = [s for s in read_csv_rows(path)[1] if _number(s.get("step")) is not None]
        except (OSError, UnicodeDecodeError, csv.Error):
            steps[k] = []
    baseline = read_json(folder.init_eval)
    config_refs = list((manifest.get("config") or {}).get("gate", {}).get("references") or [])
    refs = list(zip(config_refs, reference_slugs(config_refs)))
    # references of earlier configs (a forced change) still have columns
    known = {slug for _, slug in refs}
    for key in rows[0] if rows else {}:
        if key.startswith("ref_") and key.endswith("_diff"):
            slug = key[4 : -len("_diff")]
            if slug not in known:
                refs.append((slug, slug))
                known.add(slug)
    return RunData(
        root=root, manifest=manifest, rows=rows, steps=steps, baseline=baseline, references=refs,
        tables=_table_columns(rows, refs),
    )  # fmt: skip


def _table_columns(
    rows: list[dict[str, str]], refs: list[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(table, spec, slug) of every per-table column group, in column order."""
    specs = {slug: spec for spec, slug in refs}
    out: list[tuple[str, str, str]] = []
    for key in rows[0] if rows else {}:
        m = re.fullmatch(r"table_(\d+x\d+)_(.+)_diff", key)
        if m and (m.group(1), m.group(2)) not in {(t, s) for t, _, s in out}:
            out.append((m.group(1), specs.get(m.group(2), m.group(2)), m.group(2)))
    return out


# ---- data helpers shared with the plots ----------------------------------------------


def _baseline_ref(data: RunData, slug: str) -> dict[str, Any] | None:
    for ref in (data.baseline or {}).get("references", []):
        if ref.get("slug") == slug:
            return dict(ref)
    return None


def _baseline_table(data: RunData, table: str, slug: str) -> dict[str, Any] | None:
    for res in (data.baseline or {}).get("tables", []):
        if res.get("table") == table and res.get("slug") == slug:
            return dict(res)
    return None


# ---- the summary ---------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)


def _pm(mean: float | None, ci: float | None, spec: str = "+.2f") -> str:
    if mean is None:
        return ""
    return format(mean, spec) + (f" ± {ci:.2f}" if ci is not None else "")


def summary_markdown(data: RunData, images: Sequence[str]) -> str:
    m = data.manifest
    cfg = m.get("config") or {}
    rows = data.rows
    lines = [
        f"# Loop run `{data.root.name}`",
        "",
        f"- Config: {m.get('name', '?')} (from `{m.get('source', '?')}`); "
        f"network size {cfg.get('train', {}).get('model', '?')}; "
        f"{cfg.get('selfplay', {}).get('rounds', '?')} self-play rounds, "
        f"{cfg.get('train', {}).get('steps', '?')} training steps and "
        f"{cfg.get('gate', {}).get('deals', '?')} gate deals per iteration",
        f"- Iterations finished: {len(rows)} of {m.get('target_iterations', '?')}",
        f"- Best network: `{m.get('best_model', '?')}` (iteration {m.get('best_iteration', '?')})",
    ]
    if rows:
        promoted = sum(1 for v in data.column("promoted") if v)
        total_s = sum(  # overlapped phases: the wall time, not the sum of the phases
            _number(r.get("iteration_wall_s" if r.get("pipeline") == "overlap" else "iteration_s"))
            or 0.0
            for r in rows
        )
        rpm = [v for v in data.column("rounds_per_min") if v is not None]
        lines += [
            f"- Promotions: {promoted} of {len(rows)} gates",
            f"- Wall time of the finished iterations: {total_s / 60:.1f} min "
            f"({total_s / 60 / len(rows):.1f} min per iteration)",
        ]
        if rpm:
            lines.append(f"- Self-play: {sum(rpm) / len(rpm):,.0f} rounds/min on average")
        busy = [(name, [v for v in data.column(f"{key}_busy_cores") if v is not None])
                for key, name in (("selfplay", "self-play"), ("train", "train"), ("gate", "gate"),
                                  ("eval", "reference games"), ("iteration", "whole iteration"))]  # fmt: skip
        if any(values for _, values in busy):  # runs from before the busy-cores columns have none
            lines.append("- Busy cores (CPU time / wall time, mean over iterations): " + ", ".join(
                f"{name} {sum(values) / len(values):.2f}" for name, values in busy if values))  # fmt: skip
        last = rows[-1]
        lines.append(
            f"- Last iteration: loss {_fmt(_number(last.get('loss')))} "
            f"(policy {_fmt(_number(last.get('policy_loss')))}, value {_fmt(_number(last.get('value_loss')))})"
        )
        for spec, slug in data.references:
            d, ci = _number(last.get(f"ref_{slug}_diff")), _number(last.get(f"ref_{slug}_ci95"))
            if d is not None:
                base = _baseline_ref(data, slug)
                first = ""
                if base:
                    first = f"; the first network: {_pm(_number(base.get('diff')), _number(base.get('ci95')))}"
                lines.append(f"- Last network vs {spec}: {_pm(d, ci)} points/round{first}")
    lines += ["", "## Iterations", ""]
    if rows:
        ref_heads = [f"vs {spec}" for spec, _ in data.references]
        head = ["iter", "rounds/min", "evals/s", "loss", "policy", "value", "val loss", "gate diff", "promoted",
                *ref_heads, "minutes"]  # fmt: skip
        lines.append("| " + " | ".join(head) + " |")
        lines.append(
            "|" + "|".join("---:" if h not in ("promoted",) else ":---:" for h in head) + "|"
        )
        for r in rows:
            was_promoted = _number(r.get("promoted"))
            flag = "" if was_promoted is None else ("yes" if was_promoted else "no")
            if was_promoted and r.get("promotion") == "forced":
                flag = "yes (fallback)"
            cells = [
                r.get("iteration", ""),
                _fmt(_number(r.get("rounds_per_min")), ",.0f"),
                _fmt(_number(r.get("evals_per_s")), ",.0f"),
                _fmt(_number(r.get("loss"))),
                _fmt(_number(r.get("policy_loss"))),
                _fmt(_number(r.get("value_loss"))),
                _fmt(_number(r.get("val_loss"))),
                _pm(_number(r.get("gate_diff")), _number(r.get("gate_ci95"))),
                flag,
                *[
                    _pm(_number(r.get(f"ref_{slug}_diff")), _number(r.get(f"ref_{slug}_ci95")))
                    for _, slug in data.references
                ],
                _fmt((_number(r.get("iteration_s")) or 0.0) / 60.0, ".1f"),
            ]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
        lines.append(
            "Differences are points per round (the mean of the paired per-deal differences) with their 95% "
            "interval; a network is promoted when the gate's interval is above the threshold."
        )
    else:
        lines.append("No finished iteration yet.")
    lines += _tables_markdown(data)
    lines += ["", "## Plots", ""]
    lines += [f"![{Path(name).stem}]({name})" for name in images]
    return "\n".join(lines) + "\n"


def _tables_markdown(data: RunData) -> list[str]:
    """The per-table reference games of the first and the last network."""
    if not data.tables or not data.rows:
        return []
    last = data.rows[-1]
    deals = (data.manifest.get("config") or {}).get("gate", {}).get("reference_table_deals", "?")
    lines = [
        "",
        "## Reference games by table",
        "",
        f"The network against each reference agent on each `[gate] reference_tables` table "
        f"({deals} duplicate deals each, the same deals every iteration): points per round, "
        "network minus reference, with the 95% interval of the paired difference.",
        "",
        f"| table | vs | first network | iteration {last.get('iteration', '?')} "
        "| network | reference |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for table, spec, slug in data.tables:
        base = _baseline_table(data, table, slug) or {}

        def col(name: str, table: str = table, slug: str = slug) -> float | None:
            return _number(last.get(table_column(table, slug, name)))

        lines.append(
            f"| {table} | {spec} | {_pm(_number(base.get('diff')), _number(base.get('ci95')))} "
            f"| {_pm(col('diff'), col('ci95'))} | {_fmt(col('candidate_mean'), '.2f')} "
            f"| {_fmt(col('reference_mean'), '.2f')} |"
        )
    return lines


@dataclass
class ReportResult:
    """What write_report wrote."""

    out_dir: Path
    files: list[Path]
    summary: Path
    iterations: int


def write_report(
    run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> ReportResult:
    """Writes the plots and report.md of a loop run folder to ``out``
    (default: ``RUN_DIR/report``). Raises ReportError for a missing or
    foreign run folder or an output folder that cannot be written."""
    from blobmaster.report_plots import plot_losses, plot_strength, plot_throughput

    data = load_run(run_dir)
    out_dir = Path(out) if out is not None else data.root / "report"
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"--out {out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReportError(f"cannot create {out_dir}: {e.strerror or e}") from None
    if not os.access(out_dir, os.W_OK):
        raise ReportError(f"--out {out_dir} is not writable")
    try:
        files = [
            plot_losses(data, out_dir / "losses.png"),
            plot_strength(data, out_dir / "strength.png"),
            plot_throughput(data, out_dir / "throughput.png"),
        ]
        summary = out_dir / "report.md"
        atomic_write_bytes(summary, summary_markdown(data, [f.name for f in files]).encode())
    except OSError as e:
        raise ReportError(f"cannot write the report to {out_dir}: {e.strerror or e}") from None
    return ReportResult(
        out_dir=out_dir, files=[*files, summary], summary=summary, iterations=len(data.rows)
    )
