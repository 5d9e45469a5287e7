"""`blobmaster report`: PNG plots and a Markdown summary of a loop run folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib import image as mpimg
from typer.testing import CliRunner

from blobmaster.cli import app
from blobmaster.loop import run_loop
from blobmaster.report import ReportError, load_run, write_report

CONFIG = """
[loop]
iterations = 2
device = "cpu"
torch_threads = 1
[search]
determinizations = 2
simulations = 4
[selfplay]
rounds = 12
threads = 2
games_per_thread = 4
rounds_per_shard = 6
tables = [{ players = 3, cards = 3 }]
[train]
model = "tiny"
steps = 8
batch_size = 16
warmup_steps = 2
checkpoint_every = 0
log_every = 2
[gate]
deals = 2
threshold = -100.0
references = ["heuristic", "random"]
reference_deals = 2
reference_tables = ["3x1", "4x2"]
reference_table_deals = 2
"""

PNGS = ("losses.png", "strength.png", "throughput.png")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    before = torch.get_num_threads()
    base = tmp_path_factory.mktemp("report")
    cfg = base / "tiny.toml"
    cfg.write_text(CONFIG)
    try:
        run_loop(base / "run", cfg)
    finally:
        torch.set_num_threads(before)
    return base / "run"


def _check_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] >= 400 and img.shape[1] >= 600
    assert float(img[..., :3].std()) > 0.01  # something is drawn
    return img


def test_report_writes_readable_plots_and_summary(run, tmp_path):
    out = tmp_path / "out"
    result = write_report(run, out)
    assert result.iterations == 2 and result.out_dir == out
    assert [p.name for p in result.files] == [*PNGS, "report.md"]
    for name in PNGS:
        _check_png(out / name)
    md = (out / "report.md").read_text()
    assert md.startswith("# Loop run `run`")
    assert "Iterations finished: 2 of 2" in md and "`iter-0002/model.pt` (iteration 2)" in md
    assert "| iter | rounds/min |" in md and "vs heuristic" in md and "vs random" in md
    table = [line for line in md.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert len(table) == 2 and all("yes" in line for line in table)
    for name in PNGS:
        assert f"]({name})" in md
    assert not list(out.glob(".*.tmp"))


def test_report_default_folder_and_data(run):
    result = write_report(run)
    assert result.out_dir == run / "report" and all(p.exists() for p in result.files)
    data = load_run(run)
    assert data.iterations == [1, 2] and sorted(data.steps) == [1, 2] and len(data.steps[1]) == 8
    assert data.references == [("heuristic", "heuristic"), ("random", "random")]
    assert data.baseline is not None and data.baseline["model"] == "init/model.pt"
    # the per-table reference games: every (table, agent) pair, in config order,
    # for the first network (its marker) and every iteration (metrics columns)
    assert data.tables == [(t, a, a) for t in ("3x1", "4x2") for a in ("heuristic", "random")]
    assert [(r["table"], r["slug"], r["deals"]) for r in data.baseline["tables"]] == [
        (t, a, 2) for t in ("3x1", "4x2") for a in ("heuristic", "random")
    ]
    for row in data.rows:
        for table, _, slug in data.tables:
            mine, theirs = (
                float(row[f"table_{table}_{slug}_{k}"])
                for k in ("candidate_mean", "reference_mean")
            )
            assert float(row[f"table_{table}_{slug}_diff"]) == pytest.approx(mine - theirs)


def test_report_shows_the_reference_games_by_table(run, tmp_path):
    md = write_report(run, tmp_path / "out").summary.read_text()
    section = md.split("## Reference games by table", 1)[1].split("## Plots", 1)[0]
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| 3x1") or line.startswith("| 4x2")
    ]
    assert len(rows) == 4 and rows[0].startswith("| 3x1 | heuristic | ")
    # 4 panels in strength.png: taller than the 3-panel throughput.png
    strength = _check_png(tmp_path / "out" / "strength.png")
    assert strength.shape[0] > _check_png(tmp_path / "out" / "throughput.png").shape[0]


def test_report_without_metrics_csv_uses_the_markers(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "metrics.csv").unlink()
    assert load_run(copy).iterations == [1, 2]
    assert write_report(copy).iterations == 2


def test_report_of_a_run_without_finished_iterations(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "loop.json").write_text(
        json.dumps({"format": "blobmaster-loop", "version": 1, "name": "x"})
    )
    result = write_report(run)
    assert result.iterations == 0
    for name in PNGS:
        _check_png(result.out_dir / name)
    assert "No finished iteration yet." in result.summary.read_text()


def test_report_errors(tmp_path, run):
    with pytest.raises(ReportError, match="no such run folder"):
        write_report(tmp_path / "missing")
    (tmp_path / "foreign").mkdir()
    with pytest.raises(ReportError, match="not a loop run folder"):
        write_report(tmp_path / "foreign")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError, match="not a folder"):
        write_report(tmp_path / "file")
    with pytest.raises(ReportError, match="exists and is not a folder"):
        write_report(run, tmp_path / "file")


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_report(run, tmp_path):
    result = _cli("report", run, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert [line.split("/")[-1] for line in result.stdout.strip().splitlines()] == [
        *PNGS,
        "report.md",
    ]
    _check_png(tmp_path / "r" / "strength.png")


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("missing", "no such run folder"),
        ("foreign", "not a loop run folder"),
        ("badout", "exists and is not a folder"),
    ],
)
def test_cli_report_bad_input(run, tmp_path, which, message):
    (tmp_path / "foreign").mkdir()
    (tmp_path / "file").write_text("x")
    args = {
        "missing": (tmp_path / "missing",),
        "foreign": (tmp_path / "foreign",),
        "badout": (run, "--out", tmp_path / "file"),
    }[which]
    result = _cli("report", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("blobmaster: error: ") and message in lines[0], (
        result.stderr
    )
