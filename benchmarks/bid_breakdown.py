"""Where two agents' points come from: their bids, by size and by bidding
position, and how often each size is made, missed over or missed under.

The agents play the duplicate arena's deals and seatings (the same deals
`blobmaster eval --seed S` plays) in the Rust engine; every finished round
gives each seat's bid, tricks and score.

    python benchmarks/bid_breakdown.py model:net.pt:light ismcts:1000 --deals 500 --seed 44

benchmarks/RESULTS.md records runs.
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Sequence

import torch

from blobmaster._core import Round
from blobmaster.agent_specs import parse_agent_spec
from blobmaster.arena import agent_seed, arena_deal, distinct_seatings
from blobmaster.arena_engine import play_rounds


def seat_records(
    ends: Sequence[Round], seatings: Sequence[Sequence[int]]
) -> list[tuple[int, int, int, int, int]]:
    """(agent, bid, tricks, score, bidding position) for every seat of every
    round, ``ends`` in schedule order (deal-major); position 0 bids first and
    the last position is the dealer, who bids under the hook rule."""
    out = []
    for k, end in enumerate(ends):
        seating = seatings[k % len(seatings)]
        scores = end.scores
        assert scores is not None, "a round of the arena did not finish"
        players = end.num_players
        for seat in range(players):
            bid = end.bids[seat]
            assert bid is not None
            position = (seat - end.dealer - 1) % players
            out.append((seating[seat], bid, end.tricks_won[seat], scores[seat], position))
    return out


def summary(records: list[tuple[int, int, int, int, int]], agent: int, key: int) -> list[str]:
    """Rows by bid size (key 1) or bidding position (key 4): share of the
    agent's seats, made, over (more tricks than the bid), under, mean score."""
    groups: dict[int, list[tuple[int, int, int, int, int]]] = collections.defaultdict(list)
    mine = [r for r in records if r[0] == agent]
    for r in mine:
        groups[r[key]].append(r)
    rows = []
    for value in sorted(groups):
        g = groups[value]
        n = len(g)
        made = sum(r[1] == r[2] for r in g)
        over = sum(r[2] > r[1] for r in g)
        under = n - made - over
        mean = sum(r[3] for r in g) / n
        rows.append(
            f"  {value:>3}  {100 * n / len(mine):5.1f}%  made {100 * made / n:5.1f}%  "
            f"over {100 * over / n:5.1f}%  under {100 * under / n:5.1f}%  score {mean:6.3f}"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("agents", nargs=2, help="two agent specs")
    ap.add_argument("--players", type=int, default=4)
    ap.add_argument("--cards", type=int, default=5)
    ap.add_argument("--deals", type=int, default=500)
    ap.add_argument("--seed", type=int, default=44)
    ap.add_argument("--torch-threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)
    agents = [
        parse_agent_spec(spec, seed=agent_seed(args.seed, k)) for k, spec in enumerate(args.agents)
    ]
    seatings = distinct_seatings(args.players, len(agents))
    deals = [arena_deal(args.players, args.cards, d, args.seed) for d in range(args.deals)]
    ends = play_rounds(agents, deals, seatings)
    records = seat_records(ends, seatings)
    for k, agent in enumerate(agents):
        mine = [r for r in records if r[0] == k]
        made = sum(r[1] == r[2] for r in mine) / len(mine)
        mean = sum(r[3] for r in mine) / len(mine)
        print(f"[{k}] {agent.name}: {len(mine)} seats, score {mean:.3f}, bids made {made:.1%}")
        print("  bid size:")
        print("\n".join(summary(records, k, 1)))
        print("  bidding position (0 first, the last the dealer):")
        print("\n".join(summary(records, k, 4)))


if __name__ == "__main__":
    main()
