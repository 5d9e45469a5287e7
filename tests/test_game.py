"""The Game API: schedule, trump and dealer rotation, totals, observations."""

from __future__ import annotations

import copy
import random

import numpy as np

import blobmaster as bm


def play_game(g: bm.Game, rng: random.Random) -> list[bm.Round]:
    """Plays random legal moves to the end; returns the first state of every round."""
    starts = []
    while not g.is_over:
        if g.round_index == len(starts):
            starts.append(g.round)
        g.apply(rng.choice(g.legal_actions()))
    return starts


def test_schedule_matches_the_rules_example() -> None:
    assert bm.Game(4, 5, seed=0).schedule == [5, 4, 3, 2, 1, 1, 1, 1, 2, 3, 4, 5]
    assert bm.Game(3, 1, seed=0).schedule == [1, 1, 1]


def test_a_new_game() -> None:
    g = bm.Game(5, 7, first_dealer=2, seed=9)
    assert (g.num_players, g.first_dealer, g.round_index) == (5, 2, 0)
    assert g.totals == [0] * 5 and g.round_scores == [] and g.winners == []
    assert not g.is_over
    r = g.round
    assert (r.cards, r.dealer, r.trump, r.phase) == (7, 2, 0, "bid")
    assert g.current_player == 3 == r.current_player
    assert g.legal_actions() == r.legal_actions()


def test_trump_and_dealer_rotate_and_totals_add_up(rng: random.Random) -> None:
    g = bm.Game(4, 3, first_dealer=1, seed=5)
    starts = play_game(g, rng)
    assert len(starts) == len(g.schedule) == g.round_index
    for i, r in enumerate(starts):
        assert r.cards == g.schedule[i]
        assert r.dealer == (1 + i) % 4
        assert r.trump == (None if i % 5 == 4 else i % 5)
    assert len(g.round_scores) == len(g.schedule)
    assert g.totals == [sum(s[seat] for s in g.round_scores) for seat in range(4)]
    best = max(g.totals)
    assert g.winners == [s for s in range(4) if g.totals[s] == best]
    assert g.current_player is None
    assert g.legal_actions() == []
    assert g.round.is_over  # the last round stays visible


def test_seeded_games_are_reproducible(rng: random.Random) -> None:
    a, b = bm.Game(5, 4, seed=77), bm.Game(5, 4, seed=77)
    assert a.round == b.round
    moves = random.Random(3)
    while not a.is_over:
        action = moves.choice(a.legal_actions())
        a.apply(action)
        b.apply(action)
        assert a.round == b.round
    assert a.totals == b.totals
    assert bm.Game(5, 4, seed=78).round != bm.Game(5, 4, seed=77).round


def test_round_is_a_copy() -> None:
    g = bm.Game(4, 3, seed=1)
    r = g.round
    r.apply(r.legal_actions()[0])
    assert g.round.bids == [None] * 4


def test_full_game_observation_carries_the_context(rng: random.Random) -> None:
    g = bm.Game(4, 3, seed=2)
    obs = g.observation()
    assert obs.shape == (bm.OBS_SIZE,) and obs.dtype == np.float32
    assert not np.array_equal(obs, g.round.observation())  # full-game flag, rounds left
    assert np.array_equal(g.observation(), g.observation(g.current_player))
    # Once a round has scored, totals appear in the observation.
    while g.round_index == 0:
        g.apply(rng.choice(g.legal_actions()))
    if any(g.totals):
        assert not np.array_equal(g.observation(0)[:], bm.Game(4, 3, seed=2).observation(0))


def test_copies_are_independent(rng: random.Random) -> None:
    g = bm.Game(3, 2, seed=4)
    for c in (g.clone(), copy.copy(g), copy.deepcopy(g)):
        c.apply(c.legal_actions()[0])
        assert c.round != g.round
    assert g.round.bids == [None] * 3


def test_repr() -> None:
    assert (
        repr(bm.Game(4, 3, seed=1))
        == "Game(num_players=4, start_cards=3, round_index=0/8, totals=[0, 0, 0, 0])"
    )
