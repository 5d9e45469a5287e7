"""The self-play engine binding: batches, answers, examples, errors, lifecycle."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import blobmaster as bm

TINY = dict(
    threads=2,
    games_per_thread=4,
    determinizations=2,
    simulations=8,
    max_batch=32,
    tables=[(4, 3, 1.0)],
)


def answer_all(engine: bm.SelfPlayEngine, max_size: int = 32) -> int:
    """Answers every batch with a uniform policy and neutral values."""
    batches = 0
    deadline = time.monotonic() + 60
    while not engine.finished:
        assert time.monotonic() < deadline, "self-play did not finish"
        ticket, states, _masks = engine.next_batch(max_size, 5)
        if ticket < 0:
            continue
        n = len(states)
        engine.submit(ticket, np.zeros((n, 66), np.float32), np.full((n, 8), 0.5, np.float32))
        batches += 1
    return batches


def test_batches_are_zero_copy_views_with_the_right_shapes() -> None:
    with bm.SelfPlayEngine(**TINY, rounds=4, seed=1) as engine:
        ticket, states, masks = -1, None, None
        while ticket < 0:
            ticket, states, masks = engine.next_batch(16, 20)
        assert states.dtype == np.float32 and states.shape[1:] == (256,)
        assert masks.dtype == np.bool_ and masks.shape[1:] == (66,)
        assert 1 <= len(states) <= 16 and len(masks) == len(states)
        assert not states.flags.owndata, "states must view the engine's buffer"
        # Every row is a real decision: at least two legal actions.
        assert (masks.sum(axis=1) >= 2).all()
        n = len(states)
        engine.submit(ticket, np.zeros((n, 66), np.float32), np.full((n, 8), 0.5, np.float32))
        answer_all(engine)
        assert engine.stats()["rounds"] == 4


def test_examples_columns_and_counters() -> None:
    with bm.SelfPlayEngine(**TINY, rounds=6, seed=2) as engine:
        answer_all(engine)
        ex = engine.take_examples()
        stats = engine.stats()
    n = len(ex["seat"])
    assert n == stats["examples"] > 0
    assert ex["state"].shape == (n, 256) and ex["state"].dtype == np.float32
    assert ex["mask"].shape == (n, 66) and ex["mask"].dtype == np.bool_
    assert ex["policy"].shape == (n, 66) and ex["value"].shape == (n, 8)
    assert ex["round_id"].dtype == np.uint64 and ex["move"].dtype == np.uint16
    assert sorted(set(ex["round_id"].tolist())) == list(range(6))
    np.testing.assert_allclose(ex["policy"].sum(axis=1), 1.0, atol=1e-5)
    assert not (ex["policy"][~ex["mask"]]).any()
    assert stats["stray_answers"] == 0
    assert stats["mean_batch"] > 0
    assert 0.0 <= stats["cache_hit_rate"] <= 1.0


def test_same_seed_same_examples_with_one_thread() -> None:
    def run() -> dict[str, np.ndarray]:
        with bm.SelfPlayEngine(**{**TINY, "threads": 1}, rounds=3, seed=9) as engine:
            answer_all(engine)
            ex = engine.take_examples()
        order = np.lexsort((ex["move"], ex["round_id"]))
        return {k: v[order] for k, v in ex.items()}

    a, b = run(), run()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"threads": 0}, "threads"),
        ({"games_per_thread": -1}, "games_per_thread"),
        ({"simulations": 1}, "simulations"),
        ({"determinizations": 0}, "determinizations"),
        ({"tables": [(9, 5, 1.0)]}, "9 players"),
        ({"tables": [(4, 14, 1.0)]}, "14 cards"),
        ({"tables": [(4, 5, -1.0)]}, "weight"),
        ({"tables": []}, "table"),
        ({"max_batch": 0}, "max_batch"),
        ({"c_puct": float("nan")}, "c_puct"),
        ({"seed": -3}, "seed"),
        ({"rounds": -1}, "rounds"),
        ({"gumbel": True, "gumbel_m": 0}, "considered_actions"),
        ({"gumbel": True, "gumbel_m": -1}, "gumbel_m"),
        ({"gumbel": True, "gumbel_c_visit": 0.0}, "c_visit"),
        ({"gumbel": True, "gumbel_c_scale": float("nan")}, "c_scale"),
    ],
)
def test_bad_configuration_is_a_value_error(kwargs: dict, fragment: str) -> None:
    with pytest.raises(bm.InvalidArgumentError, match=fragment):
        bm.SelfPlayEngine(**kwargs)


def test_bad_answers_raise_and_lose_nothing() -> None:
    with bm.SelfPlayEngine(**TINY, rounds=2, seed=3) as engine:
        ticket = -1
        while ticket < 0:
            ticket, states, _ = engine.next_batch(32, 20)
        n = len(states)
        good_p = np.zeros((n, 66), np.float32)
        good_v = np.full((n, 8), 0.5, np.float32)
        with pytest.raises(bm.InvalidArgumentError, match="float32"):
            engine.submit(ticket, good_p.astype(np.float64), good_v)
        with pytest.raises(bm.InvalidArgumentError, match="shape"):
            engine.submit(ticket, good_p[:, :65], good_v)
        with pytest.raises(bm.InvalidArgumentError, match="shape"):
            engine.submit(ticket, np.zeros((n + 1, 66), np.float32), good_v)
        bad_v = good_v.copy()
        bad_v[0, 2] = np.inf
        with pytest.raises(bm.InvalidArgumentError, match="non-finite"):
            engine.submit(ticket, good_p, bad_v)
        bad_p = good_p.copy()
        bad_p[n - 1, 5] = np.nan
        with pytest.raises(bm.InvalidArgumentError, match="non-finite"):
            engine.submit(ticket, bad_p, good_v)
        with pytest.raises(bm.InvalidArgumentError, match="float32 numpy array"):
            engine.submit(ticket, "policy", good_v)  # type: ignore[arg-type]
        with pytest.raises(bm.TicketError):
            engine.submit(ticket + 1, good_p, good_v)
        with pytest.raises(bm.InvalidArgumentError, match="not a batch ticket"):
            engine.submit(-5, good_p, good_v)
        engine.submit(ticket, good_p, good_v)
        with pytest.raises(bm.TicketError):
            engine.submit(ticket, good_p, good_v)
        answer_all(engine)
        assert engine.stats()["rounds"] == 2


def test_non_contiguous_answers_are_accepted() -> None:
    with bm.SelfPlayEngine(**TINY, rounds=1, seed=4) as engine:
        while not engine.finished:
            ticket, states, _ = engine.next_batch(32, 5)
            if ticket < 0:
                continue
            n = len(states)
            wide = np.zeros((n, 132), np.float32)
            engine.submit(ticket, wide[:, ::2], np.full((8, n), 0.5, np.float32).T)
        assert engine.stats()["rounds"] == 1


def test_bad_next_batch_arguments() -> None:
    with bm.SelfPlayEngine(**TINY, rounds=1) as engine:
        with pytest.raises(bm.InvalidArgumentError, match="max_size"):
            engine.next_batch(0)
        with pytest.raises(bm.InvalidArgumentError, match="max_size"):
            engine.next_batch(33)
        with pytest.raises(bm.InvalidArgumentError, match="timeout"):
            engine.next_batch(8, -1)


def test_close_is_prompt_when_python_stops_answering() -> None:
    engine = bm.SelfPlayEngine(**TINY, seed=5)
    _ticket, _, _ = engine.next_batch(32, 50)
    time.sleep(0.1)
    start = time.monotonic()
    engine.close()
    engine.close()
    assert time.monotonic() - start < 2.0
    with pytest.raises(bm.EngineClosedError):
        engine.next_batch(8, 10)


def test_next_batch_waits_without_the_gil() -> None:
    counter = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1

    # Two buffers, both handed out and unanswered: the next call must wait.
    # 128 rounds in flight queue more than two batches' worth of roots.
    with bm.SelfPlayEngine(
        **{**TINY, "pipeline_depth": 2, "games_per_thread": 64}, seed=7
    ) as engine:
        held = []
        while len(held) < 2:
            ticket, _, _ = engine.next_batch(32, 50)
            if ticket >= 0:
                held.append(ticket)
        thread = threading.Thread(target=spin)
        thread.start()
        time.sleep(0.05)
        before = counter
        ticket, states, _ = engine.next_batch(32, 300)
        during = counter - before
        stop.set()
        thread.join()
    assert ticket == -1 and len(states) == 0
    assert during > 10_000, f"another thread ran only {during} steps while next_batch waited"


def test_views_keep_the_engine_alive() -> None:
    engine = bm.SelfPlayEngine(**TINY, seed=6)
    ticket = -1
    while ticket < 0:
        ticket, states, masks = engine.next_batch(32, 20)
    engine.close()
    del engine
    # The buffers outlive the engine object while views exist.
    assert states.shape[1] == 256 and float(states.sum()) >= 0.0
    assert masks.any()
