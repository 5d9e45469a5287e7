"""The trainer's data: a window of the newest replay shards, loaded into memory.

:func:`find_shards` lists the candidate shards of folders (and explicit
files) and orders them oldest to newest by modification time (ties by
shard index, then name). :func:`load_window` walks them from the newest
back, reads each one with polars (a lazy scan of only the columns training
needs), checks it, and stops once the window is full: at most
``window_shards`` shards and at most ``window_examples`` examples (0 means
no limit; the oldest shard is trimmed to its newest rows to fit). A shard
that cannot be used raises :class:`CorruptShardError` or
:class:`ShardSchemaError` naming the file, unless ``skip_corrupt`` is set:
then it is skipped with a :class:`SkippedShardWarning` and the next older
shard takes its place.

The window that was used (paths, sizes, rows) is a :class:`DataWindow`;
a checkpoint stores it and :func:`reload_window` reads exactly the same
examples again on resume. Examples are split into training and validation
sets by whole rounds (a hash of the shard's file name and the round id),
so the split of a shard never changes. :class:`BatchSampler` gives the
example indices of any optimizer step from the seed alone: a new random
permutation of the training set per epoch, which is what makes a resumed
run identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from blobmaster.hidden_cards import owner_targets
from blobmaster.replay import _FORMAT_KEY, COLUMNS, FORMAT_VERSION, SCHEMA, list_shards
from blobmaster.train_config import (
    CorruptShardError,
    NoShardsError,
    ShardSchemaError,
    SkippedShardWarning,
    TrainDataError,
    WindowChangedError,
)

__all__ = [
    "HELD_DTYPES",
    "TRAIN_COLUMNS",
    "BatchSampler",
    "DataWindow",
    "Examples",
    "ShardRef",
    "find_shards",
    "load_window",
    "reload_window",
]

TRAIN_COLUMNS = ("state", "mask", "policy", "value", "num_players", "round_id", "seat", "move")
"""The shard columns the trainer reads; the others are never loaded. ``seat``
and ``move`` only group the rows of a decision for the hidden-card targets
(:func:`blobmaster.hidden_cards.owner_targets`)."""
_INDEX_RE = re.compile(r"-(\d{6,})\.parquet$")
_POLICY_TOL = 1e-3
HELD_DTYPES = {"state": np.float16, "mask": np.bool_, "policy": np.float16, "value": np.float32,
               "num_players": np.uint8, "owner": np.int8}  # fmt: skip
"""How a window holds its examples in memory. The state and the policy are
most of a row and are held as float16 (about 0.8 KB a row instead of 1.5):
the state's entries are 0/1 flags and small fractions, exact or within 5e-4
relative, and the visit fractions keep 3 significant digits, below the
noise of the search that made them. Batches are widened to float32 as they
are drawn (:class:`blobmaster.train_support.Tensors`), so the arithmetic is
unchanged and twice the rounds fit in the same memory."""


@dataclass(frozen=True)
class ShardRef:
    """One shard of a data window: which file and how many of its rows."""

    path: str
    """Absolute path when the window was made."""
    rows: int
    """Rows used: the last ``rows`` rows of the file (all of them unless trimmed)."""
    total_rows: int
    size: int
    """File size in bytes, to notice a changed file on resume."""

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class DataWindow:
    """The shards a run trains on, oldest first, and what was skipped."""

    shards: tuple[ShardRef, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    """(path, reason) of shards skipped with ``skip_corrupt``."""

    @property
    def examples(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def paths(self) -> list[Path]:
        return [Path(s.path) for s in self.shards]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shards": [
                {"path": s.path, "rows": s.rows, "total_rows": s.total_rows, "size": s.size}
                for s in self.shards
            ],
            "skipped": [list(x) for x in self.skipped],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataWindow:
        shards = tuple(
            ShardRef(str(s["path"]), int(s["rows"]), int(s["total_rows"]), int(s["size"]))
            for s in data["shards"]
        )
        skipped = tuple((str(p), str(r)) for p, r in data.get("skipped", []))
        return cls(shards, skipped)


@dataclass
class Examples:
    """Training examples in memory (numpy, row-aligned), with the validation split."""

    state: np.ndarray
    """(N, 256) float16 (see :data:`HELD_DTYPES`)."""
    mask: np.ndarray
    """(N, 66) bool."""
    policy: np.ndarray
    """(N, 66) float16."""
    value: np.ndarray
    """(N, 8) float32."""
    num_players: np.ndarray
    """(N,) uint8."""
    owner: np.ndarray
    """(N, 52) int8: who holds each card, from the row's seat
    (:func:`blobmaster.hidden_cards.owner_targets`); (N, 0) when the window
    was read without them (``with_owner=False``: no hidden-card head)."""
    is_val: np.ndarray = field(repr=False)
    """(N,) bool: held out for validation."""

    def __len__(self) -> int:
        return len(self.num_players)

    def subset(self, which: np.ndarray | slice) -> Examples:
        return Examples(
            self.state[which],
            self.mask[which],
            self.policy[which],
            self.value[which],
            self.num_players[which],
            self.owner[which],
            self.is_val[which],
        )

    def split(self) -> tuple[Examples, Examples]:
        """(training examples, validation examples). Views, not copies, when
        the validation rows come last (as :func:`load_window` lays them out):
        a copy of a large window would double the memory training needs."""
        n_train = int(np.count_nonzero(~self.is_val))
        if not self.is_val[:n_train].any():
            return self.subset(slice(0, n_train)), self.subset(slice(n_train, len(self)))
        return self.subset(~self.is_val), self.subset(self.is_val)


# ---- finding shards ------------------------------------------------------------


def _sort_key(path: Path) -> tuple[int, int, str]:
    m = _INDEX_RE.search(path.name)
    return (path.stat().st_mtime_ns, int(m.group(1)) if m else -1, path.name)


def find_shards(data: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every shard in the given folders plus the given files, oldest first
    (modification time, then shard index, then name), as absolute paths.

    Raises NoShardsError for a path that does not exist or when there is no
    shard at all."""
    sources = [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(p) for p in data]
    if not sources:
        raise NoShardsError("no data given: pass folders of replay shards or shard files")
    found: dict[Path, None] = {}
    for src in sources:
        if src.is_dir():
            for p in list_shards(src):
                found[p.resolve()] = None
        elif src.is_file():
            found[src.resolve()] = None
        elif src.exists():
            raise NoShardsError(f"{src}: not a file or folder")
        else:
            raise NoShardsError(f"no such shard folder or file: {src}")
    if not found:
        where = ", ".join(str(s) for s in sources)
        raise NoShardsError(f"no replay shards (<prefix>-NNNNNN.parquet) in {where}")
    return sorted(found, key=_sort_key)


