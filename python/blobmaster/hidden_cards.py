"""The hidden-card auxiliary target: who holds each card the observer cannot see.

Issue 10 (items 3 and 6): what the bids and the plays reveal about the
opponents' hands is where the strength is (a search that sees the true deal
beats the honest one by +3.3 points a round). The replay shards already hold
the answer: every decision is stored once per seat, and each seat's row
starts with that seat's own hand (observation offsets 0..51). So the owner
of every card, as seen from every seat, is rebuilt from the rows of the
same decision, with no new column and no change to the Rust side.

:func:`owner_targets` builds the targets, :class:`OwnerHead` predicts them
from the network's trunk, :func:`owner_loss` scores the prediction. The
head is the trainer's (``TrainConfig.owner_weight``); the exported network
stays a plain :class:`~blobmaster.model.BlobNet`. A head that proves useful
can later serve as a learned belief to sample worlds from.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blobmaster._core import MAX_PLAYERS

__all__ = ["DECK", "NO_TARGET", "OWNER_CLASSES", "OwnerHead", "owner_loss", "owner_targets"]

DECK = 52
"""Cards in the deck; the observation's own-hand block is one entry per card."""
OWNER_CLASSES = MAX_PLAYERS
"""0: no opponent holds the card (played, in no hand this round, or the
observer's own); k in 1..7: the opponent k seats after the observer."""
NO_TARGET = -1
"""The observer's own cards (nothing to infer), and every card of a row
whose decision is not complete in the data (a trimmed shard's first rows)."""


def owner_targets(
    state: np.ndarray,
    seat: np.ndarray,
    round_id: np.ndarray,
    move: np.ndarray,
    num_players: np.ndarray,
) -> np.ndarray:
    """(N, 52) int8: for every row (one seat's view of one decision) and
    every card, who holds it, relative to that seat (see
    :data:`OWNER_CLASSES`), or :data:`NO_TARGET`.

    Rows are grouped by (round_id, move); a group is used only when it has
    exactly one row for each seat 0..P-1 of its table."""
    n = len(seat)
    out = np.full((n, DECK), NO_TARGET, dtype=np.int8)
    if n == 0:
        return out
    order = np.lexsort((seat, move, round_id))
    r, m = round_id[order], move[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (m[1:] != m[:-1])
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    players = num_players[order[starts]].astype(np.int64)
    for p in np.unique(players):
        p = int(p)
        picked = starts[(sizes == p) & (players == p)]
        if not len(picked):
            continue
        rows = order[picked[:, None] + np.arange(p)]  # (G, p), seats in order
        whole = (seat[rows] == np.arange(p)).all(axis=1)
        rows = rows[whole]
        hands = state[rows, :DECK] > 0.5  # (G, p, 52)
        held = hands.any(axis=1)  # (G, 52)
        holder = hands.argmax(axis=1)  # (G, 52): the seat holding it, if any
        for observer in range(p):
            relative = (holder - observer) % p
            target = np.where(held, relative, 0)
            target[held & (relative == 0)] = NO_TARGET
            out[rows[:, observer]] = target
    return out


class OwnerHead(nn.Module):
    """The trunk's features (B, d) -> logits (B, 52, OWNER_CLASSES)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, DECK * OWNER_CLASSES)
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden).view(-1, DECK, OWNER_CLASSES)


def owner_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (float32) over the cards that have a target; 0 for
    a batch with none."""
    flat = targets.reshape(-1).long()
    per_card = F.cross_entropy(
        logits.float().reshape(-1, OWNER_CLASSES), flat, ignore_index=NO_TARGET, reduction="sum"
    )
    return per_card / (flat != NO_TARGET).sum().clamp_min(1)
