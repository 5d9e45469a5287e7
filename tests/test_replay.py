"""Replay shards: write, read, validate, atomic writes, damaged files.

The examples here come from rounds played in Python with blobmaster.Round
(random moves, a random policy over the legal actions, the real final
scores as values), so the checks are exercised against the real rules
without the self-play engine; tests/test_selfplay.py does the same with the
engine's own output.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import blobmaster as bm
from blobmaster import replay
from blobmaster.replay import (
    COLUMNS,
    SCHEMA,
    ShardError,
    ShardMetadata,
    check_examples,
    list_shards,
    next_shard_index,
    read_shards,
    validate_shard,
    write_shard,
)
from helpers import EXAMPLE_COLUMNS

META = ShardMetadata(model="test:model", search='{"determinizations":1}')


def make_examples(
    rounds: int = 6, seed: int = 0, tables=((4, 5), (3, 2), (5, 3))
) -> dict[str, np.ndarray]:
    """Columns like SelfPlayEngine.take_examples, from random play."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in EXAMPLE_COLUMNS}
    for rid in range(rounds):
        players, cards = tables[rid % len(tables)]
        trump = rng.choice([None, 0, 1, 2, 3])
        r = bm.Round(
            players, cards, dealer=rng.randrange(players), trump=trump, seed=rng.randrange(2**32)
        )
        records = []
        move = 0
        while not r.is_over:
            legal = r.legal_actions()
            if len(legal) >= 2:
                mask = np.zeros(bm.NUM_ACTIONS, dtype=bool)
                mask[legal] = True
                policy = np.zeros(bm.NUM_ACTIONS, dtype=np.float32)
                policy[legal] = nprng.dirichlet(np.ones(len(legal))).astype(np.float32)
                policy[legal] /= policy[legal].sum(dtype=np.float32)
                # One row per seat: each seat's view of the decision.
                for seat in range(players):
                    records.append((r.observation(seat), mask, policy, seat, move))
            r.apply(rng.choice(legal))
            move += 1
        scores = r.scores
        for state, mask, policy, seat, mv in records:
            value = np.zeros(8, dtype=np.float32)
            for k in range(players):
                value[k] = scores[(seat + k) % players] / (10 + cards)
            for key, v in zip(
                EXAMPLE_COLUMNS,
                (state, mask, policy, value, seat, players, cards, rid, mv),
            ):
                cols[key].append(v)
    dtypes = {
        "seat": np.uint8,
        "num_players": np.uint8,
        "cards": np.uint8,
        "round_id": np.uint64,
        "move": np.uint16,
    }
    out = {k: np.asarray(v, dtype=dtypes.get(k)) for k, v in cols.items()}
    out["state"] = out["state"].astype(np.float32)
    return out


@pytest.fixture(scope="module")
def examples() -> dict[str, np.ndarray]:
    return make_examples()


def test_generated_examples_pass_the_checks(examples):
    assert check_examples(examples) == []
    assert len(np.unique(examples["round_id"])) == 6


def test_write_read_round_trip(tmp_path, examples):
    shuffled = np.random.default_rng(1).permutation(len(examples["seat"]))
    path = write_shard({k: v[shuffled] for k, v in examples.items()}, tmp_path, 3, META)
    assert path == tmp_path / "shard-000003.parquet"
    df = read_shards(tmp_path).collect()
    assert isinstance(read_shards(path), pl.LazyFrame)
    assert list(df.columns) == list(COLUMNS)
    assert dict(df.schema) == SCHEMA
    # rows come back sorted by (round_id, move, seat): the generator's order
    for key, arr in examples.items():
        np.testing.assert_array_equal(df[key].to_numpy(), arr, err_msg=key)
    assert df["model"].unique().to_list() == [META.model]
    assert df["search"].unique().to_list() == [META.search]
    assert pl.read_parquet_metadata(path)["blobmaster.replay.format_version"] == "2"
    info = validate_shard(path)
    assert (info.rows, info.rounds, info.models) == (len(examples["seat"]), 6, (META.model,))


