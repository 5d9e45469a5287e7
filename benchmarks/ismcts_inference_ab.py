"""A/B of ISMCTS bid inference against plain ISMCTS in the engine arena.

    python benchmarks/ismcts_inference_ab.py --deals 500 --candidates 1024 \
        --temperature 0.5 --rollout heuristic --opponent-rollout heuristic

Agent A is ``IsmctsAgent(iterations, rollout, inference="bids", ...)`` (seed
1), agent B the same search without inference, or with
``--opponent-rollout random`` the reference ISMCTS-1000 (seed 2); duplicate
deals at 4 players x 5 cards, every seating. Prints the arena report (the
paired per-deal difference with its 95% interval) and the wall time.
"""

from __future__ import annotations

import argparse
import time

from blobmaster.agents import IsmctsAgent
from blobmaster.arena import play_duplicate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=500)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=1024)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--rollout", default="heuristic")
    parser.add_argument("--opponent-rollout", default=None)
    args = parser.parse_args()
    bids = IsmctsAgent(
        args.iterations, rollout=args.rollout, inference="bids",
        inference_candidates=args.candidates, inference_temperature=args.temperature, seed=1,
    )  # fmt: skip
    bids.name = f"bids{args.candidates}@{args.temperature:g}-{bids.name.split(':bids')[0]}"
    opponent = IsmctsAgent(
        1000 if args.opponent_rollout else args.iterations,
        rollout=args.opponent_rollout or args.rollout,
        seed=2,
    )
    start = time.time()
    report = play_duplicate(
        [bids, opponent], 4, 5, args.deals, seed=args.seed, engine=True, progress=False
    )
    print(report)
    print(f"wall {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
