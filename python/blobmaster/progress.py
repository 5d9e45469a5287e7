"""A live progress bar (rich) for run_selfplay, on stderr."""

from __future__ import annotations

from rich.console import Console

from blobmaster.inference import Progress as Snapshot
from blobmaster.rich_bar import RichBar

__all__ = ["RichProgress"]


class RichProgress(RichBar):
    """Context manager and run_selfplay progress callback: rounds done out of
    the target, rounds/min, network evaluations/s and mean batch size.
    Draws nothing when stderr is not a terminal (or ``enabled`` is False)."""

    def __init__(
        self, total: int | None, *, enabled: bool = True, console: Console | None = None
    ) -> None:
        super().__init__(
            "selfplay",
            [
                "rounds",
                "{task.fields[rpm]:>8.1f} rounds/min",
                "{task.fields[eps]:>9,.0f} evals/s",
                "batch {task.fields[batch]:>6.1f}",
            ],
            enabled=enabled,
            console=console,
        )
        self.task = self.progress.add_task("selfplay", total=total, rpm=0.0, eps=0.0, batch=0.0)

    def __call__(self, snap: Snapshot) -> None:
        self.progress.update(
            self.task,
            completed=snap.rounds,
            rpm=snap.rounds_per_min,
            eps=snap.evals_per_s,
            batch=snap.mean_batch,
        )
