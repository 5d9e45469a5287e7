"""The table session shared by `blobmaster play` and `blobmaster serve`:
turns, the person's moves and their refusals, agents' moves, the public
record of tricks and rounds, and the seat view that must hold no hidden card."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blobmaster as bm
from blobmaster.table import (
    NotYourTurnError,
    Table,
    TableError,
    TableSettings,
    action_label,
    make_agent,
    sort_hand,
    warm_up,
)

B = bm.BID_OFFSET


def card(name: str) -> int:
    return bm.card_index(name)


def hands_of(*names: str) -> list[list[int]]:
    return [[card(n) for n in hand.split()] for hand in names]


def unseen_cards(table: Table) -> set[str]:
    """Cards the person's seat may not see: every other seat's unplayed cards."""
    r = table.round
    return {bm.card_name(c) for s, h in enumerate(r.hands) if s != table.seat for c in h}


def assert_view_hides_other_hands(table: Table, view: dict | None = None) -> None:
    """No card of another seat's current hand anywhere in the view, except in
    the public record of earlier rounds (a card played in round 1 is dealt
    again later): there, each event must be exactly the move that was made
    and the last trick exactly the last trick played."""
    view = table.view() if view is None else view
    unseen = unseen_cards(table)
    current = {k: v for k, v in view.items() if k not in ("events", "last_trick", "results")}
    text = json.dumps(current)
    for name in unseen:
        assert f'"{name}"' not in text, f"{name} of another seat leaked into the view"
    assert set(view["hand"]) | set(view["legal_cards"]) <= {
        bm.card_name(c) for c in table.round.hands[table.seat]
    }
    for event in view["events"]:
        assert event == table.events[event["index"]].to_json()
        if event["round_index"] == table.round_index and not table.is_over:
            assert event.get("card") not in unseen
    if table.tricks:
        assert view["last_trick"] == table.tricks[-1].to_json()
    assert view["results"] == [r.to_json() for r in table.results]  # no cards in there
    if table.settings.one_round:  # no earlier round: the whole view is checked
        whole = json.dumps(view)
        for name in unseen:
            assert f'"{name}"' not in whole


def play_out(table: Table, rng: random.Random | None = None) -> None:
    """The person plays (random or first) legal moves; agents play theirs."""
    while not table.is_over:
        if table.person_to_move:
            legal = table.round.legal_actions()
            table.play_person(rng.choice(legal) if rng else legal[0])
        else:
            table.play_agent()
        assert_view_hides_other_hands(table)


def trick_winner(cards: tuple[tuple[int, int], ...], trump: int | None) -> int:
    """The rules, independently: highest trump, else highest card of the led suit."""
    led = cards[0][1] // 13
    trumps = [(c, s) for s, c in cards if trump is not None and c // 13 == trump]
    pool = trumps or [(c, s) for s, c in cards if c // 13 == led]
    return max(pool)[1]


# ------------------------------------------------------------ whole games


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_full_game_keeps_a_true_public_record(seed: int) -> None:
    table = Table(TableSettings(players=4, cards=3, seed=seed), bm.Agent.heuristic())
    play_out(table, random.Random(seed))
    game = bm.Game(4, 3, first_dealer=3, seed=seed)
    assert len(table.results) == len(game.schedule) == 8
    assert [r.cards for r in table.results] == game.schedule
    assert [r.dealer for r in table.results] == [(3 + i) % 4 for i in range(8)]
    assert [r.trump for r in table.results] == [0, 1, 2, 3, None, 0, 1, 2]
    for seat in range(4):
        assert table.totals[seat] == sum(r.scores[seat] for r in table.results)
    for r in table.results:
        assert sum(r.tricks_won) == r.cards
        for s in range(4):
            assert r.scores[s] == (10 + r.bids[s] if r.bids[s] == r.tricks_won[s] else 0)
    # every trick: one card per seat, the winner by the rules, and replayed
    # from the events the whole game is the same game
    assert len(table.tricks) == sum(game.schedule)
    trick_iter = iter(table.tricks)
    for r in table.results:
        for _ in range(r.cards):
            t = next(trick_iter)
            assert sorted(s for s, _ in t.cards) == [0, 1, 2, 3]
            assert t.winner == trick_winner(t.cards, r.trump)
    for event in table.events:
        game.apply(event.action)
    assert game.is_over and game.totals == table.totals
    assert table.winners == game.winners
    assert [e.index for e in table.events] == list(range(len(table.events)))


def test_one_round_mode_and_the_person_bids_first_by_default() -> None:
    table = Table(
        TableSettings(players=5, cards=4, seat=2, one_round=True, trump=None, seed=9),
        bm.Agent.heuristic(),
    )
    view = table.view()
    assert (view["mode"], view["rounds"], view["trump"], view["trump_name"]) == (
        "round",
        1,
        None,
        "no trump",
    )
    assert view["dealer"] == 1 and table.to_move == 2 and view["your_turn"]
    assert view["names"] == ["Agent 3", "Agent 4", "You", "Agent 1", "Agent 2"]
    play_out(table)
    assert table.is_over and len(table.results) == 1
    assert table.totals == list(table.results[0].scores)
    assert table.view()["phase"] == "over" and table.view()["to_move"] is None


def test_the_same_seed_gives_the_same_game() -> None:
    def events(seed: int) -> list[int]:
        table = Table(TableSettings(players=3, cards=2, seed=seed), bm.Agent.heuristic())
        play_out(table)
        return [e.action for e in table.events]

    assert events(5) == events(5)
    assert events(5) != events(6)


def test_seat_view_holds_own_hand_and_public_facts_only() -> None:
    r = bm.Round.from_hands(
        hands_of("AS KS 2H", "QS 3H 4H", "JS 5H 6H", "10S 7H 8H"), dealer=3, trump=1
    )
    table = Table.from_round(r, bm.Agent.heuristic(), seat=0)
    for bid in (1, 0, 1, 0):  # seats 0, 1, 2, 3
        if table.person_to_move:
            table.play_person(str(bid))
        else:
            table._apply(B + bid)  # scripted "agents" for a hand-worked case
    table.play_person("AS")
    table._apply(card("QS"))
    view = table.view()
    assert view["hand"] == ["KS", "2H"]
    assert view["trick"] == [{"seat": 0, "card": "AS"}, {"seat": 1, "card": "QS"}]
    assert view["hand_sizes"] == [2, 2, 3, 3]
    assert view["bids"] == [1, 0, 1, 0] and view["legal_cards"] == []
    assert_view_hides_other_hands(table)
    text = json.dumps(view)
    for hidden in ("3H", "4H", "JS", "5H", "6H", "10S", "7H", "8H"):
        assert hidden not in text
    table._apply(card("JS"))
    event = table._apply(card("10S"))
    assert event.trick is not None and event.trick.winner == 0
    view = table.view()
    assert view["trick"] == [] and view["tricks_won"] == [1, 0, 0, 0]
    assert view["last_trick"] == {
        "cards": [
            {"seat": 0, "card": "AS"},
            {"seat": 1, "card": "QS"},
            {"seat": 2, "card": "JS"},
            {"seat": 3, "card": "10S"},
        ],
        "winner": 0,
    }
    assert view["your_turn"] and view["legal_cards"] == ["KS", "2H"]


# -------------------------------------------------- the person's input


def _bidding_table(dealer_is_person: bool = False) -> Table:
    r = bm.Round.from_hands(
        hands_of("AS KS 2H", "QS 3H 4H", "JS 5H 6H", "10S 7H 8H"),
        dealer=0 if dealer_is_person else 3,
        trump=1,
    )
    return Table.from_round(r, bm.Agent.heuristic(), seat=0)


@pytest.mark.parametrize("text", ["QH", "qh", "10s", "10S", "ts", " as "])
def test_card_names_in_every_usual_spelling(text: str) -> None:
    table = _bidding_table()
    for bid in (1, 0, 1, 0):
        table._apply(B + bid)
    assert table.parse(text) == bm.card_index(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "type a bid"),
        ("two", "'two' is not a bid: type a number from 0 to 3"),
        ("QH", "'QH' is not a bid"),
        ("-1", "'-1' is not a bid"),
        ("4", "you cannot bid 4: there are only 3 tricks"),
        ("99", "you cannot bid 99"),
        ("100", "you cannot bid 100: that is far more than 3"),
        ("9" * 5000, r"you cannot bid 99999999\.\.\.: that is far more than 3"),
    ],
)
def test_bad_bids_are_refused_with_the_reason(text: str, reason: str) -> None:
    table = _bidding_table()
    before = table.view()
    with pytest.raises(TableError, match=reason):
        table.play_person(text)
    assert table.view() == before and table.events == []


def test_the_dealer_is_told_which_bid_is_forbidden() -> None:
    table = _bidding_table(dealer_is_person=True)  # seat 0 deals: seats 1, 2, 3 bid first
    for bid in (1, 1, 0):
        table._apply(B + bid)
    assert table.person_to_move and table.view()["legal_bids"] == [0, 2, 3]
    with pytest.raises(TableError, match=r"as the dealer you may not bid 1: .* add up to 3"):
        table.play_person("1")
    table.play_person("2")
    assert table.round.bids == [2, 1, 1, 0]


def test_bad_cards_are_refused_with_the_reason() -> None:
    table = _bidding_table()
    for bid in (1, 0, 1, 0):
        table._apply(B + bid)
    cases = {
        "XX": "'XX' is not a card: type rank then suit",
        "1S": "'1S' is not a card",
        "2": "bidding is over: play a card",
        "QS": "you do not hold QS",
    }
    for text, reason in cases.items():
        with pytest.raises(TableError, match=reason):
            table.play_person(text)
    assert table.view()["legal_cards"] == ["AS", "KS", "2H"]


def test_following_suit_is_explained() -> None:
    r = bm.Round.from_hands(hands_of("AS 2H", "3H 4H", "5H 6H", "7H 8H"), dealer=0, trump=None)
    table = Table.from_round(r, bm.Agent.heuristic(), seat=0)
    for bid in (0, 0, 0):  # seats 1, 2, 3
        table._apply(B + bid)
    table.play_person("0")
    table._apply(card("3H"))  # seat 1 leads a heart
    table._apply(card("5H"))
    table._apply(card("7H"))
    with pytest.raises(TableError, match="you must follow suit: hearts were led and you hold 2H"):
        table.play_person("AS")
    table.play_person("2h")
    assert table.round.tricks_won == [0, 0, 0, 1]


def test_moves_out_of_turn_are_refused() -> None:
    table = _bidding_table(dealer_is_person=True)
    assert not table.person_to_move
    with pytest.raises(NotYourTurnError, match="not your turn: Agent 1 is to move"):
        table.play_person("1")
    table.play_agents()
    assert table.person_to_move
    with pytest.raises(NotYourTurnError):
        table.play_agent()
    table.play_person("0")  # the dealer bids last; seat 1 leads the first trick
    assert not table.person_to_move and table.round.phase == "play"
    for text in ("5", "zz", "AS", "3H"):
        with pytest.raises(NotYourTurnError) as refused:
            table.play_person(text)
        for name in unseen_cards(table):  # the refusal names no hidden card
            assert name not in str(refused.value)
    with pytest.raises(NotYourTurnError):
        Table(TableSettings(players=3, cards=1, dealer=0, seed=1), bm.Agent.heuristic()).hint()


def test_nothing_is_accepted_once_the_game_is_over() -> None:
    table = Table(TableSettings(players=3, cards=1, one_round=True, seed=4), bm.Agent.heuristic())
    play_out(table)
    with pytest.raises(TableError, match="game is over"):
        table.play_person("0")
    with pytest.raises(TableError, match="game is over"):
        table.play_agent()
    assert table.play_agents() == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (TableSettings(players=2), "players must be 3..8"),
        (TableSettings(players=9), "players must be 3..8"),
        (TableSettings(players=8, cards=7), "cards must be 1..6 for 8 players"),
        (TableSettings(cards=0), "cards must be 1..13"),
        (TableSettings(seat=4), "seat must be 0..3"),
        (TableSettings(dealer=-1), "dealer must be 0..3"),
        (TableSettings(trump=4, one_round=True), "trump must be"),
        (TableSettings(seed=-5), "seed must be"),
        (TableSettings(players="4"), "players must be an integer"),  # type: ignore[arg-type]
    ],
)
def test_bad_settings_are_table_errors(settings: TableSettings, message: str) -> None:
    with pytest.raises(TableError, match=message):
        Table(settings, bm.Agent.heuristic())


# ------------------------------------------------------------ hints, agents


def test_hint_is_the_agents_policy_for_the_persons_legal_moves() -> None:
    table = Table(TableSettings(players=4, cards=4, seed=11), bm.Agent.random(seed=1))
    table.play_person(table.round.legal_actions()[0])
    table.play_agents()
    hint = table.hint(bm.Agent.rollout_mcts("light", seed=3))
    legal = table.round.legal_actions()
    assert sorted(a for a, _ in hint) == legal
    assert sum(p for _, p in hint) == pytest.approx(1.0)
    assert [p for _, p in hint] == sorted((p for _, p in hint), reverse=True)


def test_the_built_in_network_plays_a_round() -> None:
    agent = make_agent(search="light", seed=0)
    assert agent.name == "default:light"
    warm_up(agent)
    assert agent.batches > 0  # the network was called
    table = Table(TableSettings(players=4, cards=2, one_round=True, seed=2), agent)
    play_out(table)
    assert table.is_over and len(table.events) == 4 + 8


def test_labels_and_hand_order() -> None:
    assert action_label(B + 3) == "bid 3" and action_label(card("10H")) == "10H"
    hand = [card(n) for n in ("2S", "AD", "KS", "3H", "10C", "AS")]
    assert [bm.card_name(c) for c in sort_hand(hand)] == ["AS", "KS", "2S", "3H", "10C", "AD"]


# ------------------------------------------------------------ property


@settings(max_examples=30, deadline=None)
@given(
    players=st.integers(3, 8),
    cards=st.integers(1, 3),
    seat=st.integers(0, 7),
    one_round=st.booleans(),
    seed=st.integers(0, 2**64 - 1),
    moves_seed=st.integers(0, 1000),
)
def test_any_table_plays_out_with_a_consistent_private_view(
    players: int, cards: int, seat: int, one_round: bool, seed: int, moves_seed: int
) -> None:
    seat %= players
    table = Table(
        TableSettings(players=players, cards=cards, seat=seat, one_round=one_round, seed=seed),
        bm.Agent.random(seed=moves_seed),
    )
    rng = random.Random(moves_seed)
    while not table.is_over:
        view = table.view()
        assert view["your_turn"] == (table.to_move == seat)
        assert view["hand"] == [bm.card_name(c) for c in sort_hand(table.round.hands[seat])]
        assert view["hand_sizes"] == [len(h) for h in table.round.hands]
        if view["your_turn"]:
            legal = table.round.legal_actions()
            assert view["legal_bids"] == [a - B for a in legal if a >= B]
            assert sorted(view["legal_cards"]) == sorted(bm.card_name(a) for a in legal if a < B)
            table.play_person(rng.choice(legal))
        else:
            assert view["legal_bids"] == [] and view["legal_cards"] == []
            table.play_agent()
        assert_view_hides_other_hands(table)
    replay = (
        bm.Round(players, cards, dealer=(seat - 1) % players, trump=0, seed=seed)
        if one_round
        else bm.Game(players, cards, first_dealer=(seat - 1) % players, seed=seed)
    )
    for event in table.events:
        replay.apply(event.action)
    assert replay.is_over
    totals = replay.scores if one_round else replay.totals
    assert table.totals == totals
    assert table.winners == [s for s in range(players) if totals[s] == max(totals)]
