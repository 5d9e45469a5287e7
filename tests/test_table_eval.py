"""Strength by table size: table specs (``4x5``), evaluate_tables and
``blobmaster eval --tables``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from blobmaster.arena import ArenaError, evaluate_specs
from blobmaster.cli import app
from blobmaster.table_eval import evaluate_tables
from blobmaster.table_specs import TableSpecError, parse_table, parse_tables


def test_parse_tables() -> None:
    assert parse_table("4x5") == (4, 5) and parse_table(" 3X13 ") == (3, 13)
    assert parse_tables("3x5,4x5, 7x7") == [(3, 5), (4, 5), (7, 7)]
    assert parse_tables(["8x6"]) == [(8, 6)]
    for bad, message in [
        ("4x14", "cards must be in 1..13"),
        ("2x5", "players must be in 3..8"),
        ("5x11", "more than the 52"),
        ("4 by 5", "write PLAYERSxCARDS"),
        ("4x5,,3x5", "empty table"),
        ("4x5,4X5", "given twice"),
        ("", "empty table"),
    ]:
        with pytest.raises(TableSpecError, match=message):
            parse_tables(bad)


def test_each_table_is_the_single_table_match_with_the_same_seed() -> None:
    """Agents are built once and every table is played with the given seed,
    so a table's numbers are exactly those of a one-table eval."""
    specs = ["heuristic", "random"]
    report = evaluate_tables(specs, "3x5,4x1", deals=6, seed=4, progress=False)
    assert [(r.num_players, r.cards, r.deals) for r in report.reports] == [(3, 5, 6), (4, 1, 6)]
    for r in report.reports:
        alone = evaluate_specs(specs, num_players=r.num_players, cards=r.cards, deals=6, seed=4, progress=False)  # fmt: skip
        assert r.per_deal == alone.per_deal
    rows = report.rows()
    assert [(row.table, row.spec) for row in rows] == [
        ("3x5", "heuristic"), ("3x5", "random"), ("4x1", "heuristic"), ("4x1", "random"),
    ]  # fmt: skip
    for row, r in zip(rows[1::2], report.reports):
        # the paired difference against agent 0, from the per-deal scores
        diffs = [d[1] - d[0] for d in r.per_deal]
        assert row.diff == pytest.approx(sum(diffs) / len(diffs)) and row.diff_ci95 is not None
        assert row.mean == pytest.approx(r.agents[1].mean)
    assert rows[0].diff is None and rows[0].diff_ci95 is None
    md = report.markdown()
    assert md.startswith("| table | agent | points/round | minus heuristic (paired) |")
    assert md.count("\n| 3x5 |") == 2 and "| 4x1 | random |" in md
    data = json.loads(report.to_json())
    assert data["agents"] == specs and len(data["rows"]) == 4 and len(data["tables"]) == 2


def test_bad_input_fails_before_playing() -> None:
    with pytest.raises(ArenaError, match="at least 2 agents"):
        evaluate_tables(["heuristic"], "4x5")
    with pytest.raises(ArenaError, match=r"players must be in 3\.\.8"):
        evaluate_tables(["heuristic", "random"], "9x5")
    with pytest.raises(ArenaError, match="deals"):
        evaluate_tables(["heuristic", "random"], [(4, 5)], deals=0)


def _eval(*args: str):
    return CliRunner().invoke(app, ["eval", "-a", "heuristic", "-a", "random", *args])


def test_cli_eval_tables(tmp_path: Path) -> None:
    out = tmp_path / "tables.json"
    result = _eval("--tables", "3x5,7x7", "--deals", "4", "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "4 duplicate deals per table" in result.stdout
    assert result.stdout.count("3x5") == 2 and result.stdout.count("7x7") == 2
    saved = json.loads(out.read_text())
    assert [row["table"] for row in saved["rows"]] == ["3x5", "3x5", "7x7", "7x7"]
    as_json = _eval("--tables", "3x5,7x7", "--deals", "4", "--json", "--no-progress")
    assert json.loads(as_json.stdout)["rows"] == saved["rows"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tables", "3x5,9x2"], "--tables: table 9x2: players must be in 3..8"),
        (["--tables", "4x5", "--players", "3"], "either --tables or --players/--cards"),
        (["--tables", "4x5", "--deals", "0"], "--deals must be >= 1"),
        (["--tables", "oops"], "write PLAYERSxCARDS"),
    ],
)
def test_cli_eval_tables_bad_input(args: list[str], message: str) -> None:
    result = _eval(*args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("blobmaster: error: ") and message in lines[0]
