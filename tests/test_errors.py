"""Bad input: every error case raises the right exception, never a panic,
and a failed call leaves the round or game unchanged."""

from __future__ import annotations

import random

import pytest

import blobmaster as bm
from helpers import fixed_hands, play_randomly, snapshot

BID = bm.BID_OFFSET


def test_the_hierarchy() -> None:
    assert issubclass(bm.BlobError, ValueError)
    assert issubclass(bm.IllegalActionError, bm.BlobError)
    assert issubclass(bm.InvalidArgumentError, bm.BlobError)
    assert not issubclass(bm.IllegalActionError, bm.InvalidArgumentError)
    assert bm.IllegalActionError.__module__ == "blobmaster._core"


# ---- constructing a round --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((2, 3), {}, "2 players"),
        ((9, 3), {}, "9 players"),
        ((0, 3), {}, "0 players"),
        ((-1, 3), {}, "num_players must not be negative"),
        ((2**70, 3), {}, "players"),
        ((4, 0), {}, "0 cards"),
        ((4, 14), {}, "14 cards"),
        ((5, 11), {}, "11 cards each for 5 players"),
        ((8, 7), {}, "7 cards each for 8 players"),
        ((4, -3), {}, "cards must not be negative"),
        ((4, 3), {"dealer": 4}, "seat 4"),
        ((4, 3), {"dealer": -1}, "dealer must not be negative"),
        ((4, 3), {"trump": 4}, "trump"),
        ((4, 3), {"trump": -1}, "trump"),
        ((4, 3), {"trump": 2**80}, "trump"),
        ((4, 3), {"seed": -1}, "seed"),
        ((4, 3), {"seed": 2**64}, "seed"),
    ],
)
def test_bad_round_arguments(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(bm.InvalidArgumentError, match=match):
        bm.Round(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("4", 3), {}),
        ((4.0, 3), {}),
        ((4, None), {}),
        ((4, 3), {"trump": "S"}),
        ((4, 3), {"dealer": None}),
        ((4, 3), {"seed": 1.5}),
        ((4, 3, 0), {}),  # dealer is keyword-only
    ],
)
def test_wrong_types_are_type_errors(args: tuple, kwargs: dict) -> None:
    with pytest.raises(TypeError):
        bm.Round(*args, **kwargs)


@pytest.mark.parametrize(
    ("hands", "kwargs", "match"),
    [
        ([[0, 0], [1, 2], [3, 4]], {}, "card 0 is dealt more than once"),
        ([[0, 1], [1, 2], [3, 4]], {}, "card 1 is dealt more than once"),
        ([[0, 1], [2, 3], [4, 52]], {}, "card index 52"),
        ([[0, 1], [2, 3], [4, -1]], {}, "card index -1"),
        ([[0, 1], [2, 3], [4, 2**70]], {}, "card index"),
        ([[0, 1], [2, 3], [4]], {}, "same number of cards"),
        ([[0, 1], [2, 3]], {}, "2 players"),
        ([[i] for i in range(9)], {}, "9 players"),
        ([], {}, "0 players"),
        ([[], [], []], {}, "0 cards"),
        ([list(range(s * 14, s * 14 + 14)) for s in range(3)], {}, "14 cards"),
        ([[0], [1], [2]], {"dealer": 3}, "seat 3"),
        ([[0], [1], [2]], {"dealer": -1}, "dealer"),
        ([[0], [1], [2]], {"trump": 5}, "trump"),
    ],
)
def test_bad_hands(hands: list, kwargs: dict, match: str) -> None:
    with pytest.raises(bm.InvalidArgumentError, match=match):
        bm.Round.from_hands(hands, **kwargs)


@pytest.mark.parametrize(
    "hands", ["abc", [["0"], ["1"], ["2"]], [[0.0], [1.0], [2.0]], 5, [0, 1, 2]]
)
def test_hands_of_the_wrong_type(hands: object) -> None:
    with pytest.raises(TypeError):
        bm.Round.from_hands(hands)  # type: ignore[arg-type]


# ---- illegal actions leave the round unchanged -----------------------------


def assert_illegal(r: bm.Round, action: int, match: str) -> None:
    before, copy = snapshot(r), r.clone()
    with pytest.raises(bm.IllegalActionError, match=match):
        r.apply(action)
    assert snapshot(r) == before
    assert r == copy


