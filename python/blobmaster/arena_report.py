"""The result of a duplicate arena (:func:`blobmaster.arena.play_duplicate`):
per-agent results, head-to-head of every pair, JSON round trip and the
rich tables ``blobmaster eval`` prints. Field meanings: docs/evaluation.md."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blobmaster.atomic import atomic_write_bytes

__all__ = [
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "Z95",
    "AgentResult",
    "ArenaReport",
    "HeadToHead",
    "mean_ci95",
    "report_console",
]

Z95 = 1.96
"""Normal quantile of the 95% intervals (as in the Rust arena)."""
REPORT_FORMAT = "blobmaster-arena"
REPORT_VERSION = 1


def mean_ci95(samples: Sequence[float]) -> tuple[float, float | None]:
    """Mean and 95% half-width ``1.96 * s / sqrt(n)`` (s: sample standard
    deviation); the half-width is None with fewer than two samples."""
    n = len(samples)
    if n == 0:
        return 0.0, None
    mean = math.fsum(samples) / n
    if n < 2:
        return mean, None
    var = math.fsum((x - mean) ** 2 for x in samples) / (n - 1)
    return mean, Z95 * math.sqrt(var / n)


def report_console() -> Any:
    """A rich console for report tables on stdout: the terminal's width on a
    terminal, else 160 columns (piped into a file or a log, rich would assume
    80 and cut agent names like ``model:runs/x/iter-0040/model.pt:light``)."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


@dataclass
class AgentResult:
    """One agent's results."""

    index: int
    name: str
    mean: float
    """Mean round score (points: 10 + bid for an exact bid, else 0)."""
    ci95: float | None
    """95% half-width of ``mean`` over per-deal scores (None below two deals)."""
    seat_rounds: int
    """Seats held, summed over rounds."""
    rounds: int
    """Rounds the agent sat in."""
    bids_made: int
    """Seat-rounds in which it took exactly its bid."""
    mu: float
    """OpenSkill Plackett-Luce mean."""
    sigma: float
    """OpenSkill Plackett-Luce uncertainty."""
    ordinal: float
    """``mu - 3 sigma``."""
    elo: float
    """Bradley-Terry fit of the pairwise results on the Elo scale (mean 1500)."""
    info: dict[str, Any] = field(default_factory=dict)
    """The agent's settings (``Agent.describe()``)."""

    @property
    def low(self) -> float:
        return self.mean - (self.ci95 if self.ci95 is not None else math.inf)

    @property
    def high(self) -> float:
        return self.mean + (self.ci95 if self.ci95 is not None else math.inf)

    @property
    def bid_rate(self) -> float:
        return self.bids_made / self.seat_rounds if self.seat_rounds else 0.0


@dataclass
class HeadToHead:
    """Agent ``a`` against agent ``b`` (a < b)."""

    a: int
    b: int
    wins: int
    """Shared rounds where a's score was strictly above b's."""
    ties: int
    losses: int
    """Shared rounds where b's score was strictly above a's."""
    mean_diff: float
    """Mean over deals of (a's per-deal score - b's)."""
    ci95: float | None
    """95% half-width of ``mean_diff`` (None below two deals)."""

    @property
    def shared_rounds(self) -> int:
        return self.wins + self.ties + self.losses


