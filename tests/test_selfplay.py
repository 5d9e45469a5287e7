"""Self-play end to end: the real Rust engine, a tiny BlobNet on the CPU,
the inference loop, replay shards; Ctrl-C handling."""

from __future__ import annotations

import _thread
import json
import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import blobmaster as bm
from blobmaster import inference
from blobmaster.inference import Progress, run_selfplay
from blobmaster.model import ModelConfig, default_model, script_model
from blobmaster.replay import list_shards, read_shards, validate_shard
from blobmaster.shard_writer import ShardWriter
from helpers import TINY_META

META = TINY_META  # the self-play tests write shards like the training tests
SEATS, SEAT_BLOCK, SEAT_HAS_BID, SEAT_BID, SEAT_WON = 144, 12, 3, 4, 5
TRICKS_DONE = 249


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny() -> torch.jit.ScriptModule:
    return script_model(default_model(seed=1, config=ModelConfig.tiny()))


def engine(**overrides) -> bm.SelfPlayEngine:
    kwargs = dict(
        threads=2,
        games_per_thread=6,
        determinizations=2,
        simulations=6,
        tables=[(4, 5, 1.0), (3, 2, 1.0), (6, 3, 1.0)],
        seed=7,
        max_batch=128,
        rounds=12,
    )
    kwargs.update(overrides)
    return bm.SelfPlayEngine(**kwargs)


def test_selfplay_writes_valid_shards(tmp_path, tiny):
    eng = engine()
    snapshots: list[Progress] = []
    summary = run_selfplay(
        eng,
        tiny,
        "cpu",
        out_dir=tmp_path,
        rounds_per_shard=5,
        metadata=META,
        progress=snapshots.append,
    )
    assert eng.finished
    assert not summary.interrupted
    assert summary.rounds == 12
    assert [p.name for p in summary.shards] == [f"shard-00000{i}.parquet" for i in range(3)]
    assert list_shards(tmp_path) == summary.shards
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary files
    infos = [validate_shard(p) for p in summary.shards]
    assert [i.rounds for i in infos] == [5, 5, 2]
    assert all(i.models == (META.model,) and i.searches == (META.search,) for i in infos)
    df = read_shards(tmp_path).collect()
    assert sorted(df["round_id"].unique().to_list()) == list(range(12))
    assert df.height == summary.examples == int(eng.stats()["examples"])
    # shards hold whole rounds: no round id in two files
    seen = [
        set(read_shards(p, ["round_id"]).collect()["round_id"].to_list()) for p in summary.shards
    ]
    assert sum(len(s) for s in seen) == len(set().union(*seen)) == 12
    # metrics
    assert summary.batches > 0 and summary.evaluations >= summary.batches
    assert summary.evaluations == int(eng.stats()["leaves_evaluated"])
    assert summary.batch_sizes.sum() == summary.batches
    assert sum(n for _, _, n in summary.histogram()) == summary.batches
    assert 1 <= summary.mean_batch <= 128
    assert summary.forward_s > 0 and summary.python_s > 0 and summary.rounds_per_min > 0
    assert "rounds/min" in summary.one_line()
    assert snapshots and snapshots[-1].rounds == 12


def test_gumbel_selfplay_writes_valid_shards_with_improved_policies(tmp_path, tiny):
    eng = engine(gumbel=True, normalize_q=True, gumbel_m=4, simulations=8)
    summary = run_selfplay(eng, tiny, "cpu", out_dir=tmp_path, rounds_per_shard=6, metadata=META)
    assert summary.rounds == 12 and not summary.interrupted
    assert sum(validate_shard(p).rounds for p in summary.shards) == 12
    df = read_shards(tmp_path).collect()
    policy = np.stack(df["policy"].to_numpy()).astype(np.float64)
    mask = np.stack(df["mask"].to_numpy()).astype(bool)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-4)
    assert (policy[~mask] == 0).all() and (policy >= 0).all()
    # the improved policy, not visit counts: 2 trees x 7 root-child visits
    # give multiples of 1/14, a softmax of completed Q does not
    off_grid = np.abs(policy * 14 - np.round(policy * 14)).max(axis=1) > 1e-3
    assert off_grid.mean() > 0.9