def test_read_shards_selects_columns_and_sources(tmp_path, examples):
    half = len(examples["seat"]) // 2
    ids = examples["round_id"]
    first = {k: v[ids < 3] for k, v in examples.items()}
    second = {k: v[ids >= 3] for k, v in examples.items()}
    p0 = write_shard(first, tmp_path, 0, META)
    p1 = write_shard(second, tmp_path, 1, {"model": "m2", "search": "s"})
    assert half > 0
    assert read_shards(tmp_path, columns=["round_id"]).collect().columns == ["round_id"]
    both = read_shards([p0, p1], columns=["round_id", "model"]).collect()
    assert both.height == len(ids)
    assert sorted(both["model"].unique().to_list()) == ["m2", "test:model"]
    assert read_shards(p1).collect().height == int((ids >= 3).sum())
    with pytest.raises(ValueError, match="unknown shard columns"):
        read_shards(tmp_path, columns=["nope"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError):
        read_shards(empty)
    with pytest.raises(FileNotFoundError):
        read_shards(tmp_path / "missing.parquet")


def test_write_is_atomic_and_never_overwrites(tmp_path, examples):
    write_shard(examples, tmp_path, 0, META)
    assert sorted(os.listdir(tmp_path)) == ["shard-000000.parquet"]
    before = (tmp_path / "shard-000000.parquet").read_bytes()
    with pytest.raises(FileExistsError):
        write_shard(examples, tmp_path, 0, META)
    assert (tmp_path / "shard-000000.parquet").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["shard-000000.parquet"]
    assert next_shard_index(tmp_path) == 1
    assert next_shard_index(tmp_path, "other") == 0


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_write_leaves_nothing(tmp_path, examples, monkeypatch, error):
    def half_write(self, file, **kwargs):
        file.write(b"PAR1 half a file")
        raise error("interrupted mid-write")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_write)
    with pytest.raises(error):
        write_shard(examples, tmp_path, 0, META)
    assert os.listdir(tmp_path) == []


def test_listing_ignores_temporary_and_foreign_files(tmp_path, examples):
    write_shard(examples, tmp_path, 4, META, prefix="run-a")
    (tmp_path / ".shard-000009.parquet.x1.tmp").write_bytes(b"partial")
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "shard-7.parquet").write_text("index too short")
    assert [p.name for p in list_shards(tmp_path)] == ["run-a-000004.parquet"]
    assert next_shard_index(tmp_path, "run-a") == 5
    assert next_shard_index(tmp_path) == 0


def test_write_rejects_malformed_columns(tmp_path, examples):
    with pytest.raises(ValueError, match="lack columns"):
        write_shard({k: v for k, v in examples.items() if k != "value"}, tmp_path, 0, META)
    bad = dict(examples, policy=examples["policy"][:, :60])
    with pytest.raises(ValueError, match="policy"):
        write_shard(bad, tmp_path, 0, META)
    bad = dict(examples, seat=examples["seat"][:-1])
    with pytest.raises(ValueError, match="rows"):
        write_shard(bad, tmp_path, 0, META)
    with pytest.raises(ValueError, match="no examples"):
        write_shard({k: v[:0] for k, v in examples.items()}, tmp_path, 0, META)
    with pytest.raises(ValueError, match="model"):
        write_shard(examples, tmp_path, 0, {"search": "x"})
    assert os.listdir(tmp_path) == []


def _tamper(examples, key, fn):
    out = {k: v.copy() for k, v in examples.items()}
    fn(out[key], out)
    return out


def _first_play_row(ex, own=True):
    """The first play-phase row that is the mover's own view (or, with
    own=False, another seat's)."""
    own_view = ex["state"][:, 255] == 1.0
    return int(np.flatnonzero((ex["state"][:, 246] == 1.0) & (own_view == own))[0])


def _uneven_row(ex):
    """A row whose seats did not all score the same (so rotating it shows)."""
    for i, (v, p) in enumerate(zip(ex["value"], ex["num_players"])):
        if len(set(v[: int(p)].tolist())) > 1:
            return i
    raise AssertionError("every round scored evenly")