# ---- reading one shard -----------------------------------------------------------


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _check_schema(path: Path) -> int:
    """Checks the footer (format version and exact schema); returns the row count."""
    try:
        meta = pl.read_parquet_metadata(path)
        schema = dict(pl.read_parquet_schema(path))
        rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except Exception as e:  # polars raises several error types for a damaged file
        raise CorruptShardError(f"{path}: not a readable Parquet file ({_first_line(e)})") from e
    version = meta.get(_FORMAT_KEY)
    if version is None:
        raise ShardSchemaError(
            f"{path}: missing {_FORMAT_KEY} metadata (not a blobmaster replay shard?)"
        )
    if version != str(FORMAT_VERSION):
        raise ShardSchemaError(
            f"{path}: replay format version {version}, this trainer reads {FORMAT_VERSION}"
        )
    if list(schema) != list(COLUMNS) or any(schema[c] != SCHEMA[c] for c in COLUMNS):
        missing = [c for c in COLUMNS if c not in schema]
        wrong = [
            f"{c} is {schema[c]}, expected {SCHEMA[c]}"
            for c in COLUMNS
            if c in schema and schema[c] != SCHEMA[c]
        ]
        extra = [c for c in schema if c not in SCHEMA]
        parts = (
            ([f"missing columns {missing}"] if missing else [])
            + wrong
            + ([f"extra columns {extra}"] if extra else [])
        )
        raise ShardSchemaError(
            f"{path}: wrong schema: {'; '.join(parts) or 'columns out of order'}"
        )
    if rows == 0:
        raise CorruptShardError(f"{path}: empty shard (no examples)")
    return rows


