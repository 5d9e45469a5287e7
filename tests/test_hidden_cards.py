"""The hidden-card auxiliary target and head (blobmaster.hidden_cards).

The targets are rebuilt from the rows of each decision: checked against a
hand-worked deal, against a direct per-row reading of real self-play
shards, and for what they must never do (give a target for the observer's
own cards, or for a decision whose rows are not all there). The head is
checked through the trainer: it learns, it resumes exactly, and the
exported network stays a plain BlobNet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from blobmaster.checkpoint import load_checkpoint
from blobmaster.hidden_cards import DECK, NO_TARGET, OwnerHead, owner_loss, owner_targets
from blobmaster.inference import run_selfplay
from blobmaster.model import ModelConfig, default_model, load_model, script_model
from blobmaster.replay import read_shards
from blobmaster.train import TrainConfig, train
from blobmaster.train_data import find_shards, load_window
from helpers import TINY_META, TINY_TRAIN, tiny_engine

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rows(hands: list[list[int]], round_id: int = 0, move: int = 0) -> dict[str, np.ndarray]:
    """The rows of one decision: one per seat, its own hand in the state."""
    p = len(hands)
    state = np.zeros((p, 256), np.float32)
    for s, hand in enumerate(hands):
        state[s, hand] = 1.0
    return {
        "state": state,
        "seat": np.arange(p, dtype=np.uint8),
        "round_id": np.full(p, round_id, np.uint64),
        "move": np.full(p, move, np.uint16),
        "num_players": np.full(p, p, np.uint8),
    }


def _targets(cols: dict[str, np.ndarray]) -> np.ndarray:
    return owner_targets(
        cols["state"], cols["seat"], cols["round_id"], cols["move"], cols["num_players"]
    )


def test_a_hand_worked_three_player_deal():
    # seat 0 holds cards 0 and 1, seat 1 holds 10, seat 2 holds 20 and 21.
    t = _targets(_rows([[0, 1], [10], [20, 21]]))
    assert t.shape == (3, DECK) and t.dtype == np.int8
    # seat 0: its own cards have no target; seat 1 is one seat after it, seat 2 two.
    assert t[0, [0, 1, 10, 20, 21, 5]].tolist() == [NO_TARGET, NO_TARGET, 1, 2, 2, 0]
    # seat 1: seat 2 is one after it, seat 0 two after it (wrapping round).
    assert t[1, [0, 1, 10, 20, 21, 5]].tolist() == [2, 2, NO_TARGET, 1, 1, 0]
    assert t[2, [0, 1, 10, 20, 21, 5]].tolist() == [1, 1, 2, NO_TARGET, NO_TARGET, 0]
    # every other card is in nobody's hand
    assert (t[:, 30:] == 0).all()


def test_row_order_does_not_matter_and_incomplete_decisions_get_no_target():
    a = _rows([[0, 1], [10, 11], [20, 21]], move=0)
    b = _rows([[0], [10, 11], [20]], move=1)
    cols = {k: np.concatenate([a[k], b[k]]) for k in a}
    want = _targets(cols)
    perm = np.random.default_rng(0).permutation(6)
    shuffled = _targets({k: v[perm] for k, v in cols.items()})
    assert np.array_equal(shuffled, want[perm])
    # the first row of move 0 trimmed away (a shard's tail window): the
    # decision's other rows cannot know seat 0's hand, so they get no target
    tail = _targets({k: v[1:] for k, v in cols.items()})
    assert (tail[:2] == NO_TARGET).all() and np.array_equal(tail[2:], want[3:])
    # a duplicated seat is not a whole decision either
    dup = {k: v.copy() for k, v in a.items()}
    dup["seat"][2] = 1
    assert (_targets(dup) == NO_TARGET).all()


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("owner_shards")
    net = script_model(default_model(seed=1, config=ModelConfig.tiny()))
    run_selfplay(
        tiny_engine(rounds=12, seed=5), net, "cpu", out_dir=out, rounds_per_shard=4,
        metadata=TINY_META,
    )  # fmt: skip
    return out


def test_real_shards_read_row_by_row(shards):
    """Every row's targets, read the slow way: the hands of the other rows of
    the same decision, seat offsets counted after the row's own seat."""
    df = read_shards(shards).collect()
    state = df["state"].to_numpy()
    t = _targets({c: df[c].to_numpy() for c in ("seat", "round_id", "move", "num_players")}
                 | {"state": state})  # fmt: skip
    hands = {
        (r, m, s): set(np.flatnonzero(state[i, :DECK] > 0.5))
        for i, (r, m, s) in enumerate(df.select("round_id", "move", "seat").iter_rows())
    }
    checked = 0
    for i, (r, m, s, p) in enumerate(
        df.select("round_id", "move", "seat", "num_players").iter_rows()
    ):
        want = np.zeros(DECK, np.int64)
        for k in range(p):
            for card in hands[(r, m, (s + k) % p)]:
                want[card] = NO_TARGET if k == 0 else k
        assert np.array_equal(t[i], want), (r, m, s)
        checked += 1
    assert checked == df.height > 100
    # what the trainer holds is the same
    _, ex = load_window(find_shards(shards), with_owner=True)
    assert ex.owner.dtype == np.int8 and len(ex) == df.height
    assert sorted(map(bytes, ex.owner)) == sorted(map(bytes, t.astype(np.int8)))
    # without the head nothing is computed or held for it
    _, plain = load_window(find_shards(shards))
    assert plain.owner.shape == (df.height, 0) and np.array_equal(plain.state, ex.state)


