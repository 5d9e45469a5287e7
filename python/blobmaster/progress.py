"""A live progress bar (rich) for run_selfplay, on stderr."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from blobmaster.inference import Progress as Snapshot

__all__ = ["RichProgress"]


class RichProgress:
    """Context manager and run_selfplay progress callback: rounds done out of
    the target, rounds/min, network evaluations/s and mean batch size.
    Draws nothing when stderr is not a terminal (or ``enabled`` is False)."""

    def __init__(
        self, total: int | None, *, enabled: bool = True, console: Console | None = None
    ) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]selfplay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rounds"),
            TextColumn("{task.fields[rpm]:>8.1f} rounds/min"),
            TextColumn("{task.fields[eps]:>9,.0f} evals/s"),
            TextColumn("batch {task.fields[batch]:>6.1f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not (enabled and self.console.is_terminal),
            transient=False,
        )
        self.task = self.progress.add_task("selfplay", total=total, rpm=0.0, eps=0.0, batch=0.0)

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def __call__(self, snap: Snapshot) -> None:
        self.progress.update(
            self.task,
            completed=snap.rounds,
            rpm=snap.rounds_per_min,
            eps=snap.evals_per_s,
            batch=snap.mean_batch,
        )
