"""Agents: legal actions, hidden-card invariance, policies, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

import blobmaster as bm
from blobmaster.agent_specs import parse_agent_spec
from blobmaster.agents import (
    Agent,
    AgentError,
    ModelAgent,
    RolloutAgent,
    SearchAgent,
    decision_seed,
)
from blobmaster.config import SearchConfig, load_config
from blobmaster.model import ModelConfig, default_model, save_model

# Small searches keep the suite fast; the presets themselves are tested once.
TINY = {"determinizations": 2, "simulations": 6}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_model(
        default_model(seed=5, config=ModelConfig.tiny()),
        tmp_path_factory.mktemp("agents") / "tiny.pt",
    )


@pytest.fixture(scope="module")
def agents(tiny_model: Path) -> dict[str, Agent]:
    return {
        "heuristic": Agent.heuristic(),
        "random": Agent.random(seed=3),
        "rollout": Agent.rollout_mcts(search=TINY, seed=4),
        "model": Agent.load(tiny_model, search=TINY, device="cpu", seed=5),
    }


KINDS = ["heuristic", "random", "rollout", "model"]


def test_the_public_names() -> None:
    assert bm.Agent is Agent
    assert issubclass(bm.AgentError, ValueError)
    assert isinstance(Agent.heuristic(), bm.Agent)


@pytest.mark.parametrize("kind", KINDS)
def test_act_is_legal_in_random_playouts_for_every_table_size(
    agents: dict[str, Agent], kind: str
) -> None:
    agent = agents[kind]
    rng = random.Random(11)
    for players in range(3, 9):
        cards = rng.randint(1, min(3, 52 // players))
        r = bm.Round(
            players,
            cards,
            dealer=rng.randrange(players),
            trump=rng.choice([None, 0, 1, 2, 3]),
            seed=players,
        )
        while not r.is_over:
            before = r.clone()
            if rng.random() < 0.5:  # the agent plays some moves, random play the rest
                action = agent.act(r)
                assert r == before, "act must not change the round"
            else:
                action = rng.choice(r.legal_actions())
            assert action in r.legal_actions()
            r.apply(action)
        assert r.scores is not None


def _twin_rounds(seed: int, players: int = 4, cards: int = 5) -> tuple[bm.Round, bm.Round, int]:
    """Two deals that differ only in the hands of seats other than `observer`:
    one card of the same suit swapped between two of the other seats (so
    any play both rounds allow keeps them consistent)."""
    rng = random.Random(seed)
    while True:
        deck = rng.sample(range(52), players * cards)
        hands = [sorted(deck[s * cards : (s + 1) * cards]) for s in range(players)]
        observer = rng.randrange(players)
        j, k = rng.sample([s for s in range(players) if s != observer], 2)
        pairs = [(x, y) for x in hands[j] for y in hands[k] if x // 13 == y // 13]
        if pairs:
            break
    x, y = rng.choice(pairs)
    other = [list(h) for h in hands]
    other[j] = sorted([c for c in hands[j] if c != x] + [y])
    other[k] = sorted([c for c in hands[k] if c != y] + [x])
    dealer, trump = rng.randrange(players), rng.choice([None, 0, 1, 2, 3])
    a = bm.Round.from_hands(hands, dealer=dealer, trump=trump)
    b = bm.Round.from_hands(other, dealer=dealer, trump=trump)
    return a, b, observer


class _PeekingAgent(RolloutAgent):
    """A cheat: searches the true deal (perfect information). The invariance
    harness below must catch it, or it would prove nothing."""

    def visits(self, round: bm.Round) -> np.ndarray:
        visits, _ = bm._core.search(
            round,
            evaluator="rollout",
            seed=decision_seed(self.seed, round),
            perfect_information=True,
            **self._kwargs,
        )
        return visits


def _decisions_that_differ(agent: Agent) -> tuple[int, int]:
    """Plays twin rounds (differing only in cards the observer cannot see)
    with the same public actions; returns (observer decisions whose action or
    policy differ between the twins, observer decisions checked)."""
    differ = checked = 0
    for seed in range(6):
        a, b, observer = _twin_rounds(seed)
        assert a != b and a.hands[observer] == b.hands[observer]
        while not a.is_over:
            if a.current_player == observer:
                np.testing.assert_array_equal(a.observation(), b.observation())
                checked += 1
                differ += agent.act(a) != agent.act(b) or agent.policy(a) != agent.policy(b)
                action = agent.act(a)
            else:
                both = sorted(set(a.legal_actions()) & set(b.legal_actions()))
                if not both:
                    break  # a swapped card is forced out: the rounds diverge here
                action = bm._core.heuristic_action(a)
                action = action if action in both else both[0]
            a.apply(action)
            b.apply(action)
    return differ, checked


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_cards_never_change_the_decision(tiny_model: Path, kind: str) -> None:
    # Light (2 x 20) rather than TINY: with fewer simulations than legal
    # actions the visit counts cannot depend on values, and the cheat below
    # would pass too.
    agent = {
        "heuristic": lambda: Agent.heuristic(),
        "random": lambda: Agent.random(seed=3),
        "rollout": lambda: Agent.rollout_mcts("light", seed=4),
        "model": lambda: Agent.load(tiny_model, search="light", device="cpu", seed=5),
    }[kind]()
    differ, checked = _decisions_that_differ(agent)
    assert checked >= 20
    assert differ == 0


def test_the_invariance_harness_catches_a_peeking_agent() -> None:
    differ, checked = _decisions_that_differ(_PeekingAgent("light", seed=4))
    assert checked >= 20 and differ >= 3


@pytest.mark.parametrize("kind", KINDS)
def test_policy_is_a_distribution_over_the_legal_actions(
    agents: dict[str, Agent], kind: str
) -> None:
    agent = agents[kind]
    r = bm.Round(5, 4, dealer=2, trump=1, seed=9)
    rng = random.Random(2)
    while not r.is_over:
        legal = r.legal_actions()
        pol = agent.policy(r)
        assert sorted(pol) == legal
        assert all(p >= 0 for p in pol.values())
        assert math.isclose(sum(pol.values()), 1.0, rel_tol=1e-6)
        act = agent.act(r)
        assert pol[act] == max(pol.values())
        if kind == "heuristic":
            assert pol[act] == 1.0
        if kind == "random":
            assert all(math.isclose(p, 1 / len(legal)) for p in pol.values())
        r.apply(rng.choice(legal))


def test_forced_moves_are_answered_without_search(tiny_model: Path) -> None:
    agent = ModelAgent(tiny_model, search=TINY, device="cpu", seed=1)
    r = bm.Round(3, 2, dealer=0, trump=None, seed=6)
    agent.act(r)  # a free bid: searched
    searched = agent.batches
    assert searched > 0
    forced = bm.Round.from_hands([[0], [13], [26]], dealer=0, trump=None)
    for _ in range(3):
        forced.apply(forced.legal_actions()[0])  # bids; now each seat has one card
    assert len(forced.legal_actions()) == 1
    assert agent.act(forced) == forced.legal_actions()[0]
    assert agent.policy(forced) == {forced.legal_actions()[0]: 1.0}
    assert agent.batches == searched


def test_same_seed_same_choices_and_no_call_counter() -> None:
    r = bm.Round(4, 5, dealer=1, trump=2, seed=4)
    a, b = Agent.rollout_mcts(search=TINY, seed=8), Agent.rollout_mcts(search=TINY, seed=8)
    first = [a.act(r) for _ in range(3)]
    assert len(set(first)) == 1 and b.act(r) == first[0]
    assert a.policy(r) == b.policy(r)
    assert decision_seed(8, r) != decision_seed(9, r)
    randoms = {Agent.random(seed=s).act(r) for s in range(30)}
    assert len(randoms) > 1  # the seed matters


class _PeakedPriorAgent(SearchAgent):
    """Network stand-in: logits peaked on one bid, every value 0.5."""

    def __init__(self, bid: int, search: object) -> None:
        super().__init__(search, seed=3)
        self.bid = bid

    @property
    def evaluator(self):  # type: ignore[override]
        def evaluate(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            logits = np.zeros((len(states), bm.NUM_ACTIONS), dtype=np.float32)
            logits[:, bm.BID_OFFSET + self.bid] = 1.0
            return logits, np.full((len(states), 8), 0.5, dtype=np.float32)

        return evaluate


def test_a_small_budget_breaks_visit_ties_by_the_prior() -> None:
    # Light knobs at 3 x 5: the root, then four leaves in flight spread one
    # per child by virtual loss. The lowest id on ties bid 0 every time.
    search = dataclasses.replace(load_config("light").search, determinizations=3, simulations=5)
    r = bm.Round(4, 5, dealer=3, trump=1, seed=11)
    for bid in (2, 4):
        agent = _PeakedPriorAgent(bid, search)
        visits, _, prior = bm._core.search(
            r, evaluator=agent.evaluator, seed=1, with_prior=True, **agent._kwargs
        )
        bids = visits[bm.BID_OFFSET : bm.BID_OFFSET + 6]
        assert (bids == bids.max()).sum() > 1, bids  # the budget leaves ties
        assert prior.sum() == pytest.approx(3.0, abs=1e-4)  # summed over 3 trees
        assert agent.act(r) == bm.BID_OFFSET + bid


def test_search_accepts_presets_dicts_and_dataclasses() -> None:
    assert Agent.rollout_mcts("light").search_config == load_config("light").search
    assert Agent.rollout_mcts(load_config("heavy")).search_config.determinizations == 5
    cfg = SearchConfig(determinizations=1, simulations=3)
    assert Agent.rollout_mcts(cfg).search_config == cfg
    assert Agent.rollout_mcts({"simulations": 7}).search_config.simulations == 7
    assert Agent.rollout_mcts("light").name == "rollout:light"


def test_default_network_agent() -> None:
    agent = Agent.load(search=TINY, device="cpu", seed=0)
    assert agent.name.startswith("default")
    r = bm.Round(3, 2, dealer=0, trump=0, seed=1)
    assert agent.act(r) in r.legal_actions()


def test_bad_inputs_raise_agent_errors(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="unknown config 'enormous'"):
        Agent.rollout_mcts("enormous")
    with pytest.raises(AgentError, match="unknown key 'simulatons'"):
        Agent.rollout_mcts({"simulatons": 3})
    with pytest.raises(AgentError, match="simulations"):
        Agent.rollout_mcts({"simulations": 0})
    with pytest.raises(AgentError, match="search must be"):
        Agent.rollout_mcts(3.5)
    with pytest.raises(AgentError, match="not found"):
        Agent.load(tmp_path / "missing.pt", device="cpu")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(AgentError, match="not a TorchScript model"):
        Agent.load(junk, device="cpu")
    with pytest.raises(AgentError, match="device"):
        Agent.load(search=TINY, device="tpu")
    with pytest.raises(AgentError, match="seed"):
        Agent.random(seed=-1)
    with pytest.raises(AgentError, match="seed"):
        Agent.random(seed="x")  # type: ignore[arg-type]
    over = bm.Round(3, 1, seed=1)
    while not over.is_over:
        over.apply(over.legal_actions()[0])
    for agent in (Agent.heuristic(), Agent.random(1), Agent.rollout_mcts(TINY, seed=1)):
        with pytest.raises(AgentError, match="round is over"):
            agent.act(over)
        with pytest.raises(AgentError, match="round is over"):
            agent.policy(over)
    with pytest.raises(AgentError, match=r"expected a blobmaster\.Round"):
        Agent.heuristic().act("a round")  # type: ignore[arg-type]


def test_specs(tiny_model: Path) -> None:
    assert parse_agent_spec("heuristic").name == "heuristic"
    assert parse_agent_spec(" Random ", seed=2).seed == 2
    assert parse_agent_spec("rollout").name == "rollout:medium"
    assert parse_agent_spec("rollout:light").name == "rollout:light"
    model = parse_agent_spec(f"model:{tiny_model}:light", device="cpu")
    assert model.name == "model:tiny.pt:light"
    assert parse_agent_spec(f"model:{tiny_model}", device="cpu").name == "model:tiny.pt:medium"
    for bad, match in (
        ("", "empty"),
        ("alphazero", "unknown agent spec"),
        ("heuristic:light", "unknown agent spec"),
        ("rollout:huge", "unknown config"),
        ("model:", "needs a file"),
        ("model:/no/such/file.pt:light", "not found"),
    ):
        with pytest.raises(AgentError, match=match):
            parse_agent_spec(bad, device="cpu")


# ---- which network Agent.load() uses -------------------------------------------------------


def _policy_of(agent: Agent) -> dict[int, float]:
    return agent.policy(bm.Round(4, 3, dealer=1, trump=2, seed=11))


def test_random_model_is_the_seed0_network_and_the_fallback_warns_once(monkeypatch, capsys):
    from blobmaster import packaged

    monkeypatch.setattr(packaged, "default_model_path", lambda: None)  # nothing shipped
    monkeypatch.setattr(packaged, "_warned", False)
    explicit = Agent.load("random", search=TINY, device="cpu", seed=1)
    assert explicit.name == "random-net:2x6" and explicit.model_source is None
    assert capsys.readouterr().err == ""  # asking for it explicitly is no reason to warn
    fallback = Agent.load(search=TINY, device="cpu", seed=1)
    Agent.load(search=TINY, device="cpu", seed=1)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ships no trained network" in err[0] and "seed-0" in err[0]
    assert fallback.name == "default:2x6"
    seed0 = ModelAgent(default_model(seed=0), search=TINY, device="cpu", seed=1)
    assert _policy_of(explicit) == _policy_of(fallback) == _policy_of(seed0)
    assert parse_agent_spec("model:random", device="cpu").name == "random-net:medium"


def test_load_without_a_model_uses_the_shipped_network(monkeypatch, tmp_path, capsys):
    """A network file in blobmaster/models/ is what Agent.load(), the
    `default` spec and so play/serve use."""
    from blobmaster import packaged

    models = tmp_path / "models"
    models.mkdir()
    trained = save_model(default_model(seed=9, config=ModelConfig.tiny()), models / "blobnet.pt")
    monkeypatch.setattr(packaged, "_models_dir", lambda: models)
    monkeypatch.setattr(packaged, "_warned", False)
    assert packaged.default_model_path() == trained
    agent = Agent.load(search=TINY, device="cpu", seed=1)
    assert agent.name == "default:2x6" and agent.model_source == str(trained)
    by_file = Agent.load(trained, search=TINY, device="cpu", seed=1)
    random_net = Agent.load("random", search=TINY, device="cpu", seed=1)
    assert _policy_of(agent) == _policy_of(by_file) != _policy_of(random_net)
    assert parse_agent_spec("default:light", device="cpu").model_source == str(trained)
    assert capsys.readouterr().err == ""
    # the record beside it
    assert packaged.packaged_model_info() is None
    digest = packaged.file_sha256(trained)
    assert digest == hashlib.sha256(trained.read_bytes()).hexdigest()
    (models / "blobnet.json").write_text(json.dumps({"sha256": digest}))
    assert packaged.packaged_model_info() == {"sha256": digest}


def test_the_shipped_network_matches_its_record_and_beats_the_heuristic():
    """The trained network in the wheel (issue 11, item 2): it loads, its
    bytes match the sha256 recorded in blobnet.json, and on a fixed set of
    deals it scores more than the heuristic: 10 deals on each of the loop's
    reference tables (3x13, 4x5, 5x10, 7x7), the per-table paired differences
    summed (10 deals are too few to ask it of every table; docs/play.md has
    the whole table at 100 deals each). Skipped while none is shipped."""
    from blobmaster import packaged
    from blobmaster.arena import play_duplicate

    path = packaged.default_model_path()
    if path is None:
        pytest.skip("no trained network shipped yet (python/blobmaster/models/blobnet.pt)")
    info = packaged.packaged_model_info()
    assert info is not None, "blobnet.json must record the shipped network"
    assert packaged.file_sha256(path) == info["sha256"]
    net = Agent.load(search="light", device="cpu", seed=0)
    assert net.model_source == str(path)
    diffs = {
        (players, cards): play_duplicate(
            [net, Agent.heuristic()], players, cards, 10, seed=2026, progress=False
        )
        .pair(0, 1)
        .mean_diff
        for players, cards in ((3, 13), (4, 5), (5, 10), (7, 7))
    }
    assert sum(diffs.values()) > 0, diffs