def _check_contents(path: Path, cols: dict[str, np.ndarray]) -> None:
    """The invariants training relies on (a cheaper subset of replay.check_examples)."""
    problems = []
    if cols["mask"].shape[0] and int(cols["mask"].sum(axis=1).min()) < 1:
        problems.append("a row without legal actions")
    if not np.isfinite(cols["state"]).all():
        problems.append("non-finite state")
    policy, mask = cols["policy"], cols["mask"]
    if (
        not np.isfinite(policy).all()
        or (policy < 0).any()
        or (np.where(mask, 0.0, policy) != 0).any()
    ):
        problems.append("policy negative, non-finite or non-zero on an illegal action")
    else:
        sums = policy.sum(axis=1, dtype=np.float64)
        # 0: no policy target (a fast search under a playout cap).
        if ((np.abs(sums - 1.0) > _POLICY_TOL) & (sums != 0.0)).any():
            problems.append("policy sums neither to 1 nor to 0 (no target)")
    value = cols["value"]
    if not np.isfinite(value).all() or (value < 0).any() or (value > 1).any():
        problems.append("values outside [0, 1]")
    players = cols["num_players"]
    if (players < 3).any() or (players > 8).any():
        problems.append("num_players outside 3..8")
    if problems:
        raise CorruptShardError(f"{path}: not valid training examples: {'; '.join(problems)}")


def _read_shard(
    path: Path, rows: int | None, total: int, with_owner: bool
) -> dict[str, np.ndarray]:
    """The training columns of the last ``rows`` rows (all if None), checked."""
    lf = pl.scan_parquet(path).select(list(TRAIN_COLUMNS))
    if rows is not None and rows < total:
        lf = lf.tail(rows)
    try:
        df = lf.collect()
    except Exception as e:
        raise CorruptShardError(f"{path}: damaged Parquet data ({_first_line(e)})") from e
    if df.null_count().sum_horizontal().item():
        raise CorruptShardError(f"{path}: null values")
    cols = {c: df[c].to_numpy() for c in TRAIN_COLUMNS}
    del df
    _check_contents(path, cols)
    seat, move = cols.pop("seat"), cols.pop("move")
    cols["owner"] = (
        owner_targets(cols["state"], seat, cols["round_id"], move, cols["num_players"])
        if with_owner
        else np.empty((len(seat), 0), dtype=np.int8)
    )
    # Narrowed shard by shard, so that the whole window is never held at float32.
    for c, dtype in HELD_DTYPES.items():
        cols[c] = cols[c].astype(dtype, copy=False)
    return cols


# ---- windows -----------------------------------------------------------------------


def _split_keys(name: str, round_id: np.ndarray) -> np.ndarray:
    """A uniform 64-bit hash of (shard file name, round id) per row (splitmix64)."""
    salt = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    x = round_id.astype(np.uint64) + np.uint64(salt)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _is_val(name: str, round_id: np.ndarray, val_fraction: float) -> np.ndarray:
    if val_fraction <= 0:
        return np.zeros(len(round_id), dtype=bool)
    threshold = np.uint64(int(val_fraction * 2**53)) << np.uint64(11)
    return _split_keys(name, round_id) < threshold


def _assemble(parts: list[tuple[str, dict[str, np.ndarray]]], val_fraction: float) -> Examples:
    """Joins per-shard columns (given oldest first) into one set of arrays,
    training rows first and validation rows last, each in shard order, so
    that :meth:`Examples.split` gives views. Each shard's arrays are emptied
    as soon as they are copied: the peak is the window plus one shard, not
    twice the window."""
    is_val = [_is_val(Path(name).name, cols["round_id"], val_fraction) for name, cols in parts]
    n_rows = sum(len(v) for v in is_val)
    n_val = sum(int(np.count_nonzero(v)) for v in is_val)
    dtypes = HELD_DTYPES
    out = {
        c: np.empty((n_rows, *parts[0][1][c].shape[1:]), dtype=dtype) for c, dtype in dtypes.items()
    }
    train_at, val_at = 0, n_rows - n_val
    for (_, cols), val in zip(parts, is_val):
        n, v = len(val), int(np.count_nonzero(val))
        for c in dtypes:
            out[c][train_at : train_at + n - v] = cols[c][~val]
            out[c][val_at : val_at + v] = cols[c][val]
        train_at, val_at = train_at + n - v, val_at + v
        cols.clear()
    return Examples(
        **out, is_val=np.concatenate([np.zeros(n_rows - n_val, bool), np.ones(n_val, bool)])
    )


