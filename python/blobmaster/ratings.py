"""Ratings of agents from arena results.

Two ratings, both computed from the rounds an arena played:

The arena counts each distinct seating of a deal once (its rounds are the
``played`` ones of the report), so a seating repeated by the rotation
schedule does not weigh twice.

* **OpenSkill (Plackett-Luce).** The Weng-Lin Bayesian rating of the
  ``openskill`` library (``openskill.models.PlackettLuce`` with its default
  parameters: mu 25, sigma 25/3, beta 25/6, tau 25/300). Every round is one
  match: the agents seated in it, ranked by their score in the round (an
  agent holding several seats scores the mean of its seats), equal scores
  sharing a rank. Updates are applied round by round in play order, so the
  result depends a little on the order; ``ordinal`` is the library's
  conservative estimate ``mu - 3 sigma``.
* **Elo (Bradley-Terry fit).** From the pairwise results (wins, ties and
  losses of every pair of agents over the rounds they shared; a tie counts
  half a win for each), the maximum-likelihood Bradley-Terry strengths on
  the Elo scale: agent i is expected to score
  ``1 / (1 + 10 ** ((R_j - R_i) / 400))`` against agent j. One virtual draw
  between every pair keeps the fit finite when an agent won every game.
  Ratings are shifted to average 1500. Unlike the sequential Elo update,
  the fit does not depend on the order of the rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ELO_MEAN",
    "ELO_SCALE",
    "OpenSkillRatings",
    "Rating",
    "elo_expected",
    "elo_from_pairwise",
    "rank_scores",
]

ELO_SCALE = 400.0
"""Rating points per factor of 10 in the odds."""
ELO_MEAN = 1500.0
"""The average of the fitted Elo ratings."""


@dataclass(frozen=True)
class Rating:
    """An OpenSkill rating: mean ``mu`` and uncertainty ``sigma``."""

    mu: float
    sigma: float

    @property
    def ordinal(self) -> float:
        """``mu - 3 sigma``: the library's conservative skill estimate."""
        return self.mu - 3.0 * self.sigma


def rank_scores(scores: Sequence[float]) -> list[int]:
    """Competition ranks, 1 = best: higher score, better rank; equal scores
    share a rank (``[10, 0, 10, 5] -> [1, 4, 1, 3]``)."""
    return [1 + sum(1 for other in scores if other > s) for s in scores]


class OpenSkillRatings:
    """Plackett-Luce ratings of ``num_agents`` agents, updated one match at a
    time with :meth:`update`. ``model`` defaults to the library's
    ``PlackettLuce()``."""

    def __init__(self, num_agents: int, model: object | None = None) -> None:
        from openskill.models import PlackettLuce

        if num_agents < 1:
            raise ValueError(f"num_agents must be >= 1, got {num_agents}")
        self.model = model if model is not None else PlackettLuce()
        self._ratings = [self.model.rating() for _ in range(num_agents)]  # type: ignore[attr-defined]
        self.matches = 0

    def update(self, agents: Sequence[int], scores: Sequence[float]) -> None:
        """One match: ``agents`` (distinct indices) scored ``scores``; higher
        is better and equal scores share a rank. Fewer than two agents: no-op."""
        if len(agents) != len(scores):
            raise ValueError(f"{len(agents)} agents but {len(scores)} scores")
        if len(set(agents)) != len(agents):
            raise ValueError(f"an agent appears twice in one match: {list(agents)}")
        if len(agents) < 2:
            return
        teams = [[self._ratings[a]] for a in agents]
        ranks = [float(r) for r in rank_scores(scores)]
        new = self.model.rate(teams, ranks=ranks)  # type: ignore[attr-defined]
        for a, team in zip(agents, new):
            self._ratings[a] = team[0]
        self.matches += 1

    @property
    def ratings(self) -> list[Rating]:
        return [Rating(float(r.mu), float(r.sigma)) for r in self._ratings]


def elo_expected(rating: float, opponent: float) -> float:
    """The Elo expected score of a player rated ``rating`` against one rated
    ``opponent``: ``1 / (1 + 10 ** ((opponent - rating) / 400))``."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / ELO_SCALE))


def elo_from_pairwise(
    wins: Sequence[Sequence[float]],
    ties: Sequence[Sequence[float]] | None = None,
    *,
    prior_draws: float = 1.0,
    mean: float = ELO_MEAN,
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> list[float]:
    """Elo ratings fitted to pairwise results by maximum likelihood
    (Bradley-Terry).

    ``wins[i][j]``: games agent i won against agent j; ``ties[i][j]`` (=
    ``ties[j][i]``): games they tied, counted as half a win each.
    ``prior_draws`` virtual draws are added to every pair, which makes the
    fit finite and unique even for an unbeaten agent or pairs that never
    met. Solved with Hunter's MM iteration; the ratings average ``mean``.

    With two agents the fit is closed-form: if agent 0 scored a fraction p
    of the games (virtual draws included), ``R_0 - R_1 = 400 log10(p / (1 - p))``.
    """
    n = len(wins)
    if n == 0:
        return []
    if any(len(row) != n for row in wins):
        raise ValueError("wins must be a square matrix")
    tie = ties if ties is not None else [[0.0] * n for _ in range(n)]
    if len(tie) != n or any(len(row) != n for row in tie):
        raise ValueError("ties must be a square matrix like wins")
    if prior_draws < 0:
        raise ValueError(f"prior_draws must be >= 0, got {prior_draws}")
    # games[i][j] and points[i] (wins + half the ties + half the virtual draws).
    games = [[0.0] * n for _ in range(n)]
    points = [0.0] * n
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            w, lost, t = float(wins[i][j]), float(wins[j][i]), float(tie[i][j])
            if min(w, lost, t) < 0:
                raise ValueError("wins and ties must be >= 0")
            games[i][j] = w + lost + t + prior_draws
            points[i] += w + 0.5 * t + 0.5 * prior_draws
    if n >= 2 and any(p <= 0 for p in points):
        raise ValueError("an agent scored no point: no finite fit (use prior_draws > 0)")
    strength = [1.0] * n
    for _ in range(max_iter):
        new = []
        for i in range(n):
            denom = sum(
                games[i][j] / (strength[i] + strength[j])
                for j in range(n)
                if j != i and games[i][j] > 0
            )
            new.append(points[i] / denom if denom > 0 else strength[i])
        # Normalize (the fit is defined up to a common factor).
        g = math.exp(sum(math.log(s) for s in new) / n)
        new = [s / g for s in new]
        change = max(abs(math.log(a) - math.log(b)) for a, b in zip(new, strength))
        strength = new
        if change < tol:
            break
    elo = [ELO_SCALE * math.log10(s) for s in strength]
    shift = mean - sum(elo) / n
    return [e + shift for e in elo]
