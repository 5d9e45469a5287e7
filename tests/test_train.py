"""The trainer: losses, data windows, checkpoints and exact resume, bad input, the CLI.

Shards come from the real Rust engine (SelfPlayEngine + run_selfplay with a
tiny BlobNet); the overfitting test rewrites their policy targets into
peaked ones so that the loss has room to fall.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster.checkpoint import (
    METRICS_COLUMNS,
    RUNS_COLUMNS,
    RunFolder,
    load_checkpoint,
    model_config_for,
    read_init_weights,
)
from blobmaster.cli import app
from blobmaster.inference import run_selfplay
from blobmaster.model import (
    BlobNet,
    ModelConfig,
    default_model,
    load_model,
    load_model_info,
    save_model,
    script_model,
)
from blobmaster.replay import (
    ShardError,
    list_shards,
    read_shards,
    validate_shard,
    write_shard,
)
from blobmaster.train import (
    CheckpointError,
    CorruptShardError,
    IncompatibleModelError,
    NoShardsError,
    ShardSchemaError,
    SkippedShardWarning,
    TrainConfig,
    TrainConfigError,
    TrainError,
    WindowChangedError,
    batch_losses,
    load_train_config,
    train,
)
from blobmaster.train_config import parse_train_config
from blobmaster.train_data import BatchSampler, find_shards, load_window
from helpers import EXAMPLE_COLUMNS, TINY_META, TINY_TRAIN, tiny_engine

REPO = Path(__file__).resolve().parents[1]
TINY = {**TINY_TRAIN, "checkpoint_every": 0, "val_fraction": 0.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _selfplay(out: Path, rounds: int, seed: int) -> list[Path]:
    engine = tiny_engine(rounds=rounds, seed=seed)
    net = script_model(default_model(seed=1, config=ModelConfig.tiny()))
    summary = run_selfplay(engine, net, "cpu", out_dir=out, rounds_per_shard=4, metadata=TINY_META)
    return summary.shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """Five real shards of 4 rounds each, with increasing modification times."""
    out = tmp_path_factory.mktemp("shards")
    paths = _selfplay(out, rounds=20, seed=3)
    assert len(paths) == 5
    for i, p in enumerate(paths):
        os.utime(p, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
    return out


def _copy(src: Path, dst: Path) -> Path:
    """A copy of a shard folder keeping the modification times."""
    shutil.copytree(src, dst, copy_function=shutil.copy2)
    return dst


@pytest.fixture(scope="module")
def peaked(shards, tmp_path_factory) -> Path:
    """The real examples with their policy replaced by 0.9 on the lowest
    legal action (the rest spread over the other legal ones): easy to fit."""
    out = tmp_path_factory.mktemp("peaked")
    df = read_shards(shards).collect()
    cols = {c: df[c].to_numpy() for c in EXAMPLE_COLUMNS}
    mask = cols["mask"]
    legal = mask.sum(axis=1, keepdims=True).astype(np.float32)
    policy = np.where(mask, 0.1 / (legal - 1), 0.0).astype(np.float32)
    policy[np.arange(len(mask)), mask.argmax(axis=1)] = 0.9
    cols["policy"] = policy
    write_shard(cols, out, 0, TINY_META, validate=True)
    return out


def _run(tmp_path: Path, name: str) -> Path:
    return tmp_path / name


def _metric_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- losses, schedule, sampler ---------------------------------------------------------------


def test_batch_losses_mask_illegal_actions_and_absent_seats():
    torch.manual_seed(0)
    mask = torch.zeros(2, 66, dtype=torch.bool)
    mask[0, [1, 5, 7]] = True
    mask[1, [52, 53]] = True
    policy = torch.zeros(2, 66)
    policy[0, [1, 5, 7]] = torch.tensor([0.5, 0.3, 0.2])
    policy[1, [52, 53]] = torch.tensor([0.25, 0.75])
    logits = torch.randn(2, 66)
    values = torch.rand(2, 8) * 0.8 + 0.1
    value_logits = torch.logit(values)
    target = torch.rand(2, 8)
    players = torch.tensor([3, 5])
    base = batch_losses(logits, value_logits, mask, policy, target, players)
    # illegal logits and seats past the table size do not matter
    logits2, value_logits2, target2 = logits.clone(), value_logits.clone(), target.clone()
    logits2[~mask] = 1e4
    value_logits2[0, 3:] = 30.0
    target2[1, 5:] = 0.0
    other = batch_losses(logits2, value_logits2, mask, policy, target2, players)
    for k in base:
        assert torch.allclose(base[k], other[k]), k
    # the policy loss is the cross-entropy over legal actions; kl is 0 at the target
    exact = batch_losses(
        torch.log(policy.clamp_min(1e-30)), value_logits, mask, policy, target, players
    )
    assert abs(float(exact["policy_kl"])) < 1e-5
    manual = (
        -sum(
            float((policy[i][mask[i]] * torch.log_softmax(logits[i][mask[i]], 0)).sum())
            for i in range(2)
        )
        / 2
    )
    assert math.isclose(float(base["policy_loss"]), manual, rel_tol=1e-5)
    # the value loss averages over the seats at the table, then over the batch
    bce = torch.nn.functional.binary_cross_entropy(values, target, reduction="none")
    manual_v = (float(bce[0, :3].mean()) + float(bce[1, :5].mean())) / 2
    assert math.isclose(float(base["value_loss"]), manual_v, rel_tol=1e-5)
    mse = batch_losses(
        logits, value_logits, mask, policy, target, players, value_loss="mse", value_weight=2.0
    )
    assert math.isclose(float(mse["value_loss"]), float(base["value_mse"]), rel_tol=1e-6)
    assert math.isclose(
        float(mse["loss"]), float(mse["policy_loss"]) + 2 * float(mse["value_loss"]), rel_tol=1e-6
    )
    # gradients are finite even though illegal logits are -inf inside
    logits.requires_grad_(True)
    batch_losses(logits, value_logits, mask, policy, target, players)["loss"].backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[~mask] == 0).all()


def test_policy_rows_limit_the_policy_terms_and_leave_the_value_alone():
    torch.manual_seed(1)
    n = 6
    mask = torch.zeros(n, 66, dtype=torch.bool)
    mask[:, [3, 9, 20]] = True
    policy = torch.zeros(n, 66)
    policy[:, [3, 9, 20]] = torch.tensor([0.6, 0.3, 0.1])
    logits, value_logits = torch.randn(n, 66), torch.randn(n, 8)
    target, players = torch.rand(n, 8), torch.full((n,), 4)
    movers = torch.tensor([True, False, False, True, False, False])
    base = batch_losses(logits, value_logits, mask, policy, target, players, policy_rows=movers)
    # the other seats' rows: any policy target gives the same losses
    noisy = policy.clone()
    noisy[~movers] = 0.0
    noisy[~movers, 20] = 1.0
    other = batch_losses(logits, value_logits, mask, noisy, target, players, policy_rows=movers)
    for k in base:
        assert torch.allclose(base[k], other[k]), k
    # the policy terms are the means over the mover rows only
    only = batch_losses(
        logits[movers], value_logits[movers], mask[movers], policy[movers], target[movers],
        players[movers],
    )  # fmt: skip
    assert math.isclose(float(base["policy_loss"]), float(only["policy_loss"]), rel_tol=1e-6)
    assert math.isclose(float(base["policy_kl"]), float(only["policy_kl"]), rel_tol=1e-6)
    # the value loss still averages every row
    every = batch_losses(logits, value_logits, mask, policy, target, players)
    assert torch.allclose(base["value_loss"], every["value_loss"])
    assert not torch.allclose(base["policy_loss"], every["policy_loss"])
    # no mover row at all: a zero policy loss, no NaN
    none = batch_losses(
        logits, value_logits, mask, policy, target, players, policy_rows=torch.zeros(n, dtype=torch.bool)
    )  # fmt: skip
    assert float(none["policy_loss"]) == 0.0 and torch.isfinite(none["loss"])


def test_policy_rows_follow_the_config_and_the_to_move_flag():
    from blobmaster.replay import TO_MOVE
    from blobmaster.trainer import policy_rows

    state = torch.zeros(3, 256)
    state[1, TO_MOVE] = 1.0
    policy = torch.zeros(3, 66)
    policy[:, 52] = 1.0
    assert policy_rows(state, policy, TrainConfig()).tolist() == [False, True, False]
    assert TrainConfig().policy_rows == "mover"
    assert policy_rows(state, policy, TrainConfig(policy_rows="all")) is None
    # An all-zero policy (a fast search under a playout cap) is no target.
    policy[1] = 0.0
    assert policy_rows(state, policy, TrainConfig()).tolist() == [False, False, False]
    rows = policy_rows(state, policy, TrainConfig(policy_rows="all"))
    assert rows is not None and rows.tolist() == [True, False, True]
    with pytest.raises(TrainConfigError, match="policy_rows"):
        parse_train_config('[train]\npolicy_rows = "seat"', source="my.toml")


def test_value_loss_keeps_its_gradient_where_the_sigmoid_saturates():
    # A confidently wrong value (logit +-40: the float32 sigmoid is exactly 1.0
    # or 0.0) must still be pulled toward its target. BCE on the sigmoid
    # output has no gradient there; BCE on the logit has gradient
    # sigmoid(u) - z, about -1 or +1 per seat.
    mask = torch.zeros(2, 66, dtype=torch.bool)
    mask[:, [52, 53]] = True
    policy = mask.float() / 2
    target = torch.zeros(2, 8)
    target[0, :3] = 1.0  # seats that make their bid, predicted at logit -40
    players = torch.tensor([3, 3])
    raw = torch.zeros(2, 8)
    raw[0, :3] = -40.0
    raw[1, :3] = 40.0  # seats that miss, predicted at logit +40
    assert bool((torch.sigmoid(raw[1, :3]) == 1.0).all())  # saturated in float32
    for dtype in (torch.float32, torch.bfloat16):
        value_logits = raw.to(dtype, copy=True).requires_grad_(True)
        losses = batch_losses(torch.zeros(2, 66), value_logits, mask, policy, target, players)
        losses["value_loss"].backward()
        grad = value_logits.grad.float()
        # gradient descent moves each logit toward its target: up for 1, down for 0
        assert bool((grad[0, :3] < -0.1).all()) and bool((grad[1, :3] > 0.1).all()), dtype
        assert bool((grad[:, 3:] == 0).all())  # seats past the table size get nothing
        # the loss is the finite BCE of a confident mistake (about 40 per seat), not a clamp
        assert math.isclose(float(losses["value_loss"].detach()), 40.0, rel_tol=1e-3)
    # For comparison, the old formulation (BCE on the sigmoid output): no gradient at all.
    leaf = raw.clone().requires_grad_(True)
    torch.nn.functional.binary_cross_entropy(torch.sigmoid(leaf)[1, :3], target[1, :3]).backward()
    assert bool((leaf.grad == 0).all())


def test_exported_values_stay_probabilities(tmp_path):
    # Training on logits must not change the file format: the scripted model
    # returns sigmoid probabilities, equal to sigmoid(forward_logits).
    net = default_model(seed=4, config=ModelConfig.tiny())
    with torch.no_grad():
        net.value_head[-1].bias.fill_(50.0)  # push every value logit far into saturation
    loaded = load_model(save_model(net, tmp_path / "m.pt"))
    x = torch.rand(6, 256, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        _policy, values = loaded(x)
        _logits, value_logits = net.forward_logits(x)
    assert bool(((values >= 0) & (values <= 1)).all())
    assert torch.allclose(values, torch.sigmoid(value_logits))
    assert bool((value_logits > 10).all()) and bool((values > 0.999).all())


def test_learning_rate_schedule():
    c = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr_fraction=0.1)
    lrs = [c.lr_at(s) for s in range(100)]
    assert math.isclose(lrs[0], 1e-4) and math.isclose(lrs[9], 1e-3)
    assert all(a < b for a, b in itertools.pairwise(lrs[:10]))  # warmup rises
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # cosine falls
    assert math.isclose(c.lr_at(100), 1e-4) and lrs[-1] > 1e-4
    assert TrainConfig(warmup_steps=0, lr=2e-3).lr_at(0) == 2e-3


def test_batch_sampler_is_a_pure_function_of_seed_and_step():
    s = BatchSampler(10, 4, seed=5)
    first_epochs = np.concatenate([s.indices(i) for i in range(5)])  # 20 = two epochs
    assert sorted(first_epochs[:10]) == list(range(10)) and sorted(first_epochs[10:]) == list(
        range(10)
    )
    assert not np.array_equal(first_epochs[:10], first_epochs[10:])  # reshuffled each epoch
    again = BatchSampler(10, 4, seed=5)
    assert np.array_equal(again.indices(3), s.indices(3))  # any step, any order
    assert not np.array_equal(BatchSampler(10, 4, seed=6).indices(0), s.indices(0))
    assert len(BatchSampler(3, 8, seed=0).indices(0)) == 8  # a set smaller than a batch repeats


# ---- config -------------------------------------------------------------------------------------


def test_train_preset_matches_defaults_and_is_documented():
    assert load_train_config("train") == TrainConfig()
    repo_file = REPO / "configs" / "train.toml"
    packaged = Path(bm.__file__).parent / "configs" / "train.toml"
    assert packaged.read_text() == repo_file.read_text()
    assert load_train_config(repo_file) == TrainConfig()
    lines = repo_file.read_text().splitlines()
    keys = set()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#") and line.strip():
            keys.add(line.split("=")[0].strip())
            above = [ln for ln in lines[max(0, i - 4) : i] if ln.strip()]
            assert above and (above[-1].startswith("#") or "=" in above[-1]), line
    assert keys == set(TrainConfig.__dataclass_fields__)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nbatchsize = 3", "unknown key 'batchsize' (did you mean 'batch_size'?)"),
        ("[trian]\n", "unknown section"),
        ("[train]\nlr = 0", "lr: must be > 0.0"),
        ("[train]\nsteps = 1.5", "steps: expected an integer"),
        ("[train]\nvalue_loss = 'l1'", "expected one of bce, mse"),
        ("[train]\nmodel = 'huge'", "expected one of auto, default, small, tiny"),
        ("[train]\nbf16 = 1", "expected true or false"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_config_errors(text, message):
    with pytest.raises(TrainConfigError, match=None) as e:
        parse_train_config(text, source="my.toml")
    assert message in str(e.value) and "my.toml" in str(e.value)
    assert isinstance(e.value, bm.ConfigError) and isinstance(e.value, ValueError)


# ---- training -----------------------------------------------------------------------------------


def test_loss_falls_when_overfitting_a_small_set(tmp_path, peaked):
    summary = train(
        TrainConfig(**{**TINY, "steps": 150, "batch_size": 32, "lr": 1e-2, "log_every": 10}),
        peaked,
        tmp_path / "r",
    )
    assert summary.steps == 150 and summary.examples == 150 * 32 and not summary.interrupted
    first, last = summary.first_losses, summary.losses
    assert last["policy_loss"] <= 0.8 * first["policy_loss"], (first, last)
    assert last["policy_kl"] <= 0.5 * first["policy_kl"], (first, last)
    assert last["value_loss"] < first["value_loss"], (first, last)
    rows = _metric_rows(tmp_path / "r")
    assert [int(r["step"]) for r in rows] == list(range(1, 151))
    assert tuple(rows[0]) == METRICS_COLUMNS
    assert all(
        math.isfinite(float(r[k]))
        for r in rows
        for k in ("loss", "lr", "grad_norm", "examples_per_s")
    )
    assert float(rows[0]["lr"]) < float(rows[1]["lr"])  # warmup


def test_window_picks_newest_shards_and_trims_to_examples(shards):
    candidates = find_shards(shards)
    assert candidates == list_shards(shards)  # mtimes increase with the index
    rows = [read_shards(p).collect().height for p in candidates]
    window, ex = load_window(candidates, window_shards=2)
    assert [Path(s.path) for s in window.shards] == candidates[-2:] and len(ex) == sum(rows[-2:])
    window, ex = load_window(candidates, window_examples=rows[-1] + 3)
    assert len(window.shards) == 2 and window.shards[0].rows == 3 and len(ex) == rows[-1] + 3
    want = read_shards(candidates[-2], ["state"]).collect()["state"].to_numpy()[-3:]
    # the newest rows of the older shard, held as float16
    assert ex.state.dtype == np.float16 and ex.policy.dtype == np.float16
    assert np.array_equal(ex.state[:3], want.astype(np.float16))
    assert np.allclose(ex.state[:3], want, rtol=1e-3, atol=0)
    # modification time wins over the index: touch the oldest shard
    newest = candidates[0]
    st = candidates[-1].stat()
    os.utime(newest, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        assert find_shards(shards)[-1] == newest
    finally:
        os.utime(newest, ns=(1_700_000_000_000_000_000,) * 2)
    # validation split: whole rounds, stable
    _, ex1 = load_window(candidates, val_fraction=0.3)
    _, ex2 = load_window(candidates, val_fraction=0.3)
    assert 0 < ex1.is_val.sum() < len(ex1) and np.array_equal(ex1.is_val, ex2.is_val)
    rid = pl.concat(
        [
            read_shards(p, ["round_id"]).collect().with_columns(pl.lit(p.name).alias("f"))
            for p in candidates
        ]
    )
    from blobmaster.train_data import _is_val

    # the split as drawn, row by row in shard order (whole rounds, stable)
    in_shard_order = np.concatenate(
        [
            _is_val(p.name, read_shards(p, ["round_id"]).collect()["round_id"].to_numpy(), 0.3)
            for p in candidates
        ]
    )
    keys = (
        rid.with_columns(pl.Series("v", in_shard_order))
        .group_by("f", "round_id")
        .agg(pl.col("v").n_unique())
    )
    assert keys["v"].max() == 1
    # Laid out training rows first, validation rows last, each in shard order,
    # so that the split is two views of the window's arrays (no second copy).
    state = np.concatenate(
        [read_shards(p, ["state"]).collect()["state"].to_numpy() for p in candidates]
    ).astype(np.float16)
    n_val = int(in_shard_order.sum())
    assert ex1.is_val.sum() == n_val and not ex1.is_val[: len(ex1) - n_val].any()
    train, val = ex1.split()
    assert np.array_equal(train.state, state[~in_shard_order])
    assert np.array_equal(val.state, state[in_shard_order])
    assert np.shares_memory(train.state, ex1.state) and np.shares_memory(val.policy, ex1.policy)


def test_batches_are_float32_from_the_float16_window(shards):
    """The window holds state and policy at half width; the trainer's batches
    are float32 with the same values, and every row still has its target."""
    from blobmaster.train_support import Tensors

    _, ex = load_window(find_shards(shards))
    held = sum(a.nbytes for a in (ex.state, ex.mask, ex.policy, ex.value, ex.num_players))
    assert held / len(ex) < 0.9 * 1024  # bytes per row: under 0.9 KB (1.5 KB at float32)
    idx = np.arange(len(ex))[::3]
    state, mask, policy, value, players, _owner = Tensors(ex, torch.device("cpu")).batch(idx)
    assert state.dtype == policy.dtype == value.dtype == torch.float32
    assert np.array_equal(state.numpy(), ex.state[idx].astype(np.float32))
    sums = policy.sum(dim=1)
    assert bool(((sums - 1).abs() < 2e-3).logical_or(sums == 0).all())
    assert bool((policy[~mask] == 0).all()) and players.dtype == torch.int64


def test_resume_is_exact(tmp_path, shards):
    config = TrainConfig(
        **{
            **TINY,
            "steps": 10,
            "checkpoint_every": 3,
            "keep_checkpoints": 2,
            "log_every": 2,
            "val_fraction": 0.2,
        }
    )
    straight = train(config, shards, tmp_path / "straight")
    half = train(config, shards, tmp_path / "split", until_step=5)
    assert half.step == 5 and not half.interrupted
    assert [s for s, _ in RunFolder(tmp_path / "split").list_checkpoints()] == [3, 5]  # keep 2
    with pytest.raises(TrainError, match="already has checkpoints"):
        train(config, shards, tmp_path / "split")
    # config None: the checkpoint's; a runtime field may differ
    resumed = train(config.replace(log_every=5), None, tmp_path / "split", resume=True)
    assert resumed.resumed and resumed.start_step == 5 and resumed.step == 10
    a, b = load_checkpoint(straight.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert a["step"] == b["step"] == 10 and a["examples_seen"] == b["examples_seen"] == 160
    for k, v in a["model_state"].items():
        assert torch.equal(v, b["model_state"][k]), k
    sa, sb = a["optimizer_state"]["state"], b["optimizer_state"]["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[k][name], sb[k][name])
    loss_cols = ("step", "loss", "policy_loss", "value_loss", "lr", "grad_norm", "examples_seen")
    ra = [{c: r[c] for c in loss_cols} for r in _metric_rows(tmp_path / "straight")]
    rb = [{c: r[c] for c in loss_cols} for r in _metric_rows(tmp_path / "split")]
    assert ra == rb and len(ra) == 10
    assert straight.val == resumed.val and straight.val_examples == resumed.val_examples > 0
    with open(tmp_path / "split" / "runs.csv", newline="") as f:
        runs = list(csv.DictReader(f))
    assert tuple(runs[0]) == RUNS_COLUMNS and [r["end_step"] for r in runs] == ["5", "10"]
    # flags are true/false cells (metrics_csv)
    assert [(r["resumed"], r["interrupted"]) for r in runs] == [
        ("false", "false"),
        ("true", "false"),
    ]
    # nothing left to do: returns at once
    again = train(None, None, tmp_path / "split", resume=True)
    assert again.steps == 0 and again.model_path == resumed.model_path
    # a call without steps has no losses: NaN is an empty cell, as is a missing value
    last = RunFolder(tmp_path / "split").runs.rows()[-1]
    assert math.isnan(again.loss) and last["loss"] == "" and last["lr"] == ""
    assert last["resumed"] == "true" and last["end_step"] == "10"
    assert not list(RunFolder(tmp_path / "split").temporary_files())


def test_ctrl_c_checkpoints_and_resume_matches(tmp_path, shards):
    config = TrainConfig(**{**TINY, "steps": 8})
    straight = train(config, shards, tmp_path / "a")

    def interrupt(snap):
        if snap.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    stopped = train(config, shards, tmp_path / "b", progress=interrupt)
    assert stopped.interrupted and 3 <= stopped.step < 8 and stopped.val is None
    assert stopped.checkpoint_path.name == f"ckpt-{stopped.step:08d}.pt"
    done = train(None, None, tmp_path / "b", resume=True)
    assert done.step == 8
    a, b = load_checkpoint(straight.checkpoint_path), load_checkpoint(done.checkpoint_path)
    assert all(torch.equal(v, b["model_state"][k]) for k, v in a["model_state"].items())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_exported_model_loads_and_matches_the_checkpoint(tmp_path, shards):
    summary = train(TrainConfig(**{**TINY, "steps": 4}), shards, tmp_path / "r")
    assert summary.model_path == tmp_path / "r" / "models" / "model-00000004.pt"
    assert (tmp_path / "r" / "model.pt").read_bytes() == summary.model_path.read_bytes()
    scripted = load_model(summary.model_path)
    info = load_model_info(summary.model_path)
    assert info.config == ModelConfig.tiny() and info.extra["step"] == 4
    net = BlobNet(ModelConfig.tiny())
    net.load_state_dict(load_checkpoint(summary.checkpoint_path)["model_state"])
    net.eval()
    x = torch.from_numpy(read_shards(shards, ["state"]).collect()["state"].to_numpy()[:7])
    with torch.no_grad():
        p1, v1 = scripted(x)
        p2, v2 = net(x)
    assert p1.shape == (7, 66) and v1.shape == (7, 8)
    assert torch.allclose(p1, p2, atol=1e-6) and torch.allclose(v1, v2, atol=1e-6)
    assert ((v1 >= 0) & (v1 <= 1)).all()
    # the checkpoint's contents
    ckpt = load_checkpoint(summary.checkpoint_path)
    assert ckpt["config"] == TrainConfig(**{**TINY, "steps": 4})
    assert ckpt["model_config"] == ModelConfig.tiny()
    assert [Path(s["path"]) for s in ckpt["window"]["shards"]] == list_shards(shards)
    assert set(ckpt["rng"]) >= {"torch"} and ckpt["model_file"] == str(summary.model_path)
    # training leaves the caller's torch RNG alone
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    train(TrainConfig(**{**TINY, "steps": 1}), shards, tmp_path / "rng")
    assert torch.equal(torch.rand(3), before)


def test_init_model_from_file_or_checkpoint(tmp_path, shards):
    first = train(TrainConfig(**{**TINY, "steps": 3}), shards, tmp_path / "one")
    want = load_checkpoint(first.checkpoint_path)["model_state"]
    for path, kind in ((first.model_path, "model"), (first.checkpoint_path, "checkpoint")):
        config, state, got_kind = read_init_weights(path, None)
        assert config == ModelConfig.tiny() and got_kind == kind
        assert all(torch.equal(state[k], want[k]) for k in want)
    # model "auto" takes the init model's size
    second = train(
        TrainConfig(**{**TINY, "model": "auto", "steps": 2}),
        shards,
        tmp_path / "two",
        init_model=first.model_path,
    )
    assert (
        second.model_config == ModelConfig.tiny()
        and second.init_model == f"model:{first.model_path}"
    )
    # an already scripted network saved with an explicit config
    scripted = script_model(BlobNet(ModelConfig.tiny()))
    with_meta = save_model(scripted, tmp_path / "meta.pt", config=ModelConfig.tiny())
    assert read_init_weights(with_meta, model_config_for("tiny"))[2] == "model"


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_incompatible_or_unreadable_checkpoints(tmp_path, shards):
    first = train(TrainConfig(**{**TINY, "steps": 2}), shards, tmp_path / "one")
    small = TrainConfig(**{**TINY, "model": "small", "steps": 2})
    for path in (first.model_path, first.checkpoint_path):
        with pytest.raises(IncompatibleModelError, match=r"tiny .*asks for small"):
            train(small, shards, tmp_path / "x", init_model=path)
    # a newer checkpoint format
    data = torch.load(first.checkpoint_path, weights_only=True)
    data["format_version"] = 99
    newer = tmp_path / "newer.pt"
    torch.save(data, newer)
    with pytest.raises(IncompatibleModelError, match="format version 99"):
        read_init_weights(newer, None)
    # weights of another shape under the right header
    data["format_version"] = 1
    data["model_state"] = BlobNet(model_config_for("small")).state_dict()
    wrong = tmp_path / "wrong.pt"
    torch.save(data, wrong)
    with pytest.raises(IncompatibleModelError, match="do not fit"):
        read_init_weights(wrong, None)
    # not a checkpoint at all
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    for path, message in (
        (junk, "not a readable"),
        (tmp_path / "other.pt", "not a blobmaster"),
        (tmp_path / "none.pt", "not found"),
    ):
        with pytest.raises(CheckpointError, match=message):
            train(TrainConfig(**TINY), shards, tmp_path / "y", init_model=path)
    # a foreign TorchScript file: no metadata, so the size must be given
    foreign = tmp_path / "foreign.pt"
    torch.jit.save(torch.jit.script(BlobNet(ModelConfig.tiny()).eval()), str(foreign))
    with pytest.raises(IncompatibleModelError, match="without blobmaster metadata"):
        read_init_weights(foreign, None)
    assert read_init_weights(foreign, ModelConfig.tiny())[0] == ModelConfig.tiny()
    # resume: no checkpoint, other settings, other size
    with pytest.raises(CheckpointError, match="no checkpoint to resume"):
        train(None, shards, tmp_path / "empty", resume=True)
    with pytest.raises(TrainConfigError, match=r"lr: 0\.003 -> 0\.1"):
        train(TrainConfig(**{**TINY, "steps": 2, "lr": 0.1}), shards, tmp_path / "one", resume=True)
    with pytest.raises(TrainConfigError, match="init_model cannot be combined"):
        train(None, shards, tmp_path / "one", resume=True, init_model=first.model_path)
    # a checkpoint of another size than the config asks for
    with pytest.raises(IncompatibleModelError):
        train(
            TrainConfig(**{**TINY, "model": "small", "steps": 2}),
            shards,
            tmp_path / "one",
            resume=True,
        )
    assert issubclass(IncompatibleModelError, CheckpointError) and issubclass(
        CheckpointError, ValueError
    )


# ---- bad data ------------------------------------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_no_shards(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    for data, message in (
        (tmp_path / "empty", "no replay shards"),
        (tmp_path / "missing", "no such shard folder"),
        ([], "no data"),
    ):
        with pytest.raises(NoShardsError, match=message):
            train(TrainConfig(**TINY), data, tmp_path / "run")
    with pytest.raises(NoShardsError):
        train(TrainConfig(**TINY), None, tmp_path / "run")


def test_wrong_schema(tmp_path, shards):
    good = list_shards(shards)[0]
    df = pl.read_parquet(good)
    meta = {"blobmaster.replay.format_version": "2"}
    cases = {
        "missing": (df.drop("value"), meta, r"missing columns \['value'\]"),
        "type": (
            df.with_columns(pl.col("seat").cast(pl.Int64)),
            meta,
            "seat is Int64, expected UInt8",
        ),
        "nometa": (df, None, "missing blobmaster.replay.format_version"),
        "version": (df, {"blobmaster.replay.format_version": "7"}, "format version 7"),
    }
    for name, (frame, kv, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        frame.write_parquet(folder / "shard-000000.parquet", metadata=kv)
        with pytest.raises(ShardSchemaError, match=message) as e:
            train(TrainConfig(**TINY), folder, tmp_path / f"run-{name}")
        assert "shard-000000.parquet" in str(e.value) and isinstance(e.value, ShardError)


def test_truncated_corrupt_and_invalid_shards(tmp_path, shards):
    data = _copy(shards, tmp_path / "data")
    newest = list_shards(data)[-1]
    _truncate(newest)
    with pytest.raises(CorruptShardError, match="not a readable Parquet file") as e:
        train(TrainConfig(**TINY), data, tmp_path / "run")
    assert str(newest) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()  # bad input leaves no run folder behind
    # damaged data pages behind an intact footer
    damaged = _copy(shards, tmp_path / "damaged")
    target = list_shards(damaged)[-1]
    raw = bytearray(target.read_bytes())
    raw[100:4000] = bytes(3900)
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(1_800_000_000_000_000_000,) * 2)
    with pytest.raises(CorruptShardError, match=r"damaged Parquet data|not a readable"):
        train(TrainConfig(**TINY), damaged, tmp_path / "run2")
    # readable, right schema, but contents no trainer should use
    bad = tmp_path / "nan"
    cols = {
        c: s.to_numpy() for c, s in read_shards(list_shards(shards)[0]).collect().to_dict().items()
    }
    cols["policy"] = cols["policy"].copy()
    cols["policy"][0, :] = np.nan
    write_shard(cols, bad, 0, TINY_META)
    with pytest.raises(CorruptShardError, match="not valid training examples: policy"):
        train(TrainConfig(**TINY), bad, tmp_path / "run3")


def test_skip_corrupt_only_when_asked(tmp_path, shards):
    data = _copy(shards, tmp_path / "data")
    paths = list_shards(data)
    _truncate(paths[-1])
    config = TrainConfig(**{**TINY, "steps": 2, "window_shards": 2, "skip_corrupt": True})
    with pytest.warns(SkippedShardWarning, match=r"skipping shard: .*shard-000004\.parquet"):
        summary = train(config, data, tmp_path / "run")
    assert [Path(s.path).name for s in summary.window.shards] == [
        paths[2].name,
        paths[3].name,
    ]  # refilled
    assert [Path(p).name for p, _ in summary.skipped] == [paths[-1].name]
    lines = []
    summary = train(config, data, tmp_path / "run-cb", warn=lines.append)
    assert len(lines) == 1 and "shard-000004" in lines[0]
    # every shard bad: nothing left to train on
    for p in paths:
        _truncate(p)
    with (
        pytest.warns(SkippedShardWarning),
        pytest.raises(NoShardsError, match="all 5 shards were skipped"),
    ):
        train(config, data, tmp_path / "run2")


def test_resume_notices_a_changed_window(tmp_path, shards):
    data = _copy(shards, tmp_path / "data")
    train(TrainConfig(**{**TINY, "steps": 4}), data, tmp_path / "run", until_step=2)
    moved = tmp_path / "moved"
    data.rename(moved)
    with pytest.raises(WindowChangedError, match="is gone"):
        train(None, None, tmp_path / "run", resume=True)
    # found again by name in the data folder given
    assert train(None, moved, tmp_path / "run", resume=True, until_step=3).step == 3
    _truncate(list_shards(moved)[0])
    with pytest.raises(TrainError):
        train(None, moved, tmp_path / "run", resume=True)


# ---- the command line ----------------------------------------------------------------------------


def _cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_cli_train_end_to_end(tmp_path, shards):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        "[train]\nmodel = 'tiny'\nwarmup_steps = 2\nlog_every = 2\ncheckpoint_every = 0\n"
    )
    out = tmp_path / "run"
    common = (
        "--config",
        cfg,
        "--batch-size",
        16,
        "--device",
        "cpu",
        "--torch-threads",
        1,
        "--no-progress",
    )
    result = _cli("train", shards, "--out", out, "--steps", 6, "--until-step", 3, *common)
    assert result.exit_code == 0, result.output
    assert "steps 0->3" in result.stdout and "window 5 shards" in result.output
    result = _cli("train", "--out", out, "--resume", "--json", "--device", "cpu", "--no-progress")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["step"] == 6 and summary["resumed"] and summary["model_size"] == "tiny"
    assert Path(summary["model_path"]).is_file()
    # the exported model plays self-play
    sp = tmp_path / "sp"
    result = _cli(
        "selfplay",
        "--model",
        out / "model.pt",
        "--rounds",
        2,
        "--threads",
        1,
        "--games-per-thread",
        2,
        "--config",
        "light",
        "--players",
        3,
        "--cards",
        2,
        "--out",
        sp,
        "--device",
        "cpu",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    assert validate_shard(list_shards(sp)[0]).models == (load_model_info(out / "model.pt").id,)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "no replay shards"),
        ("truncated", "not a readable Parquet file"),
        ("resume-other", "differs from the checkpoint|cannot resume"),
        ("bad-config", "unknown key"),
        ("bad-device", "--device|unknown device"),
        ("init-missing", "init model not found"),
        ("no-checkpoint", "no checkpoint to resume"),
    ],
)
def test_cli_bad_input_is_one_line_and_nonzero(tmp_path, shards, case, message):
    (tmp_path / "empty").mkdir()
    data = _copy(shards, tmp_path / "data")
    _truncate(list_shards(data)[-1])
    run = tmp_path / "run"
    base = ("--out", run, "--steps", 2, "--batch-size", 8, "--no-progress", "--torch-threads", 1)
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[train]\nstepz = 3\n")
    args = {
        "empty": ("train", tmp_path / "empty", *base),
        "truncated": ("train", data, *base, "--model-size", "tiny"),
        "resume-other": ("train", "--resume", *base, "--lr", "0.5"),
        "bad-config": ("train", shards, *base, "--config", cfg),
        "bad-device": ("train", shards, *base, "--device", "tpu"),
        "init-missing": ("train", shards, *base, "--init-model", tmp_path / "nope.pt"),
        "no-checkpoint": ("train", "--resume", *base),
    }[case]
    if case == "resume-other":
        assert _cli("train", shards, *base, "--model-size", "tiny").exit_code == 0
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("blobmaster: error: ")
    assert any(m in lines[0] for m in message.split("|")), lines[0]


def test_cli_skip_corrupt_warns_and_trains(tmp_path, shards):
    data = _copy(shards, tmp_path / "data")
    _truncate(list_shards(data)[-1])
    result = _cli(
        "train",
        data,
        "--out",
        tmp_path / "run",
        "--steps",
        2,
        "--batch-size",
        8,
        "--model-size",
        "tiny",
        "--skip-corrupt",
        "--no-progress",
        "--torch-threads",
        1,
    )
    assert result.exit_code == 0, result.output
    assert (
        "blobmaster: warning: skipping shard:" in result.stderr
        and "shard-000004.parquet" in result.stderr
    )


def test_docs_describe_every_column_and_checkpoint_key(tmp_path, shards):
    text = (REPO / "docs" / "training.md").read_text()
    for column in (*METRICS_COLUMNS, *RUNS_COLUMNS):
        assert f"`{column}`" in text, column
    summary = train(TrainConfig(**{**TINY, "steps": 1}), shards, tmp_path / "r")
    for key in torch.load(summary.checkpoint_path, weights_only=True):
        assert f"`{key}`" in text, key


# ---- the optimizer carried into a new run (the loop's iterations) ---------------------------


def _adam_steps(checkpoint: Path) -> set[float]:
    return {
        float(s["step"]) for s in load_checkpoint(checkpoint)["optimizer_state"]["state"].values()
    }


def test_init_optimizer_carries_adamw_state_with_the_new_settings(tmp_path, shards):
    from blobmaster.trainer import Trainer

    first = train(
        TrainConfig(**{**TINY, "steps": 3, "weight_decay": 0.05}), shards, tmp_path / "one"
    )
    saved = load_checkpoint(first.checkpoint_path)["optimizer_state"]
    config = TrainConfig(**{**TINY, "steps": 2, "weight_decay": 0.02})
    trainer = Trainer(
        config,
        shards,
        tmp_path / "two",
        init_model=first.checkpoint_path,
        init_optimizer=first.checkpoint_path,
    )
    trainer.load_data()
    trainer.run_folder.prepare()
    trainer.build()
    state = trainer.optimizer.state_dict()
    assert len(saved["state"]) == len(trainer.params) == len(state["state"])
    for i, old in saved["state"].items():
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state["state"][i][key], old[key]), (i, key)
    assert _adam_steps(first.checkpoint_path) == {3.0}
    # the hyperparameters are the new run's, not the old run's
    assert [g["weight_decay"] for g in state["param_groups"]] == [0.02, 0.0]

    carried = train(
        config,
        shards,
        tmp_path / "three",
        init_model=first.checkpoint_path,
        init_optimizer=first.checkpoint_path,
    )
    fresh = train(config, shards, tmp_path / "four", init_model=first.checkpoint_path)
    assert _adam_steps(carried.checkpoint_path) == {5.0}  # the counts go on: 3 + 2
    assert _adam_steps(fresh.checkpoint_path) == {2.0}
    # the learning-rate schedule starts again at step 0 (warmup) in both
    lrs = [float(r["lr"]) for r in _metric_rows(tmp_path / "three")]
    assert lrs == [float(r["lr"]) for r in _metric_rows(tmp_path / "four")]
    assert lrs[0] == pytest.approx(config.lr_at(0))
    # same seed, data and schedule: only the carried moments make the weights differ
    a = load_checkpoint(carried.checkpoint_path)["model_state"]
    b = load_checkpoint(fresh.checkpoint_path)["model_state"]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_init_optimizer_errors(tmp_path, shards):
    from blobmaster.checkpoint import carry_optimizer_state
    from blobmaster.train_support import make_optimizer

    first = train(TrainConfig(**{**TINY, "steps": 1}), shards, tmp_path / "one")
    config = TrainConfig(**{**TINY, "steps": 1})
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        train(config, shards, tmp_path / "two", init_optimizer=tmp_path / "missing.pt")
    with pytest.raises(TrainConfigError, match="init_optimizer cannot be combined with resume"):
        train(config, shards, tmp_path / "one", resume=True, init_optimizer=first.checkpoint_path)
    other = make_optimizer(
        default_model(seed=0, config=model_config_for("small")), config, torch.device("cpu")
    )
    with pytest.raises(CheckpointError, match="does not fit the model"):
        carry_optimizer_state(other, first.checkpoint_path)
