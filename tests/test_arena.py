"""The duplicate arena, its statistics and report, and `blobmaster eval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster.agents import Agent
from blobmaster.arena import (
    ArenaError,
    ArenaReport,
    arena_deal,
    distinct_seatings,
    evaluate_specs,
    mean_ci95,
    play_duplicate,
    rotations,
    seat_agent,
)
from blobmaster.cli import app
from blobmaster.model import ModelConfig, default_model, save_model
from blobmaster.ratings import OpenSkillRatings, elo_from_pairwise

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Lowest:
    """Deterministic and trivial: the lowest legal action (lowest bid, lowest card)."""

    name = "lowest"

    def act(self, round: bm.Round) -> int:
        return round.legal_actions()[0]


class Highest:
    name = "highest"

    def act(self, round: bm.Round) -> int:
        return round.legal_actions()[-1]


class Cheater:
    name = "cheater"

    def act(self, round: bm.Round) -> int:
        return 99


# ------------------------------------------------------------------ seating


@pytest.mark.parametrize("players", range(3, 9))
def test_every_agent_plays_every_seat_equally_often(players: int) -> None:
    for agents in range(2, 11):
        rot = rotations(players, agents)
        assert rot == max(players, agents)
        count = [[0] * players for _ in range(agents)]
        for r in range(rot):
            seated = [seat_agent(s, r, players, agents) for s in range(players)]
            if agents > players:
                assert len(set(seated)) == players  # P different agents per round
            for s, k in enumerate(seated):
                count[k][s] += 1
        for k, row in enumerate(count):
            slots = len([j for j in range(rot) if j % agents == k]) if agents <= players else 1
            assert row == [slots] * players, (players, agents, count)
        if agents <= players:  # the Rust arena's seat_agent, unchanged
            for r in range(rot):
                for s in range(players):
                    assert seat_agent(s, r, players, agents) == ((s + r) % players) % agents


def test_deals_are_reproducible_and_varied() -> None:
    a, b = arena_deal(5, 4, 3, seed=7), arena_deal(5, 4, 3, seed=7)
    assert a == b and a.phase == "bid"
    deals = [arena_deal(4, 3, d, seed=7) for d in range(40)]
    assert len({d.dealer for d in deals}) == 4
    assert {d.trump for d in deals} == {None, 0, 1, 2, 3}
    assert arena_deal(4, 3, 0, seed=8) != deals[0]


# ---------------------------------------------------------------- statistics


def test_mean_ci95_by_hand() -> None:
    # [1, 2, 3, 4]: mean 2.5, s^2 = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3,
    # standard error sqrt(5/3 / 4) = 0.645497, half-width 1.96 x that = 1.265174.
    mean, ci = mean_ci95([1, 2, 3, 4])
    assert mean == 2.5 and ci == pytest.approx(1.265174, abs=1e-6)
    assert mean_ci95([7.0]) == (7.0, None)
    assert mean_ci95([3.0, 3.0]) == (3.0, 0.0)


def _replay(agents, players: int, cards: int, deals: int, seed: int):
    """An independent re-computation of per-deal means and round results."""
    n = len(agents)
    per_deal, results = [], []
    for d in range(deals):
        sums, counts = [0.0] * n, [0] * n
        for r in range(max(players, n)):
            seating = [((s + r) % max(players, n)) % n for s in range(players)]
            round_ = arena_deal(players, cards, d, seed)
            while not round_.is_over:
                round_.apply(agents[seating[round_.current_player]].act(round_))
            mine = {}
            for s, k in enumerate(seating):
                sums[k] += round_.scores[s]
                counts[k] += 1
                mine.setdefault(k, []).append(round_.scores[s])
            results.append({k: sum(v) / len(v) for k, v in mine.items()})
        per_deal.append([sums[k] / counts[k] for k in range(n)])
    return per_deal, results


def test_a_tiny_deterministic_arena_checked_by_hand() -> None:
    agents = [Lowest(), Highest()]
    report = play_duplicate(agents, 3, 2, 2, seed=4, progress=False)
    assert report.rotations == 3 and report.rounds == 6
    per_deal, results = _replay(agents, 3, 2, 2, 4)
    assert report.per_deal == per_deal
    # What these two deals give (checked by the replay above):
    assert per_deal[0] == pytest.approx([7.0, 11 / 3]) and per_deal[1] == pytest.approx(
        [10 / 3, 4.0]
    )
    for k in range(2):
        x1, x2 = per_deal[0][k], per_deal[1][k]
        a = report.agents[k]
        # Two samples: mean (x1 + x2) / 2, s = |x1 - x2| / sqrt(2), so the
        # standard error is |x1 - x2| / 2 and the half-width 0.98 |x1 - x2|.
        assert a.mean == pytest.approx((x1 + x2) / 2)
        assert a.ci95 == pytest.approx(0.98 * abs(x1 - x2))
        # 3 seats, 2 agents: agent 0 holds slots 0 and 2, agent 1 slot 1.
        assert a.seat_rounds == (12 if k == 0 else 6) and a.rounds == 6
    lowest, highest = report.agents
    assert lowest.mean == pytest.approx(31 / 6) and lowest.ci95 == pytest.approx(0.98 * 11 / 3)
    assert highest.mean == pytest.approx(23 / 6) and highest.ci95 == pytest.approx(0.98 / 3)
    # Paired by deal: differences 7 - 11/3 = 10/3 and 10/3 - 4 = -2/3.
    h = report.pair(0, 1)
    assert h.mean_diff == pytest.approx(4 / 3) and h.ci95 == pytest.approx(0.98 * 4)
    assert (h.wins, h.ties, h.losses) == (3, 1, 2)
    assert h.wins == sum(r[0] > r[1] for r in results)
    assert h.losses == sum(r[0] < r[1] for r in results)
    assert h.ties == sum(r[0] == r[1] for r in results) and h.shared_rounds == 6
    assert report.pair(1, 0).wins == h.losses and report.pair(1, 0).mean_diff == -h.mean_diff
    assert report.wins == [[0, 3], [2, 0]] and report.ties == [[0, 1], [1, 0]]


def test_identical_agents_tie_exactly() -> None:
    # The same deterministic player twice, 4 seats: rotations 0 and 2 (and 1
    # and 3) seat them alike, so each holds every seat twice on every deal.
    report = play_duplicate(
        [Agent.heuristic(), Agent.heuristic()], 4, 3, 10, seed=1, progress=False
    )
    a, b = report.agents
    # Rotations 2 and 3 repeat 0 and 1: 2 distinct seatings x 2 seats x 10 deals.
    assert a.mean == b.mean and a.seat_rounds == b.seat_rounds == 40
    h = report.pair(0, 1)
    assert h.mean_diff == 0.0 and h.ci95 == 0.0 and h.wins == h.losses
    assert a.elo == pytest.approx(b.elo)


def test_distinct_seatings() -> None:
    assert distinct_seatings(4, 2) == [(0, 1, 0, 1), (1, 0, 1, 0)]  # rotations 2, 3 repeat 0, 1
    assert distinct_seatings(6, 3) == [(0, 1, 2, 0, 1, 2), (1, 2, 0, 1, 2, 0), (2, 0, 1, 2, 0, 1)]
    assert len(distinct_seatings(3, 2)) == 3 and len(distinct_seatings(5, 3)) == 5
    assert len(distinct_seatings(3, 4)) == 4
    for players in range(3, 9):
        for n in range(2, 10):
            seatings = distinct_seatings(players, n)
            # every agent holds every seat equally often over the distinct seatings
            for k in range(n):
                per_seat = {sum(1 for st in seatings if st[s] == k) for s in range(players)}
                assert len(per_seat) == 1, (players, n, k)


def test_reused_seatings_are_counted_once_everywhere() -> None:
    """2 agents at 4 seats: rotations r and r + 2 seat them alike. Each deal
    counts its 2 distinct seatings once in wins/ties, seats, OpenSkill and Elo,
    checked against the same rounds replayed by hand."""
    agents, deals, seed = [Lowest(), Highest()], 5, 6
    report = play_duplicate(agents, 4, 2, deals, seed=seed, progress=False)
    assert report.rounds == 20 and report.played == 10  # schedule 5 x 4, counted 5 x 2
    wins = [[0, 0], [0, 0]]
    ties = [[0, 0], [0, 0]]
    skill = OpenSkillRatings(2)
    for d in range(deals):
        for seating in distinct_seatings(4, 2):
            r = arena_deal(4, 2, d, seed)
            while not r.is_over:
                r.apply(agents[seating[r.current_player]].act(r))
            mean = [
                sum(sc for sc, k in zip(r.scores, seating) if k == agent) / 2 for agent in (0, 1)
            ]
            if mean[0] == mean[1]:
                ties[0][1] += 1
                ties[1][0] += 1
            else:
                winner = int(mean[1] > mean[0])
                wins[winner][1 - winner] += 1
            skill.update([0, 1], mean)
    assert report.wins == wins and report.ties == ties
    h = report.pair(0, 1)
    assert h.shared_rounds == 10 and (h.wins, h.ties, h.losses) == (
        wins[0][1],
        ties[0][1],
        wins[1][0],
    )
    assert [a.rounds for a in report.agents] == [10, 10]
    assert [a.seat_rounds for a in report.agents] == [20, 20]
    assert [(a.mu, a.sigma) for a in report.agents] == [(r.mu, r.sigma) for r in skill.ratings]
    assert [a.elo for a in report.agents] == pytest.approx(elo_from_pairwise(wins, ties))
    # the per-deal scores are those of the full schedule (each seating was repeated alike)
    assert all(len(row) == 2 for row in report.per_deal) and len(report.per_deal) == deals


def test_heuristic_beats_random_clearly() -> None:
    report = play_duplicate(
        [Agent.heuristic(), Agent.random(seed=2)], 4, 5, 100, seed=3, progress=False
    )
    assert report.rounds == 400
    heur, rand = report.agents
    h = report.pair(0, 1)
    # Measured: about +4 points a round, +-0.8. The threshold leaves room
    # for any seed but not for a broken arena or agent.
    assert h.mean_diff > 2.5 and report.clearly_ahead(0, 1)
    assert heur.mean - rand.mean == pytest.approx(h.mean_diff)
    assert h.wins > 3 * h.losses
    assert heur.mu > rand.mu and heur.elo > rand.elo + 100
    assert heur.bid_rate > rand.bid_rate


def test_more_agents_than_seats() -> None:
    agents = [Agent.random(seed=k) for k in range(7)]
    report = play_duplicate(agents, 3, 1, 2, seed=4, progress=False)
    assert report.rotations == 7 and report.rounds == 14
    for a in report.agents:
        assert a.seat_rounds == 6 and a.rounds == 6  # every seat of both deals once
    # Cyclic distance 3 >= 3 seats: agents 0 and 3 never share a round...
    assert report.pair(0, 3).shared_rounds == 0
    assert report.pair(0, 1).shared_rounds == 2 * 2  # rotations 0 and 6 of both deals
    # ... but still compare on whole deals.
    assert report.pair(0, 3).mean_diff == pytest.approx(
        sum(r[0] - r[3] for r in report.per_deal) / 2
    )


def test_all_table_sizes_and_progress_callback() -> None:
    for players in range(3, 9):
        calls: list[tuple[int, int]] = []
        report = play_duplicate(
            [Agent.heuristic(), Agent.random(1), Lowest()],
            players,
            2,
            1,
            seed=players,
            progress=False,
            on_round=lambda done, total, calls=calls: calls.append((done, total)),
        )
        counted = len(distinct_seatings(players, 3))  # 3 when 3 divides players, else players
        assert counted == (3 if players % 3 == 0 else players)
        assert calls == [(i + 1, counted) for i in range(counted)]
        assert sum(a.seat_rounds for a in report.agents) == players * counted


def test_report_json_round_trip_and_text(tmp_path: Path) -> None:
    report = play_duplicate(
        [Agent.heuristic(), Agent.random(seed=1)], 3, 2, 1, seed=0, progress=False
    )
    assert report.agents[0].ci95 is None  # one deal: no interval
    text = report.to_json()
    data = json.loads(text)
    assert data["format"] == "blobmaster-arena" and data["agents"][1]["name"] == "random"
    assert ArenaReport.from_json(text) == report
    report = play_duplicate(
        [Agent.heuristic(), Agent.random(seed=1)], 3, 2, 4, seed=0, progress=False
    )
    again = ArenaReport.from_json(report.save(tmp_path / "r.json").read_text())
    assert again == report and again.to_dict() == report.to_dict()
    assert again.pair(0, 1).ci95 == report.pair(0, 1).ci95 and math.isfinite(again.agents[0].elo)
    shown = str(report)
    assert "heuristic" in shown and "head to head" in shown and "rounds" in shown
    with pytest.raises(ValueError, match="not a blobmaster arena report"):
        ArenaReport.from_dict({**report.to_dict(), "format": "other"})


def test_agent_names_are_shown_as_written() -> None:
    """Names are not rich markup: ``:100:`` is not an emoji, ``[b]`` not a style."""

    class Named(Lowest):
        name = "model:runs/[b]/m.pt:ismcts:100:network"

    report = play_duplicate([Named(), Highest()], 3, 2, 2, seed=0, progress=False)
    shown = str(report)
    assert shown.count(Named.name) == 2  # the agents' table and the pair's row


def test_same_seed_same_report() -> None:
    def run() -> ArenaReport:
        agents = [
            Agent.rollout_mcts({"determinizations": 1, "simulations": 8}, seed=3),
            Agent.random(seed=4),
        ]
        return play_duplicate(agents, 3, 2, 2, seed=9, progress=False)

    a, b = run(), run()
    a.seconds = b.seconds = 0.0
    assert a == b


def test_bad_arena_input() -> None:
    two = [Agent.heuristic(), Agent.random(1)]
    for kwargs, match in (
        ({"agents": two[:1]}, "at least 2 agents"),
        ({"agents": [Agent.heuristic(), object()]}, "no act"),
        ({"num_players": 9}, "num_players"),
        ({"num_players": 2}, "num_players"),
        ({"num_players": 5, "cards": 11}, "more than the 52"),
        ({"cards": 0}, "cards"),
        ({"deals": 0}, "deals"),
        ({"seed": -1}, "seed"),
        ({"num_players": 3.0}, "integer"),
    ):
        args = {"agents": two, "num_players": 4, "cards": 3, "deals": 1, "seed": 0, **kwargs}
        with pytest.raises(ArenaError, match=match):
            play_duplicate(**args, progress=False)
    with pytest.raises(ArenaError, match=r"agent 1 \(cheater\).*illegal action 99"):
        play_duplicate([Agent.heuristic(), Cheater()], 3, 1, 1, progress=False)
    with pytest.raises(ValueError, match="unknown agent spec"):
        evaluate_specs(["heuristic", "grandmaster"], deals=1, progress=False)
    with pytest.raises(ArenaError, match="at least 2"):
        evaluate_specs(["heuristic"], deals=1, progress=False)


# ----------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_model(
        default_model(seed=1, config=ModelConfig.tiny()),
        tmp_path_factory.mktemp("arena") / "tiny.pt",
    )


def test_cli_eval_end_to_end(tmp_path: Path, tiny_model: Path) -> None:
    out = tmp_path / "report.json"
    args = [
        "eval",
        "--agent",
        "heuristic",
        "--agent",
        "random",
        "--agent",
        f"model:{tiny_model}:light",
    ]
    args += [
        "--players",
        "3",
        "--cards",
        "2",
        "--deals",
        "2",
        "--seed",
        "4",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "heuristic" in result.output and "head to head" in result.output
    report = ArenaReport.from_json(out.read_text())
    assert report.rounds == 6 and [a.name for a in report.agents] == [
        "heuristic",
        "random",
        "model:tiny.pt:light",
    ]
    assert report.agents[2].info["spec"] == f"model:{tiny_model}:light"
    # The same command again gives the same numbers (seeded agents and deals).
    # --json: the report on stdout instead of the table (and no file without --out).
    again = CliRunner().invoke(app, [*args[:-4], "--json", "--device", "cpu"])
    assert again.exit_code == 0, again.output
    assert ArenaReport.from_json(again.stdout).per_deal == report.per_deal


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--agent", "heuristic"], "at least 2 agents"),
        (["--agent", "heuristic", "--agent", "wizard"], "unknown agent spec 'wizard'"),
        (["--agent", "heuristic", "--agent", "rollout:gigantic"], "unknown config 'gigantic'"),
        (["--agent", "heuristic", "--agent", "model:/no/such.pt"], "model file not found"),
        (["--agent", "heuristic", "--agent", "random", "--players", "9"], "--players must be 3..8"),
        (["--agent", "heuristic", "--agent", "random", "--players", "5", "--cards", "11"], "52"),
        (["--agent", "heuristic", "--agent", "random", "--deals", "0"], "deals"),
        (["--agent", "heuristic", "--agent", "random", "--out", "/no/such/dir/r.json"], "--out"),
        (["--agent", "heuristic", "--agent", "random", "--out", "/"], "is a folder"),
        (["--agent", "heuristic", "--agent", "random", "--torch-threads", "-1"], "--torch-threads"),
        (["--agent", "heuristic", "--agent", "default", "--device", "tpu"], "device"),
    ],
)
def test_cli_eval_bad_input(extra: list[str], match: str) -> None:
    result = CliRunner().invoke(
        app, ["eval", *extra, "--deals" if "--deals" not in extra else "--seed", "1"]
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("blobmaster: error: ")
    assert match in lines[0]


@pytest.mark.slow
def test_rollout_search_beats_random_and_the_network_agent_runs_at_every_table_size(
    tiny_model: Path,
) -> None:
    search = Agent.rollout_mcts("medium", seed=1)
    report = play_duplicate([search, Agent.random(seed=2)], 4, 5, 150, seed=11, progress=False)
    assert report.clearly_ahead(0, 1) and report.pair(0, 1).mean_diff > 2.5
    net = Agent.load(tiny_model, search="light", device="cpu", seed=3)
    for players in range(3, 9):
        r = play_duplicate(
            [net, Agent.heuristic(), Agent.random(4)],
            players,
            min(13, 52 // players),
            1,
            seed=players,
            progress=False,
        )
        assert r.rounds == players
