"""Teacher self-play with a network search (blobmaster.arena_teacher,
``ArenaEngine(record=True)``, ``blobmaster selfplay --teacher model:...``):
the engine arena with a network-leaf ISMCTS agent on every seat writes
standard replay shards of whole rounds, whose policy is the search's, that
validate, resume where they stopped and train a network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from blobmaster._core import ArenaEngine, InvalidArgumentError, Round
from blobmaster.agents import GuidedIsmctsAgent
from blobmaster.arena_teacher import (
    ArenaTeacher,
    NetworkTeacherError,
    is_network_teacher,
    parse_network_teacher,
)
from blobmaster.cli import app
from blobmaster.config import parse_config
from blobmaster.model import ModelConfig, default_model, save_model
from blobmaster.replay import list_shards, read_shards, validate_shard
from blobmaster.teacher import run_teacher_selfplay
from helpers import cli_train_tiny, run_tiny_loop_with_teacher

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TABLE = "tables = [{ players = 4, cards = 3 }]\n"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_model(
        default_model(seed=2, config=ModelConfig.tiny()),
        tmp_path_factory.mktemp("arena_teacher") / "tiny.pt",
    )


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _preset(tables: str = TABLE, full_games: bool = False):
    return parse_config(
        "[selfplay]\nrounds_per_shard = 4\ngames_per_thread = 3\n"
        f"full_games = {str(full_games).lower()}\n{tables}"
    )


def _agent(model: Path) -> GuidedIsmctsAgent:
    return GuidedIsmctsAgent(model, 24, rollout="network", device="cpu", seed=9)


def _run(out: Path, model: Path, *, rounds: int = 9, first_round: int = 0):
    teacher = ArenaTeacher(
        _agent(model), _preset(), rounds=rounds, seed=4, first_round=first_round, threads=2
    )
    return run_teacher_selfplay(
        teacher,
        out_dir=out,
        metadata=teacher.metadata("model:tiny:ismcts:24:0.7:1:network"),
        rounds_per_shard=4,
        first_shard_index=first_round // 4,
    )


def _frame(folder: Path) -> pl.DataFrame:
    return read_shards(folder).collect()


def test_shards_are_whole_rounds_with_the_search_policy(tmp_path: Path, tiny_model: Path) -> None:
    summary = _run(tmp_path, tiny_model)
    assert summary.rounds == 9 and not summary.interrupted
    assert [p.name for p in summary.shards] == [f"shard-00000{i}.parquet" for i in range(3)]
    for shard in summary.shards:
        info = validate_shard(shard)
        assert info.models == ("teacher:model:tiny:ismcts:24:0.7:1:network",)
        assert json.loads(info.searches[0])["temperature_moves"] == 4
    frame = _frame(tmp_path)
    assert frame["round_id"].unique(maintain_order=True).to_list() == list(range(9))
    # Whole rounds in order: shard k holds rounds 4k..4k+3.
    for k, shard in enumerate(summary.shards):
        ids = pl.read_parquet(shard)["round_id"].unique().sort().to_list()
        assert ids == list(range(4 * k, min(4 * k + 4, 9)))
    assert summary.decisions > 9 * 4, "several searched decisions a round"
    assert summary.iterations > summary.decisions * 10, "network leaves counted"
    for (round_id,), rows in frame.group_by(["round_id"]):
        # One row per seat and decision, seats in order, a policy on the
        # legal actions only, every seat's value the same all round.
        assert len(rows) % 4 == 0
        assert rows["seat"].to_list() == [0, 1, 2, 3] * (len(rows) // 4)
        policy = np.stack(rows["policy"].to_numpy())
        mask = np.stack(rows["mask"].to_numpy())
        np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
        assert not (policy[~mask] > 0).any()
        for seat in range(4):
            values = np.stack(rows.filter(pl.col("seat") == seat)["value"].to_numpy())
            assert (values == values[0]).all(), f"round {round_id} seat {seat}"
        # A decision's rows share the mover's policy and mask.
        for k in range(0, len(rows), 4):
            assert (policy[k : k + 4] == policy[k]).all() and (mask[k : k + 4] == mask[k]).all()


def test_a_resumed_run_deals_the_rounds_after(tmp_path: Path, tiny_model: Path) -> None:
    _run(tmp_path / "full", tiny_model)
    full = _frame(tmp_path / "full")
    resumed = _run(tmp_path / "resumed", tiny_model, first_round=4)
    assert resumed.rounds == 5
    assert [p.name for p in resumed.shards] == ["shard-000001.parquet", "shard-000002.parquet"]
    tail = _frame(tmp_path / "resumed")
    assert sorted(tail["round_id"].unique().to_list()) == list(range(4, 9))
    # The same deals: each round's first rows (the opening bid, seen from
    # every seat) are identical.
    for round_id in range(4, 9):
        a = full.filter(pl.col("round_id") == round_id).head(4)
        b = tail.filter(pl.col("round_id") == round_id).head(4)
        assert a["state"].to_list() == b["state"].to_list()


def test_teacher_specs_and_settings_are_checked(tiny_model: Path) -> None:
    assert is_network_teacher("model:x.pt:ismcts:200:network")
    assert is_network_teacher(" default:light")
    assert not is_network_teacher("ismcts:1000:0.7:heuristic")
    agent = parse_network_teacher(f"model:{tiny_model}:ismcts:30:0.7:1:network:policy=0.5", seed=1)
    assert isinstance(agent, GuidedIsmctsAgent) and agent.inference == "policy"
    for spec in ("model:/no/such/model.pt:ismcts:30", "heuristic", "ismcts:100"):
        with pytest.raises(NetworkTeacherError):
            parse_network_teacher(spec, seed=1)
    two_tables = "tables = [{ players = 4, cards = 3 }, { players = 3, cards = 2 }]\n"
    for preset, message in (
        (_preset(two_tables), "one table kind"),
        (_preset(full_games=True), "full games"),
    ):
        with pytest.raises(NetworkTeacherError, match=message):
            ArenaTeacher(_agent(tiny_model), preset, rounds=4, seed=1)
    with pytest.raises(NetworkTeacherError, match="first round"):
        ArenaTeacher(_agent(tiny_model), _preset(), rounds=4, seed=1, first_round=4)


def test_an_arena_that_does_not_record_has_no_examples() -> None:
    deal = Round(4, 3, dealer=0, trump=1, seed=3)
    with ArenaEngine([deal], [[0, 0, 0, 0]], [{"kind": "heuristic"}]) as engine:
        with pytest.raises(InvalidArgumentError, match="does not record"):
            engine.take_examples()
    with pytest.raises(InvalidArgumentError, match="temperature"):
        ArenaEngine([deal], [[0] * 4], [{"kind": "heuristic"}], record=True, temperature=-1.0)


def test_cli_network_teacher_then_train(tmp_path: Path, tiny_model: Path) -> None:
    cfg = tmp_path / "teacher.toml"
    cfg.write_text(f"[selfplay]\nrounds_per_shard = 3\n{TABLE}")
    out = tmp_path / "shards"
    spec = f"model:{tiny_model}:ismcts:20:0.7:1:network"
    result = _cli(
        "selfplay", "--teacher", spec, "--rounds", 6, "--out", out, "--config", cfg,
        "--seed", 3, "--threads", 2, "--device", "cpu", "--torch-threads", 1, "--json",
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rounds"] == 6 and summary["teacher"] == spec
    assert summary["shard_files"] == ["shard-000000.parquet", "shard-000001.parquet"]
    assert _cli("validate", out).exit_code == 0
    cli_train_tiny(out, tmp_path, steps=2)


def test_cli_network_teacher_errors(tmp_path: Path, tiny_model: Path) -> None:
    out = tmp_path / "x"
    for spec, extra, message in (
        ("model:/no/such/model.pt:ismcts:20:network", [], "--teacher"),
        (f"model:{tiny_model}:ismcts:20:network", ["--full-games"], "full games"),
        (f"model:{tiny_model}:ismcts:20:network", ["--config", "loop_quick"], "one table kind"),
    ):
        result = _cli(
            "selfplay", "--teacher", spec, "--rounds", 2, "--out", out, "--no-progress", *extra
        )
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not list_shards(out)


# ---- the loop: expert iteration with [teacher] agent = "current:..."


def test_loop_teacher_searches_with_the_iterations_network(tmp_path: Path) -> None:
    """Each iteration's teacher rounds come from the search with that
    iteration's network (the one its self-play used), into iter-k/teacher,
    and its training window holds them."""
    run, lines = run_tiny_loop_with_teacher(tmp_path, "current:ismcts:12:0.7:1:network", 5)
    for k in (1, 2):
        it = run / f"iter-{k:04d}"
        played = json.loads((it / "selfplay.json").read_text())
        network = run / played["model"]
        shards = list_shards(it / "teacher")
        assert sum(validate_shard(p).rounds for p in shards) == 5
        assert {validate_shard(p).models for p in shards} == {
            (f"teacher:model:{network}:ismcts:12:0.7:1:network",)
        }
        assert played["teacher"]["rounds"] == 5
        trained = json.loads((it / "train.json").read_text())
        assert trained["window_shards"] >= len(shards) + len(list_shards(it / "shards"))
    # The second iteration searched with the first iteration's network.
    assert (
        json.loads((run / "iter-0002" / "selfplay.json").read_text())["model"]
        != json.loads((run / "iter-0001" / "selfplay.json").read_text())["model"]
    )
    assert any("teacher model:" in line and "plays 5 rounds" in line for line in lines)


def test_loop_current_teacher_config_checks() -> None:
    from blobmaster.loop import LoopConfigError, parse_loop_config

    cfg = parse_loop_config(
        '[teacher]\nagent = " current:ismcts:200:0.7:1:network:policy=0.5"\n'
        "rounds_per_iteration = 10\n"
        "[selfplay]\ntables = [{ players = 4, cards = 5 }]\n"
    )
    assert cfg.teacher.agent == "current:ismcts:200:0.7:1:network:policy=0.5"
    for text, message in (
        ('agent = "current:heuristic"', "expected current:ismcts"),
        ('agent = "current:ismcts:0:network"', "iterations"),
        ('agent = "current:ismcts:10:network"\nwarm_start_rounds = 5', "needs a network first"),
        (
            'agent = "current:ismcts:10:network"\nrounds_per_iteration = 2\n[selfplay]\n'
            "tables = [{ players = 4, cards = 5 }, { players = 3, cards = 3 }]",
            "one table kind",
        ),
    ):
        with pytest.raises(LoopConfigError, match=message):
            parse_loop_config(f"[teacher]\n{text}\n")
