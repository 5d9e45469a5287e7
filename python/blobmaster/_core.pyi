"""Stubs for the native module ``blobmaster._core`` (crates/blob-py).

Hand-written: keep in step with the #[pymethods] in crates/blob-py/src.
Integers: seats, counts and card indices are plain ints; a negative or
out-of-range value raises InvalidArgumentError (a ValueError), a wrong type
raises TypeError.
"""

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final, Literal, TypeAlias, final, overload

import numpy as np
import numpy.typing as npt

_Phase: TypeAlias = Literal["bid", "play", "over"]
_Observation: TypeAlias = npt.NDArray[np.float32]
# A leaf evaluator: "uniform", "heuristic", or a function of (observations
# [B, 256], legal masks [B, 66]) -> (policy logits [B, 66], values [B, 8]).
_Evaluator: TypeAlias = (
    str
    | Callable[
        [npt.NDArray[np.float32], npt.NDArray[np.bool_]],
        tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    ]
)

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

class TicketError(BlobError):
    """A batch ticket that is unknown or already answered."""

class EngineClosedError(RuntimeError):
    """The self-play engine is closed, or one of its workers failed."""

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
        """ "bid", "play" or "over"."""

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

@final
class SelfPlayEngine:
    """The self-play engine: Rust worker threads play rounds with determinized
    MCTS and queue their leaves; Python answers them in batches.

    Every argument is checked before anything starts; a bad one raises
    InvalidArgumentError naming it. ``tables`` lists (players, cards, weight)
    round kinds, drawn by weight for every round. ``rounds=None`` plays until
    closed. ``normalize_q`` min-max normalises Q in PUCT; ``gumbel`` searches
    with Gumbel root sampling and sequential halving (``gumbel_m`` root actions,
    ``gumbel_c_visit``, ``gumbel_c_scale``): the improved policy becomes the
    training target and the Gumbel noise picks the move (no Dirichlet noise,
    no temperature). ``inference`` ("uniform" or "bids") says how each tree's
    hidden hands are sampled: "bids" weighs ``inference_candidates`` uniform
    deals by the likelihood of the opponents' bids under the rule-based bidder
    at ``inference_temperature`` and resamples them. ``full_search_fraction``
    below 1 turns on playout-cap randomisation: each decision is searched in
    full with that probability, else with ``fast_simulations`` per tree, no
    root noise, and an all-zero policy row (no policy target).
    """

    def __init__(
        self,
        *,
        threads: int = 2,
        games_per_thread: int = 64,
        determinizations: int = 3,
        simulations: int = 30,
        c_puct: float = 1.5,
        fpu_reduction: float = 0.1,
        virtual_loss: float = 1.0,
        max_pending_per_tree: int = 4,
        dirichlet_alpha: float = 0.5,
        dirichlet_fraction: float = 0.25,
        temperature_moves: int = 4,
        temperature: float = 1.0,
        tables: Sequence[tuple[int, int, float]] | None = None,
        seed: int = 0,
        max_batch: int = 512,
        pipeline_depth: int = 3,
        rounds: int | None = None,
        cache_entries: int = 65536,
        full_games: bool = False,
        normalize_q: bool = False,
        gumbel: bool = False,
        gumbel_m: int = 16,
        gumbel_c_visit: float = 50.0,
        gumbel_c_scale: float = 0.1,
        inference: str = "uniform",
        inference_candidates: int = 32,
        inference_temperature: float = 1.0,
        full_search_fraction: float = 1.0,
        fast_simulations: int = 0,
    ) -> None: ...
    def next_batch(
        self, max_size: int | None = None, timeout_ms: int = 10
    ) -> tuple[int, npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """Wait (GIL released) for a batch: (ticket, states [B, 256], masks [B, 66]).

        The arrays view the engine's buffers and are valid until the ticket is
        submitted. On a timeout with nothing waiting, or once finished, the
        ticket is -1 and the arrays are empty.
        """
    def submit(
        self,
        ticket: int,
        policy_logits: npt.NDArray[np.float32],
        values: npt.NDArray[np.float32],
    ) -> None:
        """Answer a batch: logits float32 [B, 66], values float32 [B, 8] in [0, 1]
        (entry k: the seat k places after the row's observer, the seat whose
        observation the row is). A bad answer
        raises (InvalidArgumentError, TicketError) and loses nothing."""
    def take_examples(self) -> dict[str, npt.NDArray[Any]]:
        """Examples finished since the last call, as columns: state, mask, policy,
        value, seat, num_players, cards, round_id, move; one row per seat at the
        table for every decision (docs/replay.md)."""
    def stats(self) -> dict[str, float]:
        """Counters: rounds, examples, simulations, leaves_evaluated, batches,
        mean_batch, cache_hit_rate, queue_depth, ..."""
    @property
    def finished(self) -> bool:
        """True once every requested round is played and the workers exited."""
    @property
    def max_batch(self) -> int: ...
    @property
    def threads(self) -> int: ...
    def close(self) -> None:
        """Stop the workers promptly (idempotent)."""
    def __enter__(self) -> SelfPlayEngine: ...
    def __exit__(self, _exc_type: object, _exc_value: object, _traceback: object) -> bool: ...

@final
class TeacherEngine:
    """Teacher self-play: Rust worker threads play rounds where every seat is
    single-observer ISMCTS (``iterations``, UCT ``exploration``, ``rollout``
    random or heuristic; no network), recording every searched decision like
    SelfPlayEngine: policy = the mover's root visit shares, values = the
    round's scores, one row per seat. Rounds ``first_round..rounds`` (games
    with ``full_games``) are dealt from ``tables`` by the self-play sampler;
    the first ``temperature_moves`` moves of a round are drawn from the
    visits with ``temperature``. Everything random in round ``id`` comes from
    ``(seed, id)`` and rounds come out in id order, so the examples are the
    same for any ``threads``. ``inference`` samples the hidden hands as
    :func:`ismcts` does. Bad input raises InvalidArgumentError and starts
    nothing.
    """

    def __init__(
        self,
        *,
        rounds: int,
        threads: int = 2,
        tables: Sequence[tuple[int, int, float]] | None = None,
        full_games: bool = False,
        seed: int = 0,
        first_round: int = 0,
        iterations: int = 1000,
        exploration: float = 0.7,
        rollout: str = "random",
        temperature_moves: int = 4,
        temperature: float = 1.0,
        inference: Literal["uniform", "bids"] = "uniform",
        inference_candidates: int = 1024,
        inference_temperature: float = 0.5,
        margin: float = 0.0,
    ) -> None: ...
    def take_examples(self) -> dict[str, npt.NDArray[Any]]:
        """Examples of the rounds finished since the last call (whole rounds, in
        round order), as SelfPlayEngine.take_examples's columns. Raises
        EngineClosedError once a worker failed."""
    def stats(self) -> dict[str, int]:
        """Counters: units, rounds, examples, decisions, forced_moves, iterations,
        workers_running."""
    @property
    def finished(self) -> bool:
        """True once every requested round is played (or the engine stopped)."""
    @property
    def threads(self) -> int: ...
    def close(self) -> None:
        """Stop the workers (each finishes at most its current search); idempotent."""
    def __enter__(self) -> TeacherEngine: ...
    def __exit__(self, _exc_type: object, _exc_value: object, _traceback: object) -> bool: ...

@final
class ArenaEngine:
    """Duplicate-arena rounds played many at a time by Rust worker threads:
    every deal of ``deals`` in every seating of ``seatings`` (the agent index
    at each seat). ``agents`` are dicts with a ``kind``: ``network`` (keys
    net, seed and the search keys determinizations, simulations, c_puct,
    fpu_reduction, virtual_loss, max_pending_per_tree, normalize_q, inference,
    inference_candidates, inference_temperature), ``heuristic``, ``random``
    (seed), ``rollout`` (seed, the search keys, rollouts), ``ismcts`` (seed,
    iterations, exploration, rollout, prior_weight, and the inference keys) or
    ``guided_ismcts`` (net, the ismcts keys, playout_weight and
    playout_policy: one evaluation of the mover's view per decision, its
    policy the root prior; with the network rollout, every leaf too). Network ``net``'s
    leaves are answered through ``next_batch(net)`` / ``submit(net, ...)``.
    Bad input raises InvalidArgumentError and starts nothing.
    """

    def __init__(
        self,
        deals: Sequence[Round],
        seatings: Sequence[Sequence[int]],
        agents: Sequence[dict[str, Any]],
        *,
        networks: int = 0,
        threads: int = 2,
        games_per_thread: int = 64,
        max_batch: int = 512,
        pipeline_depth: int = 3,
        cache_entries: int = 65536,
        record: bool = False,
        record_seed: int = 0,
        first_round_id: int = 0,
        temperature_moves: int = 0,
        temperature: float = 1.0,
    ) -> None:
        """With ``record``, every searched decision is kept as training
        examples (read with ``take_examples``): the mover's normalized root
        visits as the policy, one row per seat, round ids from
        ``first_round_id``; the first ``temperature_moves`` moves of a round
        are drawn from the visits at ``temperature`` (seeded by
        ``record_seed``)."""
    def next_batch(
        self, net: int, max_size: int | None = None, timeout_ms: int = 10
    ) -> tuple[int, npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """Wait (GIL released) for a batch of network ``net``: (ticket, states
        [B, 256], masks [B, 66]), views valid until the ticket is submitted;
        ticket -1 and empty arrays when nothing came."""
    def submit(
        self,
        net: int,
        ticket: int,
        policy_logits: npt.NDArray[np.float32],
        values: npt.NDArray[np.float32],
    ) -> None:
        """Answer a batch of network ``net`` (as ``SelfPlayEngine.submit``)."""
    def take_results(self) -> list[tuple[int, Round]]:
        """Rounds finished since the last call: (schedule index, final round),
        index = deal * len(seatings) + seating, in no set order. Raises if a
        worker failed."""
    def take_examples(self) -> dict[str, npt.NDArray[Any]]:
        """The examples of the rounds finished since the last call (of this or
        ``take_results``), in schedule order: a round that finished before an
        earlier one waits for it, so the rounds handed out are always a
        prefix of the schedule. The columns of ``SelfPlayEngine.take_examples``.
        Raises InvalidArgumentError when the engine does not record."""
    def stats(self) -> dict[str, float]:
        """Counters: rounds, decisions, simulations, leaves_evaluated, batches, ..."""
    @property
    def rounds(self) -> int:
        """Rounds in the schedule (deals x seatings)."""
    @property
    def networks(self) -> int: ...
    @property
    def max_batch(self) -> int: ...
    @property
    def finished(self) -> bool:
        """True once every round is played and the workers exited."""
    def close(self) -> None:
        """Stop the workers promptly (idempotent)."""
    def __enter__(self) -> ArenaEngine: ...
    def __exit__(self, _exc_type: object, _exc_value: object, _traceback: object) -> bool: ...

def heuristic_action(round: Round) -> int:
    """The rule-based player's action for the player to move (uses only what
    that seat may know)."""

@overload
def search(
    round: Round,
    *,
    evaluator: _Evaluator,
    determinizations: int = 3,
    simulations: int = 30,
    c_puct: float = 1.5,
    fpu_reduction: float = 0.1,
    virtual_loss: float = 1.0,
    max_pending_per_tree: int = 4,
    rollouts: int = 1,
    seed: int | None = None,
    perfect_information: bool = False,
    normalize_q: bool = False,
    inference: str = "uniform",
    inference_candidates: int = 32,
    inference_temperature: float = 1.0,
    with_prior: Literal[False] = False,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
@overload
def search(
    round: Round,
    *,
    evaluator: _Evaluator,
    determinizations: int = 3,
    simulations: int = 30,
    c_puct: float = 1.5,
    fpu_reduction: float = 0.1,
    virtual_loss: float = 1.0,
    max_pending_per_tree: int = 4,
    rollouts: int = 1,
    seed: int | None = None,
    perfect_information: bool = False,
    normalize_q: bool = False,
    inference: str = "uniform",
    inference_candidates: int = 32,
    inference_temperature: float = 1.0,
    with_prior: Literal[True],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Search the decision of the player to move: (visit counts [66], root value [8]).

    ``evaluator`` is "uniform", "rollout", "heuristic", or a function
    ``f(states [B, 256], masks [B, 66]) -> (policy_logits [B, 66], values [B, 8])``
    with values relative to the observer: the seat whose observation each row
    of ``states`` is (the searching seat, whoever moves at the leaf). An
    error raised by the function is re-raised. A forced move comes back with one visit and no search.
    ``normalize_q`` min-max normalises Q in PUCT (as in self-play);
    ``inference`` samples the hidden hands as in self-play. ``with_prior=True``
    adds a third array, the root priors summed over the trees [66]: how a
    greedy player breaks ties in the visit counts.
    """

def pimc(
    round: Round,
    *,
    worlds: int = 100,
    seed: int | None = None,
    bidding: Literal["ismcts", "solve"] = "ismcts",
    bid_iterations: int = 1000,
    bid_exploration: float = 0.7,
    bid_rollout: Literal["random", "heuristic"] = "heuristic",
    inference: Literal["uniform", "bids"] = "uniform",
    inference_candidates: int = 1024,
    inference_temperature: float = 0.5,
    perfect_information: bool = False,
) -> tuple[npt.NDArray[np.float32], int]:
    """Perfect-information Monte Carlo for the player to move: (values [66],
    the action chosen).

    ``worlds`` deals of the hidden cards consistent with what the mover
    knows (``inference="bids"`` weighs them by the opponents' bids, as in
    :func:`ismcts`) are each solved exactly: max^n, every seat maximizing
    its own score while seeing every hand, memoized at trick boundaries. A
    card's value is the mover's mean score share over the worlds; the best
    one is chosen (ties to the lowest card). Bids: ``bidding="ismcts"``
    runs :func:`ismcts` with ``bid_iterations``, ``bid_exploration`` and
    ``bid_rollout`` (values are then its visit shares); ``"solve"`` solves
    each bid in every world, the later seats bidding as the rule-based
    bidder would. ``perfect_information=True`` solves the true deal instead
    (a cheat, for tests and upper bounds). Values are NaN off the legal
    actions. Bad arguments raise
    InvalidArgumentError; a finished round raises IllegalActionError. The
    GIL is released during the search.
    """

def ismcts(
    round: Round,
    *,
    iterations: int = 1000,
    exploration: float = 0.7,
    rollout: Literal["random", "heuristic", "network"] = "random",
    seed: int | None = None,
    perfect_information: bool = False,
    prior: npt.NDArray[np.float32] | None = None,
    prior_weight: float = 1.0,
    playout_weight: float = 0.0,
    playout_policy: Literal["heuristic", "network"] = "heuristic",
    evaluator: _Evaluator | None = None,
    inference: Literal["uniform", "bids", "policy"] = "uniform",
    inference_candidates: int = 1024,
    inference_temperature: float = 0.5,
    margin: float = 0.0,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Single-observer ISMCTS of the decision of the player to move: (root
    visit counts [66], mean value of each seat [8] by absolute seat).

    One tree over the mover's information sets; every iteration samples a
    fresh deal of the hidden cards consistent with what the mover knows,
    descends by UCB1 with availability counts (``exploration`` is its
    constant, values being scores scaled to [0, 1]), adds one node and plays
    the round out with ``rollout`` moves. ``perfect_information=True``
    searches the true deal instead (a cheat, for tests). ``prior``: a
    float32 policy over the 66 actions for the mover's own view (a
    network's), renormalized over the legal actions; each root child's score
    then gains ``prior_weight * P(a) * sqrt(available) / (1 + visits)``. A
    forced move comes back with one visit and no search. Bad arguments
    (a prior that is not 66 finite values >= 0 with mass on a legal action)
    raise InvalidArgumentError; a finished round raises IllegalActionError.

    ``rollout="network"``: no playouts; each iteration's new node is valued
    by ``evaluator`` (as :func:`search` takes it; every row is the searching
    seat's own view, values relative to it), one leaf per call. The root's
    own evaluation is the prior (none when ``prior_weight`` is 0), so
    ``prior`` must not be given; leaves in the last trick are valued exactly.
    ``playout_weight`` λ in [0, 1] blends a heuristic playout in the
    iteration's sampled deal into each leaf value, ``λ * playout + (1 - λ) *
    network`` (the network is blind to the sampled hands; 0, the default, is
    the network alone; other rollouts must leave it 0). ``playout_policy=
    "network"`` plays that playout with ``evaluator``'s most likely move for
    every seat, each asked from the mover's view in the sampled deal. An evaluator with
    another rollout is an InvalidArgumentError.

    ``inference="bids"`` weighs the sampled deals by how likely each
    opponent's bid is under the soft rule-based bidder
    (``P(b) ∝ exp(-|b - h| / inference_temperature)``), drawing
    ``inference_candidates`` uniform deals per block of iterations and
    resampling as many, so an iteration costs about one uniform draw.
    ``inference="policy"`` (with ``rollout="network"`` only) weighs
    ``inference_candidates`` uniform deals by ``evaluator``'s probability of
    every opponent's bid and card played (with a choice), asked from that
    opponent's view in the deal (the rows of those calls are its
    observation), to the power
    ``1 / inference_temperature``, and resamples them once per search.

    ``margin`` m in [0, 1] changes what every seat of the tree maximizes:
    ``(1 - m) * own + m * (1 + own - mean of the others) / 2`` of a playout's
    score shares, so a seat also values the points its opponents lose (0,
    the default, is its own share alone; not with ``rollout="network"``).
    The root values returned stay the plain score shares.
    """
