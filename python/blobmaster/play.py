"""``blobmaster play``: a person plays a table (:mod:`blobmaster.table`)
against agents in the terminal, with rich for colour and tables.

Reads one line per move: a bid is a number, a card is its name (``QH``,
``10s``, ``qh``). An illegal or unreadable move is refused with the reason
and asked again. ``help``, ``hint``, ``score``, ``last`` and ``quit`` are
commands. Input is read through a function, so tests drive it with scripted
lines; end of input abandons the game.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from blobmaster._core import BID_OFFSET
from blobmaster.table import (
    SUIT_LETTERS,
    SUIT_NAMES,
    SUIT_SYMBOLS,
    Event,
    RoundResult,
    Table,
    TableError,
    action_label,
)

__all__ = ["EXIT_ABANDONED", "TerminalTable", "play_in_terminal"]

EXIT_ABANDONED = 1
_SUIT_STYLES = ("bold", "bold red", "bold", "bold red")
_HELP = (
    "Type a bid as a number (e.g. 2) or a card as rank then suit (QH, 10s, as, td).\n"
    "Commands: hint (the agent's advice for your move), score (the scoreboard), "
    "last (the last trick), help, quit."
)


def card_text(name: str, *, dim: bool = False, bold: bool = False) -> Text:
    """A card name (``QH``) coloured by its suit."""
    style = _SUIT_STYLES[SUIT_LETTERS.index(name[-1])]
    if dim:
        style = "dim"
    elif bold:
        style += " underline"
    return Text(name, style=style)


class TerminalTable:
    """Runs one :class:`Table` to its end in a rich console."""

    def __init__(
        self,
        table: Table,
        console: Console,
        read_line: Callable[[str], str] | None = None,
        *,
        show_hint: bool = False,
    ) -> None:
        self.table = table
        self.console = console
        self.read_line = read_line or (lambda prompt: console.input(prompt))
        self.show_hint = show_hint

    # ------------------------------------------------------------- the loop

    def run(self) -> int:
        """Plays to the end; 0 when the game finished, EXIT_ABANDONED on quit
        or end of input."""
        t = self.table
        self.console.print(
            f"BlobMaster: you are seat {t.seat} at a table of {t.players}; "
            + ("one round." if t.settings.one_round else f"{len(t.schedule)} rounds.")
        )
        self.console.print(_HELP, style="dim")
        self._round_header()
        while not t.is_over:
            if t.person_to_move:
                if not self._person_turn():
                    self.console.print("Game abandoned.")
                    return EXIT_ABANDONED
            else:
                self._show_event(t.play_agent())
        self._final()
        return 0

    def _person_turn(self) -> bool:
        """Asks until a legal move is made; False if the person quits."""
        self._show_state()
        if self.show_hint:
            self._hint()
        while True:
            try:
                line = self.read_line(self._prompt())
            except EOFError:
                self.console.print()
                self.console.print("Input ended.")
                return False
            command = line.strip().lower()
            if command in ("q", "quit", "exit"):
                return False
            if command in ("?", "h", "help"):
                self.console.print(_HELP)
            elif command == "hint":
                self._hint()
            elif command == "score":
                self._scoreboard()
            elif command == "last":
                self._last_trick()
            else:
                try:
                    event = self.table.play_person(line)
                except TableError as e:
                    self.console.print(f"Not allowed: {e}.", style="yellow", markup=False)
                    continue
                self._show_event(event)
                return True

    def _prompt(self) -> str:
        view = self.table.view(since=len(self.table.events))
        if view["phase"] == "bid":
            bids = view["legal_bids"]
            forbidden = sorted(set(range(view["cards"] + 1)) - set(bids))
            note = f", not {forbidden[0]}" if forbidden else ""
            return f"Your bid (0-{view['cards']}{note}) > "
        return "Your card > "

    # ------------------------------------------------------------- display

    def _round_header(self) -> None:
        view = self.table.view(since=len(self.table.events))
        trump = view["trump"]
        trump_text = (
            "no trump"
            if trump is None
            else f"{SUIT_SYMBOLS[SUIT_LETTERS.index(trump)]} {view['trump_name']}"
        )
        self.console.rule(
            f"Round {view['round_index'] + 1}/{view['rounds']}: {view['cards']} "
            f"card{'s' if view['cards'] != 1 else ''}, trump {trump_text}, "
            f"dealer {view['names'][view['dealer']]}"
        )

    def _show_state(self) -> None:
        view = self.table.view(since=len(self.table.events))
        names = view["names"]
        line = Text("Bids: ")
        for s in range(view["players"]):
            bid = view["bids"][s]
            line.append(f"{names[s]} {'-' if bid is None else bid}")
            if view["phase"] == "play":
                line.append(f" (won {view['tricks_won'][s]})")
            line.append("   ")
        if view["mode"] == "game":
            line.append("| Totals: " + "  ".join(str(x) for x in view["totals"]))
        self.console.print(line)
        trick = Text("Trick: ")
        if view["trick"]:
            for play in view["trick"]:
                trick.append(f"{names[play['seat']]} ")
                trick.append_text(card_text(play["card"]))
                trick.append("   ")
        else:
            trick.append("(you lead)" if view["phase"] == "play" else "(bidding)")
        self.console.print(trick)
        self.console.print(self._hand_text(view))

    def _hand_text(self, view: dict[str, Any]) -> Text:
        legal = set(view["legal_cards"])
        text = Text("Your hand: ")
        for suit, letter in enumerate(SUIT_LETTERS):
            cards = [c for c in view["hand"] if c[-1] == letter]
            trump = " (trump)" if view["trump"] == letter else ""
            text.append(f" {SUIT_SYMBOLS[suit]}{trump} ", style=_SUIT_STYLES[suit])
            if not cards:
                text.append("-")
            for name in cards:
                playing = view["phase"] == "play"
                text.append_text(
                    card_text(name, dim=playing and name not in legal, bold=name in legal)
                )
                text.append(" ")
            text.append("  ")
        return text

    def _show_event(self, event: Event) -> None:
        t = self.table
        who = t.name(event.seat)
        verb = "bid" if event.seat == t.seat else "bids"
        if event.kind == "bid":
            self.console.print(f"{who} {verb} {event.action - BID_OFFSET}.")
        else:
            line = Text(f"{who} {'play' if event.seat == t.seat else 'plays'} ")
            line.append_text(card_text(action_label(event.action)))
            line.append(".")
            self.console.print(line)
        if event.trick is not None:
            winner = t.name(event.trick.winner)
            self.console.print(
                f"  {winner} {'win' if event.trick.winner == t.seat else 'wins'} the trick.",
                style="cyan",
            )
        if event.round_result is not None:
            self._round_result(event.round_result)
            if not t.is_over:
                self._round_header()

    def _round_result(self, result: RoundResult) -> None:
        t = self.table
        table = RichTable(title=f"Round {result.round_index + 1} result")
        for column in ("seat", "bid", "won", "score", "total"):
            table.add_column(column, justify="left" if column == "seat" else "right")
        totals = t.totals
        for s in range(t.players):
            made = result.bids[s] == result.tricks_won[s]
            table.add_row(
                t.name(s),
                str(result.bids[s]),
                str(result.tricks_won[s]),
                Text(str(result.scores[s]), style="green" if made else "red"),
                str(totals[s]),
            )
        self.console.print(table)

    def _scoreboard(self) -> None:
        t = self.table
        table = RichTable(title="Scoreboard")
        table.add_column("round")
        table.add_column("cards", justify="right")
        table.add_column("trump")
        for s in range(t.players):
            table.add_column(t.name(s), justify="right")
        for res in t.results:
            table.add_row(
                str(res.round_index + 1),
                str(res.cards),
                "none" if res.trump is None else SUIT_NAMES[res.trump],
                *[f"{res.scores[s]} ({res.bids[s]}/{res.tricks_won[s]})" for s in range(t.players)],
            )
        table.add_row("total", "", "", *[str(x) for x in t.totals], style="bold")
        self.console.print(table)

    def _last_trick(self) -> None:
        if not self.table.tricks:
            self.console.print("No trick has been played yet.")
            return
        trick = self.table.tricks[-1]
        line = Text("Last trick: ")
        for seat, card in trick.cards:
            line.append(f"{self.table.name(seat)} ")
            line.append_text(card_text(action_label(card)))
            line.append("   ")
        line.append(f"won by {self.table.name(trick.winner)}")
        self.console.print(line)

    def _hint(self) -> None:
        policy = self.table.hint()
        line = Text("Hint (agent's policy for you): ")
        for action, p in policy[:6]:
            line.append(f"{action_label(action)} {p:.0%}   ")
        self.console.print(line, style="magenta")

    def _final(self) -> None:
        t = self.table
        self._scoreboard()
        winners = ", ".join(t.name(s) for s in t.winners)
        self.console.print(f"Game over. Winner: {winners}.", style="bold")


def play_in_terminal(
    table: Table,
    *,
    console: Console | None = None,
    read_line: Callable[[str], str] | None = None,
    show_hint: bool = False,
) -> int:
    """Plays ``table`` in the terminal; returns the exit status (0 finished)."""
    return TerminalTable(
        table, console or Console(highlight=False), read_line, show_hint=show_hint
    ).run()


def run_command(
    *,
    players: int = 4,
    cards: int = 5,
    seat: int = 0,
    one_round: bool = False,
    search: str = "light",
    model: str | None = None,
    agent: str | None = None,
    device: str = "cpu",
    seed: int | None = None,
    hint: bool = False,
    console: Console | None = None,
    read_line: Callable[[str], str] | None = None,
) -> int:
    """The body of ``blobmaster play``: checks the settings, builds the
    agents, plays. Raises TableError or AgentError for bad options."""
    from blobmaster.table import TableSettings, make_agent

    settings = TableSettings(
        players=players, cards=cards, seat=seat, one_round=one_round, seed=seed
    ).checked()
    console = console or Console(highlight=False)
    console.print(f"Seed {settings.seed} (pass --seed {settings.seed} to replay this deal).")
    opponents = make_agent(model, search=search, agent=agent, device=device, seed=settings.seed)
    console.print(f"Agents: {opponents.name}.")
    table = Table(settings, opponents)
    return play_in_terminal(table, console=console, read_line=read_line, show_hint=hint)