def test_playout_cap_rounds_are_valid_and_train(tmp_path, tiny):
    # Half the decisions searched in full (6 simulations per tree, a policy
    # target), half fast (2, an all-zero policy row): shards stay valid and
    # the trainer learns the policy from the full ones only.
    from blobmaster.train import TrainConfig, train
    from blobmaster.trainer import policy_rows
    from helpers import TINY_TRAIN

    eng = engine(full_search_fraction=0.5, fast_simulations=2)
    summary = run_selfplay(eng, tiny, "cpu", out_dir=tmp_path / "shards", metadata=META)
    assert summary.rounds == 12 and not summary.interrupted
    assert sum(validate_shard(p).rounds for p in summary.shards) == 12
    stats = eng.stats()
    fast, decisions = int(stats["fast_decisions"]), int(stats["decisions"])
    assert 0 < fast < decisions
    df = read_shards(tmp_path / "shards").collect()
    policy = np.stack(df["policy"].to_numpy()).astype(np.float64)
    state = np.stack(df["state"].to_numpy())
    sums = policy.sum(axis=1)
    assert np.all((np.abs(sums - 1) < 1e-4) | (sums == 0))
    movers = state[:, bm.replay.TO_MOVE] > 0.5
    assert int((movers & (sums == 0)).sum()) == fast
    cfg = TrainConfig(**{**TINY_TRAIN, "steps": 3, "checkpoint_every": 0, "val_fraction": 0.0})
    rows = policy_rows(torch.from_numpy(state), torch.from_numpy(policy).float(), cfg)
    assert rows is not None and int(rows.sum()) == int(movers.sum()) - fast
    result = train(cfg, [tmp_path / "shards"], tmp_path / "run", device="cpu")
    assert result.step == 3 and math.isfinite(result.loss)
    # Gumbel halving needs the full budget: the combination is refused.
    with pytest.raises(ValueError, match="playout cap"):
        engine(full_search_fraction=0.5, fast_simulations=2, gumbel=True)
    with pytest.raises(ValueError, match="fast_simulations"):
        engine(full_search_fraction=0.5, fast_simulations=0)


def test_values_match_the_rounds_real_scores(tmp_path, tiny):
    """Checked independently of replay.check_examples: the bids and tricks
    visible in each example's observation against the stored scores."""
    summary = run_selfplay(engine(seed=11), tiny, "cpu", out_dir=tmp_path, rounds_per_shard=100)
    df = read_shards(tmp_path).collect()
    state, value = df["state"].to_numpy(), df["value"].to_numpy()
    seat, players, cards, rid = (
        df[c].to_numpy().astype(int) for c in ("seat", "num_players", "cards", "round_id")
    )
    scores: dict[int, np.ndarray] = {}
    checked = 0
    for i in range(df.height):
        p, c = players[i], cards[i]
        absolute = np.zeros(p)
        for k in range(p):
            absolute[(seat[i] + k) % p] = value[i, k] * (10 + c)  # back to points
        assert np.allclose(absolute, np.round(absolute), atol=1e-3)
        assert np.all(value[i, p:] == 0)
        if rid[i] in scores:
            assert np.allclose(scores[rid[i]], absolute, atol=1e-4), f"round {rid[i]} disagrees"
        scores[rid[i]] = absolute
        left = c - round(state[i, TRICKS_DONE] * c)
        for k in range(p):
            block = SEATS + k * SEAT_BLOCK
            if state[i, block + SEAT_HAS_BID] != 1:
                continue
            bid = round(state[i, block + SEAT_BID] * c)
            won = round(state[i, block + SEAT_WON] * c)
            points = value[i, k] * (10 + c)
            assert abs(points) < 1e-3 or abs(points - (10 + bid)) < 1e-3
            if won > bid or bid - won > left:
                assert abs(points) < 1e-3, "a seat that missed its bid scored"
            checked += 1
    assert checked > 0 and len(scores) == summary.rounds == 12
    for points in scores.values():
        assert (points > 0).sum() < len(points)  # bids never add up to the cards: somebody misses


def test_ctrl_c_from_progress_leaves_readable_shards(tmp_path, tiny):
    eng = engine(rounds=None, seed=3)  # would play forever

    def interrupt(snap: Progress) -> None:
        if snap.shards >= 2:
            raise KeyboardInterrupt

    start = time.monotonic()
    summary = run_selfplay(
        eng,
        tiny,
        "cpu",
        out_dir=tmp_path,
        rounds_per_shard=2,
        progress=interrupt,
        progress_interval_s=0.05,
    )
    assert time.monotonic() - start < 60
    assert summary.interrupted and summary.discarded_rounds == 0
    assert eng.finished  # closed, workers gone
    shards = list_shards(tmp_path)
    assert len(shards) >= 2 and shards == summary.shards
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
    assert sum(validate_shard(p).rounds for p in shards) == summary.rounds
    # the engine refuses work after close, and close is idempotent
    eng.close()
    with pytest.raises(bm.EngineClosedError):
        eng.next_batch(None, 1)


