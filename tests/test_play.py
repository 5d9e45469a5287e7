"""`blobmaster play`: the terminal table, driven by scripted standard input."""

from __future__ import annotations

import io
import itertools
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster.cli import app
from blobmaster.play import EXIT_ABANDONED, run_command
from blobmaster.table import Table, TableSettings


def person_moves(settings: TableSettings) -> list[str]:
    """What the person types in a game where they always make their first
    legal move, found by playing the same seeded game with the same
    (deterministic) agent."""
    table = Table(settings, bm.Agent.heuristic())
    typed = []
    while not table.is_over:
        if table.person_to_move:
            action = table.round.legal_actions()[0]
            typed.append(
                str(action - bm.BID_OFFSET) if action >= bm.BID_OFFSET else bm.card_name(action)
            )
            table.play_person(action)
        else:
            table.play_agent()
    return typed


def final_totals(settings: TableSettings) -> list[int]:
    table = Table(settings, bm.Agent.heuristic())
    while not table.is_over:
        if table.person_to_move:
            table.play_person(table.round.legal_actions()[0])
        else:
            table.play_agent()
    return table.totals


def shown_totals(text: str) -> list[int]:
    """The numbers of the last scoreboard's total row."""
    rows = re.findall(r"^\W*total\b(.*)$", text, flags=re.MULTILINE)
    return [int(x) for x in re.findall(r"\d+", rows[-1])]


def scripted(lines: list[str]) -> tuple[io.StringIO, Console, list[str]]:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, highlight=False)
    prompts: list[str] = []
    feed = iter(lines)

    def read_line(prompt: str) -> str:
        prompts.append(prompt)
        console.print(prompt, end="")
        try:
            line = next(feed)
        except StopIteration:
            raise EOFError from None
        console.print(line)
        return line

    return out, console, prompts, read_line  # type: ignore[return-value]


def test_a_round_with_bad_input_and_commands_in_between() -> None:
    settings = TableSettings(players=4, cards=3, one_round=True, seed=7).checked()
    moves = person_moves(settings)
    assert len(moves) == 4  # one bid, three cards
    bid, first_card, *rest = moves
    # before the bid: junk, a card, an impossible bid; before the first card: a
    # number, a card name that is not one, and the commands
    script = ["zz", "QH", "9", bid, "3", "1S", "help", "hint", "score", "last", first_card, *rest]
    out, console, prompts, read_line = scripted(script)
    code = run_command(
        players=4, cards=3, one_round=True, seed=7, agent="heuristic",
        console=console, read_line=read_line,
    )  # fmt: skip
    text = out.getvalue()
    assert code == 0
    assert "Not allowed: 'zz' is not a bid: type a number from 0 to 3." in text
    assert "Not allowed: 'QH' is not a bid" in text
    assert "Not allowed: you cannot bid 9: there are only 3 tricks." in text
    assert "Not allowed: bidding is over: play a card" in text
    assert "Not allowed: '1S' is not a card: type rank then suit" in text
    assert "Commands: hint" in text and "Hint (agent's policy for you):" in text
    assert "Scoreboard" in text and "No trick has been played yet." in text
    assert f"You bid {bid}." in text and f"You play {first_card}." in text
    assert prompts[0].startswith("Your bid (0-3") and prompts[-1] == "Your card > "
    assert len(prompts) == len(script)  # every refused line was asked again
    assert text.count("wins the trick.") + text.count("You win the trick.") == 3
    totals = final_totals(settings)
    winners = [s for s in range(4) if totals[s] == max(totals)]
    names = ["You" if s == 0 else f"Agent {s}" for s in winners]
    assert f"Game over. Winner: {', '.join(names)}." in text
    assert shown_totals(text) == totals


def test_hand_is_shown_sorted_by_suit_with_trump_marked() -> None:
    settings = TableSettings(players=4, cards=5, one_round=True, seed=3).checked()
    table = Table(settings, bm.Agent.heuristic())
    hand = [bm.card_name(c) for c in table.round.hands[0]]
    out, console, _, read_line = scripted([])
    code = run_command(
        players=4, cards=5, one_round=True, seed=3, agent="heuristic",
        console=console, read_line=read_line,
    )  # fmt: skip
    assert code == EXIT_ABANDONED
    text = out.getvalue()
    assert "Input ended." in text and "Game abandoned." in text
    line = next(x for x in text.splitlines() if x.startswith("Your hand:"))
    shown = re.findall(r"\b(?:10|[2-9JQKA])[SHCD]\b", line)
    assert sorted(shown) == sorted(hand)
    order = "SHCD"
    suits = [order.index(c[-1]) for c in shown]
    assert suits == sorted(suits)
    ranks = "23456789TJQKA"
    for a, b in itertools.pairwise(shown):
        if a[-1] == b[-1]:
            assert ranks.index(a[:-1].replace("10", "T")) > ranks.index(b[:-1].replace("10", "T"))
    assert "♠ (trump)" in line and line.count("(trump)") == 1


def test_a_full_game_through_the_command_line() -> None:
    settings = TableSettings(players=3, cards=2, seed=5).checked()
    moves = person_moves(settings)
    result = CliRunner().invoke(
        app,
        ["play", "--players", "3", "--cards", "2", "--seed", "5", "--agent", "heuristic"],
        input="\n".join(moves) + "\n",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # the schedule 2, 1, 1, 1, 2: five rounds, each with its result table
    for i in range(1, 6):
        assert f"Round {i}/5" in out and f"Round {i} result" in out
    assert "Seed 5 (pass --seed 5 to replay this deal)." in out
    assert "Game over. Winner:" in out
    totals = final_totals(settings)
    assert shown_totals(out) == totals


def test_quit_abandons_the_game() -> None:
    result = CliRunner().invoke(
        app, ["play", "--one-round", "--seed", "1", "--agent", "heuristic"], input="quit\n"
    )
    assert result.exit_code == EXIT_ABANDONED
    assert "Game abandoned." in result.output


def test_hint_option_shows_the_policy_of_the_built_in_network() -> None:
    result = CliRunner().invoke(
        app,
        ["play", "--one-round", "--cards", "3", "--seed", "2", "--hint", "--search", "light"],
        input="",
    )
    assert result.exit_code == EXIT_ABANDONED, result.output
    assert "Agents: default:light." in result.output
    hint = re.search(r"Hint \(agent's policy for you\): (.*)", result.output)
    assert hint
    shares = [int(p) for p in re.findall(r"(\d+)%", hint.group(1))]
    assert len(shares) == 4 and 97 <= sum(shares) <= 103  # bids 0..3, rounded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--players", "9"], "players must be 3..8"),
        (["--cards", "14"], "cards must be 1..13"),
        (["--seat", "4"], "seat must be 0..3"),
        (["--agent", "nonsense"], "unknown agent spec"),
        (["--search", "extreme"], "search"),
        (["--model", "/nonexistent/net.pt"], "net.pt"),
        (["--seed", "-1"], "--seed must be"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["play", *args], input="")
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("blobmaster: error:")]
    assert len(lines) == 1 and message in lines[0]
