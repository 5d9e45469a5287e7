"""How often a network's raw policy picks the move of ISMCTS (the teacher),
by phase, next to the teacher's agreement with itself under another seed and
the heuristic's agreement with the teacher.

Positions come from rounds the heuristic plays on every seat; at each
decision with two or more legal actions the teacher (ISMCTS, heuristic
playouts) searches twice with different seeds, the network gives its policy
for the mover's own view, and the heuristic gives its move.

    python benchmarks/policy_agreement.py --players 4 --cards 5 --rounds 150
    python benchmarks/policy_agreement.py --players 7 --cards 7 --rounds 60 --model net.pt

benchmarks/RESULTS.md ("The policy loss on other seats' rows") records runs.
"""

from __future__ import annotations

import argparse
import collections
import random

import numpy as np
import torch

import blobmaster as bm
from blobmaster import _core
from blobmaster.agent_specs import parse_agent_spec
from blobmaster.agents import GuidedIsmctsAgent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--players", type=int, default=4)
    ap.add_argument("--cards", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--model", default=None, help="TorchScript file [default: the shipped one]")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    network = (
        GuidedIsmctsAgent(args.model, 1) if args.model else parse_agent_spec("default:ismcts:1")
    )
    assert isinstance(network, GuidedIsmctsAgent)
    # phase -> [decisions, teacher==teacher, network==teacher, heuristic==teacher]
    counts: dict[str, np.ndarray] = collections.defaultdict(lambda: np.zeros(4))
    rng = random.Random(args.seed)
    for i in range(args.rounds):
        r = bm.Round(
            args.players, args.cards, dealer=rng.randrange(args.players),
            trump=rng.choice([None, 0, 1, 2, 3]), seed=rng.randrange(2**32),
        )  # fmt: skip
        while not r.is_over:
            legal = r.legal_actions()
            if len(legal) > 1:
                phase = "bid" if legal[0] >= _core.BID_OFFSET else "card"
                first, _ = _core.ismcts(
                    r, iterations=args.iterations, rollout="heuristic", seed=2 * i
                )
                second, _ = _core.ismcts(
                    r, iterations=args.iterations, rollout="heuristic", seed=2 * i + 1
                )
                teacher = int(np.argmax(first))
                counts[phase] += [
                    1,
                    teacher == int(np.argmax(second)),
                    teacher == int(np.argmax(network.prior(r))),
                    teacher == _core.heuristic_action(r),
                ]
            r.apply(_core.heuristic_action(r))
    for phase, c in sorted(counts.items()):
        n = c[0]
        print(
            f"{args.players}x{args.cards} {phase}: {int(n)} decisions | teacher vs itself "
            f"{c[1] / n:.3f} | network vs teacher {c[2] / n:.3f} | heuristic vs teacher {c[3] / n:.3f}"
        )


if __name__ == "__main__":
    main()