@dataclass
class ArenaReport:
    """What :func:`play_duplicate` measured. ``to_json`` / ``from_json``
    round-trip exactly."""

    num_players: int
    cards: int
    deals: int
    seed: int
    rotations: int
    rounds: int
    agents: list[AgentResult]
    head_to_head: list[HeadToHead]
    wins: list[list[int]]
    """``wins[i][j]``: shared rounds where agent i scored strictly above j."""
    ties: list[list[int]]
    per_deal: list[list[float]]
    """``per_deal[d][k]``: agent k's mean score over its seats of deal d."""
    seconds: float = 0.0
    played: int = 0
    """Rounds played, one per distinct seating of each deal: every statistic
    counts these. Fewer than ``rounds`` when n divides P (n < P), where
    rotations r and r + n seat the agents alike (:func:`distinct_seatings`)."""
    seating: str = "seat s, rotation r -> agent ((s + r) mod max(P, n)) mod n"

    @property
    def rounds_per_s(self) -> float:
        """Rounds played per second."""
        return (self.played or self.rounds) / self.seconds if self.seconds > 0 else 0.0

    def pair(self, i: int, j: int) -> HeadToHead:
        """The head-to-head of agents i and j, seen from i."""
        for h in self.head_to_head:
            if (h.a, h.b) == (i, j):
                return h
            if (h.a, h.b) == (j, i):
                return HeadToHead(i, j, h.losses, h.ties, h.wins, -h.mean_diff, h.ci95)
        raise KeyError((i, j))

    def clearly_ahead(self, i: int, j: int) -> bool:
        """Agent i's paired difference against j is positive with its whole
        95% interval above zero."""
        h = self.pair(i, j)
        return h.ci95 is not None and h.mean_diff - h.ci95 > 0

    # ---- serialization

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rounds_per_s"] = self.rounds_per_s
        return {"format": REPORT_FORMAT, "version": REPORT_VERSION, **out}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArenaReport:
        data = dict(data)
        if data.pop("format", REPORT_FORMAT) != REPORT_FORMAT:
            raise ValueError("not a blobmaster arena report")
        version = data.pop("version", REPORT_VERSION)
        if version > REPORT_VERSION:
            raise ValueError(f"arena report version {version} is newer than this blobmaster reads")
        data.pop("rounds_per_s", None)
        data["agents"] = [AgentResult(**a) for a in data["agents"]]
        data["head_to_head"] = [HeadToHead(**h) for h in data["head_to_head"]]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> ArenaReport:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Writes the JSON report atomically (whole or absent)."""
        return atomic_write_bytes(path, (self.to_json() + "\n").encode())

    # ---- display

    def tables(self) -> list[Any]:
        """Rich tables: one row per agent (best mean first), then one per pair."""
        from rich import box
        from rich.table import Table
        from rich.text import Text

        # Agent names are data, not markup: as plain strings rich would read
        # ``ismcts:100:`` as the emoji code ``:100:`` and ``[b]`` in a path as
        # a style.

        def ci(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}"

        title = (
            f"{self.num_players} players x {self.cards} cards: {self.deals} deals x "
            f"{self.rotations} rotations = {self.rounds} rounds"
        )
        if 0 < self.played < self.rounds:
            title += f" ({self.played} distinct seatings played and counted)"
        if self.seconds > 0:
            title += f", {self.rounds_per_s:.2f} rounds/s"
        t = Table(title=title, box=box.SIMPLE_HEAD)
        t.add_column("#", justify="right")
        t.add_column("agent", no_wrap=True)
        for col in ("mean", "\u00b195%", "bids made", "seats", "mu", "sigma", "Elo"):
            t.add_column(col, justify="right")
        for a in sorted(self.agents, key=lambda a: -a.mean):
            t.add_row(
                str(a.index),
                Text(a.name),
                f"{a.mean:.3f}",
                ci(a.ci95),
                f"{100 * a.bid_rate:.1f}%",
                str(a.seat_rounds),
                f"{a.mu:.2f}",
                f"{a.sigma:.2f}",
                f"{a.elo:.0f}",
            )
        t.caption = "mean: round score; \u00b195%: per-deal CI; mu/sigma: OpenSkill Plackett-Luce"
        h2h = Table(
            title="head to head: rounds won/tied/lost, paired difference per deal",
            box=box.SIMPLE_HEAD,
        )
        h2h.add_column("pair", no_wrap=True)
        for col in ("won", "tied", "lost", "diff", "\u00b195%"):
            h2h.add_column(col, justify="right")
        names = {a.index: a.name for a in self.agents}
        for h in self.head_to_head:
            h2h.add_row(
                Text(f"[{h.a}] {names[h.a]} v [{h.b}] {names[h.b]}"),
                str(h.wins),
                str(h.ties),
                str(h.losses),
                f"{h.mean_diff:+.3f}",
                ci(h.ci95),
            )
        return [t, h2h]

    def print(self, console: Any | None = None) -> None:
        """Prints the tables (on stdout unless ``console`` says otherwise)."""
        console = console or report_console()
        for t in self.tables():
            console.print(t)

    def __str__(self) -> str:
        import io

        from rich.console import Console

        console = Console(file=io.StringIO(), width=140, color_system=None)
        self.print(console)
        return console.file.getvalue()  # type: ignore[attr-defined]
