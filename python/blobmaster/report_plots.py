"""The PNG plots of ``blobmaster report`` (losses, strength, throughput),
drawn with matplotlib's Agg renderer only (no display, no pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blobmaster.atomic import atomic_write_bytes
from blobmaster.loop.metrics import table_column
from blobmaster.report import (
    _PHASES,
    RunData,
    _baseline_ref,
    _baseline_table,
    _number,
)

__all__ = ["plot_losses", "plot_strength", "plot_throughput"]


def _figure(rows: int, height: float = 3.2) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, height * rows), dpi=100, layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, list(axes)


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return path


def _empty(ax: Any, text: str = "no finished iteration yet") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _xy(xs: Sequence[int], ys: Sequence[float | None]) -> tuple[list[int], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _smooth(values: list[float], window: int) -> list[float]:
    if window <= 1 or len(values) < 2:
        return values
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _int_ticks(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_losses(data: RunData, path: Path) -> Path:
    fig, (ax_steps, ax_iter) = _figure(2)
    # step by step, the iterations one after the other
    offset = 0
    boundaries: list[int] = []
    keys = ("loss", "policy_loss", "policy_kl", "value_loss")
    series: dict[str, tuple[list[int], list[float]]] = {k: ([], []) for k in keys}
    for k in sorted(data.steps):
        rows = data.steps[k]
        last = 0
        for r in rows:
            step = int(float(r["step"]))
            last = max(last, step)
            for key, (xs, ys) in series.items():
                v = _number(r.get(key))
                if v is not None:
                    xs.append(offset + step)
                    ys.append(v)
        offset += last
        boundaries.append(offset)
    if any(xs for xs, _ in series.values()):
        window = max(1, min(25, len(series["loss"][0]) // 40))
        labels = {"policy_kl": "policy KL (policy loss minus target entropy)"}
        for key, (xs, ys) in series.items():
            if xs:
                ax_steps.plot(
                    xs,
                    _smooth(ys, window),
                    label=labels.get(key, key.replace("_", " ")),
                    linewidth=1.2,
                )
        for b in boundaries[:-1]:
            ax_steps.axvline(b, color="0.8", linewidth=0.8, linestyle="--")
        ax_steps.set_xlabel(
            "training step (all iterations)" + (f", mean of {window} steps" if window > 1 else "")
        )
        ax_steps.set_ylabel("loss")
        ax_steps.legend(loc="upper right", fontsize=8)
        ax_steps.grid(alpha=0.3)
    else:
        _empty(ax_steps, "no training steps yet")
    ax_steps.set_title("Training losses by step (dashed lines: iterations)")
    its = data.iterations
    if its:
        for key, label, style in (
            ("loss", "loss (last steps)", "o-"),
            ("val_loss", "validation loss", "s--"),
            ("policy_loss", "policy loss", "o-"),
            ("value_loss", "value loss", "o-"),
        ):
            xs, ys = _xy(its, data.column(key))
            if xs:
                ax_iter.plot(xs, ys, style, label=label, markersize=4)
        ax_iter.set_xlabel("iteration")
        ax_iter.set_ylabel("loss")
        ax_iter.legend(loc="upper right", fontsize=8)
        ax_iter.grid(alpha=0.3)
        _int_ticks(ax_iter)
    else:
        _empty(ax_iter)
    ax_iter.set_title("Losses by iteration")
    return _save(fig, path)


def plot_strength(data: RunData, path: Path) -> Path:
    fig, axes = _figure(4 if data.tables else 3)
    _plot_gate(data, axes[0])
    _plot_references(data, axes[1], axes[2])
    if data.tables:
        _plot_tables(data, axes[3])
    return _save(fig, path)


def _table_series(data: RunData, table: str, slug: str) -> list[tuple[int, float, float | None]]:
    """(iteration, diff, ci95) of one per-table match, the first network as 0."""
    xs = list(data.iterations)
    d = data.column(table_column(table, slug, "diff"))
    ci = data.column(table_column(table, slug, "ci95"))
    base = _baseline_table(data, table, slug)
    if base is not None:
        xs, d, ci = [0, *xs], [_number(base.get("diff")), *d], [_number(base.get("ci95")), *ci]
    return [(x, y, c) for x, y, c in zip(xs, d, ci) if y is not None]


def _plot_tables(data: RunData, ax: Any) -> None:
    """The per-table reference games by iteration, one line per (table, agent)."""
    plotted = False
    for n, (table, spec, slug) in enumerate(data.tables):
        pts = _table_series(data, table, slug)
        if not pts:
            continue
        plotted = True
        ax.errorbar(
            [p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] or 0.0 for p in pts],
            fmt="o-", color=f"C{n % 10}", capsize=2, markersize=3, label=f"{table} vs {spec}",
        )  # fmt: skip
    if plotted:
        ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_xlabel("iteration (0: the first network)")
        ax.set_ylabel("points / round")
        ax.legend(loc="best", fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        _int_ticks(ax)
    else:
        _empty(ax, "no per-table reference games yet")
    ax.set_title(
        "Reference games by table (players x cards): network minus reference (95% interval)"
    )


def _plot_gate(data: RunData, ax_gate: Any) -> None:
    """The gate's paired difference by iteration, colored by the decision."""
    its = data.iterations
    diffs, cis, promoted = (
        data.column("gate_diff"),
        data.column("gate_ci95"),
        data.column("promoted"),
    )
    reasons = [r.get("promotion", "") for r in data.rows]
    if any(d is not None for d in diffs):
        for x, d, ci, p, why in zip(its, diffs, cis, promoted, reasons):
            if d is None:
                continue
            color = "tab:green" if p else "tab:red"
            if why == "forced":
                color = "tab:orange"
            ax_gate.errorbar(
                [x], [d], yerr=[ci or 0.0], fmt="o", color=color, capsize=3, markersize=5
            )
        threshold = (
            _number((data.manifest.get("config") or {}).get("gate", {}).get("threshold")) or 0.0
        )
        ax_gate.axhline(threshold, color="0.5", linewidth=0.8)
        from matplotlib.lines import Line2D

        shown = {
            ("forced" if why == "forced" else "promoted") if p else "rejected"
            for d, p, why in zip(diffs, promoted, reasons)
            if d is not None
        }
        handles = [
            Line2D([], [], marker="o", linestyle="", color=color, label=label)
            for key, color, label in (
                ("promoted", "tab:green", "promoted"),
                ("forced", "tab:orange", "promoted (fallback rule)"),
                ("rejected", "tab:red", "not promoted"),
            )
            if key in shown
        ]
        ax_gate.legend(handles=handles, loc="best", fontsize=8)
        ax_gate.set_xlabel("iteration")
        ax_gate.set_ylabel("points / round")
        ax_gate.grid(alpha=0.3)
        _int_ticks(ax_gate)
    elif its:
        _empty(ax_gate, "no gate games ([gate] deals = 0): every network promoted")
    else:
        _empty(ax_gate)
    ax_gate.set_title("Gate: new network minus best network, paired per deal (95% interval)")


