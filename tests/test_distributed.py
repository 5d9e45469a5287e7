"""Self-play on Ray (blobmaster.distributed): a private Ray on 127.0.0.1 with
2 CPUs started by this module, two actors, a tiny network.

Checked: the shards of two actors are valid and numbered like a local run's;
the actors play with exactly the published weights (an actor's shards are
reproduced bit for bit by a local run with the published network and the
actor's seed, and not with another network); a new network version reaches
every actor; killing an actor mid-run keeps every shard already written and
the run still plays every round; Ctrl-C leaves only complete shards; the
actor protocol re-sends a finished shard whose delivery was not acknowledged;
the CLI's --ray branch.
"""

from __future__ import annotations

import hashlib
import json
import signal
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from blobmaster import SelfPlayEngine
from blobmaster.arena import derive_seed
from blobmaster.cli import app
from blobmaster.config import parse_config
from blobmaster.distributed import (
    DistributedError,
    RaySelfPlayPool,
    RayUnavailableError,
    plan_actors,
    split_rounds,
)
from blobmaster.distributed.cluster import import_ray
from blobmaster.distributed.worker import SelfPlayWorker, worker_folder
from blobmaster.inference import run_selfplay
from blobmaster.model import ModelConfig, default_model, load_model, load_model_info, save_model
from blobmaster.replay import ShardMetadata, list_shards, read_shards, validate_shard

TINY_PRESET = """
[search]
determinizations = 2
simulations = 4

[selfplay]
games_per_thread = 4
max_batch = 64
rounds_per_shard = 2
tables = [{ players = 4, cards = 2 }]
"""
PRESET = parse_config(TINY_PRESET, name="tiny")
SLOW = parse_config(
    TINY_PRESET.replace("simulations = 4", "simulations = 100").replace("cards = 2", "cards = 5"),
    name="slow",
)
"""A longer search: with one round in flight an actor delivers its shards
one at a time over a second or more, so a test can act in the middle."""


