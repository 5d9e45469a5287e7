"""A table where a person plays one seat against agents: the game session
shared by the terminal (``blobmaster play``) and the browser
(``blobmaster serve``) front ends.

A :class:`Table` holds a full :class:`~blobmaster.Game` (or one
:class:`~blobmaster.Round`), knows whose turn it is, applies the person's
moves (checked, with a reason a person can read when illegal) and the
agents' moves, and keeps a public log of every move, the finished tricks and
the finished rounds.

**Only what the person's seat may see.** :meth:`Table.view` is built from
the person's own hand and public information (bids, played cards, tricks,
hand sizes, scores); no other hand is ever read into it. The agents choose
from their own seat's information (see :mod:`blobmaster.agents`). A Table is
not thread-safe: a front end serialises the calls for one table.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any, Literal, cast

from blobmaster._core import (
    BID_OFFSET,
    MAX_CARDS,
    MAX_PLAYERS,
    MIN_PLAYERS,
    Game,
    IllegalActionError,
    InvalidArgumentError,
    Round,
    card_index,
    card_name,
)

__all__ = [
    "SUIT_LETTERS",
    "SUIT_NAMES",
    "SUIT_SYMBOLS",
    "Event",
    "NotYourTurnError",
    "RoundResult",
    "Table",
    "TableError",
    "TableSettings",
    "Trick",
    "action_label",
    "make_agent",
    "sort_hand",
    "warm_up",
]

SUIT_LETTERS = ("S", "H", "C", "D")
SUIT_NAMES = ("spades", "hearts", "clubs", "diamonds")
SUIT_SYMBOLS = ("♠", "♥", "♣", "♦")
_RANKS = 13


class TableError(ValueError):
    """A move or setting the table refuses; the message is for the person."""


class NotYourTurnError(TableError):
    """A move asked of a seat that is not to move (the person's or an agent's)."""


def sort_hand(cards: list[int]) -> list[int]:
    """Cards grouped by suit (spades, hearts, clubs, diamonds), high to low in a suit."""
    return sorted(cards, key=lambda c: (c // _RANKS, -(c % _RANKS)))


def action_label(action: int) -> str:
    """``bid 2`` for a bid, the card name (``QH``) for a card."""
    return f"bid {action - BID_OFFSET}" if action >= BID_OFFSET else card_name(action)


def _trump_name(trump: int | None) -> str:
    return "no trump" if trump is None else SUIT_NAMES[trump]


@dataclasses.dataclass(frozen=True)
class TableSettings:
    """What game to play: ``players`` seats, ``cards`` the starting hand size
    of a full game (or the hand size of the one round when ``one_round``),
    the person at ``seat``. ``dealer`` None puts the dealer at the person's
    right, so the person bids first in the first round. ``trump`` (suit
    index or None) is used in one-round mode only: a full game rotates it."""

    players: int = 4
    cards: int = 5
    seat: int = 0
    one_round: bool = False
    dealer: int | None = None
    trump: int | None = 0
    seed: int | None = None

    def checked(self) -> TableSettings:
        """These settings with the defaults filled in; TableError if any is out of range."""
        for name in ("players", "cards", "seat"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TableError(f"{name} must be an integer, got {value!r}")
        if not MIN_PLAYERS <= self.players <= MAX_PLAYERS:
            raise TableError(f"players must be {MIN_PLAYERS}..{MAX_PLAYERS}, got {self.players}")
        most = min(MAX_CARDS, 52 // self.players)
        if not 1 <= self.cards <= most:
            raise TableError(
                f"cards must be 1..{most} for {self.players} players, got {self.cards}"
            )
        if not 0 <= self.seat < self.players:
            raise TableError(f"seat must be 0..{self.players - 1}, got {self.seat}")
        dealer = (self.seat - 1) % self.players if self.dealer is None else self.dealer
        if isinstance(dealer, bool) or not isinstance(dealer, int):
            raise TableError(f"dealer must be an integer, got {dealer!r}")
        if not 0 <= dealer < self.players:
            raise TableError(f"dealer must be 0..{self.players - 1}, got {dealer}")
        if self.trump is not None and self.trump not in range(4):
            raise TableError(f"trump must be a suit index 0..3 or None, got {self.trump!r}")
        seed = secrets.randbits(64) if self.seed is None else self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise TableError(f"seed must be an integer in 0..2**64-1, got {seed!r}")
        return dataclasses.replace(self, dealer=dealer, seed=seed)


@dataclasses.dataclass(frozen=True)
class Trick:
    """A finished trick: (seat, card) in play order and the winning seat."""

    cards: tuple[tuple[int, int], ...]
    winner: int

    def to_json(self) -> dict[str, Any]:
        return {
            "cards": [{"seat": s, "card": card_name(c)} for s, c in self.cards],
            "winner": self.winner,
        }


@dataclasses.dataclass(frozen=True)
class RoundResult:
    """A finished round, all public: bids, tricks won and round scores."""

    round_index: int
    cards: int
    trump: int | None
    dealer: int
    bids: tuple[int, ...]
    tricks_won: tuple[int, ...]
    scores: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "round_index": self.round_index,
            "cards": self.cards,
            "trump": None if self.trump is None else SUIT_LETTERS[self.trump],
            "trump_name": _trump_name(self.trump),
            "dealer": self.dealer,
            "bids": list(self.bids),
            "tricks_won": list(self.tricks_won),
            "scores": list(self.scores),
        }


@dataclasses.dataclass(frozen=True)
class Event:
    """One move, public to every seat. ``trick`` is set when the move (a
    card) finished a trick, ``round_result`` when it finished the round."""

    index: int
    round_index: int
    seat: int
    action: int
    trick: Trick | None = None
    round_result: RoundResult | None = None

    @property
    def kind(self) -> Literal["bid", "card"]:
        return "bid" if self.action >= BID_OFFSET else "card"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "round_index": self.round_index,
            "seat": self.seat,
            "kind": self.kind,
        }
        if self.kind == "bid":
            out["bid"] = self.action - BID_OFFSET
        else:
            out["card"] = card_name(self.action)
        out["trick"] = None if self.trick is None else self.trick.to_json()
        out["round_result"] = None if self.round_result is None else self.round_result.to_json()
        return out


class Table:
    """One game between a person (``settings.seat``) and ``agent`` (which
    plays every other seat). See the module docstring."""

    def __init__(self, settings: TableSettings, agent: Any) -> None:
        self.settings = settings.checked()
        s = self.settings
        dealer = cast(int, s.dealer)  # checked() filled it in
        self.agent = agent
        self.seat = s.seat
        self.players = s.players
        if s.one_round:
            self._game: Game | None = None
            try:
                self._round: Round | None = Round(
                    s.players, s.cards, dealer=dealer, trump=s.trump, seed=s.seed
                )
            except InvalidArgumentError as e:
                raise TableError(str(e)) from None
        else:
            self._round = None
            try:
                self._game = Game(s.players, s.cards, first_dealer=dealer, seed=s.seed)
            except InvalidArgumentError as e:
                raise TableError(str(e)) from None
        self.events: list[Event] = []
        self.tricks: list[Trick] = []
        """Every finished trick of the game, in order."""
        self.results: list[RoundResult] = []
        """Every finished round, in order."""

    @classmethod
    def from_round(cls, round: Round, agent: Any, *, seat: int = 0) -> Table:
        """A one-round table that starts from a copy of ``round`` (for
        hand-made deals and puzzles); the person plays ``seat``."""
        if not isinstance(round, Round):
            raise TableError(f"expected a blobmaster.Round, got {type(round).__name__}")
        settings = TableSettings(
            players=round.num_players,
            cards=round.cards,
            seat=seat,
            one_round=True,
            dealer=round.dealer,
            trump=round.trump,
            seed=0,
        )
        table = cls(settings, agent)
        table._round = round.clone()
        return table

    # ------------------------------------------------------------------ state

    @property
    def round(self) -> Round:
        """A copy of the current round (the last one once the game is over)."""
        return self._game.round if self._game is not None else self._single_round().clone()

    def _single_round(self) -> Round:
        """The round of a one-round table (there is no game)."""
        if self._round is None:
            raise RuntimeError("a table has either a game or a single round")
        return self._round

    @property
    def round_index(self) -> int:
        if self._game is not None:
            return min(self._game.round_index, len(self._game.schedule) - 1)
        return 0

    @property
    def schedule(self) -> list[int]:
        return self._game.schedule if self._game is not None else [self.settings.cards]

    @property
    def is_over(self) -> bool:
        return self._game.is_over if self._game is not None else self._single_round().is_over

    @property
    def to_move(self) -> int | None:
        """The seat to move, None once the game is over."""
        return None if self.is_over else self.round.current_player

    @property
    def person_to_move(self) -> bool:
        return self.to_move == self.seat

    @property
    def totals(self) -> list[int]:
        if self._game is not None:
            return self._game.totals
        return list(self._single_round().scores or [0] * self.players)

    @property
    def winners(self) -> list[int]:
        """Seats with the highest total once the game is over, else empty."""
        if not self.is_over:
            return []
        best = max(self.totals)
        return [s for s, t in enumerate(self.totals) if t == best]

    def name(self, seat: int | None) -> str:
        """``You`` for the person, ``Agent k`` for the seat k places to the person's left."""
        if seat is None:
            return "nobody (the game is over)"
        return "You" if seat == self.seat else f"Agent {(seat - self.seat) % self.players}"

    @property
    def current_trick(self) -> list[tuple[int, int]]:
        return [] if self.is_over else self.round.current_trick

    # ------------------------------------------------------------------ moves

    def parse(self, text: str) -> int:
        """The person's typed move as an action: a number is a bid, anything
        else a card name (``QH``, ``10s``, ``qh``). TableError says why not."""
        if self.is_over:
            raise TableError("the game is over")
        cleaned = text.strip()
        if not cleaned:
            raise TableError("type a bid (a number) or a card (e.g. QH, 10s)")
        r = self.round
        if r.phase == "bid":
            if not cleaned.isdigit():
                raise TableError(f"{cleaned!r} is not a bid: type a number from 0 to {r.cards}")
            if len(cleaned) > 2:  # int() of thousands of digits raises
                shown = cleaned if len(cleaned) <= 8 else cleaned[:8] + "..."
                raise TableError(f"you cannot bid {shown}: that is far more than {r.cards}")
            return BID_OFFSET + int(cleaned)
        if cleaned.isdigit():
            raise TableError(f"bidding is over: play a card (e.g. {self._example_card(r)})")
        try:
            return card_index(cleaned)
        except InvalidArgumentError:
            raise TableError(
                f"{cleaned!r} is not a card: type rank then suit, e.g. QH, 10s, as"
            ) from None

    def _example_card(self, r: Round) -> str:
        # Only the person's own legal cards may serve as the example.
        legal = r.legal_actions() if r.current_player == self.seat else []
        return card_name(legal[0]) if legal and legal[0] < BID_OFFSET else "QH"

    def check_person(self, action: int) -> None:
        """TableError (with a reason a person can act on) unless ``action``
        is a legal move of the person now."""
        if self.is_over:
            raise TableError("the game is over")
        r = self.round
        if r.current_player != self.seat:
            raise NotYourTurnError(f"it is not your turn: {self.name(r.current_player)} is to move")
        if action in r.legal_actions():
            return
        if r.phase == "bid":
            if action < BID_OFFSET:
                raise TableError(f"it is time to bid: type a number from 0 to {r.cards}")
            bid = action - BID_OFFSET
            if bid > r.cards:
                raise TableError(
                    f"you cannot bid {bid}: there {'is' if r.cards == 1 else 'are'} only "
                    f"{r.cards} trick{'' if r.cards == 1 else 's'}"
                )
            total = sum(b for b in r.bids if b is not None) + bid
            raise TableError(
                f"as the dealer you may not bid {bid}: the bids would add up to {total}, "
                f"the number of cards dealt"
            )
        if action >= BID_OFFSET:
            raise TableError("bidding is over: play a card")
        hand = r.hands[self.seat]
        if action not in hand:
            raise TableError(f"you do not hold {card_name(action)}")
        led = r.current_trick[0][1] // _RANKS
        raise TableError(
            f"you must follow suit: {SUIT_NAMES[led]} were led and you hold "
            + " ".join(card_name(c) for c in sort_hand(hand) if c // _RANKS == led)
        )

    def play_person(self, move: int | str) -> Event:
        """Applies the person's move (an action or typed text)."""
        if not self.is_over and not self.person_to_move:
            raise NotYourTurnError(f"it is not your turn: {self.name(self.to_move)} is to move")
        action = self.parse(move) if isinstance(move, str) else move
        if isinstance(action, bool) or not isinstance(action, int):
            raise TableError(f"a move must be an action number or text, got {move!r}")
        self.check_person(action)
        return self._apply(action)

    def play_agent(self) -> Event:
        """Asks the agent for the move of the seat to move (not the person's)."""
        if self.is_over:
            raise NotYourTurnError("the game is over")
        r = self.round
        if r.current_player == self.seat:
            raise NotYourTurnError("it is the person's turn, not an agent's")
        return self._apply(self.agent.act(r))

    def play_agents(self) -> list[Event]:
        """Agent moves until it is the person's turn or the game is over."""
        events = []
        while not self.is_over and not self.person_to_move:
            events.append(self.play_agent())
        return events

    def hint(self, agent: Any = None) -> list[tuple[int, float]]:
        """The policy of ``agent`` (default: the table's) for the person's
        move, most likely first; computed from the person's seat only."""
        if not self.person_to_move:
            raise NotYourTurnError("a hint is for your own move: it is not your turn")
        policy = (agent or self.agent).policy(self.round)
        return sorted(policy.items(), key=lambda item: (-item[1], item[0]))

    def _apply(self, action: int) -> Event:
        before = self.round
        seat = before.current_player
        if seat is None:
            raise TableError("the game is over")
        after = before.clone()
        try:
            after.apply(action)  # the engine is the authority; the table is unchanged on error
        except IllegalActionError as e:
            raise TableError(str(e)) from None
        trick = result = None
        if len(after.trick_winners) > len(before.trick_winners):
            trick = Trick(tuple([*before.current_trick, (seat, action)]), after.trick_winners[-1])
            self.tricks.append(trick)
        if after.is_over:
            result = RoundResult(
                self.round_index,
                after.cards,
                after.trump,
                after.dealer,
                cast("tuple[int, ...]", tuple(after.bids)),  # all bid by the end
                tuple(after.tricks_won),
                tuple(after.scores or ()),
            )
            self.results.append(result)
        event = Event(len(self.events), self.round_index, seat, action, trick, result)
        if self._game is not None:
            self._game.apply(action)
        else:
            self._single_round().apply(action)
        self.events.append(event)
        return event

    # ------------------------------------------------------------------ view

    @staticmethod
    def _hand_sizes(r: Round) -> list[int]:
        # From public facts (tricks finished, who is in the current trick),
        # so the view never reads another seat's hand, not even its length.
        in_trick = {s for s, _ in r.current_trick}
        done = len(r.trick_winners)
        return [r.cards - done - (s in in_trick) for s in range(r.num_players)]

    def view(self, since: int = 0) -> dict[str, Any]:
        """What the person's seat may see, as JSON-ready data: own hand,
        public state, and the public events from index ``since`` on."""
        r = self.round
        over = self.is_over
        mine = self.person_to_move
        legal = r.legal_actions() if mine else []
        trump = r.trump
        last_trick = self.tricks[-1].to_json() if self.tricks else None
        return {
            "seat": self.seat,
            "players": self.players,
            "names": [self.name(s) for s in range(self.players)],
            "mode": "round" if self._game is None else "game",
            "round_index": self.round_index,
            "rounds": len(self.schedule),
            "schedule": self.schedule,
            "cards": r.cards,
            "trump": None if trump is None else SUIT_LETTERS[trump],
            "trump_name": _trump_name(trump),
            "dealer": r.dealer,
            "phase": "over" if over else r.phase,
            "to_move": None if over else r.current_player,
            "your_turn": mine,
            "hand": [card_name(c) for c in sort_hand(r.hands[self.seat])],
            "hand_sizes": self._hand_sizes(r),
            "legal_bids": [a - BID_OFFSET for a in legal if a >= BID_OFFSET],
            "legal_cards": [card_name(a) for a in sort_hand([a for a in legal if a < BID_OFFSET])],
            "bids": r.bids,
            "tricks_won": r.tricks_won,
            "trick": [{"seat": s, "card": card_name(c)} for s, c in self.current_trick],
            "last_trick": last_trick,
            "totals": self.totals,
            "results": [res.to_json() for res in self.results],
            "events": [e.to_json() for e in self.events[max(0, since) :]],
            "event_count": len(self.events),
            "over": over,
            "winners": self.winners,
        }


def make_agent(
    model: str | None = None,
    *,
    search: str = "light",
    agent: str | None = None,
    device: str = "cpu",
    seed: int | None = None,
) -> Any:
    """The agents' player for a table: ``agent`` (a spec such as
    ``heuristic``, see :func:`blobmaster.agent_specs.parse_agent_spec`) when
    given, else the network in ``model`` (None: the built-in one, whatever
    :meth:`Agent.load` returns) with the ``search`` preset. Raises
    :class:`blobmaster.AgentError`."""
    from blobmaster.agents import Agent

    if agent is not None:
        return Agent.from_spec(agent, device=device, seed=seed)
    return Agent.load(model, search=search, device=device, seed=seed)


def warm_up(agent: Any) -> None:
    """Asks ``agent`` for two moves on throwaway deals, so that the first
    move of a real game does not pay for the network's first calls (its
    warm-up took seconds on a 2-core CPU)."""
    for seed in (0, 1):
        agent.act(Round(4, 5, seed=seed))
