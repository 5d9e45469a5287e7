"""The Round API: dealing, bidding, play, scores, observations, copies."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

import blobmaster as bm
from helpers import fixed_hands, play_randomly, snapshot

BID = bm.BID_OFFSET


def bid(b: int) -> int:
    return BID + b


# ---- dealing -------------------------------------------------------------


def test_a_new_round_is_in_the_bidding_phase() -> None:
    r = bm.Round(4, 5, dealer=2, trump=1, seed=7)
    assert (r.num_players, r.cards, r.dealer, r.trump) == (4, 5, 2, 1)
    assert r.phase == "bid"
    assert not r.is_over
    assert r.current_player == 3  # left of the dealer
    assert r.bids == [None] * 4
    assert r.tricks_won == [0] * 4
    assert r.trick_winners == []
    assert r.current_trick == []
    assert r.scores is None
    assert r.legal_actions() == [bid(b) for b in range(6)]


def test_deal_gives_disjoint_sorted_hands() -> None:
    r = bm.Round(8, 6, seed=3)
    hands = r.hands
    assert len(hands) == 8
    assert all(len(h) == 6 and h == sorted(h) for h in hands)
    cards = [c for h in hands for c in h]
    assert len(set(cards)) == 48
    assert all(0 <= c < 52 for c in cards)


def test_defaults_are_dealer_0_and_no_trump() -> None:
    r = bm.Round(3, 1, seed=0)
    assert r.dealer == 0 and r.trump is None and r.current_player == 1


def test_seeded_deals_are_reproducible() -> None:
    assert bm.Round(5, 7, seed=42) == bm.Round(5, 7, seed=42)
    assert bm.Round(5, 7, seed=42).hands == bm.Round(5, 7, seed=42).hands
    assert bm.Round(5, 7, seed=42).hands != bm.Round(5, 7, seed=43).hands
    assert bm.Round(5, 7, seed=2**64 - 1).hands == bm.Round(5, 7, seed=2**64 - 1).hands


def test_unseeded_deals_differ() -> None:
    # 13 cards each for 4 players: two equal random deals are all but impossible.
    deals = {str(bm.Round(4, 13).hands) for _ in range(5)}
    assert len(deals) == 5


def test_from_hands_deals_the_given_hands() -> None:
    hands = [[51, 0, 13], [1, 2, 3], [40, 41, 42], [20, 30, 50]]
    r = bm.Round.from_hands(hands, dealer=3, trump=None)
    assert r.hands == [sorted(h) for h in hands]
    assert (r.num_players, r.cards, r.dealer, r.trump) == (4, 3, 3, None)
    assert r.current_player == 0


def test_from_hands_accepts_any_sequence_of_ints() -> None:
    hands = (np.arange(0, 2), range(2, 4), (4, 5))
    r = bm.Round.from_hands(hands, dealer=np.int64(1), trump=np.int32(2))  # type: ignore[arg-type]
    assert r.hands == [[0, 1], [2, 3], [4, 5]] and r.dealer == 1 and r.trump == 2


# ---- bidding ---------------------------------------------------------------


def test_the_dealer_may_not_make_the_bids_add_up() -> None:
    r = bm.Round.from_hands(fixed_hands(4, 3), dealer=0, trump=0)
    for b in (1, 0, 1):  # seats 1, 2, 3
        r.apply(bid(b))
    assert r.current_player == 0
    assert r.legal_actions() == [bid(0), bid(2), bid(3)]  # 1 would make 3
    r.apply(bid(2))
    assert r.bids == [2, 1, 0, 1]
    assert r.phase == "play"
    assert r.current_player == 1  # left of the dealer leads


def test_no_restriction_when_the_others_already_overbid() -> None:
    r = bm.Round.from_hands(fixed_hands(3, 2), dealer=2, trump=None)
    r.apply(bid(2))
    r.apply(bid(1))
    assert r.legal_actions() == [bid(0), bid(1), bid(2)]


# ---- play ------------------------------------------------------------------


def play_bids(r: bm.Round, bids: list[int]) -> None:
    for b in bids:
        r.apply(bid(b))


def test_players_must_follow_the_led_suit() -> None:
    # Seat 1 leads; seat 2 holds a spade and a heart.
    hands = [[13, 14], [0, 15], [1, 16], [2, 17]]
    r = bm.Round.from_hands(hands, dealer=0, trump=None)
    play_bids(r, [0, 0, 0, 0])
    assert r.current_player == 1
    assert r.legal_actions() == [0, 15]
    r.apply(0)  # 2S led
    assert r.current_trick == [(1, 0)]
    assert r.legal_actions() == [1]
    r.apply(1)
    assert r.legal_actions() == [2]


def test_a_void_player_may_play_anything() -> None:
    hands = [[13, 14], [0, 15], [16, 17], [2, 18]]
    r = bm.Round.from_hands(hands, dealer=0, trump=None)
    play_bids(r, [0, 0, 0, 0])
    r.apply(0)
    assert r.legal_actions() == [16, 17]  # seat 2 has no spade


def test_trump_wins_and_the_winner_leads() -> None:
    # Trump hearts (1). Seat 1 leads AS; seat 3 trumps with 2H.
    hands = [[3, 40], [12, 41], [11, 42], [13, 43]]
    r = bm.Round.from_hands(hands, dealer=0, trump=1)
    play_bids(r, [1, 0, 0, 0])
    for card in (12, 11, 13, 3):  # seats 1, 2, 3, 0
        r.apply(card)
    assert r.trick_winners == [3]
    assert r.tricks_won == [0, 0, 0, 1]
    assert r.current_trick == []
    assert r.current_player == 3


def test_a_whole_round_scores_exact_bids_only() -> None:
    # No trump, 3 players, 1 card each: seat 1 leads the 2S, seat 2 holds AS.
    r = bm.Round.from_hands([[5], [0], [12]], dealer=0, trump=None)
    play_bids(r, [0, 1, 1])  # seats 1, 2, 0 (dealer: 0 would make 1, so bids 1)
    assert r.bids == [1, 0, 1]
    r.apply(0)
    r.apply(12)
    assert r.phase == "play"
    r.apply(5)
    assert r.is_over and r.phase == "over"
    assert r.current_player is None
    assert r.legal_actions() == []
    assert r.trick_winners == [2]
    assert r.tricks_won == [0, 0, 1]
    assert r.scores == [0, 10, 11]


def test_random_rounds_end_with_consistent_scores(rng: random.Random) -> None:
    for players in range(3, 9):
        for cards in (1, min(13, 52 // players)):
            r = bm.Round(
                players,
                cards,
                dealer=players - 1,
                trump=rng.choice([None, 0, 1, 2, 3]),
                seed=rng.getrandbits(64),
            )
            play_randomly(r, rng)
            assert r.is_over
            assert sum(r.tricks_won) == cards == len(r.trick_winners)
            assert sum(r.bids) != cards
            assert r.hands == [[]] * players
            expected = [10 + b if b == t else 0 for b, t in zip(r.bids, r.tricks_won)]
            assert r.scores == expected


# ---- observations ----------------------------------------------------------


def test_observation_shape_and_dtype() -> None:
    r = bm.Round(5, 4, seed=1)
    obs = r.observation()
    assert isinstance(obs, np.ndarray)
    assert obs.shape == (bm.OBS_SIZE,) and obs.dtype == np.float32
    assert np.all(np.isfinite(obs))


def test_default_seat_is_the_player_to_move(rng: random.Random) -> None:
    r = bm.Round(4, 5, seed=2)
    play_randomly(r, rng, stop_after=6)
    assert np.array_equal(r.observation(), r.observation(r.current_player))
    assert not np.array_equal(r.observation(0), r.observation(1))


def test_observation_shows_the_own_hand() -> None:
    r = bm.Round.from_hands(fixed_hands(4, 3), dealer=0, trump=None)
    for seat, hand in enumerate(r.hands):
        obs = r.observation(seat)
        assert sorted(np.flatnonzero(obs[:52]).tolist()) == hand


def test_observation_after_the_end_needs_a_seat(rng: random.Random) -> None:
    r = bm.Round(3, 2, seed=5)
    play_randomly(r, rng)
    assert r.observation(2).shape == (bm.OBS_SIZE,)
    with pytest.raises(bm.InvalidArgumentError, match="pass the seat"):
        r.observation()


def test_observation_does_not_leak_hidden_cards() -> None:
    # Seat 0's hand is the same in both deals; the other seats' cards differ
    # (seat 1 and seat 2 swap theirs, seat 3 gets unused cards).
    a = [[0, 13, 26], [1, 14, 27], [2, 15, 28], [3, 16, 29]]
    b = [[0, 13, 26], [2, 15, 28], [1, 14, 27], [40, 41, 42]]
    ra = bm.Round.from_hands(a, dealer=3, trump=2)
    rb = bm.Round.from_hands(b, dealer=3, trump=2)
    # The same public history in both: bids, then seat 0 leads the 2S... seat 0
    # is left of the dealer, so it leads.
    for action in (bid(1), bid(0), bid(1), bid(0)):
        for r in (ra, rb):
            r.apply(action)
        assert np.array_equal(ra.observation(0), rb.observation(0))
    for r in (ra, rb):
        r.apply(0)
    assert np.array_equal(ra.observation(0), rb.observation(0))
    assert ra != rb


# ---- determinization ---------------------------------------------------------


def test_determinize_keeps_the_observer_hand_and_public_state(rng: random.Random) -> None:
    r = bm.Round(5, 6, trump=3, seed=11)
    play_randomly(r, rng, stop_after=5 + 7)  # bids and part of the play
    for observer in range(5):
        d = r.determinize(observer, seed=observer)
        assert d.hands[observer] == r.hands[observer]
        assert [len(h) for h in d.hands] == [len(h) for h in r.hands]
        held = [c for h in d.hands for c in h]
        assert len(held) == len(set(held))
        played = {c for _, c in r.current_trick}
        assert not played & set(held)
        assert np.array_equal(d.observation(observer), r.observation(observer))
        for attr in (
            "bids",
            "tricks_won",
            "trick_winners",
            "current_trick",
            "phase",
            "current_player",
            "dealer",
            "trump",
        ):
            assert getattr(d, attr) == getattr(r, attr), attr


def test_determinize_resamples_the_hidden_hands() -> None:
    r = bm.Round(4, 5, seed=6)
    samples = [r.determinize(0, seed=s) for s in range(20)] + [r.determinize(0)]
    assert all(d.hands[0] == r.hands[0] for d in samples)
    assert len({str(d.hands[1:]) for d in samples}) > 10
    # Seat 1 is dealt from all the unseen cards, not just its real hand.
    seat1 = {c for d in samples for c in d.hands[1]}
    assert len(seat1) > 10 and not seat1 & set(r.hands[0])


def test_determinize_is_reproducible_and_leaves_the_original_alone() -> None:
    r = bm.Round(4, 8, seed=2)
    before = snapshot(r)
    assert r.determinize(1, seed=9) == r.determinize(1, seed=9)
    assert snapshot(r) == before


# ---- copies, equality, repr ------------------------------------------------


def test_copies_are_independent() -> None:
    r = bm.Round(4, 3, seed=8)
    for c in (r.clone(), copy.copy(r), copy.deepcopy(r)):
        assert c == r and c is not r
        c.apply(c.legal_actions()[0])
        assert c != r
    assert r.bids == [None] * 4


def test_rounds_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(bm.Round(4, 3, seed=8))


def test_equality_with_other_types_is_false() -> None:
    assert bm.Round(4, 3, seed=8) != "round"


def test_repr() -> None:
    r = bm.Round(4, 3, dealer=1, trump=2, seed=8)
    assert (
        repr(r) == "Round(num_players=4, cards=3, dealer=1, trump=2, phase='bid', current_player=2)"
    )
