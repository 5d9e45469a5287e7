"""Replay shards: self-play examples as Parquet files, one per chunk of rounds.

Schema (docs/replay.md has the full description):

========== ======================== ===========================================
column     type                     meaning
========== ======================== ===========================================
state      Array(Float32, 256)      observation of seat ``seat``
mask       Array(Boolean, 66)       the mover's legal actions
policy     Array(Float32, 66)       the mover's search policy (visit shares; 0: none)
value      Array(Float32, 8)        round scores / (10 + cards), from ``seat``
seat       UInt8                    absolute seat whose view the row is
num_players UInt8                   players at the table (3..8)
cards      UInt8                    cards dealt to each player (1..13)
round_id   UInt64                   round number within the self-play run
move       UInt16                   move index within the round (from 0)
model      String                   identity of the network that played
search     String                   search settings (compact JSON)
========== ======================== ===========================================

A shard holds whole rounds only, rows sorted by (round_id, move, seat). Files are
written to a hidden temporary name in the target folder, flushed to disk and
renamed into place, so a reader (or a crash) never sees half a shard; an
existing shard is never overwritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from blobmaster._core import BID_OFFSET, MAX_CARDS, MAX_PLAYERS, MIN_PLAYERS, NUM_ACTIONS, OBS_SIZE
from blobmaster.atomic import atomic_write

__all__ = [
    "COLUMNS",
    "FORMAT_VERSION",
    "SCHEMA",
    "TO_MOVE",
    "ShardError",
    "ShardInfo",
    "ShardMetadata",
    "check_examples",
    "list_shards",
    "next_shard_index",
    "read_shards",
    "shard_name",
    "validate_shard",
    "write_shard",
]

FORMAT_VERSION = 2
"""Replay format version, stored in the Parquet key-value metadata. Version 2
(since 0.1): every decision has one row per seat at the table (each seat's
view of the position); version 1 had the mover's row only."""
_FORMAT_KEY = "blobmaster.replay.format_version"

SCHEMA: dict[str, pl.DataType] = {
    "state": pl.Array(pl.Float32, OBS_SIZE),
    "mask": pl.Array(pl.Boolean, NUM_ACTIONS),
    "policy": pl.Array(pl.Float32, NUM_ACTIONS),
    "value": pl.Array(pl.Float32, MAX_PLAYERS),
    "seat": pl.UInt8(),
    "num_players": pl.UInt8(),
    "cards": pl.UInt8(),
    "round_id": pl.UInt64(),
    "move": pl.UInt16(),
    "model": pl.String(),
    "search": pl.String(),
}
"""Every column of a shard, in order, with its exact type."""
COLUMNS = tuple(SCHEMA)

# The example columns (what SelfPlayEngine.take_examples returns): numpy dtype and row width.
_EXAMPLE_COLUMNS: dict[str, tuple[type[np.generic], int | None]] = {
    "state": (np.float32, OBS_SIZE),
    "mask": (np.bool_, NUM_ACTIONS),
    "policy": (np.float32, NUM_ACTIONS),
    "value": (np.float32, MAX_PLAYERS),
    "seat": (np.uint8, None),
    "num_players": (np.uint8, None),
    "cards": (np.uint8, None),
    "round_id": (np.uint64, None),
    "move": (np.uint16, None),
}

# Observation offsets used by the consistency checks (docs/observation.md).
_SEATS, _SEAT_BLOCK = 144, 12
_SEAT_PRESENT, _SEAT_HAS_BID, _SEAT_BID, _SEAT_WON = 0, 3, 4, 5
_PHASE_BID, _PHASE_PLAY, _CARDS, _PLAYERS, _TRICKS_DONE = 245, 246, 247, 248, 249
TO_MOVE = 255
"""Offset of the observation's to-move flag: 1 in the mover's own row of a
decision, 0 in the rows of the other seats' views."""