def _plot_references(data: RunData, ax_ref: Any, ax_mean: Any) -> None:
    """The reference games by iteration (the first network as iteration 0)."""
    its = data.iterations
    plotted = False
    for n, (spec, slug) in enumerate(data.references):
        xs = list(its)
        d = data.column(f"ref_{slug}_diff")
        ci = data.column(f"ref_{slug}_ci95")
        cm = data.column(f"ref_{slug}_candidate_mean")
        rm = data.column(f"ref_{slug}_reference_mean")
        base = _baseline_ref(data, slug)
        if base is not None:
            xs = [0, *xs]
            d = [_number(base.get("diff")), *d]
            ci = [_number(base.get("ci95")), *ci]
            cm = [_number(base.get("candidate_mean")), *cm]
            rm = [_number(base.get("reference_mean")), *rm]
        pts = [(x, y, c) for x, y, c in zip(xs, d, ci) if y is not None]
        if not pts:
            continue
        plotted = True
        color = f"C{n}"
        ax_ref.errorbar(
            [p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] or 0.0 for p in pts],
            fmt="o-", color=color, capsize=3, markersize=4, label=f"vs {spec}",
        )  # fmt: skip
        x1, y1 = _xy(xs, cm)
        x2, y2 = _xy(xs, rm)
        ax_mean.plot(x1, y1, "o-", color=color, markersize=4, label=f"network (vs {spec})")
        ax_mean.plot(x2, y2, "s--", color=color, markersize=4, alpha=0.6, label=spec)
    if plotted:
        ax_ref.axhline(0.0, color="0.5", linewidth=0.8)
        for ax in (ax_ref, ax_mean):
            ax.set_xlabel("iteration (0: the first network)")
            ax.set_ylabel("points / round")
            ax.legend(loc="best", fontsize=8)
            ax.grid(alpha=0.3)
            _int_ticks(ax)
    else:
        text = (
            "no reference agents ([gate] references = [])"
            if its or data.baseline
            else "no finished iteration yet"
        )
        _empty(ax_ref, text)
        _empty(ax_mean, text)
    ax_ref.set_title(
        "Reference games: new network minus reference agent, paired per deal (95% interval)"
    )
    ax_mean.set_title("Reference games: mean round score")


def plot_throughput(data: RunData, path: Path) -> Path:
    fig, (ax_sp, ax_tr, ax_time) = _figure(3)
    its = data.iterations
    if its:
        xs, rpm = _xy(its, data.column("rounds_per_min"))
        ax_sp.plot(xs, rpm, "o-", color="C0", markersize=4, label="rounds/min")
        ax_sp.set_ylabel("self-play rounds / min", color="C0")
        ax_sp.set_ylim(bottom=0)
        twin = ax_sp.twinx()
        xs2, eps = _xy(its, data.column("evals_per_s"))
        twin.plot(xs2, eps, "s--", color="C1", markersize=4, label="evals/s")
        twin.set_ylabel("network evaluations / s", color="C1")
        twin.set_ylim(bottom=0)
        ax_sp.set_xlabel("iteration")
        ax_sp.grid(alpha=0.3)
        _int_ticks(ax_sp)
        xs3, ex = _xy(its, data.column("train_examples_per_s"))
        ax_tr.plot(xs3, ex, "o-", color="C2", markersize=4)
        ax_tr.set_ylabel("training examples / s")
        ax_tr.set_ylim(bottom=0)
        ax_tr.set_xlabel("iteration")
        ax_tr.grid(alpha=0.3)
        _int_ticks(ax_tr)
        bottom = [0.0] * len(its)
        for n, (key, label) in enumerate(_PHASES):
            vals = [(v or 0.0) / 60.0 for v in data.column(key)]
            ax_time.bar(its, vals, bottom=bottom, color=f"C{n}", label=label)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax_time.set_ylabel("minutes")
        ax_time.set_xlabel("iteration")
        ax_time.legend(loc="best", fontsize=8)
        ax_time.grid(alpha=0.3, axis="y")
        _int_ticks(ax_time)
    else:
        for ax in (ax_sp, ax_tr, ax_time):
            _empty(ax)
    ax_sp.set_title("Self-play throughput")
    ax_tr.set_title("Training throughput")
    ax_time.set_title("Wall time per iteration by phase")
    return _save(fig, path)
