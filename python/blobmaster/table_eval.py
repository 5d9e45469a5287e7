"""Strength by table size: the duplicate arena on several tables at once
(``blobmaster eval --tables 3x5,4x5,5x10,7x7``).

:func:`evaluate_tables` builds the agents once and plays
:func:`blobmaster.arena.play_duplicate` on every table with the same seed
(so ``--tables 4x5`` gives exactly the numbers of ``--players 4 --cards
5``). :class:`TableEvalReport` keeps every table's arena report and gives,
per table and agent, the mean points per round with its 95% interval and
the paired per-deal difference against the first agent with its interval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blobmaster.arena import ArenaError, ArenaReport, agent_seed, play_duplicate
from blobmaster.atomic import atomic_write_bytes
from blobmaster.table_specs import TableSpecError, parse_tables, table_label

__all__ = ["TableEvalReport", "TableRow", "evaluate_tables"]

TABLE_REPORT_FORMAT = "blobmaster-table-eval"


@dataclass(frozen=True)
class TableRow:
    """One agent on one table."""

    table: str
    agent: int
    name: str
    spec: str
    mean: float
    ci95: float | None
    diff: float | None
    """Paired per-deal difference against agent 0 (None for agent 0 itself)."""
    diff_ci95: float | None


@dataclass
class TableEvalReport:
    """Every table's arena report, in the order the tables were given."""

    specs: list[str]
    deals: int
    seed: int
    reports: list[ArenaReport]

    def rows(self) -> list[TableRow]:
        out = []
        for r in self.reports:
            table = table_label(r.num_players, r.cards)
            for a in r.agents:
                h = r.pair(a.index, 0) if a.index else None
                out.append(
                    TableRow(
                        table=table, agent=a.index, name=a.name, spec=self.specs[a.index],
                        mean=a.mean, ci95=a.ci95, diff=h.mean_diff if h else None,
                        diff_ci95=h.ci95 if h else None,
                    )
                )  # fmt: skip
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TABLE_REPORT_FORMAT,
            "version": 1,
            "agents": self.specs,
            "deals": self.deals,
            "seed": self.seed,
            "rows": [vars(row) for row in self.rows()],
            "tables": [r.to_dict() for r in self.reports],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        """Writes the JSON report atomically (whole or absent)."""
        return atomic_write_bytes(path, (self.to_json() + "\n").encode())

    def markdown(self) -> str:
        """The table of rows as Markdown: points per round with 95% intervals."""

        def pm(x: float | None, ci: float | None, spec: str) -> str:
            if x is None:
                return ""
            return format(x, spec) + (f" ± {ci:.2f}" if ci is not None else "")

        first = self.specs[0]
        lines = [
            f"| table | agent | points/round | minus {first} (paired) |",
            "|---|---|---:|---:|",
        ]
        for row in self.rows():
            lines.append(
                f"| {row.table} | {row.spec} | {pm(row.mean, row.ci95, '.2f')} "
                f"| {pm(row.diff, row.diff_ci95, '+.2f')} |"
            )
        return "\n".join(lines) + "\n"

    def print(self, console: Any | None = None) -> None:
        """The rows as a rich table (stdout unless ``console`` says otherwise)."""
        from rich import box
        from rich.table import Table

        from blobmaster.arena_report import report_console

        console = console or report_console()
        t = Table(
            title=f"{self.deals} duplicate deals per table, seed {self.seed}: points per round",
            box=box.SIMPLE_HEAD,
        )
        for col, justify in (("table", "left"), ("agent", "left"), ("mean", "right"),
                             ("±95%", "right"), (f"minus [{0}]", "right"), ("±95%", "right")):  # fmt: skip
            t.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for row in self.rows():
            t.add_row(
                row.table, f"[{row.agent}] {row.spec}", f"{row.mean:.3f}",
                "n/a" if row.ci95 is None else f"{row.ci95:.2f}",
                "" if row.diff is None else f"{row.diff:+.3f}",
                "" if row.diff is None else "n/a" if row.diff_ci95 is None else f"{row.diff_ci95:.2f}",
            )  # fmt: skip
        t.caption = (
            "mean: round score, per-deal 95% interval; minus [0]: paired per-deal difference"
        )
        console.print(t)


def evaluate_tables(
    specs: Sequence[str],
    tables: str | Sequence[str] | Sequence[tuple[int, int]],
    *,
    deals: int = 20,
    seed: int = 0,
    device: Any = "auto",
    progress: bool = True,
    console: Any | None = None,
) -> TableEvalReport:
    """Plays the agents of ``specs`` (agent k seeded with :func:`agent_seed`
    ``(seed, k)``, built once) on every table of ``tables`` (``"3x5,4x5"``,
    a list of such strings or of (players, cards)), ``deals`` duplicate deals
    each, deals seeded with ``seed``. Raises ArenaError (bad tables or
    agents count), AgentError (a bad spec) before any round is played."""
    from blobmaster.agent_specs import parse_agent_spec

    specs = list(specs)
    if len(specs) < 2:
        raise ArenaError(f"need at least 2 agents (--agent SPEC twice or more), got {len(specs)}")
    try:
        if isinstance(tables, str):
            parsed = parse_tables(tables)
        else:
            parsed = parse_tables([t if isinstance(t, str) else table_label(*t) for t in tables])
    except TableSpecError as e:
        raise ArenaError(str(e)) from None
    if isinstance(deals, bool) or not isinstance(deals, int) or deals < 1:
        raise ArenaError(f"deals must be an integer >= 1, got {deals!r}")
    agents = [
        parse_agent_spec(spec, device=device, seed=agent_seed(seed, k))
        for k, spec in enumerate(specs)
    ]
    reports = []
    for players, cards in parsed:
        report = play_duplicate(
            agents, players, cards, deals, seed, progress=progress, console=console
        )
        for result, spec in zip(report.agents, specs):
            result.info["spec"] = spec
        reports.append(report)
    return TableEvalReport(specs=specs, deals=deals, seed=seed, reports=reports)