def test_second_ctrl_c_while_writing_discards_only_that_chunk(tmp_path, tiny, monkeypatch):
    real_write = inference.write_shard
    calls = {"n": 0}

    def flaky_write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second shard
        return real_write(*args, **kwargs)

    monkeypatch.setattr(inference, "write_shard", flaky_write)
    eng = engine(rounds=8, seed=5)
    summary = run_selfplay(eng, tiny, "cpu", out_dir=tmp_path, rounds_per_shard=3)
    assert summary.interrupted and eng.finished
    for p in list_shards(tmp_path):
        validate_shard(p)
    assert summary.rounds == sum(validate_shard(p).rounds for p in list_shards(tmp_path))
    assert summary.discarded_rounds >= 3  # the chunk being written
    assert summary.rounds + summary.discarded_rounds <= 8
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_rounds_limit_with_an_unlimited_engine(tmp_path, tiny):
    eng = engine(rounds=None, seed=9)
    summary = run_selfplay(eng, tiny, "cpu", out_dir=tmp_path, rounds=4, rounds_per_shard=50)
    assert eng.finished and not summary.interrupted
    assert summary.rounds >= 4
    assert sum(validate_shard(p).rounds for p in list_shards(tmp_path)) == summary.rounds


def test_a_failing_model_closes_the_engine(tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            raise RuntimeError("boom")

    eng = engine()
    with pytest.raises(RuntimeError, match="boom"):
        run_selfplay(eng, Broken(), "cpu", out_dir=tmp_path)
    assert eng.finished
    assert list_shards(tmp_path) == []


def test_new_run_continues_shard_numbering(tmp_path, tiny):
    first = run_selfplay(
        engine(rounds=3, seed=1), tiny, "cpu", out_dir=tmp_path, rounds_per_shard=10
    )
    second = run_selfplay(
        engine(rounds=3, seed=2), tiny, "cpu", out_dir=tmp_path, rounds_per_shard=10
    )
    assert [p.name for p in first.shards + second.shards] == [
        "shard-000000.parquet",
        "shard-000001.parquet",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"rounds": 0}, {"rounds_per_shard": 0}, {"batch": 0}],
)
def test_bad_arguments(tmp_path, tiny, kwargs):
    eng = engine()
    try:
        with pytest.raises(ValueError):
            run_selfplay(eng, tiny, "cpu", out_dir=tmp_path, **kwargs)
    finally:
        eng.close()


class _OversizedBatches:
    """An engine that breaks the batch contract: asked for at most N rows, it
    hands out N + 1 (the CUDA staging buffers hold N)."""

    def __init__(self) -> None:
        self.closed = False
        self.asked: list[int] = []
        self.max_batch = 8

    def next_batch(self, max_size=None, timeout_ms=10):
        self.asked.append(max_size)
        return 0, np.zeros((max_size + 1, bm.OBS_SIZE), dtype=np.float32), None

    def submit(self, ticket, policy, values):  # pragma: no cover - never reached
        raise AssertionError("an oversized batch must not be evaluated")

    def take_examples(self):
        return {}

    def stats(self):
        return {}

    @property
    def finished(self):
        return self.closed

    def close(self):
        self.closed = True


def test_an_oversized_batch_is_a_clear_error(tmp_path, tiny):
    eng = _OversizedBatches()
    with pytest.raises(inference.BatchOverflowError, match=r"9 rows .* at most 8"):
        run_selfplay(eng, tiny, "cpu", out_dir=tmp_path, batch=8)
    assert eng.asked == [8] and eng.closed
    assert list_shards(tmp_path) == []


# ---- the background shard writer (issue #9: serve while writing) -------------------------


class _Counting:
    """The real engine, counting the answers submitted and setting ``released``
    once ``release_after`` answers have gone out."""

    def __init__(self, eng: bm.SelfPlayEngine) -> None:
        self._engine = eng
        self.served = 0
        self.release_after: int | None = None
        self.released = threading.Event()

    def submit(self, ticket, policy, values) -> None:
        self._engine.submit(ticket, policy, values)
        self.served += 1
        if self.release_after is not None and self.served >= self.release_after:
            self.released.set()

    def __getattr__(self, name):
        return getattr(self._engine, name)


