"""How well do bid models predict real bids?

    python benchmarks/bid_model_fit.py MODEL.pt [DEALS]

The mean log-likelihood per bid of the bids ISMCTS-1000 makes (random and
heuristic playouts; each bidder before it bid as the heuristic does) on
DEALS (default 400) deals of 4 players x 5 cards, under the soft rule-based
bidder that bid inference uses (T = 0.5, 1), under the network's policy from
the bidder's own view, and under uniform bids. Higher is a better model of
how those opponents bid.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch

import blobmaster as bm
from blobmaster import _core
from blobmaster.agents import _forward, load_network

net, dev, _, _ = load_network(sys.argv[1], "cpu")
deals = int(sys.argv[2]) if len(sys.argv) > 2 else 400
torch.set_num_threads(1)
rows: dict[str, list[dict[str, float]]] = {"random": [], "heuristic": []}
for d in range(deals):
    r = bm.Round(4, 5, seed=10_000 + d)
    while str(r.phase).lower().endswith("bid"):
        legal = r.legal_actions()
        h = _core.heuristic_action(r)
        logits, _ = _forward(net, dev, np.asarray(r.observation())[None, :])
        lg = logits[0][legal]
        p_net = np.exp(lg - lg.max())
        p_net /= p_net.sum()
        for ro in rows:
            v, _ = _core.ismcts(r, iterations=1000, rollout=ro, seed=d)
            b = int(np.argmax(v))
            i = legal.index(b)
            out = {"net": math.log(p_net[i])}
            for T in (0.5, 1.0):
                w = np.array([math.exp(-abs(a - h) / T) for a in legal])
                w /= w.sum()
                out[f"heur{T}"] = math.log(w[i])
            out["uniform"] = -math.log(len(legal))
            rows[ro].append(out)
        r.apply(_core.heuristic_action(r))
for ro, rs in rows.items():
    keys = rs[0].keys()
    print(ro, len(rs), {k: round(float(np.mean([x[k] for x in rs])), 3) for k in keys})
