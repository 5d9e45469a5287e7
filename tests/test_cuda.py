"""The CUDA path end to end: self-play, training with checkpoints, resume,
export, one loop iteration and evaluation on ``cuda``, with bf16 autocast on
and off. Skipped (with the reason) on a machine without CUDA; run them on a
GPU with ``pytest -m cuda`` or ``benchmarks/gpu_check.sh``.

How bf16 is chosen today: self-play takes ``bf16`` (run_selfplay, ``blobmaster
selfplay --bf16``, ``[loop] bf16``) and uses it as given; training uses bf16
autocast when ``TrainConfig.bf16`` is set and the GPU supports it
(``torch.cuda.is_bf16_supported()``); network agents (eval, gate) always run
in float32.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import blobmaster as bm
from blobmaster.agents import Agent
from blobmaster.arena import play_duplicate
from blobmaster.checkpoint import RunFolder, load_checkpoint
from blobmaster.inference import run_selfplay
from blobmaster.loop import run_loop
from blobmaster.model import BlobNet, ModelConfig, default_model, load_model, save_model
from blobmaster.replay import list_shards, validate_shard
from blobmaster.train import TrainConfig, train
from helpers import TINY_META, TINY_TRAIN, tiny_engine, tiny_loop_toml

CUDA = torch.cuda.is_available()
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(
        not CUDA, reason="needs a CUDA GPU (torch.cuda.is_available() is False here)"
    ),
]
CUDA_TRAIN = {**TINY_TRAIN, "val_fraction": 0.1, "checkpoint_every": 3, "keep_checkpoints": 5}


def _bf16_param(on: bool) -> Any:
    supported = CUDA and torch.cuda.is_bf16_supported()
    marks = [] if not on or supported else [pytest.mark.skip(reason="this GPU has no bfloat16")]
    return pytest.param(on, id="bf16" if on else "fp32", marks=marks)


BF16 = [_bf16_param(False), _bf16_param(True)]


class _Recording:
    """The real engine, recording every batch handed out and every answer."""

    def __init__(self, engine: bm.SelfPlayEngine) -> None:
        self._engine = engine
        self.batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._states: dict[int, np.ndarray] = {}

    def next_batch(self, max_size: int | None = None, timeout_ms: int = 10):
        ticket, states, masks = self._engine.next_batch(max_size, timeout_ms)
        if ticket >= 0:
            self._states[ticket] = np.array(states, copy=True)
        return ticket, states, masks

    def submit(self, ticket: int, policy: np.ndarray, values: np.ndarray) -> None:
        states = self._states.pop(ticket)
        self.batches.append((states, np.array(policy, copy=True), np.array(values, copy=True)))
        self._engine.submit(ticket, policy, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """Replay shards made on the CPU (the training input of the tests below)."""
    out = tmp_path_factory.mktemp("cuda-shards")
    net = default_model(seed=1, config=ModelConfig.tiny())
    summary = run_selfplay(
        tiny_engine(rounds=16), net, "cpu", out_dir=out, rounds_per_shard=4, metadata=TINY_META
    )
    assert len(summary.shards) == 4
    return out


@pytest.mark.parametrize("bf16", BF16)
def test_selfplay_on_cuda_answers_like_the_cpu(tmp_path, bf16):
    net = default_model(seed=1, config=ModelConfig.tiny())
    engine = _Recording(tiny_engine(rounds=8))
    summary = run_selfplay(
        engine, net, "cuda", out_dir=tmp_path, rounds_per_shard=3, metadata=TINY_META, bf16=bf16
    )
    assert summary.device.startswith("cuda") and not summary.interrupted
    assert summary.rounds == 8 and len(summary.shards) == 3
    assert sum(validate_shard(p).rounds for p in list_shards(tmp_path)) == 8
    assert next(net.parameters()).device.type == "cpu"  # the caller's network stays put
    # Every answer that went through the pinned buffers is the CPU network's
    # answer for exactly those rows (no stale or shifted rows between batches).
    assert engine.batches and summary.batches == len(engine.batches)
    sizes = {len(s) for s, _, _ in engine.batches}
    assert max(sizes) <= 64
    atol = 0.05 if bf16 else 1e-4
    with torch.inference_mode():
        for states, policy, values in engine.batches:
            want_p, want_v = net(torch.from_numpy(states))
            assert policy.dtype == values.dtype == np.float32
            assert policy.shape == (len(states), bm.NUM_ACTIONS)
            np.testing.assert_allclose(policy, want_p.numpy(), atol=atol, rtol=0.02)
            np.testing.assert_allclose(values, want_v.numpy(), atol=atol, rtol=0.02)


def _weights(model_path: Path) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in load_model(model_path, "cpu").state_dict().items()}


@pytest.mark.parametrize("bf16", BF16)
def test_train_checkpoints_resume_and_export_on_cuda(tmp_path, shards, bf16):
    config = TrainConfig(**CUDA_TRAIN, steps=6, bf16=bf16)
    straight = train(config, shards, tmp_path / "straight", device="cuda")
    assert straight.device.startswith("cuda") and straight.bf16 == bf16
    assert straight.step == 6 and all(np.isfinite(v) for v in straight.losses.values())
    assert straight.val is not None and np.isfinite(straight.val["val_loss"])

    first = train(config, shards, tmp_path / "split", device="cuda", until_step=3)
    assert first.step == 3
    resumed = train(None, shards, tmp_path / "split", device="cuda", resume=True)
    assert resumed.resumed and resumed.start_step == 3 and resumed.step == 6

    # Checkpoints hold CPU tensors; exported models load on the CPU in float32.
    ckpt = load_checkpoint(resumed.checkpoint_path)
    assert all(t.device.type == "cpu" for t in ckpt["model_state"].values())
    loaded = load_model(resumed.model_path, "cpu")
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in loaded.parameters())
    on_gpu = load_model(resumed.model_path, "cuda")
    x = torch.rand(5, bm.OBS_SIZE)
    with torch.inference_mode():
        cpu_out = loaded(x)
        gpu_out = on_gpu(x.cuda())
    for a, b in zip(cpu_out, gpu_out):
        assert torch.allclose(a, b.float().cpu(), atol=1e-4)

    # Resume continues the same run: the same weights as six steps straight
    # (up to the non-associativity of GPU reductions).
    a, b = _weights(straight.model_path), _weights(resumed.model_path)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-3 if bf16 else 1e-5), k


def test_export_from_cuda_leaves_the_network_on_the_gpu(tmp_path):
    net = BlobNet(ModelConfig.tiny()).cuda().train()
    before = [(id(p), p.detach().clone()) for p in net.parameters()]
    path = save_model(net, tmp_path / "net.pt")
    params = list(net.parameters())
    assert [id(p) for p in params] == [i for i, _ in before]
    assert all(p.device.type == "cuda" for p in params) and net.training
    assert all(torch.equal(p.detach(), v) for p, (_, v) in zip(params, before))
    loaded = load_model(path, "cpu")
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in loaded.parameters())


@pytest.mark.parametrize("bf16", BF16)
def test_one_loop_iteration_on_cuda(tmp_path, bf16):
    config = tmp_path / "loop.toml"
    config.write_text(tiny_loop_toml(iterations=1, device="cuda", rounds=12, bf16=bf16))
    lines: list[str] = []
    summary = run_loop(tmp_path / "run", config, log=lines.append)
    assert summary.ran == [1] and summary.iterations_done == 1
    it = tmp_path / "run" / "iter-0001"
    assert sum(validate_shard(p).rounds for p in list_shards(it / "shards")) == 12
    selfplay = json.loads((it / "selfplay.json").read_text())
    assert selfplay["rounds"] == 12 and selfplay["evals_per_s"] > 0
    assert RunFolder(it / "train").runs.rows()[-1]["device"].startswith("cuda")
    assert (it / "DONE").exists()
    best = tmp_path / "run" / "best.pt"
    if best.exists():
        load_model(best, "cuda")


def test_eval_on_cuda(tmp_path):
    # Network agents run in float32 whatever the training used; bf16 does not apply here.
    model = save_model(default_model(seed=2, config=ModelConfig.tiny()), tmp_path / "m.pt")
    agent = Agent.load(model, search={"determinizations": 2, "simulations": 4}, device="cuda")
    assert agent.device.type == "cuda"
    report = play_duplicate([agent, Agent.heuristic()], 3, 2, deals=2, seed=1, progress=False)
    assert report.rounds == 2 * 3
    assert agent.evaluations > 0