def test_batches_are_served_while_a_shard_is_written(tmp_path, tiny, monkeypatch):
    # The first shard write cannot finish until the serving thread has
    # answered 20 more batches: with the write inside the serving loop (before
    # the writer thread) that never happened and the write gave up after 10 s.
    real_write = inference.write_shard
    eng = _Counting(engine(rounds=None, seed=4))
    threads: list[str] = []

    def write_after_20_batches(*args, **kwargs):
        if not threads:
            eng.release_after = eng.served + 20
            assert eng.released.wait(10), "no batch was served during the write"
        threads.append(threading.current_thread().name)
        return real_write(*args, **kwargs)

    def stop_after_the_first_shard(snap: Progress) -> None:
        # No round target: a target reached before 20 more batches would end
        # the serving, and the test with it, whatever the writer does.
        if snap.shards >= 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(inference, "write_shard", write_after_20_batches)
    # Rounds can finish faster than one shard is held up here: no back-pressure
    # (test_a_writer_that_falls_behind_slows_serving covers it).
    monkeypatch.setattr(inference, "_BACKLOG_SHARDS", 10**6)
    summary = run_selfplay(
        eng,
        tiny,
        "cpu",
        out_dir=tmp_path,
        rounds_per_shard=100,
        progress=stop_after_the_first_shard,
        progress_interval_s=0.05,
    )
    assert eng.released.is_set() and summary.interrupted and summary.discarded_rounds == 0
    assert sum(validate_shard(p).rounds for p in list_shards(tmp_path)) == summary.rounds
    assert threads and set(threads) == {"shard-writer"}
    assert summary.write_s > 0 and summary.max_serve_gap_s < 10


def test_a_writer_that_falls_behind_slows_serving(tmp_path, tiny, monkeypatch):
    # Every write takes 0.5 s, far longer than a shard of 8 rounds takes to
    # play even on a loaded machine. Serving waits once two shards' worth of
    # rounds are pending behind the one being written, so 6 shards make it
    # wait for sure (bounded memory), and nothing may be lost.
    real_write = inference.write_shard

    def slow_write(*args, **kwargs):
        time.sleep(0.5)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(inference, "write_shard", slow_write)
    summary = run_selfplay(
        engine(rounds=None, seed=2), tiny, "cpu", out_dir=tmp_path, rounds=48, rounds_per_shard=8
    )
    assert summary.write_block_s > 0.1 and not summary.interrupted
    assert summary.rounds >= 48 and summary.discarded_rounds == 0
    assert sum(validate_shard(p).rounds for p in list_shards(tmp_path)) == summary.rounds


