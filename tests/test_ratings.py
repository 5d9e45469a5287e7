"""Ratings: OpenSkill Plackett-Luce from round rankings, Elo from pairwise results."""

from __future__ import annotations

import math

import pytest
from openskill.models import PlackettLuce

from blobmaster.ratings import (
    OpenSkillRatings,
    elo_expected,
    elo_from_pairwise,
    rank_scores,
)


def test_rank_scores_share_ranks_on_ties() -> None:
    assert rank_scores([10, 0, 10, 5]) == [1, 4, 1, 3]
    assert rank_scores([3.5]) == [1]
    assert rank_scores([0, 0, 0]) == [1, 1, 1]


def test_two_player_win_updates_as_plackett_luce_says() -> None:
    """Weng & Lin (2011), Algorithm 4, by hand for one 1-v-1 win with the
    library defaults (mu 25, sigma 25/3, beta 25/6, tau 25/300)."""
    mu, sigma, beta, tau = 25.0, 25.0 / 3, 25.0 / 6, 25.0 / 300
    s2 = sigma**2 + tau**2  # tau is added to the prior variance first
    c = math.sqrt(2 * (s2 + beta**2))
    p = 0.5  # exp(mu/c) / (exp(mu/c) + exp(mu/c)): equal skills
    omega = s2 / c * (1 - p)  # winner; the loser gets -omega
    gamma = math.sqrt(s2) / c
    delta = gamma * s2 / c**2 * p * (1 - p)
    new_sigma = math.sqrt(s2) * math.sqrt(1 - delta)

    r = OpenSkillRatings(2)
    r.update([0, 1], [13, 0])
    winner, loser = r.ratings
    assert winner.mu == pytest.approx(mu + omega, abs=1e-9)
    assert loser.mu == pytest.approx(mu - omega, abs=1e-9)
    assert winner.sigma == pytest.approx(new_sigma, abs=1e-9) and loser.sigma == pytest.approx(
        new_sigma, abs=1e-9
    )
    # The numbers the library's own examples show for this case.
    assert winner.mu == pytest.approx(27.635, abs=1e-3) and winner.sigma == pytest.approx(
        8.0659, abs=1e-4
    )
    # And exactly what calling the library directly gives.
    model = PlackettLuce()
    [[a], [b]] = model.rate([[model.rating()], [model.rating()]], ranks=[1, 2])
    assert (winner.mu, winner.sigma, loser.mu) == (a.mu, a.sigma, b.mu)
    assert winner.ordinal == pytest.approx(winner.mu - 3 * winner.sigma)


def test_symmetric_results_give_equal_ratings() -> None:
    r = OpenSkillRatings(3)
    for _ in range(20):
        r.update([0, 1, 2], [12, 12, 12])  # three-way ties
    a, b, c = r.ratings
    assert a == b == c and a.mu == pytest.approx(25.0)
    r = OpenSkillRatings(4)
    for _ in range(10):
        r.update([0, 1, 2, 3], [11, 11, 0, 0])  # two pairs tie within
    a, b, c, d = r.ratings
    assert a == b and c == d and a.mu > c.mu
    wins = [[0, 30, 10], [30, 0, 10], [10, 10, 0]]
    ties = [[0, 5, 2], [5, 0, 2], [2, 2, 0]]
    elo = elo_from_pairwise(wins, ties)
    assert elo == pytest.approx([1500.0] * 3, abs=1e-6)


def test_a_dominant_agent_rates_highest() -> None:
    r = OpenSkillRatings(3)
    wins = [[0] * 3 for _ in range(3)]
    for i in range(30):
        others = [0, 1] if i % 2 else [1, 0]
        r.update([2, *others], [15.0, 5.0, 0.0])  # agent 2 always first
        wins[2][others[0]] += 1
        wins[2][others[1]] += 1
        wins[others[0]][others[1]] += 1
    mus = [x.mu for x in r.ratings]
    assert max(range(3), key=lambda k: mus[k]) == 2
    assert r.ratings[2].ordinal > max(r.ratings[0].ordinal, r.ratings[1].ordinal)
    elo = elo_from_pairwise(wins)
    assert max(range(3), key=lambda k: elo[k]) == 2
    assert all(math.isfinite(e) for e in elo)  # the virtual draws keep it finite
    assert sum(elo) / 3 == pytest.approx(1500.0)


def test_elo_expected_score_worked_example() -> None:
    # 200 points ahead: 1 / (1 + 10^(-200/400)) = 1 / (1 + 0.316228) = 0.759747
    assert elo_expected(1600, 1400) == pytest.approx(0.759747, abs=1e-6)
    assert elo_expected(1400, 1600) == pytest.approx(1 - 0.759747, abs=1e-6)
    assert elo_expected(1500, 1500) == 0.5


def test_elo_fit_two_agents_closed_form() -> None:
    # 74 wins, 24 losses, 1 tie, plus one virtual draw: agent 0 scores
    # 74 + 0.5 + 0.5 = 75 of 100 games, p = 0.75, odds 3:
    # R0 - R1 = 400 log10(3) = 190.85, split around 1500.
    elo = elo_from_pairwise([[0, 74], [24, 0]], [[0, 1], [1, 0]])
    gap = 400 * math.log10(3)
    assert elo[0] - elo[1] == pytest.approx(gap, abs=1e-6)
    assert elo == pytest.approx([1500 + gap / 2, 1500 - gap / 2], abs=1e-6)


def test_elo_fit_recovers_bradley_terry_strengths() -> None:
    true = [1700.0, 1500.0, 1300.0]
    n = 1000
    wins = [[0.0] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(3):
            if i != j:
                wins[i][j] = n * elo_expected(true[i], true[j])
    assert elo_from_pairwise(wins, prior_draws=0.0) == pytest.approx(true, abs=1e-6)


def test_rating_input_errors() -> None:
    with pytest.raises(ValueError, match="square"):
        elo_from_pairwise([[0, 1]])
    with pytest.raises(ValueError, match="no finite fit"):
        elo_from_pairwise([[0, 5], [0, 0]], prior_draws=0.0)
    r = OpenSkillRatings(3)
    with pytest.raises(ValueError, match="twice"):
        r.update([0, 0], [1, 2])
    with pytest.raises(ValueError, match="scores"):
        r.update([0, 1], [1])
    r.update([1], [10])  # one agent alone: nothing to learn
    assert r.matches == 0 and r.ratings[1].mu == 25.0