def load_window(
    candidates: Sequence[Path],
    *,
    window_shards: int = 0,
    window_examples: int = 0,
    val_fraction: float = 0.0,
    skip_corrupt: bool = False,
    warn: Callable[[str], None] | None = None,
    with_owner: bool = False,
) -> tuple[DataWindow, Examples]:
    """Reads the newest shards of ``candidates`` (given oldest first) until
    the window is full; see the module docstring. Returns the window (oldest
    first) and its examples. ``warn`` receives one line per skipped shard
    (default: ``warnings.warn`` with SkippedShardWarning)."""
    if warn is None:

        def warn(message: str) -> None:
            warnings.warn(message, SkippedShardWarning, stacklevel=3)

    chosen: list[tuple[ShardRef, dict[str, np.ndarray]]] = []
    skipped: list[tuple[str, str]] = []
    examples = 0
    for path in reversed(candidates):
        if window_shards and len(chosen) >= window_shards:
            break
        if window_examples and examples >= window_examples:
            break
        try:
            total = _check_schema(path)
            want = min(total, window_examples - examples) if window_examples else total
            cols = _read_shard(path, want, total, with_owner)
        except (CorruptShardError, ShardSchemaError) as e:
            if not skip_corrupt:
                raise
            skipped.append((str(path), str(e)))
            warn(f"skipping shard: {e}")
            continue
        except OSError as e:
            raise CorruptShardError(f"{path}: cannot read ({e.strerror or e})") from e
        ref = ShardRef(str(path), len(cols["num_players"]), total, path.stat().st_size)
        chosen.append((ref, cols))
        examples += ref.rows
    if not chosen:
        raise NoShardsError(
            f"all {len(skipped)} shards were skipped as unusable (last: {skipped[-1][1]})"
            if skipped
            else "no replay shards to train on"
        )
    chosen.reverse()
    window = DataWindow(tuple(ref for ref, _ in chosen), tuple(reversed(skipped)))
    return window, _assemble([(ref.path, cols) for ref, cols in chosen], val_fraction)


def reload_window(
    window: DataWindow,
    *,
    val_fraction: float,
    search: Sequence[str | os.PathLike[str]] = (),
    with_owner: bool = False,
) -> Examples:
    """Reads exactly the examples of a stored window again (for resume).

    A shard missing from its recorded path is looked for by file name in
    the ``search`` folders (data moved since). Raises WindowChangedError if a
    shard is missing or its size or row count changed, CorruptShardError if
    it no longer reads."""
    folders = [Path(s) for s in search]
    parts = []
    for ref in window.shards:
        path = Path(ref.path)
        if not path.is_file():
            moved = [f / ref.name for f in folders if (f / ref.name).is_file()]
            if not moved:
                raise WindowChangedError(
                    f"shard {ref.path} of the checkpoint's data window is gone"
                    + (
                        " (and not in the data folders given)"
                        if folders
                        else " (pass its new folder as data)"
                    )
                )
            path = moved[0]
        size = path.stat().st_size
        total = _check_schema(path)
        if size != ref.size or total != ref.total_rows:
            raise WindowChangedError(
                f"shard {path} changed since the checkpoint ({total} rows, {size} bytes; "
                f"expected {ref.total_rows} rows, {ref.size} bytes)"
            )
        parts.append((ref.path, _read_shard(path, ref.rows, total, with_owner)))
    if not parts:
        raise TrainDataError("the checkpoint's data window is empty")
    return _assemble(parts, val_fraction)


# ---- batches -------------------------------------------------------------------------


class BatchSampler:
    """Example indices of every optimizer step, a pure function of (seed, step).

    The training set is visited in a new random order every epoch
    (``numpy.random.default_rng([seed, epoch]).permutation``); a batch that
    crosses an epoch boundary takes the rest from the next epoch's order, so
    every batch has exactly ``batch_size`` examples (with repeats only when
    the set is smaller than a batch)."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < 1:
            raise TrainDataError(
                "no training examples (the window is empty or all held out for validation)"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._epoch = -1
        self._perm = np.empty(0, dtype=np.int64)

    def _order(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._epoch = epoch
        return self._perm

    def epoch_of(self, step: int) -> float:
        return step * self.batch_size / self.n

    def indices(self, step: int) -> np.ndarray:
        start = step * self.batch_size
        out = []
        need = self.batch_size
        while need:
            epoch, offset = divmod(start, self.n)
            take = min(need, self.n - offset)
            out.append(self._order(epoch)[offset : offset + take])
            start += take
            need -= take
        return out[0] if len(out) == 1 else np.concatenate(out)
