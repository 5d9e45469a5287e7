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

**Identical seatings.** When n divides P and n < P, rotations r and r + n
seat the agents identically; such a rotation is played only once
(:func:`distinct_seatings`), and every agent still holds every seat of the
deal equally often. Every statistic below counts each distinct seating of a
deal once: ``ArenaReport.played`` rounds, of the ``rounds`` of the schedule.

**Statistics.** An agent's score in a round is its mean score over the
seats it held. Its score on a deal is the mean over every seat it held in
the deal's rotations; these per-deal scores are the independent samples
(a deal's rotations share the cards, so they are not independent). The
mean round score is their mean, with a 95% interval of 1.96 standard errors
(sample standard deviation, n - 1); undefined (None) below two deals. The
head-to-head of a pair counts wins, ties and losses over the rounds both
sat in, and gives the mean paired difference of their per-deal scores with
its 95% interval. Ratings: :mod:`blobmaster.ratings`.

**Where the rounds are played.** When every agent is engine-playable
(network, heuristic, random, rollout and ISMCTS agents), the rounds are
played many at a time in the Rust engine (:mod:`blobmaster.arena_engine`),
with the same decisions as ``act`` would make; otherwise one decision at a
time through ``act``. Either way the rounds are tallied here, in order. The report types
(:class:`ArenaReport` and its parts) live in :mod:`blobmaster.arena_report`
and are re-exported here.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from blobmaster._core import Round
from blobmaster.arena_report import AgentResult, ArenaReport, HeadToHead, mean_ci95
from blobmaster.rich_bar import RichBar

__all__ = [
    "AgentResult",
    "ArenaError",
    "ArenaReport",
    "HeadToHead",
    "agent_seed",
    "arena_deal",
    "derive_seed",
    "distinct_seatings",
    "evaluate_specs",
    "mean_ci95",
    "play_duplicate",
    "rotations",
    "seat_agent",
]

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


class _Progress(RichBar):
    """A rich progress bar with rounds/s, on stderr, only on a terminal."""

    def __init__(self, total: int, enabled: bool, console: Any | None) -> None:
        self.start = time.perf_counter()
        super().__init__(
            "arena",
            ["rounds", "{task.fields[rps]:>7.2f} rounds/s"],
            enabled=enabled,
            console=console,
        )
        self.task = self.progress.add_task("arena", total=total, rps=0.0)

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


def distinct_seatings(num_players: int, num_agents: int) -> list[tuple[int, ...]]:
    """The seatings of one deal, each once, in rotation order: rotation r
    seats agent :func:`seat_agent` ``(s, r, ...)`` at seat s, and a rotation
    that seats the agents exactly like an earlier one (r and r + n when n
    divides P) is left out. Each agent still plays every seat it would
    have, the same share of the time."""
    out: list[tuple[int, ...]] = []
    for r in range(rotations(num_players, num_agents)):
        seating = tuple(seat_agent(s, r, num_players, num_agents) for s in range(num_players))
        if seating not in out:
            out.append(seating)
    return out


def _check_deals(num_players: int, cards: int, deals: int) -> None:
    """The table (players, cards per hand) and the number of deals, in that order."""
    from blobmaster.config import ConfigError, validate_table

    _check_int("num_players", num_players, 3, 8)
    _check_int("cards", cards, 1, 13)
    try:
        validate_table(num_players, cards)
    except ConfigError as e:
        raise ArenaError(str(e)) from None
    _check_int("deals", deals, 1)


def _check_input(
    agents: Sequence[Any], num_players: int, cards: int, deals: int, seed: int
) -> None:
    if len(agents) < 2:
        raise ArenaError(f"need at least 2 agents, got {len(agents)}")
    for k, a in enumerate(agents):
        if not callable(getattr(a, "act", None)):
            raise ArenaError(f"agent {k} ({a!r}) has no act(round) method")
    _check_deals(num_players, cards, deals)
    _check_int("seed", seed, 0, _MAX_SEED)


class _Tally:
    """Every statistic of an arena, one counted round at a time."""

    def __init__(self, n: int) -> None:
        from blobmaster.ratings import OpenSkillRatings

        self.n = n
        self.played = 0
        self.seat_rounds = [0] * n
        self.rounds_in = [0] * n
        self.made = [0] * n
        self.wins = [[0] * n for _ in range(n)]
        self.ties = [[0] * n for _ in range(n)]
        self.skill = OpenSkillRatings(n)
        self.per_deal: list[list[float]] = []
        self._deal_sum = [0.0] * n
        self._deal_seats = [0] * n

    def add_round(self, seating: Sequence[int], end: Round) -> None:
        scores = end.scores
        assert scores is not None
        total = [0.0] * self.n
        seats = [0] * self.n
        for s, k in enumerate(seating):
            total[k] += scores[s]
            seats[k] += 1
            self.made[k] += int(end.bids[s] == end.tricks_won[s])
        present = [k for k in range(self.n) if seats[k]]
        mean = {k: total[k] / seats[k] for k in present}
        for k in present:
            self._deal_sum[k] += total[k]
            self._deal_seats[k] += seats[k]
            self.seat_rounds[k] += seats[k]
            self.rounds_in[k] += 1
        for i in present:
            for j in (j for j in present if j != i):
                if mean[i] > mean[j]:
                    self.wins[i][j] += 1
                elif mean[i] == mean[j]:
                    self.ties[i][j] += 1
        self.skill.update(present, [mean[k] for k in present])
        self.played += 1

    def end_deal(self) -> None:
        self.per_deal.append([s / c for s, c in zip(self._deal_sum, self._deal_seats)])
        self._deal_sum = [0.0] * self.n
        self._deal_seats = [0] * self.n

    def agent_results(self, agents: Sequence[Any]) -> list[AgentResult]:
        from blobmaster.ratings import elo_from_pairwise

        elo = elo_from_pairwise(self.wins, self.ties)
        ratings = self.skill.ratings
        results = []
        for k, agent in enumerate(agents):
            mean, ci = mean_ci95([row[k] for row in self.per_deal])
            describe = getattr(agent, "describe", None)
            results.append(
                AgentResult(
                    index=k,
                    name=str(getattr(agent, "name", type(agent).__name__)),
                    mean=mean,
                    ci95=ci,
                    seat_rounds=self.seat_rounds[k],
                    rounds=self.rounds_in[k],
                    bids_made=self.made[k],
                    mu=ratings[k].mu,
                    sigma=ratings[k].sigma,
                    ordinal=ratings[k].ordinal,
                    elo=elo[k],
                    info=dict(describe()) if callable(describe) else {},
                )
            )
        return results

    def head_to_head(self) -> list[HeadToHead]:
        pairs = []
        for i in range(self.n):
            for j in range(i + 1, self.n):
                diff, ci = mean_ci95([row[i] - row[j] for row in self.per_deal])
                pairs.append(
                    HeadToHead(i, j, self.wins[i][j], self.ties[i][j], self.wins[j][i], diff, ci)
                )
        return pairs


def _use_engine(agents: Sequence[Any], engine: bool | None) -> bool:
    """Whether to play in the Rust engine (see :func:`play_duplicate`)."""
    if engine is False:
        return False
    from blobmaster.arena_engine import engine_specs

    playable = engine_specs(agents) is not None
    if engine and not playable:
        raise ArenaError(
            "engine=True needs engine-playable agents (network, heuristic, random, rollout, "
            "ismcts agents of those exact classes)"
        )
    return playable


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
    engine: bool | None = None,
    threads: int | None = None,
) -> ArenaReport:
    """Seat-rotated duplicate play of ``deals`` deals of ``cards`` cards at a
    table of ``num_players`` (3..8) seats, for two or more ``agents``
    (anything with ``act(round) -> int`` and a ``name``). Deal d is
    :func:`arena_deal` ``(num_players, cards, d, seed)``, played once in
    each of its :func:`distinct_seatings` (the :func:`rotations` of
    :func:`seat_agent`, a rotation that repeats an earlier seating left
    out), and every statistic and rating counts each of those rounds once.

    ``progress`` shows a progress bar with rounds/s on stderr (only on a
    terminal); ``on_round(done, total)`` is called after every round.

    ``engine``: play the rounds many at a time in the Rust engine
    (:mod:`blobmaster.arena_engine`, ``threads`` worker threads) instead of
    one decision at a time through ``act``. None (the default) uses the
    engine whenever every agent is engine-playable; True requires it. The
    agents decide alike either way, so the report is the same (up to float
    rounding of batched network answers).
    Raises ArenaError for bad input or an illegal action.
    """
    agents = list(agents)
    _check_input(agents, num_players, cards, deals, seed)
    n = len(agents)
    seatings = distinct_seatings(num_players, n)
    total = deals * len(seatings)
    tally = _Tally(n)
    started = time.perf_counter()
    use_engine = _use_engine(agents, engine)
    with _Progress(total, progress, console) as bar:
        if use_engine:
            from blobmaster.arena_engine import DEFAULT_ARENA_THREADS, play_rounds

            def tick(done: int) -> None:
                bar.update(done)
                if on_round is not None:
                    on_round(done, total)

            starts = [arena_deal(num_players, cards, d, seed) for d in range(deals)]
            ends = play_rounds(
                agents, starts, seatings, threads=threads or DEFAULT_ARENA_THREADS, on_round=tick
            )
            for d in range(deals):
                for s, seating in enumerate(seatings):
                    tally.add_round(seating, ends[d * len(seatings) + s])
                tally.end_deal()
        else:
            for d in range(deals):
                start = arena_deal(num_players, cards, d, seed)
                for seating in seatings:
                    tally.add_round(seating, _play_round(agents, seating, start.clone()))
                    bar.update(tally.played)
                    if on_round is not None:
                        on_round(tally.played, total)
                tally.end_deal()
    rot = rotations(num_players, n)
    return ArenaReport(
        num_players=num_players,
        cards=cards,
        deals=deals,
        seed=seed,
        rotations=rot,
        rounds=deals * rot,
        played=tally.played,
        agents=tally.agent_results(agents),
        head_to_head=tally.head_to_head(),
        wins=tally.wins,
        ties=tally.ties,
        per_deal=tally.per_deal,
        seconds=time.perf_counter() - started,
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
    engine: bool | None = None,
) -> ArenaReport:
    """Builds one agent per spec (:func:`blobmaster.agent_specs.parse_agent_spec`;
    agent k is seeded with :func:`agent_seed` ``(seed, k)``) and plays
    :func:`play_duplicate` (``engine`` as there). What ``blobmaster eval`` runs. Raises AgentError
    or ArenaError (both ValueErrors) for bad input, before any round is played."""
    from blobmaster.agent_specs import parse_agent_spec

    specs = list(specs)
    if len(specs) < 2:
        raise ArenaError(f"need at least 2 agents (--agent SPEC twice or more), got {len(specs)}")
    _check_int("seed", seed, 0, _MAX_SEED)
    # Table checks first: they are cheap, loading a network is not.
    _check_deals(num_players, cards, deals)
    agents = [
        parse_agent_spec(spec, device=device, seed=agent_seed(seed, k))
        for k, spec in enumerate(specs)
    ]
    report = play_duplicate(
        agents, num_players, cards, deals, seed, progress=progress, console=console, engine=engine
    )
    for result, spec in zip(report.agents, specs):
        result.info["spec"] = spec
    return report
