"""The shared file helpers: atomic writes and the one metrics CSV format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from blobmaster.atomic import (
    atomic_write,
    atomic_write_bytes,
    read_json,
    remove_temporary_files,
    write_json,
)
from blobmaster.metrics_csv import CsvLog, csv_cell, read_csv_rows, write_csv_table


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]


def test_failed_write_keeps_old_content_and_removes_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def half_then_fail(f) -> None:  # type: ignore[no-untyped-def]
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "shard.parquet"
    atomic_write_bytes(target, b"first", overwrite=False)
    with pytest.raises(FileExistsError, match="not overwriting"):
        atomic_write_bytes(target, b"second", overwrite=False)
    assert target.read_bytes() == b"first"


def test_leftover_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".model.pt.abc123.tmp").write_bytes(b"x")
    (tmp_path / "keep.tmp").write_bytes(b"y")  # not hidden: not ours
    remove_temporary_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp"]


def test_json_round_trip_with_non_finite_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_json(path, {"a": math.nan, "b": [1.5, math.inf], "c": tmp_path})
    assert read_json(path) == {"a": None, "b": [1.5, None], "c": str(tmp_path)}
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert read_json(tmp_path / "bad.json") is None


def test_csv_cells_have_one_spelling() -> None:
    assert [csv_cell(v) for v in (None, True, False, math.nan, -math.inf, 0.1, 3, "x")] == [
        "",
        "true",
        "false",
        "",
        "",
        "0.1",
        "3",
        "x",
    ]


def test_csv_table_quotes_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv_table(path, ["k", "v"], [{"k": 'a,"b"', "v": 1.25}, {"k": "c"}])
    header, rows = read_csv_rows(path)
    assert header == ["k", "v"]
    assert rows == [{"k": 'a,"b"', "v": "1.25"}, {"k": "c", "v": ""}]


def test_csv_log_appends_and_truncates_after_a_step(tmp_path: Path) -> None:
    log = CsvLog(tmp_path / "metrics.csv", ["step", "loss"])
    log.append([{"step": s, "loss": 1.0 / s} for s in range(1, 6)])
    log.sync()
    with open(log.path, "a", encoding="utf-8") as f:  # a writer killed mid-line
        f.write("6,0.1")
    assert [r["step"] for r in log.rows()] == ["1", "2", "3", "4", "5"]
    log.truncate_after(3)
    assert [r["step"] for r in log.rows()] == ["1", "2", "3"]
    log.append([{"step": 4, "loss": math.nan}])
    log.close()
    assert log.rows()[-1] == {"step": "4", "loss": ""}
    assert CsvLog(log.path, ["other"]).rows() == []


def test_atomic_writes_get_the_mode_of_any_new_file(tmp_path):
    """Not mkstemp's 0600: a model or shard written atomically is readable by
    whoever could read a file written with open()."""
    import os

    from blobmaster.atomic import atomic_write_bytes

    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    written = atomic_write_bytes(tmp_path / "atomic", b"x")
    assert os.stat(written).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
