"""Duplicate arena: agents play the same deals from every seat.

:func:`play_duplicate` deals ``deals`` rounds and replays each one several
times with the agents permuted around the table, so that every agent plays
every seat of every deal and the luck of the cards cancels out.

**Seating** (the Rust arena's scheme, ``blob_search::arena::seat_agent``,
extended to more agents than seats). With P seats and n agents, a deal is
played ``R = max(P, n)`` times; in rotation r (0..R-1) seat s holds agent

    ((s + r) mod R) mod n

* n <= P (R = P): the agents fill P slots cyclically (agent k holds slots
  k, k + n, k + 2n, ...) and every rotation turns the slots one seat, so each
  agent plays every seat of the deal equally often, and every agent sits in
  every round. When n does not divide P the first ``P mod n`` agents hold one
  seat more per round than the others. Identical to the Rust arena.
* n > P (R = n): rotation r seats agents r, r+1, ..., r+P-1 (mod n) at seats
  0..P-1, so each agent plays every seat of the deal exactly once. Two agents
  share a round only if they are fewer than P apart in the cyclic order;
  their head-to-head counts cover those rounds, their paired difference
  compares whole deals (the same cards from every seat) either way.

**Deals.** Deal d draws a dealer (uniform), a trump (each suit or no-trump
with probability 1/5) and the cards from a generator seeded by a hash of
(``seed``, d); the deals are not the Rust arena's.

**Statistics.** An agent's score in a round is its mean score over the
seats it held. Its score on a deal is the mean over every seat it held in
the deal's rotations; these per-deal scores are the independent samples
(a deal's rotations share the cards, so they are not independent). The
mean round score is their mean, with a 95% interval of 1.96 standard errors
(sample standard deviation, n - 1); undefined (None) below two deals. The
head-to-head of a pair counts wins, ties and losses over the rounds both
sat in, and gives the mean paired difference of their per-deal scores with
its 95% interval. Ratings: :mod:`blobmaster.ratings`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blobmaster._core import Round

__all__ = [
    "AgentResult",
    "ArenaError",
    "ArenaReport",
    "HeadToHead",
    "agent_seed",
    "arena_deal",
    "derive_seed",
    "evaluate_specs",
    "mean_ci95",
    "play_duplicate",
    "rotations",
    "seat_agent",
]

Z95 = 1.96
"""Normal quantile of the 95% intervals (as in the Rust arena)."""
REPORT_FORMAT = "blobmaster-arena"
REPORT_VERSION = 1
_MAX_SEED = (1 << 64) - 1


class ArenaError(ValueError):
    """Bad arena input (table, agents, deals, seed) or an agent that broke the rules."""


def derive_seed(*parts: int | str) -> int:
    """A 64-bit seed from integers and strings (a stable hash)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def rotations(num_players: int, num_agents: int) -> int:
    """Rotations per deal: ``max(num_players, num_agents)``."""
    return max(num_players, num_agents)


def seat_agent(seat: int, rotation: int, num_players: int, num_agents: int) -> int:
    """The agent at ``seat`` in ``rotation``: ``((seat + rotation) mod R) mod
    num_agents`` with ``R = max(num_players, num_agents)``."""
    r = rotations(num_players, num_agents)
    return ((seat + rotation) % r) % num_agents


def arena_deal(num_players: int, cards: int, deal: int, seed: int) -> Round:
    """Deal number ``deal`` of an arena seeded with ``seed``: random dealer,
    random trump (or no-trump, 1/5 each) and random cards."""
    rng = random.Random(derive_seed("blobmaster-arena-deal", seed, deal))
    dealer = rng.randrange(num_players)
    t = rng.randrange(5)
    return Round(
        num_players, cards, dealer=dealer, trump=None if t == 4 else t, seed=rng.getrandbits(64)
    )


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
    """Rounds actually played; fewer than ``rounds`` when identical seatings
    of a deal were reused (see :func:`play_duplicate`)."""
    seating: str = "seat s, rotation r -> agent ((s + r) mod max(P, n)) mod n"

    @property
    def rounds_per_s(self) -> float:
        return self.rounds / self.seconds if self.seconds > 0 else 0.0

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
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    # ---- display

    def tables(self) -> list[Any]:
        """Rich tables: one row per agent (best mean first), then one per pair."""
        from rich import box
        from rich.table import Table

        def ci(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}"

        title = (
            f"{self.num_players} players x {self.cards} cards: {self.deals} deals x "
            f"{self.rotations} rotations = {self.rounds} rounds"
        )
        if 0 < self.played < self.rounds:
            title += f" ({self.played} played, identical seatings reused)"
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
                a.name,
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
                f"[{h.a}] {names[h.a]} v [{h.b}] {names[h.b]}",
                str(h.wins),
                str(h.ties),
                str(h.losses),
                f"{h.mean_diff:+.3f}",
                ci(h.ci95),
            )
        return [t, h2h]

    def print(self, console: Any | None = None) -> None:
        """Prints the tables (on stdout unless ``console`` says otherwise)."""
        from rich.console import Console

        console = console or Console()
        for t in self.tables():
            console.print(t)

    def __str__(self) -> str:
        import io

        from rich.console import Console

        console = Console(file=io.StringIO(), width=140, color_system=None)
        self.print(console)
        return console.file.getvalue()  # type: ignore[attr-defined]


