"""ISMCTS with a network's policy as the root prior: the binding's ``prior``
argument, ``GuidedIsmctsAgent``, its specs, and the engine arena playing it
exactly as the Python agent does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster import _core
from blobmaster._core import InvalidArgumentError
from blobmaster.agent_specs import parse_agent_spec
from blobmaster.agents import AgentError, GuidedIsmctsAgent
from blobmaster.arena import ArenaReport, play_duplicate
from blobmaster.cli import app
from test_agents import _decisions_that_differ
from test_arena_engine import _comparable
from test_ismcts import _position as _ismcts_position


def _position(seed: int) -> bm.Round:
    """A random 4 x 5 position with three or more legal actions."""
    return _ismcts_position(seed, min_legal=3)


def _prior_on(r: bm.Round, favourite: int, mass: float = 0.9) -> np.ndarray:
    legal = r.legal_actions()
    prior = np.zeros(66, dtype=np.float32)
    prior[legal] = (1 - mass) / (len(legal) - 1)
    prior[favourite] = mass
    return prior


# ---- the binding


def test_a_prior_steers_the_search_and_weight_zero_ignores_it() -> None:
    for seed in range(8):
        r = _position(seed)
        plain, _ = _core.ismcts(r, iterations=400, seed=seed)
        # The prior's mass goes to the move plain search likes least.
        legal = r.legal_actions()
        favourite = min(legal, key=lambda a: plain[a])
        prior = _prior_on(r, favourite)
        guided, _ = _core.ismcts(r, iterations=400, seed=seed, prior=prior)
        assert guided.sum() == 400 and set(np.flatnonzero(guided)) == set(legal)
        assert guided[favourite] > plain[favourite]
        ignored, _ = _core.ismcts(r, iterations=400, seed=seed, prior=prior, prior_weight=0.0)
        np.testing.assert_array_equal(ignored, plain)


def test_bad_priors_are_clear_errors() -> None:
    r = _position(0)
    legal = r.legal_actions()
    illegal = next(a for a in range(66) if a not in legal)
    off_legal = np.zeros(66, dtype=np.float32)
    off_legal[illegal] = 1.0
    negative = _prior_on(r, legal[0])
    negative[legal[1]] = -0.5
    nan = _prior_on(r, legal[0])
    nan[legal[0]] = np.nan
    for prior, match in (
        (np.ones(65, dtype=np.float32), "66 values"),
        (off_legal, "no mass on a legal action"),
        (negative, ">= 0"),
        (nan, "finite"),
    ):
        with pytest.raises(_core.InvalidArgumentError, match=match):
            _core.ismcts(r, iterations=10, prior=prior)
    with pytest.raises(_core.InvalidArgumentError, match="prior_weight"):
        _core.ismcts(r, iterations=10, prior=_prior_on(r, legal[0]), prior_weight=-1.0)
    with pytest.raises(TypeError):  # float64 is not silently converted
        _core.ismcts(r, iterations=10, prior=np.ones(66))


# ---- the agent


def test_agent_prior_is_the_networks_policy_over_the_legal_actions() -> None:
    agent = GuidedIsmctsAgent("random", 50, seed=1)
    r = _position(3)
    prior = agent.prior(r)
    legal = r.legal_actions()
    assert prior.dtype == np.float32 and prior.shape == (66,)
    assert abs(float(prior.sum()) - 1.0) < 1e-5
    assert set(np.flatnonzero(prior)) == set(legal)
    with torch.inference_mode():
        logits, _ = agent.net(torch.from_numpy(np.asarray(r.observation())[None, :]))
    expected = torch.softmax(logits[0, legal], dim=0).numpy()
    np.testing.assert_allclose(prior[legal], expected, rtol=1e-5, atol=1e-7)
    assert agent.evaluations == 1


def test_agent_acts_legally_and_asks_the_network_once_per_real_decision() -> None:
    agent = GuidedIsmctsAgent("random", 30, seed=2)
    r = bm.Round(3, 3, seed=9)
    decisions = 0
    while not r.is_over:
        decisions += len(r.legal_actions()) > 1
        action = agent.act(r)
        assert action in r.legal_actions()
        r.apply(action)
    assert agent.evaluations == decisions > 0


def test_it_never_peeks() -> None:
    differ, checked = _decisions_that_differ(GuidedIsmctsAgent("random", 150, seed=4))
    assert checked >= 20
    assert differ == 0


def test_bad_agent_arguments() -> None:
    with pytest.raises(AgentError, match="prior_weight"):
        GuidedIsmctsAgent("random", 10, prior_weight=-1)
    with pytest.raises(AgentError, match="prior_weight"):
        GuidedIsmctsAgent("random", 10, prior_weight=float("inf"))
    with pytest.raises(AgentError, match="iterations"):
        GuidedIsmctsAgent("random", 0)
    with pytest.raises(AgentError):
        GuidedIsmctsAgent("/no/such/model.pt", 10)


def test_specs_name_the_agent_as_they_build_it() -> None:
    for spec in (
        "model:random:ismcts:200",
        "model:random:ismcts:200:0.5",
        "model:random:ismcts:200:0.7:2:heuristic",
        "model:random:ismcts:200:heuristic",
        "model:random:ismcts:200:0.7:0:network",
        "model:random:ismcts:200:network:policy",
        "model:random:ismcts:200:network:policy=0.5",
        "model:random:ismcts:200:network:blend=0.5",
        "model:random:ismcts:200:0.7:0:network:blend=0.25:policy=0.5",
        "model:random:ismcts:200:network:netblend=1",
        "model:random:ismcts:200:network:netblend=0.5:policy=0.5",
    ):
        agent = parse_agent_spec(spec, seed=3)
        assert isinstance(agent, GuidedIsmctsAgent)
        assert "random-net:" + spec.removeprefix("model:random:") == agent.name
        again = parse_agent_spec("model:random:" + agent.name.removeprefix("random-net:"))
        assert (
            again.iterations, again.exploration, again.prior_weight, again.rollout,
            again.playout_weight, again.playout_policy, again.inference,
        ) == (
            agent.iterations, agent.exploration, agent.prior_weight, agent.rollout,
            agent.playout_weight, agent.playout_policy, agent.inference,
        )  # fmt: skip
    blended = parse_agent_spec("model:random:ismcts:200:network:blend=0.5")
    assert blended.playout_weight == 0.5 and blended.describe()["playout_weight"] == 0.5
    assert blended.playout_policy == "heuristic"
    played = parse_agent_spec("model:random:ismcts:200:network:netblend=0.5")
    assert played.describe()["playout_policy"] == "network" and played.playout_weight == 0.5
    agent = parse_agent_spec("default:ismcts")
    assert isinstance(agent, GuidedIsmctsAgent)
    assert agent.name == "default:ismcts:1000" and agent.prior_weight == 1.0
    assert agent.describe()["prior_weight"] == 1.0
    for bad, match in (
        ("default:ismcts:0", "iterations"),
        ("default:ismcts:100:0.7:-1", "prior weight|prior_weight"),
        ("default:ismcts:100:0.7:1:2", "ismcts:N"),
        ("model:random:ismcts:ten", "iterations"),
        ("ismcts:100:network", "needs a network"),
        ("ismcts:100:policy", "network leaves"),
        ("model:random:ismcts:100:heuristic:policy", "network leaves"),
        ("model:random:ismcts:100:network:policy=0", "inference_temperature"),
        ("model:random:ismcts:100:network:blend=2", "playout_weight"),
        ("model:random:ismcts:100:network:blend=x", "blend=L"),
        ("model:random:ismcts:100:heuristic:blend=0.5", "network leaves"),
        ("ismcts:100:blend=0.5", "network"),
        ("model:random:ismcts:100:network:netblend=0", "playout_weight > 0"),
        ("model:random:ismcts:100:network:netblend=y", "netblend=L"),
        ("model:random:ismcts:100:heuristic:netblend=1", "network leaves"),
    ):
        with pytest.raises(AgentError, match=match):
            parse_agent_spec(bad)


# ---- the engine arena


def test_engine_arena_plays_it_as_the_python_agent_does() -> None:
    def agents() -> list:
        return [
            parse_agent_spec("model:random:ismcts:60:0.7:3", seed=5),
            parse_agent_spec("ismcts:60", seed=6),
            parse_agent_spec("heuristic"),
        ]

    engine_agents = agents()
    engine = play_duplicate(engine_agents, 3, 4, 6, seed=8, progress=False, engine=True)
    python = play_duplicate(agents(), 3, 4, 6, seed=8, progress=False, engine=False)
    assert _comparable(engine) == _comparable(python)
    assert engine_agents[0].evaluations > 0


def test_engine_arena_plays_network_leaves_as_the_python_agent_does() -> None:
    """Network-valued ISMCTS: the engine batches the leaves of many rounds,
    the Python agent asks for them one at a time; the moves are the same."""

    def agents() -> list:
        return [
            parse_agent_spec("model:random:ismcts:20:0.7:1:network", seed=5),
            parse_agent_spec("model:random:ismcts:20:0.7:0:network:policy", seed=7),
            parse_agent_spec("model:random:ismcts:20:0.7:1:network:blend=0.5", seed=9),
            parse_agent_spec("model:random:ismcts:12:0.7:1:network:netblend=0.5", seed=11),
        ]

    engine_agents, python_agents = agents(), agents()
    engine = play_duplicate(engine_agents, 4, 3, 3, seed=8, progress=False, engine=True)
    python = play_duplicate(python_agents, 4, 3, 3, seed=8, progress=False, engine=False)
    assert _comparable(engine) == _comparable(python)
    # One evaluation per iteration (and the root's for the prior), minus
    # the exact last-trick leaves.
    assert python_agents[0].evaluations > 20 * 6
    assert engine_agents[0].evaluations > 0


# ---- network leaves through the binding


def _uniform(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((len(states), 66), np.float32), np.full((len(states), 8), 0.5, np.float32)


def test_network_leaves_are_valued_by_the_evaluator_one_at_a_time() -> None:
    r = bm.Round(4, 5, seed=3)  # the first bid: every leaf is far from the end
    rows: list[int] = []

    def quarter(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows.append(len(states))
        assert states.shape[1] == 256 and masks.shape == (len(states), 66)
        return np.zeros((len(states), 66), np.float32), np.full((len(states), 8), 0.25, np.float32)

    visits, value = _core.ismcts(r, iterations=40, rollout="network", evaluator=quarter, seed=1)
    assert visits.sum() == 40
    # The root's evaluation (its prior), then one leaf per iteration.
    assert rows == [1] * 41
    np.testing.assert_allclose(value[:4], 0.25, rtol=1e-6)
    # Without a prior weight the root is not evaluated.
    rows.clear()
    _core.ismcts(r, iterations=40, rollout="network", evaluator=quarter, prior_weight=0.0)
    assert len(rows) == 40


def test_playout_weight_one_is_ismcts_with_heuristic_playouts() -> None:
    r = _position(4)
    kw = dict(iterations=80, seed=2)
    blended = _core.ismcts(
        r, rollout="network", evaluator=_uniform, prior_weight=0.0, playout_weight=1.0, **kw
    )
    playouts = _core.ismcts(r, rollout="heuristic", **kw)
    np.testing.assert_array_equal(blended[0], playouts[0])
    np.testing.assert_array_equal(blended[1], playouts[1])
    with pytest.raises(InvalidArgumentError, match="playout_weight"):
        _core.ismcts(r, rollout="network", evaluator=_uniform, playout_weight=1.5, **kw)


def test_network_playouts_ask_the_evaluator_for_every_move_with_a_choice() -> None:
    """``playout_policy="network"``: the evaluator plays the playouts, so a
    search at weight 1 asks it about positions where other seats move (the
    rows are those seats' views), and its values are the playouts' results
    in [0, 1]; a network playout needs a weight to blend with."""
    r = bm.Round(4, 5, seed=3)
    rows = []

    def uniform(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows.append(len(states))
        logits = np.where(masks, 0.0, -30.0).astype(np.float32)
        return logits, np.full((len(states), 8), 0.5, np.float32)

    kw = dict(iterations=10, seed=2, rollout="network", evaluator=uniform, prior_weight=0.0)
    visits, value = _core.ismcts(r, playout_weight=1.0, playout_policy="network", **kw)
    assert visits.sum() == 10
    # Every playout from a first-round bid runs through many choices.
    assert len(rows) > 10 * 8
    assert np.all((value[:4] >= 0) & (value[:4] <= 1)) and not np.allclose(value[:4], 0.5)
    with pytest.raises(InvalidArgumentError, match="playout_weight"):
        _core.ismcts(r, playout_weight=0.0, playout_policy="network", **kw)
    with pytest.raises(InvalidArgumentError, match="playout policy"):
        _core.ismcts(r, playout_weight=1.0, playout_policy="greedy", **kw)


def test_network_leaf_errors_are_clear() -> None:
    r = _position(1)
    with pytest.raises(ValueError, match="needs an evaluator"):
        _core.ismcts(r, iterations=10, rollout="network")
    with pytest.raises(ValueError, match="no prior"):
        _core.ismcts(r, iterations=10, rollout="network", evaluator="uniform",
                     prior=_prior_on(r, r.legal_actions()[0]))  # fmt: skip
    with pytest.raises(ValueError, match="only used with"):
        _core.ismcts(r, iterations=10, rollout="heuristic", evaluator="uniform")

    def broken(states: np.ndarray, masks: np.ndarray) -> None:
        raise RuntimeError("the network is down")

    with pytest.raises(RuntimeError, match="network is down"):
        _core.ismcts(r, iterations=10, rollout="network", evaluator=broken)
    with pytest.raises(AgentError, match="needs a network"):
        bm.Agent.ismcts(10, rollout="network")


def test_cli_eval_accepts_a_guided_agent(tmp_path) -> None:
    out = tmp_path / "report.json"
    args = ["eval", "--agent", "model:random:ismcts:40", "--agent", "heuristic"]
    args += ["--players", "3", "--cards", "2", "--deals", "2", "--seed", "5", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = ArenaReport.from_json(out.read_text())
    assert [a.name for a in report.agents] == ["random-net:ismcts:40", "heuristic"]
    assert report.agents[0].info["prior_weight"] == 1.0