_DECK = BID_OFFSET  # card actions 0..51 are the whole deck; the bids come after
_TOL = 1e-4  # for sums of float32 shares
_SHARD_RE = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{6,})\.parquet$")


class ShardError(ValueError):
    """A shard that is unreadable, has the wrong schema or inconsistent contents."""


@dataclass(frozen=True)
class ShardMetadata:
    """Who produced a shard: stored in every row's ``model`` and ``search`` columns."""

    model: str
    """Identity of the network, e.g. ``sha256:0123456789abcdef`` or ``default:blobnet-seed0``."""
    search: str
    """Search settings, e.g. SearchConfig.to_json()."""


@dataclass(frozen=True)
class ShardInfo:
    """What validate_shard found in a valid shard."""

    path: Path
    rows: int
    rounds: int
    models: tuple[str, ...]
    searches: tuple[str, ...]


def shard_name(index: int, prefix: str = "shard") -> str:
    """``<prefix>-<index, 6 digits>.parquet``."""
    if index < 0:
        raise ValueError(f"shard index must be >= 0, got {index}")
    if not prefix or "/" in prefix or os.sep in prefix or prefix.startswith("."):
        raise ValueError(f"bad shard prefix {prefix!r}")
    return f"{prefix}-{index:06d}.parquet"


def list_shards(folder: str | os.PathLike[str], prefix: str | None = None) -> list[Path]:
    """The shard files in ``folder`` (not temporary files), sorted by name,
    which is write order for one prefix."""
    folder = Path(folder)
    out = []
    for p in folder.iterdir() if folder.is_dir() else []:
        m = _SHARD_RE.match(p.name)
        if (
            m
            and not p.name.startswith(".")
            and p.is_file()
            and (prefix is None or m["prefix"] == prefix)
        ):
            out.append(p)
    return sorted(out)


def next_shard_index(folder: str | os.PathLike[str], prefix: str = "shard") -> int:
    """One more than the largest index of ``prefix`` shards in ``folder`` (0 if none)."""
    indices = [int(_SHARD_RE.match(p.name)["index"]) for p in list_shards(folder, prefix)]  # type: ignore[index]
    return max(indices, default=-1) + 1