@pytest.fixture(autouse=True)
def _time_limit():
    """No test here may hang: SIGALRM after 5 minutes ends it with an error.
    (3 minutes were too few for a first call that starts the actors, or a
    replacement, while other jobs load the 2-core machine.)"""

    def expire(signum, frame):
        raise TimeoutError("distributed test over its time limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(300)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("models")
    first = save_model(default_model(seed=1, config=ModelConfig.tiny()), folder / "v1.pt")
    second = save_model(default_model(seed=2, config=ModelConfig.tiny()), folder / "v2.pt")
    return first, second


@pytest.fixture(scope="module")
def ray_local():
    """A private Ray: this machine only (loopback), 2 CPUs, no dashboard."""
    pytest.importorskip("ray")
    ray = import_ray(loopback=True)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def pool(ray_local):
    with RaySelfPlayPool("auto", actors=2, cpus_per_actor=1) as p:
        yield p


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_clean_shards(folder: Path, model_id: str) -> int:
    """Every file is a valid shard of ``model_id`` (no temporary left); returns the rounds."""
    files = sorted(folder.iterdir())
    assert files and all(not p.name.startswith(".") for p in files), files
    assert files == list_shards(folder)
    rounds = 0
    for path in files:
        info = validate_shard(path)
        assert info.models == (model_id,)
        rounds += info.rounds
    return rounds


def local_replay(model: Path, seed: int, rounds: int, out: Path) -> Path:
    """What one actor slot (one engine thread, its seed) plays, run in this process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = SelfPlayEngine(**PRESET.engine_kwargs(threads=1, rounds=rounds, seed=seed))
        run_selfplay(
            engine,
            load_model(model),
            "cpu",
            out_dir=out,
            rounds=rounds,
            rounds_per_shard=PRESET.selfplay.rounds_per_shard,
            metadata=ShardMetadata("local", "local"),
        )
    finally:
        torch.set_num_threads(threads)
    return out


def columns(paths: list[Path]) -> dict[str, np.ndarray]:
    df = read_shards(paths).collect().sort("round_id", "move", "seat")
    return {c: np.stack(df[c].to_numpy()) for c in ("state", "policy", "value", "move")}


# -- without a cluster


@given(
    rounds=st.integers(1, 10_000),
    weights=st.lists(st.integers(1, 64), min_size=1, max_size=12),
)
def test_split_rounds_is_proportional_and_complete(rounds: int, weights: list[int]) -> None:
    shares = split_rounds(rounds, weights)
    assert sum(shares) == rounds and len(shares) == len(weights)
    for share, w in zip(shares, weights):
        assert abs(share - rounds * w / sum(weights)) < 1
    assert split_rounds(7, [1, 1, 1]) == [3, 2, 2]
    assert split_rounds(10, [3, 1]) == [8, 2]  # 7.5 and 2.5: the tie goes to the first


def test_plan_actors() -> None:
    nodes = [
        {"NodeID": "a", "Alive": True, "Resources": {"CPU": 8.0, "GPU": 2.0}},
        {"NodeID": "b", "Alive": True, "Resources": {"CPU": 4.0}},
        {"NodeID": "c", "Alive": False, "Resources": {"CPU": 64.0}},
    ]
    per_node = plan_actors(nodes, actors=None, cpus_per_actor=None, gpus_per_actor=0)
    assert [(s.node_id, s.num_cpus, s.engine_threads, s.device) for s in per_node] == [
        ("a", 8.0, 8, "cpu"),
        ("b", 4.0, 4, "cpu"),
    ]
    per_gpu = plan_actors(nodes, actors=None, cpus_per_actor=None, gpus_per_actor=1)
    assert [(s.index, s.node_id, s.num_cpus, s.device) for s in per_gpu] == [
        (0, "a", 4.0, "cuda"),
        (1, "a", 4.0, "cuda"),
    ]
    fixed = plan_actors(nodes, actors=3, cpus_per_actor=None, gpus_per_actor=0)
    assert [(s.index, s.num_cpus, s.node_id) for s in fixed] == [(0, 1.0, None), (1, 1.0, None), (2, 1.0, None)]  # fmt: skip
    with pytest.raises(DistributedError, match="actors must be >= 1"):
        plan_actors(nodes, actors=0, cpus_per_actor=None, gpus_per_actor=0)
    with pytest.raises(DistributedError, match="no GPUs"):
        plan_actors(nodes[1:], actors=None, cpus_per_actor=None, gpus_per_actor=1)


def test_without_ray_installed_the_error_says_how_to_get_it(monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(RayUnavailableError, match=r"blobmaster\[ray\]"):
        import_ray()


def test_worker_resends_a_shard_whose_delivery_was_not_acknowledged(models, tmp_path) -> None:
    """The actor protocol in this process: a replacement in the same slot
    sends again what its predecessor finished but nobody acknowledged, and
    removes the half-written temporary a killed writer left."""
    pytest.importorskip("ray")
    token = uuid.uuid4().hex[:12]
    folder = worker_folder(token, 0)
    folder.mkdir(parents=True)
    (folder / ".j000001-000000.parquet.x1y2.tmp").write_bytes(b"half a shard")
    threads = torch.get_num_threads()
    try:
        worker = SelfPlayWorker(0, token, 1, "cpu")
        assert not any(folder.iterdir())
        data = models[0].read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with pytest.raises(ValueError, match="expected"):
            worker.start(data, "0" * 64, {})
        job = {
            "engine": PRESET.engine_kwargs(threads=1, rounds=4, seed=5),
            "rounds": 4,
            "rounds_per_shard": 2,
            "timeout_ms": 10,
            "bf16": False,
            "metadata": {"model": "m", "search": "s"},
            "prefix": "j000001",
        }
        assert worker.start(data, digest, job)["sha256"] == digest
        sent: dict[str, bytes] = {}
        while True:
            reply = worker.take([], 1.0)
            sent.update({s["name"]: s["data"] for s in reply["shards"]})
            if reply["done"]:
                break
        assert reply["error"] is None and reply["result"]["rounds"] >= 4
        assert len(sent) >= 2 and worker.take([], 0.0)["shards"] == []  # each sent once

        replacement = SelfPlayWorker(0, token, 1, "cpu")  # the first one "died" unacknowledged
        again = replacement.take([], 0.0)
        assert {s["name"]: s["data"] for s in again["shards"]} == sent
        replacement.take(sorted(sent), 0.0)  # acknowledged: the actor's copies go
        assert list_shards(folder) == []
        replacement.cleanup()
        assert not folder.exists() and not folder.parent.exists()
    finally:
        torch.set_num_threads(threads)


# -- on the local Ray

LOOP_TOML = """
[loop]
iterations = 1
seed = 4
device = "cpu"
torch_threads = 1

[search]
determinizations = 2
simulations = 4

[selfplay]
rounds = 12
games_per_thread = 4
max_batch = 64
rounds_per_shard = 3
tables = [{ players = 4, cards = 2 }]

[train]
model = "tiny"
steps = 4
batch_size = 16
warmup_steps = 1
checkpoint_every = 2
log_every = 1
val_fraction = 0.0

[gate]
deals = 1
threshold = -100.0
references = []
"""


def test_loop_iteration_with_self_play_on_two_ray_actors(ray_local, tmp_path) -> None:
    """`blobmaster loop RUN --ray auto --ray-actors 2`: the iteration's shards
    come from both actors, are valid and carry the id of the network the loop
    published; training and the metrics work on them as on local shards.
    (First of the Ray tests: the module's `pool` fixture, once made, holds
    both CPUs.)"""
    config = tmp_path / "loop.toml"
    config.write_text(LOOP_TOML)
    run = tmp_path / "run"
    args = ["loop", str(run), "--config", str(config), "--ray", "auto", "--ray-actors", "2"]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    marker = json.loads((run / "iter-0001" / "selfplay.json").read_text())
    best = run / "init" / "model.pt"
    assert marker["model_id"] == load_model_info(best).id
    assert assert_clean_shards(run / "iter-0001" / "shards", marker["model_id"]) >= 12
    parts = json.loads((run / "iter-0001" / "selfplay-parts.json").read_text())
    assert parts[0]["threads"] == 2  # one engine thread on each of the two actors
    assert (run / "iter-0001" / "DONE").exists()
    assert json.loads((run / "loop.json").read_text())["ray"] == "auto"

    bad = CliRunner().invoke(app, ["loop", str(tmp_path / "r2"), "--ray-actors", "0"])
    assert bad.exit_code == 2 and "--ray-actors" in bad.stderr


def test_two_actors_write_valid_shards_with_the_published_weights(pool, models, tmp_path) -> None:
    v1, v2 = models
    out = tmp_path / "shards"
    summary = pool.selfplay(v1, out, preset=PRESET, rounds=8, seed=3)
    published = sha256_file(v1)
    assert summary.model_sha256 == published and not summary.interrupted
    assert summary.rounds >= 8 and summary.restarts == 0
    assert [p.name for p in summary.shards] == [f"shard-{i:06d}.parquet" for i in range(len(summary.shards))]  # fmt: skip
    assert assert_clean_shards(out, load_model_info(v1).id) == summary.rounds
    for actor in summary.actors:  # both played, each with the published bytes
        assert actor.rounds >= 4 and actor.model_sha256 == [published]
    for i in range(2):  # delivered shards are acknowledged and gone from the actors' disks
        assert list_shards(worker_folder(pool.run_token, i)) == []

    # Slot 0's shards are exactly what its seed gives with the published
    # network, and not what it gives with another one.
    slot0 = [r.path for r in summary.receipts if r.slot == 0]
    seed = summary.actors[0].seeds[0]
    assert seed == derive_seed("blobmaster-ray-selfplay", 3, 0, 0)
    played = columns(slot0)
    same = columns(list_shards(local_replay(v1, seed, 4, tmp_path / "same")))
    other = columns(list_shards(local_replay(v2, seed, 4, tmp_path / "other")))
    for key in played:
        np.testing.assert_array_equal(played[key], same[key], err_msg=key)
    assert played["policy"].shape != other["policy"].shape or not np.array_equal(
        played["policy"], other["policy"]
    )


def test_a_new_network_version_reaches_every_actor(pool, models, tmp_path) -> None:
    v1, v2 = models
    out = tmp_path / "shards"
    first = pool.selfplay(v1, out, preset=PRESET, rounds=4, seed=1)
    assert pool.publish(v2) is pool.publish(v2)  # one object-store copy per version
    second = pool.selfplay(v2, out, preset=PRESET, rounds=4, seed=2)
    assert {a.model_sha256[-1] for a in second.actors} == {sha256_file(v2)}
    n = len(first.shards)
    assert [p.name for p in second.shards] == [f"shard-{n + i:06d}.parquet" for i in range(len(second.shards))]  # fmt: skip
    for path in second.shards:
        assert validate_shard(path).models == (load_model_info(v2).id,)
    for path in first.shards:
        assert validate_shard(path).models == (load_model_info(v1).id,)


def test_killing_an_actor_mid_run_loses_no_finished_shard(
    pool, ray_local, models, tmp_path
) -> None:
    # Actor 0 owes 12 rounds, delivered one per shard; it is killed after the
    # first. (Enough rounds that the kill lands before it finishes: with 6
    # rounds of a lighter search it sometimes finished first.)
    out = tmp_path / "shards"
    written_before_kill: dict[Path, str] = {}

    def kill_actor_0(receipt) -> None:
        if receipt.slot == 0 and not written_before_kill:
            written_before_kill.update({p: sha256_file(p) for p in out.iterdir()})
            ray_local.kill(pool.handles[0])

    summary = pool.selfplay(
        models[0],
        out,
        preset=SLOW,
        rounds=24,
        seed=4,
        rounds_per_shard=1,
        games_per_thread=1,
        on_shard=kill_actor_0,
    )
    assert written_before_kill, "actor 0 never delivered a shard"
    for path, digest in written_before_kill.items():
        assert sha256_file(path) == digest  # kept, untouched
    killed = summary.actors[0]
    assert killed.restarts == 1 and summary.restarts == 1 and not summary.interrupted
    assert len(killed.seeds) == 2 and killed.seeds[0] != killed.seeds[1]  # the rest, a new seed
    assert killed.rounds >= 12 and summary.rounds >= 24
    assert assert_clean_shards(out, load_model_info(models[0]).id) == summary.rounds
    after = pool.selfplay(models[0], tmp_path / "after", preset=PRESET, rounds=2, seed=5)
    assert after.rounds >= 2 and after.restarts == 0  # the replacement stays in the pool


def test_an_actor_dying_too_often_ends_the_call_and_the_next_call_heals(
    pool, ray_local, models, tmp_path
) -> None:
    out = tmp_path / "shards"

    def kill_actor_1(receipt) -> None:
        if receipt.slot == 1:
            ray_local.kill(pool.handles[1])

    pool.max_restarts = 0
    try:
        with pytest.raises(DistributedError, match="actor 1 died after 0 replacements"):
            pool.selfplay(
                models[0], out, preset=SLOW, rounds=24, seed=8, rounds_per_shard=1,
                games_per_thread=1, on_shard=kill_actor_1,
            )  # fmt: skip
    finally:
        pool.max_restarts = 3
    assert_clean_shards(out, load_model_info(models[0]).id)  # what was written is whole
    healed = pool.selfplay(models[0], tmp_path / "healed", preset=PRESET, rounds=4, seed=9)
    assert healed.rounds >= 4 and healed.actors[1].restarts == 1 and healed.actors[0].restarts == 0


def test_ctrl_c_leaves_only_complete_shards(pool, models, tmp_path) -> None:
    out = tmp_path / "shards"

    def interrupt_after_a_shard(snap) -> None:
        if snap.shards:
            raise KeyboardInterrupt

    summary = pool.selfplay(
        models[0],
        out,
        preset=SLOW,
        rounds=200,
        seed=6,
        rounds_per_shard=1,
        games_per_thread=1,
        progress=interrupt_after_a_shard,
    )
    assert summary.interrupted and 0 < summary.rounds < 200
    assert assert_clean_shards(out, load_model_info(models[0]).id) == summary.rounds
    again = pool.selfplay(models[0], tmp_path / "again", preset=PRESET, rounds=2, seed=7)
    assert again.rounds >= 2 and not again.interrupted  # the actors ended their jobs


def test_bad_input(pool, models, tmp_path) -> None:
    with pytest.raises(DistributedError, match="rounds must be >= 1"):
        pool.selfplay(models[0], tmp_path, preset=PRESET, rounds=0)
    games = parse_config(TINY_PRESET + "full_games = true\n", name="games")
    with pytest.raises(DistributedError, match="single rounds"):
        pool.selfplay(models[0], tmp_path, preset=games, rounds=2)
    not_a_model = tmp_path / "x.pt"
    not_a_model.write_text("not a model")
    with pytest.raises(DistributedError, match="not a TorchScript model"):
        pool.selfplay(not_a_model, tmp_path, preset=PRESET, rounds=2)
    with pytest.raises(DistributedError, match="failed"):  # the actor's load_model refuses it
        pool.selfplay(not_a_model.read_bytes(), tmp_path, preset=PRESET, rounds=2)
    assert list_shards(tmp_path) == []


def test_cli_selfplay_on_ray(pool, ray_local, models, tmp_path) -> None:
    pool.close()  # last test: its actors hold both CPUs, and the command needs them
    with pytest.raises(DistributedError, match="need 3 CPUs, the Ray cluster has 2 in all"):
        RaySelfPlayPool("auto", actors=3)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_PRESET)
    out = tmp_path / "out"
    args = ["selfplay", "--ray", "auto", "--ray-actors", "2", "--threads", "1"]
    args += ["--config", str(config), "--model", str(models[0]), "--rounds", "4"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["actors"] == 2 and data["rounds"] >= 4 and data["shards"] == len(list_shards(out))
    assert assert_clean_shards(out, load_model_info(models[0]).id) == data["rounds"]

    bad = CliRunner().invoke(app, [*args, "--out", str(out), "--full-games"])
    assert bad.exit_code == 2 and "single rounds" in bad.output
    bad = CliRunner().invoke(app, [*args, "--out", str(out), "--ray-actors", "0"])
    assert bad.exit_code == 2 and "--ray-actors must be" in bad.output
