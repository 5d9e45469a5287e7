"""How well does a trained hidden-card head know who holds the unseen cards?

Scores the head of a training checkpoint (``owner_weight > 0``) on replay
shards it never saw, on the cards the observer cannot see (not its own, not
played in a finished trick, not on the table in the current trick), against
two beliefs that use only public facts:

- **count prior**: each holder (an opponent or no one) in proportion to how
  many of the hidden cards it holds (hand sizes are public);
- **void prior**: the same with the opponents known to be void in the
  card's suit left out (what uniform void-consistent determinization knows).

Prints the mean cross-entropy per hidden card (nats; lower is better) by
phase (bidding, tricks 1..), and how often the most likely holder is right
for cards an opponent holds.

    python benchmarks/owner_head_fit.py CHECKPOINT SHARD_FOLDER [--shards N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
import torch

from blobmaster._core import MAX_PLAYERS
from blobmaster.checkpoint import load_checkpoint
from blobmaster.hidden_cards import DECK, NO_TARGET, OwnerHead, owner_targets
from blobmaster.model import BlobNet
from blobmaster.replay import list_shards

PLAYED, TRICK, TRICK_BLOCK = 52, 104, 5
SEATS, SEAT_BLOCK, SEAT_VOIDS = 144, 12, 7
PHASE_BID, TRICKS_DONE, CARDS = 245, 249, 247


def visible_in_trick(state: np.ndarray) -> np.ndarray:
    """(N, 52) bool: the cards on the table in the current trick."""
    out = np.zeros((len(state), DECK), bool)
    for seat in range(MAX_PLAYERS):
        block = state[:, TRICK + seat * TRICK_BLOCK : TRICK + (seat + 1) * TRICK_BLOCK]
        has = block[:, :4].max(axis=1) > 0.5
        suit = block[:, :4].argmax(axis=1)
        rank = np.rint(block[:, 4] * 12).astype(int)
        rows = np.flatnonzero(has)
        out[rows, suit[rows] * 13 + rank[rows]] = True
    return out


def priors(state: np.ndarray, target: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, ...]:
    """(count prior, void prior), each (N, 52, 8) probabilities."""
    n, classes = len(state), MAX_PLAYERS
    counts = np.stack([((target == k) & hidden).sum(axis=1) for k in range(classes)], axis=1)
    count_p = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    count_p = np.broadcast_to(count_p[:, None, :], (n, DECK, classes)).copy()
    void = np.zeros((n, DECK, classes), bool)
    suit_of = np.arange(DECK) // 13
    for k in range(1, classes):
        base = SEATS + k * SEAT_BLOCK + SEAT_VOIDS
        voids = state[:, base : base + 4] > 0.5  # (N, 4)
        void[:, :, k] = voids[:, suit_of]
    void_p = np.where(void, 0.0, count_p)
    void_p /= np.maximum(void_p.sum(axis=2, keepdims=True), 1e-12)
    return count_p, void_p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("shards", type=Path)
    ap.add_argument("--shards-used", type=int, default=20, help="the newest N shards")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.get("owner_head_state") is None:
        raise SystemExit(f"{args.checkpoint}: no hidden-card head (owner_weight was 0)")
    net = BlobNet(ckpt["model_config"])
    net.load_state_dict(ckpt["model_state"])
    head = OwnerHead(ckpt["model_config"].d_model)
    head.load_state_dict(ckpt["owner_head_state"])
    net.eval(), head.eval()

    files = list_shards(args.shards)[-args.shards_used :]
    df = pl.concat([pl.read_parquet(f) for f in files])
    state = df["state"].to_numpy()
    target = owner_targets(
        state, df["seat"].to_numpy(), df["round_id"].to_numpy(), df["move"].to_numpy(),
        df["num_players"].to_numpy(),
    )  # fmt: skip
    played = state[:, PLAYED : PLAYED + DECK] > 0.5
    hidden = (target != NO_TARGET) & ~played & ~visible_in_trick(state)
    with torch.no_grad():
        logp = torch.cat(
            [
                torch.log_softmax(
                    head(net.forward_hidden(torch.from_numpy(state[i : i + 8192]))), -1
                )
                for i in range(0, len(state), 8192)
            ]
        ).numpy()
    count_p, void_p = priors(state, target, hidden)
    t = np.where(hidden, target, 0).astype(np.int64)

    def ce(logq: np.ndarray, mask: np.ndarray) -> float:
        picked = np.take_along_axis(logq, t[:, :, None], axis=2)[:, :, 0]
        return float(-(picked[mask]).mean())

    def acc(logq: np.ndarray, mask: np.ndarray) -> float:
        held = mask & (t > 0)
        best = logq[:, :, 1:].argmax(axis=2) + 1
        return float((best[held] == t[held]).mean())

    bidding = state[:, PHASE_BID] > 0.5
    tricks = np.rint(state[:, TRICKS_DONE] * np.rint(state[:, CARDS] * 13)).astype(int)
    phases = [("bidding", bidding)] + [
        (f"trick {k + 1}", ~bidding & (tricks == k)) for k in range(int(tricks.max()) + 1)
    ]
    beliefs = {
        "head": logp,
        "count prior": np.log(np.maximum(count_p, 1e-12)),
        "void prior": np.log(np.maximum(void_p, 1e-12)),
    }
    print(
        f"{len(df):,} rows from {len(files)} shards of {args.shards}; {int(hidden.sum()):,} hidden cards"
    )
    print(f"| phase | hidden cards | {' | '.join(beliefs)} | holder right: {' / '.join(beliefs)} |")
    print("|---|---:|" + "---:|" * (len(beliefs) + 1))
    for name, rows in [("all", np.ones(len(df), bool)), *phases]:
        mask = hidden & rows[:, None]
        if not mask.any():
            continue
        ces = " | ".join(f"{ce(q, mask):.3f}" for q in beliefs.values())
        accs = " / ".join(f"{acc(q, mask):.1%}" for q in beliefs.values())
        print(f"| {name} | {int(mask.sum()):,} | {ces} | {accs} |")


if __name__ == "__main__":
    main()
