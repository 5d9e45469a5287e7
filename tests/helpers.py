"""Helpers shared by the API tests (they run against the installed wheel)."""

from __future__ import annotations

import random

import blobmaster as bm

SUIT = 13  # cards per suit: card // SUIT is its suit


def suit_of(card: int) -> int:
    return card // SUIT


def fixed_hands(players: int = 4, cards: int = 3) -> list[list[int]]:
    """Seat s gets cards s*cards .. s*cards+cards-1: easy to reason about."""
    return [list(range(s * cards, (s + 1) * cards)) for s in range(players)]


def snapshot(r: bm.Round) -> tuple:
    """Everything observable about a round, for "unchanged" checks that do
    not rely on __eq__ alone."""
    return (
        r.num_players,
        r.cards,
        r.dealer,
        r.trump,
        r.phase,
        r.current_player,
        r.hands,
        r.bids,
        r.tricks_won,
        r.trick_winners,
        r.current_trick,
        r.scores,
        r.legal_actions(),
    )


def play_randomly(r: bm.Round, rng: random.Random, stop_after: int | None = None) -> list[int]:
    """Plays uniformly random legal actions until the round ends (or after
    `stop_after` actions); returns the actions played."""
    played = []
    while not r.is_over and (stop_after is None or len(played) < stop_after):
        action = rng.choice(r.legal_actions())
        r.apply(action)
        played.append(action)
    return played
