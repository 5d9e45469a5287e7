"""Single-position search and the heuristic player through the binding."""

from __future__ import annotations

import numpy as np
import pytest

import blobmaster as bm
from blobmaster import _core


def first_bid_round(seed: int = 1) -> bm.Round:
    return bm.Round(4, 5, dealer=0, trump=0, seed=seed)


def test_rollout_search_counts_every_simulation() -> None:
    r = first_bid_round()
    visits, value = _core.search(r, evaluator="rollout", determinizations=2, simulations=40, seed=3)
    assert visits.shape == (66,) and value.shape == (8,)
    legal = set(r.legal_actions())
    assert visits.sum() == 2 * 39
    assert all(a in legal for a in np.nonzero(visits)[0])
    assert (value[:4] >= 0).all() and (value[:4] <= 1).all() and (value[4:] == 0).all()


def test_same_seed_same_search_and_hidden_cards_do_not_matter() -> None:
    hands = [[0, 14, 27, 40, 51], [1, 15, 28, 41, 50], [2, 16, 29, 42, 49], [3, 17, 30, 43, 48]]
    other = [hands[0], hands[2], hands[1], [4, 17, 30, 43, 48]]  # seat 0 sees the same
    a = bm.Round.from_hands(hands, dealer=3, trump=1)
    b = bm.Round.from_hands(other, dealer=3, trump=1)
    va, _ = _core.search(a, evaluator="rollout", simulations=30, seed=5)
    vb, _ = _core.search(b, evaluator="rollout", simulations=30, seed=5)
    np.testing.assert_array_equal(va, vb)
    assert _core.heuristic_action(a) == _core.heuristic_action(b)


def test_python_evaluator_is_called_in_batches() -> None:
    calls: list[int] = []

    def evaluate(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert states.dtype == np.float32 and states.shape[1] == 256
        assert masks.dtype == np.bool_ and masks.shape[1] == 66
        calls.append(len(states))
        # Prefer bidding 1 strongly: the search should follow the prior.
        logits = np.zeros((len(states), 66), np.float32)
        logits[:, 53] = 5.0
        return logits, np.full((len(states), 8), 0.5, np.float32)

    r = first_bid_round()
    visits, _ = _core.search(r, evaluator=evaluate, determinizations=2, simulations=20, seed=1)
    assert sum(calls) <= 2 * 20 and max(calls) > 1
    assert int(np.argmax(visits)) == 53


def test_errors_from_the_python_evaluator_propagate() -> None:
    def broken(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise RuntimeError("network exploded")

    with pytest.raises(RuntimeError, match="network exploded"):
        _core.search(first_bid_round(), evaluator=broken, simulations=10)

    def wrong_shape(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(states), 65), np.float32), np.zeros((len(states), 8), np.float32)

    with pytest.raises(bm.InvalidArgumentError, match="policy_logits"):
        _core.search(first_bid_round(), evaluator=wrong_shape, simulations=10)

    def not_finite(states: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(states), 66), np.float32), np.full(
            (len(states), 8), np.nan, np.float32
        )

    with pytest.raises(bm.InvalidArgumentError, match="non-finite"):
        _core.search(first_bid_round(), evaluator=not_finite, simulations=10)


def test_bad_search_arguments() -> None:
    r = first_bid_round()
    with pytest.raises(bm.InvalidArgumentError, match="unknown evaluator"):
        _core.search(r, evaluator="oracle")
    with pytest.raises(bm.InvalidArgumentError, match="simulations"):
        _core.search(r, evaluator="uniform", simulations=0)
    with pytest.raises(bm.InvalidArgumentError):
        _core.search(r, evaluator=42)  # type: ignore[arg-type]
    finished = r.clone()
    while not finished.is_over:
        finished.apply(finished.legal_actions()[0])
    with pytest.raises(bm.IllegalActionError):
        _core.search(finished, evaluator="uniform")
    with pytest.raises(bm.IllegalActionError):
        _core.heuristic_action(finished)


def test_forced_move_is_returned_unsearched() -> None:
    r = bm.Round.from_hands([[0], [13], [26]], dealer=0, trump=None)
    for _ in range(3):
        r.apply(r.legal_actions()[0])  # bids
    visits, _ = _core.search(r, evaluator="rollout", simulations=50)
    assert visits.sum() == 1 and visits[r.legal_actions()[0]] == 1


def test_normalized_q_reaches_the_search() -> None:
    """Min-max normalised Q changes where a PUCT search goes (same seed,
    same evaluator), and keeps every visit on a legal action."""
    r = bm.Round.from_hands(
        [[0, 14, 27, 40, 51], [1, 15, 28, 41, 50], [2, 16, 29, 42, 49], [3, 17, 30, 43, 48]],
        dealer=3,
        trump=1,
    )
    kwargs = dict(evaluator="rollout", determinizations=2, simulations=60, c_puct=1.25, seed=9)
    plain, _ = _core.search(r, **kwargs)  # type: ignore[arg-type]
    normalized, _ = _core.search(r, normalize_q=True, **kwargs)  # type: ignore[arg-type]
    assert plain.sum() == normalized.sum() == 2 * 59
    assert set(np.nonzero(normalized)[0]) <= set(r.legal_actions())
    assert not np.array_equal(plain, normalized)
