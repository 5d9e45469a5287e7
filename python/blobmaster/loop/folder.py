"""The layout of a loop run folder and the lock that keeps one loop per folder.

Torch-free on purpose: ``blobmaster report`` reads run folders through it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from blobmaster.atomic import read_json
from blobmaster.loop.config import LoopError

__all__ = ["LoopFolder", "locked"]


class LoopFolder:
    """Paths of a loop run folder (layout: the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.manifest = self.root / "loop.json"
        self.config_file = self.root / "config.toml"
        self.metrics = self.root / "metrics.csv"
        self.init_dir = self.root / "init"
        self.init_model = self.init_dir / "model.pt"
        self.init_eval = self.init_dir / "eval.json"
        self.lock_file = self.root / ".lock"

    def iter_dir(self, k: int) -> Path:
        return self.root / f"iter-{k:04d}"

    def rel(self, path: Path) -> str:
        """``path`` relative to the run folder (as stored in the markers)."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(Path(path).resolve())

    def abs(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def done_iterations(self) -> int:
        """Iterations finished (1..n all have their DONE marker)."""
        k = 0
        while read_json(self.iter_dir(k + 1) / "DONE") is not None:
            k += 1
        return k

    def rows(self) -> list[dict[str, Any]]:
        """The metrics rows of the finished iterations (from their DONE markers)."""
        return [
            read_json(self.iter_dir(k) / "DONE") or {} for k in range(1, self.done_iterations() + 1)
        ]


@contextlib.contextmanager
def locked(folder: LoopFolder) -> Iterator[None]:
    """Holds an exclusive lock on the run folder (one loop at a time)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    f = open(folder.lock_file, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LoopError(
                f"run folder {folder.root} is in use by another blobmaster loop"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    finally:
        f.close()
