"""Can a network learn the teacher's bids, and from which rows?

Fits a fresh network to the bid decisions of teacher shards (`blobmaster
selfplay --teacher ...`) by cross-entropy against the stored policy, and
reports top-1 agreement with the target on held-out shards. `--rows mover`
uses only the mover's own rows (the observation's to-move flag), `--rows all`
every seat's row of each decision, which is what the trainer did before
`[train] policy_rows = "mover"`. `--score MODEL` instead reports a trained
model's agreement on the held-out mover rows, bids and cards apart.

    python benchmarks/fit_teacher_bids.py --train teacher/c --val teacher/g --rows mover
    python benchmarks/fit_teacher_bids.py --train teacher/c --val teacher/g --rows all --net mlp
    python benchmarks/fit_teacher_bids.py --val teacher/g --score model.pt

benchmarks/RESULTS.md ("The policy loss on other seats' rows") records runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import torch

from blobmaster.checkpoint import model_config_for
from blobmaster.model import BlobNet, load_model
from blobmaster.replay import TO_MOVE

BID = 52


def load(directory: str, shards: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    files = sorted(Path(directory).glob("shard-*.parquet"))[:shards]
    df = pl.concat([pl.read_parquet(f, columns=["state", "mask", "policy"]) for f in files])
    state = df["state"].to_numpy().astype(np.float32)
    mask = df["mask"].to_numpy()
    policy = df["policy"].to_numpy().astype(np.float32)
    keep = mask.sum(axis=1) > 1
    return state[keep], mask[keep], policy[keep]


def agreement(logits: torch.Tensor, mask: torch.Tensor, policy: torch.Tensor) -> float:
    pred = logits.masked_fill(~mask, float("-inf")).argmax(dim=1)
    return float((pred == policy.argmax(dim=1)).float().mean())


def score(model: str, val: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    net = load_model(model, torch.device("cpu"))
    state, mask, policy = val
    mover = state[:, TO_MOVE] > 0.5
    with torch.inference_mode():
        logits = torch.cat(
            [net(torch.from_numpy(state[i : i + 4096]))[0] for i in range(0, len(state), 4096)]
        )
    bid = mask[:, BID:].any(axis=1)
    for name, rows in (("bid", mover & bid), ("card", mover & ~bid)):
        t = torch.from_numpy
        acc = agreement(logits[t(rows)], t(mask[rows]), t(policy[rows]))
        print(f"{model}: {name} rows {int(rows.sum())}, agreement {acc:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", help="teacher shard folder to fit")
    ap.add_argument("--val", required=True, help="held-out teacher shard folder")
    ap.add_argument("--rows", choices=("mover", "all"), default="mover")
    ap.add_argument("--net", choices=("small", "mlp"), default="small")
    ap.add_argument("--shards", type=int, default=80, help="shards read from --train")
    ap.add_argument("--val-shards", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--score", metavar="MODEL", help="score a trained model instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    val = load(args.val, args.val_shards)
    if args.score:
        score(args.score, val)
        return
    if not args.train:
        ap.error("--train is needed to fit")

    def bids(data: tuple[np.ndarray, np.ndarray, np.ndarray], rows: str) -> list[torch.Tensor]:
        state, mask, policy = data
        keep = mask[:, BID:].any(axis=1)
        if rows == "mover":
            keep &= state[:, TO_MOVE] > 0.5
        return [torch.from_numpy(a[keep]) for a in (state, mask, policy)]

    s, m, p = bids(load(args.train, args.shards), args.rows)
    sv, mv, pv = bids(val, "mover")  # judged where it matters: the mover's own view
    print(f"fitting {len(s)} bid rows ({args.rows}), held out {len(sv)} mover bid rows")
    forward: Callable[[torch.Tensor], torch.Tensor]
    if args.net == "mlp":
        mlp = torch.nn.Sequential(
            torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
            torch.nn.ReLU(), torch.nn.Linear(512, 66),
        )  # fmt: skip
        forward, params = mlp, list(mlp.parameters())
    else:
        blobnet = BlobNet(model_config_for("small"))
        forward, params = (lambda x: blobnet.forward_logits(x)[0]), list(blobnet.parameters())
    opt = torch.optim.AdamW(params, 1e-3, weight_decay=1e-4)
    start = time.time()
    for epoch in range(args.epochs):
        for idx in torch.randperm(len(s)).split(512):
            logits = forward(s[idx]).masked_fill(~m[idx], -1e9)
            loss = -(p[idx] * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            fit = agreement(forward(s[:20000]), m[:20000], p[:20000])
            held = agreement(forward(sv), mv, pv)
        print(f"epoch {epoch + 1}: fit {fit:.3f}, held out {held:.3f}, {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
