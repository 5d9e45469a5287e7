#!/usr/bin/env python
"""How long a person waits for an agent's move at the play/serve table.

Plays the first three rounds of full 4-player games (5, 4, 3 cards) with the
built-in network for each search preset given, the person always making the
first legal move, and prints the time of every agent move (mean, median,
max), and apart from them the first move, which includes the network's
warm-up. One process, torch's default thread count. Usage: python benchmarks/bench_table.py [PRESET ...]
"""

from __future__ import annotations

import statistics
import sys
import time

from blobmaster.table import Table, TableSettings, make_agent


def agent_move_times(search: str, games: int = 3, rounds: int = 3) -> list[float]:
    agent = make_agent(search=search, seed=0)
    times = []
    for seed in range(games):
        table = Table(TableSettings(players=4, cards=5, seed=seed), agent)
        while not table.is_over and table.round_index < rounds:
            if table.person_to_move:
                table.play_person(table.round.legal_actions()[0])
            else:
                start = time.perf_counter()
                table.play_agent()
                times.append(time.perf_counter() - start)
    return times


def main(presets: list[str]) -> None:
    print("| search | first move ms | later moves | mean ms | median ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for search in presets:
        first, *times = agent_move_times(search)
        print(
            f"| {search} | {first * 1000:.0f} | {len(times)} | {statistics.mean(times) * 1000:.0f} "
            f"| {statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["light", "medium"])
