"""Random playouts of random tables, checked against the rules at every step
(hypothesis chooses the table, the deal and every move)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import blobmaster as bm
from helpers import snapshot, suit_of

BID = bm.BID_OFFSET


@st.composite
def tables(draw: st.DrawFn) -> bm.Round:
    players = draw(st.integers(bm.MIN_PLAYERS, bm.MAX_PLAYERS))
    cards = draw(st.integers(1, min(bm.MAX_CARDS, 52 // players)))
    dealer = draw(st.integers(0, players - 1))
    trump = draw(st.none() | st.integers(0, 3))
    seed = draw(st.integers(0, 2**64 - 1))
    return bm.Round(players, cards, dealer=dealer, trump=trump, seed=seed)


def check_step(r: bm.Round, action: int, led: int | None) -> None:
    """The rules that must hold for one legal `action` about to be played."""
    legal = r.legal_actions()
    assert legal == sorted(set(legal)) and action in legal
    seat = r.current_player
    assert seat is not None
    if r.phase == "bid":
        assert all(BID <= a <= BID + r.cards for a in legal)
        made = [b for b in r.bids if b is not None]
        forbidden = r.cards - sum(made)
        if seat == r.dealer and 0 <= forbidden <= r.cards:
            assert len(legal) == r.cards and BID + forbidden not in legal
        else:
            assert len(legal) == r.cards + 1
    else:
        hand = r.hands[seat]
        assert set(legal) <= set(hand)
        follow = [c for c in hand if led is not None and suit_of(c) == led]
        assert legal == (follow or hand)


@settings(max_examples=150, deadline=None)
@given(r=tables(), data=st.data())
def test_random_playouts_follow_the_rules(r: bm.Round, data: st.DataObject) -> None:
    players, cards = r.num_players, r.cards
    first_hands = r.hands
    voids: list[set[int]] = [set() for _ in range(players)]
    steps = 0
    played: list[int] = []
    while not r.is_over:
        legal = r.legal_actions()
        action = data.draw(st.sampled_from(legal))
        led = suit_of(r.current_trick[0][1]) if r.current_trick else None
        check_step(r, action, led)

        # An illegal action (if any) is refused and changes nothing.
        illegal = [a for a in range(bm.NUM_ACTIONS) if a not in legal]
        if illegal:
            before = snapshot(r)
            try:
                r.apply(data.draw(st.sampled_from(illegal)))
            except bm.IllegalActionError:
                pass
            else:
                raise AssertionError("an illegal action was accepted")
            assert snapshot(r) == before

        seat = r.current_player
        r.apply(action)
        steps += 1
        if action < BID:
            played.append(action)
            if led is not None and suit_of(action) != led:
                voids[seat].add(led)

        # Invariants after every step.
        held = [c for h in r.hands for c in h]
        assert len(held) == len(set(held))
        assert sum(r.tricks_won) == len(r.trick_winners)
        assert len(r.current_trick) < players
        for s in range(players):
            obs = r.observation(s)
            assert obs.shape == (bm.OBS_SIZE,) and obs.dtype == np.float32
            assert np.all(np.isfinite(obs))

        # A determinization keeps what the mover knows and honours public voids.
        if not r.is_over and steps % 3 == 0:
            observer = r.current_player
            d = r.determinize(observer, seed=steps)
            assert d.hands[observer] == r.hands[observer]
            assert [len(h) for h in d.hands] == [len(h) for h in r.hands]
            assert np.array_equal(d.observation(observer), r.observation(observer))
            for s in range(players):
                if s != observer:
                    assert not any(suit_of(c) in voids[s] for c in d.hands[s])

    assert steps == players + players * cards
    assert sum(r.tricks_won) == cards
    assert sum(r.bids) != cards
    assert r.scores == [10 + b if b == t else 0 for b, t in zip(r.bids, r.tricks_won)]
    assert sorted(played) == sorted(c for h in first_hands for c in h)


@settings(max_examples=200, deadline=None)
@given(
    players=st.integers(-(2**70), 2**70),
    cards=st.integers(-(2**70), 2**70),
    dealer=st.integers(-(2**70), 2**70),
    trump=st.none() | st.integers(-(2**70), 2**70),
    seed=st.none() | st.integers(-(2**70), 2**70),
)
def test_any_integers_give_a_round_or_a_value_error(
    players: int, cards: int, dealer: int, trump: int | None, seed: int | None
) -> None:
    # Never a Rust panic (pyo3 PanicException is a BaseException) or a crash.
    try:
        r = bm.Round(players, cards, dealer=dealer, trump=trump, seed=seed)
    except ValueError:
        return
    assert r.num_players == players and r.cards == cards


@settings(max_examples=200, deadline=None)
@given(
    hands=st.lists(st.lists(st.integers(-3, 56), max_size=14), max_size=9),
    dealer=st.integers(-1, 9),
)
def test_any_hands_give_a_round_or_a_value_error(hands: list[list[int]], dealer: int) -> None:
    try:
        r = bm.Round.from_hands(hands, dealer=dealer)
    except ValueError:
        return
    assert r.hands == [sorted(h) for h in hands]