def test_owner_loss_ignores_cards_without_a_target():
    logits = torch.zeros(2, DECK, 8)
    targets = torch.full((2, DECK), NO_TARGET, dtype=torch.int8)
    assert float(owner_loss(logits, targets)) == 0.0  # nothing to score: 0, not NaN
    targets[0, 3] = 2
    assert float(owner_loss(logits, targets)) == pytest.approx(np.log(8))
    logits[0, 3, 2] = 50.0
    assert float(owner_loss(logits, targets)) < 1e-6
    assert OwnerHead(16)(torch.zeros(5, 16)).shape == (5, DECK, 8)


def test_the_head_learns_resumes_and_stays_out_of_the_exported_network(tmp_path, shards):
    fields = {"steps": 60, "checkpoint_every": 20, "val_fraction": 0.2, "owner_weight": 1.0}
    config = TrainConfig(**{**TINY_TRAIN, **fields, "lr": 1e-2})
    straight = train(config, shards, tmp_path / "straight")
    rows = pl.read_csv(tmp_path / "straight" / "metrics.csv")
    first, last = rows["owner_loss"].head(5).mean(), rows["owner_loss"].tail(5).mean()
    assert 0 < last < 0.7 * first, (first, last)
    assert straight.val is not None and straight.val["val_owner_loss"] > 0
    # val_loss stays policy + value, comparable with runs without the head
    v = straight.val
    assert v["val_loss"] == pytest.approx(v["val_policy_loss"] + v["val_value_loss"])
    # resumed half way: the head's weights and the losses are the same
    train(config, shards, tmp_path / "split", until_step=30)
    resumed = train(None, None, tmp_path / "split", resume=True)
    a, b = load_checkpoint(straight.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert a["owner_head_state"].keys() == b["owner_head_state"].keys()
    for k, w in a["owner_head_state"].items():
        assert torch.equal(w, b["owner_head_state"][k]), k
    for k, w in a["model_state"].items():
        assert torch.equal(w, b["model_state"][k]), k
    # the exported file is the plain network
    net = load_model(straight.model_path, "cpu")
    assert not any("owner" in name for name, _ in net.named_parameters())
    # without the head: no head state, a zero column
    plain = train(config.replace(owner_weight=0.0, steps=3), shards, tmp_path / "plain")
    assert load_checkpoint(plain.checkpoint_path)["owner_head_state"] is None
    assert (pl.read_csv(tmp_path / "plain" / "metrics.csv")["owner_loss"] == 0).all()
