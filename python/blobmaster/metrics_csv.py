"""The one CSV format of every metrics file (training steps, training runs,
loop iterations), and the two ways of writing one.

Cells: missing values, None, NaN and infinity are empty (every CSV reader
takes an empty cell as missing); booleans are ``true``/``false``; floats
keep full precision (``repr``). :class:`CsvLog` appends rows to a growing
log and can cut it back after a crash; :func:`write_csv_table` rewrites a
small table whole and atomically.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from blobmaster.atomic import atomic_write

__all__ = ["CsvLog", "csv_cell", "read_csv_rows", "write_csv_table"]


def csv_cell(value: Any) -> str:
    """The text of one cell (see the module docstring for the rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def _line(cells: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def write_csv_table(
    path: str | os.PathLike[str], columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> Path:
    """Writes the whole table atomically; cells come from :func:`csv_cell`
    (a value that is already text is written as it is)."""
    text = _line(list(columns)) + "".join(
        _line([csv_cell(r.get(c)) for c in columns]) for r in rows
    )
    return atomic_write(path, lambda f: f.write(text.encode()))


def read_csv_rows(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the complete rows of a CSV file; a partial last line
    (a writer killed mid-row) is ignored. A missing file has no rows."""
    path = Path(path)
    if not path.is_file():
        return [], []
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or ()), list(reader)


class CsvLog:
    """A CSV file with a fixed header that grows by appended rows.

    Rows are appended with one write of whole lines and fsynced on
    :meth:`sync`; :meth:`truncate_after` rewrites the file (temporary file,
    then rename) keeping only rows whose ``step`` is at most a given step,
    which also drops a partial last line.
    """

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self._file: IO[str] | None = None

    def rows(self) -> list[dict[str, str]]:
        """The complete rows; none when the header is not this log's."""
        header, rows = read_csv_rows(self.path)
        return rows if tuple(header) == self.columns else []

    def _rewrite(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.close()
        write_csv_table(self.path, self.columns, rows)

    def reset(self) -> None:
        """An empty log (header only)."""
        self._rewrite([])

    def truncate_after(self, step: int) -> None:
        """Keeps the rows with ``step <= step`` (all rows when the log has no step column)."""
        rows = self.rows()
        if "step" in self.columns:
            rows = [r for r in rows if r.get("step", "").isdigit() and int(r["step"]) <= step]
        self._rewrite(rows)

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self._file is None:
            if not self.path.is_file() or self.path.stat().st_size == 0:
                self._rewrite([])
            self._file = open(self.path, "a", encoding="utf-8", newline="")
        self._file.write("".join(_line([csv_cell(r.get(c)) for c in self.columns]) for r in rows))
        self._file.flush()

    def append_rewrite(self, row: Mapping[str, Any]) -> None:
        """Adds one row by rewriting the whole file (for small logs)."""
        self._rewrite([*self.rows(), row])

    def sync(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