def test_a_failed_write_stops_the_run_promptly(tmp_path, tiny, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(inference, "write_shard", full_disk)
    eng = engine(rounds=None, seed=6)  # would play forever
    start = time.monotonic()
    with pytest.raises(OSError, match="No space left"):
        run_selfplay(eng, tiny, "cpu", out_dir=tmp_path, rounds_per_shard=2)
    assert time.monotonic() - start < 60
    assert eng.finished
    assert os.listdir(tmp_path) == []


def test_ctrl_c_during_the_final_writes_keeps_whole_shards(tmp_path, tiny, monkeypatch):
    # First Ctrl-C from the progress callback; the second one arrives (in the
    # main thread, like a real one) while the finished rounds are written.
    real_write = inference.write_shard
    state = {"first": False, "second": False}

    def write_then_ctrl_c(*args, **kwargs):
        if state["first"] and not state["second"]:
            state["second"] = True
            _thread.interrupt_main()
            # The main thread takes the Ctrl-C while this shard is being
            # written (0.3 s was too short on a loaded machine).
            time.sleep(2.0)
        return real_write(*args, **kwargs)

    def first_ctrl_c(snap: Progress) -> None:
        if snap.rounds >= 6:
            state["first"] = True
            raise KeyboardInterrupt

    monkeypatch.setattr(inference, "write_shard", write_then_ctrl_c)
    summary = run_selfplay(
        engine(rounds=None, seed=8),
        tiny,
        "cpu",
        out_dir=tmp_path,
        rounds_per_shard=1,
        progress=first_ctrl_c,
        progress_interval_s=0.05,
    )
    assert state["second"] and summary.interrupted
    on_disk = list_shards(tmp_path)
    assert on_disk == summary.shards
    assert sum(validate_shard(p).rounds for p in on_disk) == summary.rounds
    assert summary.discarded_rounds > 0  # the rounds not handed to the writer yet
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def _examples(round_ids: list[int]) -> dict[str, np.ndarray]:
    return {"round_id": np.array(round_ids, dtype=np.uint64), "seat": np.zeros(len(round_ids))}


def test_shard_writer_holds_one_shard_and_reports_errors():
    gate = threading.Event()
    written: list[int] = []

    def write(examples, index):
        gate.wait(10)
        if index == 2:
            raise ValueError("bad shard")
        written.append(index)
        return Path(f"shard-{index}")

    writer = ShardWriter(write, first_index=1)
    writer.submit(_examples([0, 0, 1]))
    assert not writer.idle
    with pytest.raises(RuntimeError, match="still being written"):
        writer.submit(_examples([2]))  # one shard at a time: a crash loses at most that one
    gate.set()
    assert writer.wait_idle() >= 0
    assert written == [1] and writer.rounds == 2 and writer.examples == 3
    writer.submit(_examples([3]))
    with pytest.raises(ValueError, match="bad shard"):
        writer.wait_idle()
    with pytest.raises(ValueError, match="bad shard"):
        writer.submit(_examples([4]))  # a failed writer takes nothing more
    writer.close()  # the thread is gone: no hang
    assert writer.shards == [Path("shard-1")]


def test_shard_writer_abandon_drops_only_what_was_not_started():
    started = threading.Event()
    release = threading.Event()

    def write(examples, index):
        started.set()
        release.wait(10)
        return Path(f"shard-{index}")

    with ShardWriter(write, first_index=0) as writer:
        writer.submit(_examples([0]))
        assert started.wait(10)
        writer.abandon()  # the shard being written still completes
        release.set()
        writer.wait_idle()
    assert writer.shards == [Path("shard-0")] and writer.rounds == 1


# ---- blobmaster bench ----------------------------------------------------------------------


def test_bench_options():
    from blobmaster.bench import parse_args

    cores = os.cpu_count() or 1
    args = parse_args([])
    assert args.threads == cores and args.scan_thread_list == sorted({1, cores})
    assert parse_args(["--threads", "3", "--scan-threads", "0,1"]).scan_thread_list == sorted(
        {cores, 1}
    )
    quick = parse_args(["--quick"])
    assert quick.seconds == 4 and quick.games_per_thread == 8 and quick.scan_game_list == [4, 16]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threads", "-1"], "--threads must be >= 0"),
        (["--scan-games", "4,x"], "--scan-games must be comma-separated integers"),
        (["--batch", "0"], "--batch must be >= 1"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bench_bad_options_are_one_line_errors(argv, message):
    from typer.testing import CliRunner

    from blobmaster.cli import app

    result = CliRunner().invoke(app, ["bench", *argv])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("blobmaster: error: bench:")
    assert message in lines[0]


def test_bench_command_end_to_end(tmp_path):
    # The smallest real run: raw forward, one preset in a child process, no scan.
    from typer.testing import CliRunner

    from blobmaster.cli import app

    out, numbers = tmp_path / "report.md", tmp_path / "report.json"
    args = ["bench", "--presets", "light", "--seconds", "0.5", "--warmup", "0", "--no-scan"]
    args += ["--games-per-thread", "2", "--forward-seconds", "0.05", "--batch", "16"]
    args += ["--threads", "0", "--device", "cpu", "--torch-threads", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--json", str(numbers)])
    assert result.exit_code == 0, result.output
    assert "# Self-play benchmark" in out.read_text()
    data = json.loads(numbers.read_text())
    (run,) = data["runs"]
    assert run["preset"] == "light" and run["threads"] == (os.cpu_count() or 1)
    assert run["steady_evals_per_s"] > 0 and 1 <= run["steady_mean_batch"] <= 16
    assert data["forward"][0]["batch"] == 16 and data["scan"] == []


def test_selfplay_leaves_the_callers_network_alone(tmp_path):
    net = default_model(seed=1, config=ModelConfig.tiny()).train()
    params = [id(p) for p in net.parameters()]
    run_selfplay(engine(rounds=2), net, "cpu", out_dir=tmp_path, rounds_per_shard=5)
    assert net.training and [id(p) for p in net.parameters()] == params
