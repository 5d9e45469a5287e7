"""Inference of the hidden hands from the bids, through the config, the
binding's search, the self-play engine and the agents."""

from __future__ import annotations

import numpy as np
import pytest

import blobmaster as bm
from blobmaster import _core
from blobmaster.agents import SEARCH_KEYS, RolloutAgent
from blobmaster.config import ConfigError, SearchConfig, load_config, parse_search

BIDS = {"inference": "bids", "inference_candidates": 16, "inference_temperature": 0.5}


def after_bids(seed: int = 3) -> bm.Round:
    """A 5-player, 4-card round after the heuristic's bids."""
    r = bm.Round(5, 4, dealer=0, trump=2, seed=seed)
    while r.phase == "bid":
        r.apply(_core.heuristic_action(r))
    return r


def test_defaults_are_uniform_and_every_preset_says_so() -> None:
    cfg = SearchConfig()
    assert (cfg.inference, cfg.inference_candidates, cfg.inference_temperature) == (
        "uniform",
        32,
        1.0,
    )
    for name in ("light", "medium", "heavy"):
        assert load_config(name).search.inference == "uniform"
    assert {"inference", "inference_candidates", "inference_temperature"} <= set(SEARCH_KEYS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inference": "guess"}, "inference"),
        ({"inference_candidates": 0}, "inference_candidates"),
        ({"inference_candidates": 5000}, "inference_candidates"),
        ({"inference_temperature": 0.0}, "inference_temperature"),
        ({"inference_temperature": -1.0}, "inference_temperature"),
    ],
)
def test_bad_inference_settings_are_config_errors(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_search(data)
    assert issubclass(ConfigError, ValueError)


def test_search_default_is_uniform_and_bids_changes_the_sampled_hands() -> None:
    r = after_bids()
    kwargs = dict(evaluator="heuristic", determinizations=4, simulations=20)
    default, _ = _core.search(r, seed=5, **kwargs)  # type: ignore[arg-type]
    uniform, _ = _core.search(r, seed=5, inference="uniform", **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(default, uniform)
    # Over many seeds the bid-weighted worlds search differently somewhere.
    differ = 0
    for seed in range(10):
        u, _ = _core.search(r, seed=seed, **kwargs)  # type: ignore[arg-type]
        b, _ = _core.search(r, seed=seed, **BIDS, **kwargs)  # type: ignore[arg-type]
        b2, _ = _core.search(r, seed=seed, **BIDS, **kwargs)  # type: ignore[arg-type]
        np.testing.assert_array_equal(b, b2)
        assert b.sum() == u.sum()
        differ += not np.array_equal(u, b)
    assert differ >= 3, differ


def test_bids_search_does_not_peek() -> None:
    """Seat 0 sees the same in both rounds (hidden hands swapped, bids equal)."""
    hands = [[0, 14, 27, 40, 51], [1, 15, 28, 41, 50], [2, 16, 29, 42, 49], [3, 17, 30, 43, 48]]
    other = [hands[0], hands[2], hands[1], [4, 17, 30, 43, 48]]
    rounds = [bm.Round.from_hands(h, dealer=3, trump=1) for h in (hands, other)]
    for r in rounds:
        for b in (2, 1, 0):
            r.apply(52 + b)  # seats 0, 1, 2 bid; the dealer (seat 3) bids next
        r.apply(52 + 1)
    a, _ = _core.search(rounds[0], evaluator="heuristic", simulations=30, seed=8, **BIDS)
    b, _ = _core.search(rounds[1], evaluator="heuristic", simulations=30, seed=8, **BIDS)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inference": "guess"}, "inference"),
        ({"inference": "bids", "inference_candidates": 0}, "inference_candidates"),
        ({"inference": "bids", "inference_temperature": 0.0}, "inference_temperature"),
        ({"inference": "bids", "inference_candidates": -3}, "inference_candidates"),
    ],
)
def test_bad_inference_arguments_are_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _core.search(after_bids(), evaluator="heuristic", **kwargs)
    with pytest.raises(ValueError, match=message):
        bm.SelfPlayEngine(threads=1, rounds=1, **kwargs)


def test_self_play_and_agents_take_the_preset_keys() -> None:
    preset = load_config("light")
    search = parse_search({**dict(preset.search.__dict__), **BIDS})
    engine = bm.SelfPlayEngine(
        **{**preset.engine_kwargs(threads=1, rounds=1), **{k: getattr(search, k) for k in BIDS}}
    )
    engine.close()
    agent = RolloutAgent(search, seed=1)
    assert {k: agent._kwargs[k] for k in BIDS} == BIDS
    r = after_bids()
    assert agent.act(r) in r.legal_actions()