def test_illegal_bids() -> None:
    r = bm.Round.from_hands(fixed_hands(4, 3), dealer=0, trump=0)
    assert_illegal(r, 5, "bidding phase")  # a card while bidding
    assert_illegal(r, BID + 4, "exceeds the 3 cards")
    assert_illegal(r, 65, "exceeds")
    assert_illegal(r, 66, "exceeds")
    for b in (1, 0, 1):
        r.apply(BID + b)
    assert_illegal(r, BID + 1, "dealer may not bid 1")


def test_illegal_plays() -> None:
    hands = [[13, 14], [0, 15], [1, 16], [2, 17]]
    r = bm.Round.from_hands(hands, dealer=0, trump=None)
    for _ in range(4):
        r.apply(BID)
    assert r.current_player == 1
    assert_illegal(r, BID, "play phase")
    assert_illegal(r, 13, "does not hold 2H")
    assert_illegal(r, 51, "does not hold AD")
    r.apply(0)
    assert_illegal(r, 16, "must follow the led suit S")


@pytest.mark.parametrize("action", [-1, -52, 2**63, 2**64, -(2**70), 10**30])
def test_out_of_range_actions_are_illegal_not_crashes(action: int) -> None:
    assert_illegal(bm.Round(4, 3, seed=1), action, "illegal action")


def test_no_action_after_the_end(rng: random.Random) -> None:
    r = bm.Round(3, 2, seed=4)
    play_randomly(r, rng)
    for action in (0, BID, BID + 1):
        assert_illegal(r, action, "round is over")


def test_apply_wrong_type() -> None:
    r = bm.Round(4, 3, seed=1)
    before = snapshot(r)
    for bad in ("52", 52.0, None, [52]):
        with pytest.raises(TypeError):
            r.apply(bad)  # type: ignore[arg-type]
    assert snapshot(r) == before


# ---- seats -----------------------------------------------------------------


@pytest.mark.parametrize("seat", [4, 8, -1, 2**70])
def test_bad_seats(seat: int) -> None:
    r = bm.Round(4, 3, seed=1)
    before = snapshot(r)
    with pytest.raises(bm.InvalidArgumentError, match="seat"):
        r.observation(seat)
    with pytest.raises(bm.InvalidArgumentError, match="seat"):
        r.determinize(seat, seed=0)
    assert snapshot(r) == before


def test_bad_determinize_seed() -> None:
    with pytest.raises(bm.InvalidArgumentError, match="seed"):
        bm.Round(4, 3, seed=1).determinize(0, seed=-5)


# ---- games -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((2, 3), {}, "2 players"),
        ((9, 3), {}, "9 players"),
        ((-4, 3), {}, "num_players"),
        ((4, 0), {}, "0 cards"),
        ((4, 14), {}, "14 cards"),
        ((5, 11), {}, "11 cards"),
        ((4, -1), {}, "start_cards"),
        ((4, 3), {"first_dealer": 4}, "seat 4"),
        ((4, 3), {"first_dealer": -1}, "first_dealer"),
        ((4, 3), {"seed": -1}, "seed"),
    ],
)
def test_bad_game_arguments(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(bm.InvalidArgumentError, match=match):
        bm.Game(*args, **kwargs)


def game_state(g: bm.Game) -> tuple:
    return (g.round_index, g.totals, g.round_scores, g.is_over, g.round, g.legal_actions())


def test_illegal_game_actions_leave_the_game_unchanged(rng: random.Random) -> None:
    g = bm.Game(3, 2, seed=1)
    before = game_state(g)
    for bad in (0, -1, 70, 2**80):
        with pytest.raises(bm.IllegalActionError):
            g.apply(bad)
        assert game_state(g) == before
    while not g.is_over:
        g.apply(rng.choice(g.legal_actions()))
    before = game_state(g)
    with pytest.raises(bm.IllegalActionError, match="game is over"):
        g.apply(BID)
    assert game_state(g) == before
    with pytest.raises(bm.InvalidArgumentError, match="pass the seat"):
        g.observation()
    with pytest.raises(bm.InvalidArgumentError, match="seat"):
        g.observation(3)
