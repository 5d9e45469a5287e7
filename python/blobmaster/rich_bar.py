"""The one shape of every live progress bar (self-play, training, arena):
a bold label, the bar, done/total, the caller's text columns, elapsed and
remaining time, on stderr. rich is imported on first use, so that importing
a module that offers a bar stays light."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["RichBar"]

_Bar = TypeVar("_Bar", bound="RichBar")


class RichBar:
    """Context manager around a rich ``Progress`` (``self.progress``) whose
    middle columns are the ``fields`` format strings (``{task.fields[x]}``).
    Draws nothing when stderr is not a terminal or ``enabled`` is False."""

    def __init__(
        self,
        label: str,
        fields: Sequence[str],
        *,
        enabled: bool,
        console: Any = None,
        bar_width: int | None = 40,
    ) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(bar_width=bar_width),
            MofNCompleteColumn(),
            *(TextColumn(f) for f in fields),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not (enabled and self.console.is_terminal),
        )

    def __enter__(self: _Bar) -> _Bar:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()