def _columns(examples: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The example columns as numpy arrays of the right dtype, checked for
    presence, shape and equal length. Other keys are ignored."""
    missing = [k for k in _EXAMPLE_COLUMNS if k not in examples]
    if missing:
        raise ValueError(f"examples lack columns {missing}")
    out: dict[str, np.ndarray] = {}
    rows = None
    for key, (dtype, width) in _EXAMPLE_COLUMNS.items():
        arr = np.asarray(examples[key])
        if width is None:
            if arr.ndim != 1:
                raise ValueError(f"column {key!r} must be 1-D, got shape {arr.shape}")
        elif arr.ndim != 2 or arr.shape[1] != width:
            raise ValueError(f"column {key!r} must have shape (N, {width}), got {arr.shape}")
        if arr.dtype != dtype:
            if dtype is np.bool_ and arr.dtype != np.bool_:
                raise ValueError(f"column {key!r} must be bool, got {arr.dtype}")
            if np.issubdtype(dtype, np.integer) and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"column {key!r} must be integer, got {arr.dtype}")
            arr = arr.astype(dtype)
        if rows is None:
            rows = arr.shape[0]
        elif arr.shape[0] != rows:
            raise ValueError(f"column {key!r} has {arr.shape[0]} rows, expected {rows}")
        out[key] = arr
    return out


def _frame(cols: Mapping[str, np.ndarray], metadata: ShardMetadata) -> pl.DataFrame:
    n = len(cols["seat"])
    series = [
        pl.Series(k, np.ascontiguousarray(cols[k]), dtype=SCHEMA[k]) for k in _EXAMPLE_COLUMNS
    ]
    series.append(pl.Series("model", [metadata.model] * n, dtype=pl.String))
    series.append(pl.Series("search", [metadata.search] * n, dtype=pl.String))
    return pl.DataFrame(series)


def _as_metadata(metadata: ShardMetadata | Mapping[str, str]) -> ShardMetadata:
    if isinstance(metadata, ShardMetadata):
        return metadata
    try:
        return ShardMetadata(model=str(metadata["model"]), search=str(metadata["search"]))
    except (KeyError, TypeError):
        raise ValueError("shard metadata needs 'model' and 'search' strings") from None


def write_shard(
    examples: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    index: int,
    metadata: ShardMetadata | Mapping[str, str],
    *,
    prefix: str = "shard",
    validate: bool = False,
) -> Path:
    """Writes the examples (the columns of SelfPlayEngine.take_examples) as
    ``out_dir/<prefix>-<index>.parquet`` and returns its path.

    Rows are sorted by (round_id, move, seat). The file appears atomically:
    written to a hidden temporary file in ``out_dir``, flushed to disk, then
    renamed; on any error, including KeyboardInterrupt, the temporary file
    is removed and no shard appears. Raises FileExistsError rather than
    overwrite a shard, ValueError for malformed or empty columns, and (with
    ``validate``) ShardError when :func:`check_examples` finds a problem.
    """
    meta = _as_metadata(metadata)
    cols = _columns(examples)
    if len(cols["seat"]) == 0:
        raise ValueError("no examples to write")
    order = np.lexsort((cols["seat"], cols["move"], cols["round_id"]))
    if not np.array_equal(order, np.arange(len(order))):
        cols = {k: v[order] for k, v in cols.items()}
    if validate:
        problems = check_examples(cols)
        if problems:
            raise ShardError("examples fail validation: " + "; ".join(problems[:5]))
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / shard_name(index, prefix)
    if path.exists():
        raise FileExistsError(f"shard already exists, not overwriting: {path}")
    df = _frame(cols, meta)

    def write(f: IO[bytes]) -> None:
        df.write_parquet(
            f, compression="zstd", statistics=True, metadata={_FORMAT_KEY: str(FORMAT_VERSION)}
        )

    try:
        return atomic_write(path, write, overwrite=False)
    except FileExistsError:
        raise FileExistsError(f"shard already exists, not overwriting: {path}") from None


def _paths(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            paths = list_shards(p)
            if not paths:
                raise FileNotFoundError(f"no shards (*-NNNNNN.parquet) in {p}")
            return paths
        sources = [p]
    else:
        sources = [Path(s) for s in source]
        if not sources:
            raise FileNotFoundError("no shard paths given")
    for p in sources:
        if not p.is_file():
            raise FileNotFoundError(f"shard not found: {p}")
    return sources


def read_shards(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    columns: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """A lazy scan of shards: a folder (every shard in it, in name order),
    one file, or a list of files. ``columns`` selects columns (all by
    default). Raises FileNotFoundError when there is nothing to read and
    ValueError for an unknown column name."""
    lf = pl.scan_parquet([str(p) for p in _paths(source)])
    if columns is not None:
        unknown = [c for c in columns if c not in SCHEMA]
        if unknown:
            raise ValueError(f"unknown shard columns {unknown} (columns: {', '.join(COLUMNS)})")
        lf = lf.select(list(columns))
    return lf


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"rows {idx[:limit].tolist()}{more}"


@dataclass
class _Rows:
    """Example columns plus what every check derives from them."""

    state: np.ndarray
    mask: np.ndarray
    policy: np.ndarray
    value: np.ndarray
    seat: np.ndarray
    players: np.ndarray
    cards: np.ndarray
    round_id: np.ndarray
    move: np.ndarray

    def __post_init__(self) -> None:
        self.n = len(self.seat)
        self.present = np.arange(MAX_PLAYERS)[None, :] < self.players[:, None]  # (n, 8)
        self.own_view = self.state[:, TO_MOVE] == 1.0


def _flag(problems: list[str], bad: np.ndarray, what: str) -> None:
    if bad.any():
        problems.append(f"{what} at {_rows(bad)}")


def check_examples(cols: Mapping[str, np.ndarray]) -> list[str]:
    """Consistency problems in example columns (empty list: all good).

    Per row: table size within the rules; the state is seat ``seat``'s
    observation for that table; at least 2 legal actions, bids only in the
    bid phase (0..cards), cards only from the mover's hand in the play phase
    (in the mover's own row: cards of the hand in the state; in another
    seat's row: cards neither in that seat's hand nor already played); policy finite, >= 0, 0 on illegal actions, summing to 1 over
    legal ones or all zero (no policy target: a fast search under a playout cap); values in [0, 1], 0 past num_players, each either 0 or
    (10 + bid) / (10 + cards) for a whole bid, and, for seats whose bid is
    visible in the state, 0 or exactly (10 + that bid) / (10 + cards), and 0
    when that seat can no longer make its bid. Per decision (round_id, move):
    one row for each seat of the table, exactly one of them the mover's own
    view (its to-move flag set), all with the same mask and policy. Per
    round: one table size, and the same absolute scores seen from every
    example (values rotated by seat agree), with not every seat exact once
    all bids are in (the bids never add up to the cards).
    """
    r = _Rows(
        state=cols["state"],
        mask=cols["mask"],
        policy=cols["policy"],
        value=cols["value"],
        seat=cols["seat"].astype(np.int64),
        players=cols["num_players"].astype(np.int64),
        cards=cols["cards"].astype(np.int64),
        round_id=cols["round_id"],
        move=cols["move"],
    )
    if r.n == 0:
        return ["no rows"]
    problems: list[str] = []
    bad = (
        (r.players < MIN_PLAYERS)
        | (r.players > MAX_PLAYERS)
        | (r.cards < 1)
        | (r.cards > MAX_CARDS)
        | (r.cards * r.players > _DECK)
        | (r.seat >= r.players)
    )
    _flag(problems, bad, "table size or seat outside the rules")
    if problems:
        return problems  # everything below relies on valid sizes
    _check_state(r, problems)
    _check_mask(r, problems)
    _check_policy(r, problems)
    if not _check_values(r, problems):
        return problems  # the checks below rely on values in [0, 1]
    _check_values_against_state(r, problems)
    _check_rounds(r, problems)
    return problems


def _check_state(r: _Rows, problems: list[str]) -> None:
    state = r.state
    if not np.isfinite(state).all():
        problems.append(f"non-finite state at {_rows(~np.isfinite(state).all(axis=1))}")
    k = np.arange(MAX_PLAYERS)
    bad = np.abs(state[:, _PLAYERS] - r.players / MAX_PLAYERS) > 1e-5
    bad |= np.abs(state[:, _CARDS] - r.cards / MAX_CARDS) > 1e-5
    bad |= (state[:, _SEATS + k * _SEAT_BLOCK + _SEAT_PRESENT] != r.present).any(axis=1)
    _flag(problems, bad, "state disagrees with num_players/cards")


def _check_mask(r: _Rows, problems: list[str]) -> None:
    state, mask, cards = r.state, r.mask, r.cards
    legal = mask.sum(axis=1)
    _flag(problems, legal < 2, "fewer than 2 legal actions (forced moves are not examples)")
    bid_phase = state[:, _PHASE_BID] == 1.0
    play_phase = state[:, _PHASE_PLAY] == 1.0
    _flag(problems, bid_phase == play_phase, "state is in neither (or both) bid and play phase")
    bid_ok = np.arange(NUM_ACTIONS - BID_OFFSET)[None, :] <= cards[:, None]
    bad = bid_phase & (
        mask[:, :BID_OFFSET].any(axis=1) | (mask[:, BID_OFFSET:] & ~bid_ok).any(axis=1)
    )
    cards_legal = mask[:, :BID_OFFSET]
    hand = state[:, :BID_OFFSET] == 1.0
    played = state[:, BID_OFFSET : 2 * BID_OFFSET] == 1.0
    # The mover plays from its hand; another seat sees the mover's cards
    # neither in its own hand nor among the played ones.
    bad_card = np.where(r.own_view[:, None], cards_legal & ~hand, cards_legal & (hand | played))
    bad |= play_phase & (mask[:, BID_OFFSET:].any(axis=1) | bad_card.any(axis=1))
    _flag(problems, bad, "legal actions do not fit the phase, hand or cards")


def _check_policy(r: _Rows, problems: list[str]) -> None:
    policy, mask = r.policy, r.mask
    finite = np.isfinite(policy).all(axis=1)
    bad = ~finite | (policy < 0).any(axis=1) | (np.where(mask, 0.0, policy) != 0).any(axis=1)
    _flag(problems, bad, "policy negative, non-finite or non-zero on an illegal action")
    sums = np.where(mask, policy, 0.0).sum(axis=1, dtype=np.float64)
    # All zero: a decision with no policy target (playout-cap randomisation's
    # fast searches); the trainer skips its policy.
    _flag(
        problems,
        finite & (np.abs(sums - 1.0) > _TOL) & (sums != 0.0),
        "policy sums neither to 1 over legal actions nor to 0 (no target)",
    )


def _points(r: _Rows) -> np.ndarray:
    """Values times (10 + cards): 0 or 10 + bid."""
    return r.value.astype(np.float64) * (10.0 + r.cards.astype(np.float64))[:, None]


def _check_values(r: _Rows, problems: list[str]) -> bool:
    """Checks the values on their own; False if some are outside [0, 1]."""
    value, present = r.value, r.present
    if not np.isfinite(value).all() or (value < 0).any() or (value > 1).any():
        bad = ~np.isfinite(value).all(axis=1) | (value < 0).any(axis=1) | (value > 1).any(axis=1)
        problems.append(f"values outside [0, 1] at {_rows(bad)}")
        return False
    _flag(
        problems,
        (np.where(present, 0.0, value) != 0).any(axis=1),
        "non-zero value for an absent seat",
    )
    points = _points(r)
    bid_of_value = np.rint(points) - 10
    whole = (
        (np.abs(points - np.rint(points)) < 1e-3)
        & (bid_of_value >= 0)
        & (bid_of_value <= r.cards[:, None])
    )
    bad = (present & (value != 0) & ~whole).any(axis=1)
    _flag(problems, bad, "a value is neither 0 nor (10 + bid) / (10 + cards)")
    return True


def _check_values_against_state(r: _Rows, problems: list[str]) -> None:
    """Values against the bids and tricks visible in the state."""
    state, cards, present = r.state, r.cards, r.present
    points = _points(r)
    blocks = _SEATS + np.arange(MAX_PLAYERS) * _SEAT_BLOCK
    has_bid = (state[:, blocks + _SEAT_HAS_BID] == 1.0) & present
    bids = np.rint(state[:, blocks + _SEAT_BID] * cards[:, None])
    won = np.rint(state[:, blocks + _SEAT_WON] * cards[:, None])
    left = cards - np.rint(state[:, _TRICKS_DONE] * cards)  # tricks not finished yet
    scored = r.value != 0
    bad = (has_bid & scored & (np.abs(points - (10 + bids)) > 1e-3)).any(axis=1)
    _flag(problems, bad, "a value does not match that seat's bid (10 + bid) / (10 + cards)")
    hopeless = has_bid & ((won > bids) | (bids - won > left[:, None]))
    bad = (hopeless & scored).any(axis=1)
    _flag(problems, bad, "a value is non-zero for a seat that can no longer make its bid")
    all_bid = has_bid.sum(axis=1) == r.players
    bad = all_bid & ((scored & present).sum(axis=1) == r.players)
    _flag(problems, bad, "every seat scores although the bids cannot add up to the cards")


def _check_rounds(r: _Rows, problems: list[str]) -> None:
    """Per round and per decision: one table size, one row per seat, the
    same mask and policy, the same absolute scores."""
    players, cards, seat, n = r.players, r.cards, r.seat, r.n
    _ids, first, inverse = np.unique(r.round_id, return_index=True, return_inverse=True)
    bad = (players != players[first][inverse]) | (cards != cards[first][inverse])
    if bad.any():
        problems.append(f"one round with different table sizes at {_rows(bad)}")
        return
    triples = np.stack(
        [r.round_id.astype(np.uint64), r.move.astype(np.uint64), seat.astype(np.uint64)], axis=1
    )
    if len(np.unique(triples, axis=0)) != n:
        problems.append("a (round_id, move, seat) triple appears twice")
    _, decision_first, decision, decision_rows = np.unique(
        triples[:, :2], axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    decision = decision.reshape(-1)
    movers = np.bincount(
        decision, weights=r.own_view.astype(np.float64), minlength=len(decision_first)
    )
    bad = (decision_rows[decision] != players) | (movers[decision] != 1)
    _flag(problems, bad, "a decision lacks a row for some seat or has not exactly one mover's view")
    lead = decision_first[decision]
    bad = (r.mask != r.mask[lead]).any(axis=1) | (r.policy != r.policy[lead]).any(axis=1)
    _flag(problems, bad, "rows of one decision disagree on the mask or policy")
    absolute = np.zeros((n, MAX_PLAYERS), dtype=np.float32)
    rows = np.arange(n)
    for j in range(MAX_PLAYERS):
        sel = j < players
        absolute[rows[sel], ((seat + j) % np.maximum(players, 1))[sel]] = r.value[sel, j]
    bad = (np.abs(absolute - absolute[first][inverse]) > 1e-6).any(axis=1)
    _flag(problems, bad, "values of one round disagree between its examples (rotation by seat)")


def validate_shard(path: str | os.PathLike[str]) -> ShardInfo:
    """Reads a shard and checks it: readable Parquet, exactly the schema
    (names, order, types), no nulls, a known format version, at least one
    row, and :func:`check_examples` on its contents. Returns a ShardInfo;
    raises ShardError naming the file and the problems."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path}: no such shard file")
    try:
        kv = pl.read_parquet_metadata(path)
        df = pl.read_parquet(path)
    except Exception as e:  # polars raises several error types for a damaged file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ShardError(f"{path}: not a readable Parquet shard ({first})") from e
    version = kv.get(_FORMAT_KEY)
    if version is None:
        raise ShardError(f"{path}: missing {_FORMAT_KEY} metadata (not written by blobmaster?)")
    if version != str(FORMAT_VERSION):
        raise ShardError(f"{path}: replay format version {version}, expected {FORMAT_VERSION}")
    schema = dict(df.schema)
    if list(schema) != list(COLUMNS) or any(schema[c] != SCHEMA[c] for c in COLUMNS):
        got = ", ".join(f"{c}: {t}" for c, t in schema.items())
        raise ShardError(f"{path}: wrong schema ({got})")
    if df.height == 0:
        raise ShardError(f"{path}: empty shard")
    nulls = [c for c, n in zip(df.columns, df.null_count().row(0)) if n]
    if nulls:
        raise ShardError(f"{path}: null values in {nulls}")
    cols = {c: df[c].to_numpy() for c in _EXAMPLE_COLUMNS}
    problems = check_examples(cols)
    if problems:
        raise ShardError(f"{path}: " + "; ".join(problems))
    return ShardInfo(
        path=path,
        rows=df.height,
        rounds=int(df["round_id"].n_unique()),
        models=tuple(df["model"].unique(maintain_order=True).to_list()),
        searches=tuple(df["search"].unique(maintain_order=True).to_list()),
    )