TAMPERING = {
    "policy sum": ("policy", lambda a, ex: a.__setitem__(0, a[0] * 1.5), "sums neither to 1"),
    "policy on illegal": (
        "policy",
        lambda a, ex: a.__setitem__((0, int(np.flatnonzero(~ex["mask"][0])[0])), 0.1),
        "illegal",
    ),
    "one legal action": (
        "mask",
        lambda a, ex: a.__setitem__((0, np.flatnonzero(a[0])[1:]), False),
        "fewer than 2 legal",
    ),
    "value above 1": ("value", lambda a, ex: a.__setitem__((0, 0), 1.5), "outside"),
    "value for absent seat": ("value", lambda a, ex: a.__setitem__((0, 7), 0.5), "absent seat"),
    "value not a score": ("value", lambda a, ex: a.__setitem__((0, 0), 0.123), "neither 0 nor"),
    "rotation": (
        "seat",
        lambda a, ex: [
            a.__setitem__(i, (int(a[i]) + 1) % int(ex["num_players"][i])) for i in [_uneven_row(ex)]
        ],
        "disagree",
    ),
    "value against bid": (
        "value",
        # a non-zero score that is a valid score for *some* bid but not this seat's
        lambda a, ex: [
            a.__setitem__(
                (i, k),
                0.0
                if a[i, k] != 0
                else (
                    10
                    + (round(ex["state"][i, 148 + 12 * k] * ex["cards"][i]) + 1)
                    % (int(ex["cards"][i]) + 1)
                )
                / (10 + int(ex["cards"][i])),
            )
            for i in [_first_play_row(ex)]
            for k in [0]
        ],
        "bid",
    ),
    "cards": ("cards", lambda a, ex: a.__setitem__(0, 14), "outside the rules"),
    # rows 0..3 are the four seats' views of the first decision, row 4 is
    # seat 0's view of the second one
    "duplicate move": ("move", lambda a, ex: a.__setitem__(4, a[0]), "twice"),
    "no mover's view": (
        "state",
        lambda a, ex: a.__setitem__((slice(0, 4), 255), 0.0),
        "exactly one mover's view",
    ),
    "two mover's views": (
        "state",
        lambda a, ex: a.__setitem__((slice(0, 4), 255), 1.0),
        "exactly one mover's view",
    ),
    "mask of one view": (
        "mask",
        lambda a, ex: a.__setitem__((1, int(np.flatnonzero(a[1])[0])), False),
        "disagree on the mask or policy",
    ),
    "hidden card in a view": (
        "mask",
        # another seat's view cannot list one of its own cards as the mover's
        lambda a, ex: [
            a.__setitem__((i, int(np.flatnonzero(ex["state"][i, :52])[0])), True)
            for i in [_first_play_row(ex, own=False)]
        ],
        "do not fit the phase, hand or cards",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_inconsistent_contents_are_detected(tmp_path, examples, case):
    key, fn, message = TAMPERING[case]
    bad = _tamper(examples, key, fn)
    problems = check_examples(bad)
    assert problems and any(message in p for p in problems), problems
    path = write_shard(bad, tmp_path, 0, META)  # validate=False: writes anyway
    with pytest.raises(ShardError, match=message):
        validate_shard(path)
    with pytest.raises(ShardError):
        write_shard(bad, tmp_path, 1, META, validate=True)
    assert not (tmp_path / "shard-000001.parquet").exists()


def test_damaged_files_are_detected(tmp_path, examples):
    good = write_shard(examples, tmp_path, 0, META)
    data = good.read_bytes()
    truncated = tmp_path / "shard-000001.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    garbled = tmp_path / "shard-000002.parquet"
    mid = len(data) // 2
    garbled.write_bytes(
        data[:mid] + bytes(random.Random(0).randrange(256) for _ in range(256)) + data[mid + 256 :]
    )
    text = tmp_path / "shard-000003.parquet"
    text.write_text("not parquet at all")
    for path in (truncated, garbled, text):
        with pytest.raises(ShardError, match="shard-00000"):
            validate_shard(path)
    with pytest.raises(ShardError, match="no such"):
        validate_shard(tmp_path / "shard-000099.parquet")
    assert validate_shard(good).rows == len(examples["seat"])


def test_foreign_parquet_files_are_rejected(tmp_path, examples):
    df = pl.read_parquet(write_shard(examples, tmp_path, 0, META))
    no_meta = tmp_path / "no-meta-000000.parquet"
    df.write_parquet(no_meta)
    with pytest.raises(ShardError, match="format_version"):
        validate_shard(no_meta)
    fmt = {"blobmaster.replay.format_version": "2"}
    missing = tmp_path / "missing-000000.parquet"
    df.drop("search").write_parquet(missing, metadata=fmt)
    with pytest.raises(ShardError, match="wrong schema"):
        validate_shard(missing)
    widened = tmp_path / "widened-000000.parquet"
    df.with_columns(pl.col("seat").cast(pl.Int64)).write_parquet(widened, metadata=fmt)
    with pytest.raises(ShardError, match="wrong schema"):
        validate_shard(widened)
    newer = tmp_path / "newer-000000.parquet"
    df.write_parquet(newer, metadata={"blobmaster.replay.format_version": "99"})
    with pytest.raises(ShardError, match="version 99"):
        validate_shard(newer)


def test_docs_list_every_column():
    doc = Path(__file__).resolve().parents[1] / "docs" / "replay.md"
    if not doc.exists():
        pytest.skip("docs/replay.md is not next to the tests")
    text = doc.read_text()
    for name, _dtype in SCHEMA.items():
        assert f"`{name}`" in text, name
    assert "format_version" in text
    assert replay.FORMAT_VERSION == 2
    assert '`"2"`' in text
