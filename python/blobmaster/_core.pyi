"""Stubs for the native module ``blobmaster._core`` (crates/blob-py).

Hand-written: keep in step with the #[pymethods] in crates/blob-py/src.
Integers: seats, counts and card indices are plain ints; a negative or
out-of-range value raises InvalidArgumentError (a ValueError), a wrong type
raises TypeError.
"""

from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal, TypeAlias, final

import numpy as np
import numpy.typing as npt

_Phase: TypeAlias = Literal["bid", "play", "over"]
_Observation: TypeAlias = npt.NDArray[np.float32]

__version__: Final[str]
build_profile: Final[Literal["debug", "release"]]
"""How the extension was compiled; "debug" builds are much slower."""

BID_OFFSET: Final[int]
"""Bidding b tricks is action ``BID_OFFSET + b`` (52)."""
NUM_ACTIONS: Final[int]
"""Size of the action space: 52 cards then 14 bids (66)."""
OBS_SIZE: Final[int]
"""Length of an observation vector (256)."""
MIN_PLAYERS: Final[int]
MAX_PLAYERS: Final[int]
MAX_CARDS: Final[int]
"""Largest hand size (13)."""

class BlobError(ValueError):
    """Base class of every error the game raises for bad input (a ValueError)."""

class IllegalActionError(BlobError):
    """An action that is not legal in the current state; the message says why."""

class InvalidArgumentError(BlobError):
    """An argument out of range: player or card count, seat, card, suit, seed."""

def card_name(index: int) -> str:
    """The name of card ``index`` (0..51): rank then suit letter, e.g. "AS", "10H".

    Raises InvalidArgumentError for an index outside 0..51.
    """

def card_index(name: str) -> int:
    """The index (0..51) of a card name such as "AS", "10h" or "TD".

    Raises InvalidArgumentError for a string that is not a card name.
    """

@final
class Round:
    """One round of Blob: deal, bidding, trick play, scores.

    Deals ``cards`` cards to each of ``num_players`` seats (3..8 players,
    1..13 cards, at most 52 in all). ``trump`` is a suit index 0..3
    (spades, hearts, clubs, diamonds) or None for no-trump. ``seed`` makes
    the deal reproducible; None draws fresh entropy. Instances are mutable
    (``apply``), compare equal by full state (hidden hands included) and
    are not hashable.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __init__(
        self,
        num_players: int,
        cards: int,
        *,
        dealer: int = 0,
        trump: int | None = None,
        seed: int | None = None,
    ) -> None: ...
    @staticmethod
    def from_hands(
        hands: Sequence[Sequence[int]],
        *,
        dealer: int = 0,
        trump: int | None = None,
    ) -> Round:
        """A round with the given hands: one list of card indices per seat,
        all the same size, no card twice."""

    @property
    def num_players(self) -> int: ...
    @property
    def cards(self) -> int:
        """Cards dealt to each player this round."""

    @property
    def dealer(self) -> int: ...
    @property
    def trump(self) -> int | None:
        """The trump suit index 0..3, or None for no-trump."""

    @property
    def phase(self) -> _Phase:
        """"bid", "play" or "over"."""

    @property
    def current_player(self) -> int | None:
        """The seat to act, or None once the round is over."""

    @property
    def is_over(self) -> bool: ...
    @property
    def hands(self) -> list[list[int]]:
        """The cards each seat still holds, as sorted lists of card indices."""

    @property
    def bids(self) -> list[int | None]:
        """Each seat's bid, or None before it has bid."""

    @property
    def tricks_won(self) -> list[int]: ...
    @property
    def trick_winners(self) -> list[int]:
        """The winning seat of each finished trick, in order."""

    @property
    def current_trick(self) -> list[tuple[int, int]]:
        """The unfinished trick as (seat, card) pairs in play order."""

    @property
    def scores(self) -> list[int] | None:
        """The round score of every seat (10 + bid for an exact bid, else 0)
        once the round is over; None before."""

    def legal_actions(self) -> list[int]:
        """The legal action ids now, sorted; empty once the round is over."""

    def apply(self, action: int) -> None:
        """Plays an action (card index, or BID_OFFSET + bid).

        Raises IllegalActionError, leaving the round unchanged, if the action
        is not legal now (including any action once the round is over).
        """

    def observation(self, seat: int | None = None) -> _Observation:
        """The observation of ``seat``: float32 array of shape (OBS_SIZE,).

        ``seat`` None means the player to move; once the round is over there
        is none, and InvalidArgumentError asks for an explicit seat. Only
        what that seat may know is encoded (layout: docs/observation.md).
        """

    def determinize(self, observer: int, seed: int | None = None) -> Round:
        """A copy in which every hand but ``observer``'s is resampled
        consistently with what ``observer`` knows (hand sizes, cards played,
        voids). The public state and the observer's hand are unchanged."""

    def clone(self) -> Round:
        """An independent copy."""

    def __copy__(self) -> Round: ...
    def __deepcopy__(self, memo: Any, /) -> Round: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Game:
    """A full game: hand sizes C, C-1, ..., 2, then one 1-card round per
    player, then 2, ..., C; trump rotates spades, hearts, clubs, diamonds,
    no-trump; the dealer moves one seat left each round. Every deal follows
    from ``seed`` (None: fresh entropy)."""

    def __init__(
        self,
        num_players: int,
        start_cards: int,
        *,
        first_dealer: int = 0,
        seed: int | None = None,
    ) -> None: ...
    @property
    def num_players(self) -> int: ...
    @property
    def first_dealer(self) -> int: ...
    @property
    def round(self) -> Round:
        """A copy of the current round (the last one once the game is over);
        changing it does not change the game."""

    @property
    def round_index(self) -> int:
        """Index of the current round; equals len(schedule) once over."""

    @property
    def schedule(self) -> list[int]:
        """Cards per player in each round."""

    @property
    def totals(self) -> list[int]:
        """Running total score of each seat."""

    @property
    def round_scores(self) -> list[list[int]]:
        """The scores of every finished round, one list per round."""

    @property
    def current_player(self) -> int | None:
        """The seat to act, or None once the game is over."""

    @property
    def is_over(self) -> bool: ...
    @property
    def winners(self) -> list[int]:
        """Seats with the highest total (several on a tie); empty before the end."""

    def legal_actions(self) -> list[int]:
        """The legal action ids now, sorted; empty once the game is over."""

    def apply(self, action: int) -> None:
        """Plays an action in the current round; the next round is dealt
        when it ends. Raises IllegalActionError, leaving the game unchanged,
        if the action is not legal now."""

    def observation(self, seat: int | None = None) -> _Observation:
        """Like Round.observation, in full-game mode: adds running totals
        and the rounds left."""

    def clone(self) -> Game:
        """An independent copy."""

    def __copy__(self) -> Game: ...
    def __deepcopy__(self, memo: Any, /) -> Game: ...
