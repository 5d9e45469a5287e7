"""Tables as text (``4x5``: 4 players, 5 cards each) and the table mix of
the mixed-table loop presets.

``parse_table("4x5")`` and ``parse_tables("3x5,4x5")`` read the form used by
``blobmaster eval --tables`` and ``[gate] reference_tables``;
``full_game_weights()`` gives the weights of ``configs/loop_quick.toml`` and
``configs/loop_gpu.toml`` (every legal table, weighted like the rounds of
real full games). Torch-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from blobmaster.config import DECK, MAX_CARDS, MAX_PLAYERS, MIN_PLAYERS, ConfigError, validate_table

__all__ = [
    "PLAYER_SHARES",
    "TableSpecError",
    "full_game_weights",
    "max_cards",
    "parse_table",
    "parse_tables",
    "rounds_by_hand_size",
    "table_label",
]

PLAYER_SHARES: Mapping[int, float] = {3: 10.0, 4: 25.0, 5: 25.0, 6: 20.0, 7: 10.0, 8: 10.0}
"""Percent of the self-play rounds at each table size in the mixed presets:
4 and 5 players are the usual Blob table, 6 the next most common, 3, 7 and
8 rarer but still played (and 3 and 8 are the extremes the network must
know: 13-card hands at 3-4 players, 6-card hands at 8)."""


class TableSpecError(ConfigError):
    """A table written wrongly (``PxC``) or one the rules do not allow."""


def table_label(players: int, cards: int) -> str:
    """``4x5``: the text form of a table."""
    return f"{players}x{cards}"


def parse_table(text: str) -> tuple[int, int]:
    """``"4x5"`` -> ``(4, 5)``; TableSpecError for bad text or a table the
    rules do not allow (3..8 players, 1..13 cards, at most 52 dealt)."""
    m = re.fullmatch(r"\s*(\d{1,2})\s*[xX×]\s*(\d{1,2})\s*", text)
    if not m:
        raise TableSpecError(f"{text!r} is not a table: write PLAYERSxCARDS, e.g. 4x5")
    players, cards = int(m.group(1)), int(m.group(2))
    try:
        validate_table(players, cards)
    except ConfigError as e:
        raise TableSpecError(f"table {text.strip()}: {e}") from None
    return players, cards


def parse_tables(text: str | Iterable[str]) -> list[tuple[int, int]]:
    """``"3x5,4x5"`` (or a list of such strings) -> ``[(3, 5), (4, 5)]``;
    TableSpecError for an empty list, a bad table or a repeated one."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    tables: list[tuple[int, int]] = []
    for part in parts:
        if not str(part).strip():
            raise TableSpecError(f"empty table in {text!r}: write e.g. 3x5,4x5")
        table = parse_table(str(part))
        if table in tables:
            raise TableSpecError(f"table {table_label(*table)} is given twice")
        tables.append(table)
    if not tables:
        raise TableSpecError("no table given: write e.g. 3x5,4x5")
    return tables


def max_cards(players: int) -> int:
    """The largest hand ``players`` can be dealt: min(13, 52 // players)."""
    return min(MAX_CARDS, DECK // players)


def rounds_by_hand_size(players: int, start: int) -> dict[int, int]:
    """Rounds of each hand size in a full game of ``players`` starting at
    ``start`` cards (docs/rules.md: start, ..., 2, then one 1-card round per
    player, then 2, ..., start)."""
    validate_table(players, start)
    counts = {c: 2 for c in range(2, start + 1)}
    counts[1] = players
    return dict(sorted(counts.items()))


def full_game_weights(
    shares: Mapping[int, float] = PLAYER_SHARES, decimals: int = 2
) -> list[tuple[int, int, float]]:
    """``(players, cards, weight)`` for every legal table of the player
    counts in ``shares``: a player count's share split over hand sizes like
    the rounds of a full game from the largest hand (:func:`max_cards`), so
    every hand size 1..max appears, 1-card rounds most (one per player).
    Weights are rounded to ``decimals`` places (with the default shares:
    percent of the rounds, summing to about 100)."""
    out = []
    for players in sorted(shares):
        if not MIN_PLAYERS <= players <= MAX_PLAYERS:
            raise TableSpecError(f"players must be in {MIN_PLAYERS}..{MAX_PLAYERS}, got {players}")
        counts = rounds_by_hand_size(players, max_cards(players))
        total = sum(counts.values())
        for cards, n in counts.items():
            out.append((players, cards, round(shares[players] * n / total, decimals)))
    return out