class _Progress:
    """A rich progress bar with rounds/s, on stderr, only on a terminal."""

    def __init__(self, total: int, enabled: bool, console: Any | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = console or Console(stderr=True)
        self.start = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]arena"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rounds"),
            TextColumn("{task.fields[rps]:>7.2f} rounds/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not (enabled and console.is_terminal),
        )
        self.task = self.progress.add_task("arena", total=total, rps=0.0)

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, done: int) -> None:
        elapsed = time.perf_counter() - self.start
        self.progress.update(self.task, completed=done, rps=done / elapsed if elapsed > 0 else 0.0)


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArenaError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ArenaError(f"{name} must be in {lo}..{hi if hi is not None else 'inf'}, got {value}")
    return value


def _play_round(agents: Sequence[Any], seating: Sequence[int], round: Round) -> Round:
    while not round.is_over:
        seat = round.current_player
        assert seat is not None
        agent = agents[seating[seat]]
        action = agent.act(round.clone())
        legal = round.legal_actions()
        if action not in legal:
            raise ArenaError(
                f"agent {seating[seat]} ({getattr(agent, 'name', agent)}) at seat {seat} chose "
                f"illegal action {action!r} (legal: {legal})"
            )
        round.apply(action)
    return round


def play_duplicate(
    agents: Sequence[Any],
    num_players: int,
    cards: int,
    deals: int,
    seed: int = 0,
    *,
    progress: bool = True,
    console: Any | None = None,
    on_round: Callable[[int, int], None] | None = None,
    reuse_identical_seatings: bool | None = None,
) -> ArenaReport:
    """Seat-rotated duplicate play of ``deals`` deals of ``cards`` cards at a
    table of ``num_players`` (3..8) seats, for two or more ``agents``
    (anything with ``act(round) -> int`` and a ``name``). Deal d is
    :func:`arena_deal` ``(num_players, cards, d, seed)``, played
    :func:`rotations` times with the seating of :func:`seat_agent`.

    ``progress`` shows a progress bar with rounds/s on stderr (only on a
    terminal); ``on_round(done, total)`` is called after every round.
    When n divides P with n < P, rotations r and r + n seat the agents
    identically. Agents built by :class:`blobmaster.agents.Agent` decide as a
    pure function of the position and their seed, so such a rotation would
    replay move for move; ``reuse_identical_seatings`` (None: only when every
    agent is an ``Agent``) takes its result from the first one instead of
    playing it again. The statistics are the same, the work is n/P of it.

    Raises ArenaError for bad input or an illegal action.
    """
    from blobmaster.config import ConfigError, validate_table
    from blobmaster.ratings import OpenSkillRatings, elo_from_pairwise

    agents = list(agents)
    if len(agents) < 2:
        raise ArenaError(f"need at least 2 agents, got {len(agents)}")
    for k, a in enumerate(agents):
        if not callable(getattr(a, "act", None)):
            raise ArenaError(f"agent {k} ({a!r}) has no act(round) method")
    _check_int("num_players", num_players, 3, 8)
    _check_int("cards", cards, 1, 13)
    try:
        validate_table(num_players, cards)
    except ConfigError as e:
        raise ArenaError(str(e)) from None
    _check_int("deals", deals, 1)
    _check_int("seed", seed, 0, _MAX_SEED)

    n = len(agents)
    rot = rotations(num_players, n)
    total = deals * rot
    per_deal: list[list[float]] = []
    seat_rounds = [0] * n
    rounds_in = [0] * n
    made = [0] * n
    wins = [[0] * n for _ in range(n)]
    ties = [[0] * n for _ in range(n)]
    skill = OpenSkillRatings(n)
    if reuse_identical_seatings is None:
        from blobmaster.agents import Agent

        reuse_identical_seatings = all(isinstance(a, Agent) for a in agents)
    played = 0
    started = time.perf_counter()
    done = 0
    with _Progress(total, progress, console) as bar:
        for d in range(deals):
            start = arena_deal(num_players, cards, d, seed)
            deal_sum = [0.0] * n
            deal_count = [0] * n
            seen: dict[tuple[int, ...], Round] = {}
            for r in range(rot):
                seating = [seat_agent(s, r, num_players, n) for s in range(num_players)]
                key = tuple(seating)
                if reuse_identical_seatings and key in seen:
                    end = seen[key]
                else:
                    end = _play_round(agents, seating, start.clone())
                    seen[key] = end
                    played += 1
                scores = end.scores
                assert scores is not None
                total_k = [0.0] * n
                count_k = [0] * n
                for s, k in enumerate(seating):
                    total_k[k] += scores[s]
                    count_k[k] += 1
                    made[k] += int(end.bids[s] == end.tricks_won[s])
                present = [k for k in range(n) if count_k[k]]
                mean_k = {k: total_k[k] / count_k[k] for k in present}
                for k in present:
                    deal_sum[k] += total_k[k]
                    deal_count[k] += count_k[k]
                    seat_rounds[k] += count_k[k]
                    rounds_in[k] += 1
                for i in present:
                    for j in present:
                        if i == j:
                            continue
                        if mean_k[i] > mean_k[j]:
                            wins[i][j] += 1
                        elif mean_k[i] == mean_k[j]:
                            ties[i][j] += 1
                skill.update(present, [mean_k[k] for k in present])
                done += 1
                bar.update(done)
                if on_round is not None:
                    on_round(done, total)
            per_deal.append([deal_sum[k] / deal_count[k] for k in range(n)])
    seconds = time.perf_counter() - started

    elo = elo_from_pairwise(wins, ties)
    ratings = skill.ratings
    results = []
    for k, agent in enumerate(agents):
        mean, ci = mean_ci95([row[k] for row in per_deal])
        describe = getattr(agent, "describe", None)
        results.append(
            AgentResult(
                index=k,
                name=str(getattr(agent, "name", type(agent).__name__)),
                mean=mean,
                ci95=ci,
                seat_rounds=seat_rounds[k],
                rounds=rounds_in[k],
                bids_made=made[k],
                mu=ratings[k].mu,
                sigma=ratings[k].sigma,
                ordinal=ratings[k].ordinal,
                elo=elo[k],
                info=dict(describe()) if callable(describe) else {},
            )
        )
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            diff, ci = mean_ci95([row[i] - row[j] for row in per_deal])
            pairs.append(HeadToHead(i, j, wins[i][j], ties[i][j], wins[j][i], diff, ci))
    return ArenaReport(
        num_players=num_players,
        cards=cards,
        deals=deals,
        seed=seed,
        rotations=rot,
        rounds=total,
        played=played,
        agents=results,
        head_to_head=pairs,
        wins=wins,
        ties=ties,
        per_deal=per_deal,
        seconds=seconds,
    )


def agent_seed(seed: int, index: int) -> int:
    """The seed of agent ``index`` in an evaluation seeded with ``seed``."""
    return derive_seed("blobmaster-arena-agent", seed, index)


def evaluate_specs(
    specs: Sequence[str],
    *,
    num_players: int = 4,
    cards: int = 5,
    deals: int = 100,
    seed: int = 0,
    device: Any = "auto",
    progress: bool = True,
    console: Any | None = None,
) -> ArenaReport:
    """Builds one agent per spec (:func:`blobmaster.agents.parse_agent_spec`;
    agent k is seeded with :func:`agent_seed` ``(seed, k)``) and plays
    :func:`play_duplicate`. What ``blobmaster eval`` runs. Raises AgentError
    or ArenaError (both ValueErrors) for bad input, before any round is played."""
    from blobmaster.agents import parse_agent_spec

    specs = list(specs)
    if len(specs) < 2:
        raise ArenaError(f"need at least 2 agents (--agent SPEC twice or more), got {len(specs)}")
    _check_int("seed", seed, 0, _MAX_SEED)
    # Table checks first: they are cheap, loading a network is not.
    _check_int("num_players", num_players, 3, 8)
    _check_int("cards", cards, 1, 13)
    from blobmaster.config import ConfigError, validate_table

    try:
        validate_table(num_players, cards)
    except ConfigError as e:
        raise ArenaError(str(e)) from None
    _check_int("deals", deals, 1)
    agents = [
        parse_agent_spec(spec, device=device, seed=agent_seed(seed, k))
        for k, spec in enumerate(specs)
    ]
    report = play_duplicate(
        agents, num_players, cards, deals, seed, progress=progress, console=console
    )
    for result, spec in zip(report.agents, specs):
        result.info["spec"] = spec
    return report
