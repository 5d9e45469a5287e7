"""Teacher self-play (blobmaster.teacher, _core.TeacherEngine,
``blobmaster selfplay --teacher``): ISMCTS on every seat writes standard
replay shards that validate, say where they came from, train a network, and
are the same for any thread count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from blobmaster._core import InvalidArgumentError, TeacherEngine
from blobmaster.cli import app
from blobmaster.config import parse_config
from blobmaster.replay import list_shards, read_shards, validate_shard
from blobmaster.teacher import (
    TeacherSpec,
    TeacherSpecError,
    run_teacher_selfplay,
    teacher_engine_kwargs,
    teacher_metadata,
)
from helpers import cli_train_tiny, run_tiny_loop_with_teacher

TABLES = "tables = [{ players = 3, cards = 3 }, { players = 4, cards = 2, weight = 2.0 }]\n"


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _preset(full_games: bool = False):
    return parse_config(
        f"[selfplay]\nrounds_per_shard = 4\nfull_games = {str(full_games).lower()}\n{TABLES}"
    )


def _run(
    out: Path, *, threads: int, rounds: int = 10, first_round: int = 0, spec: str = "ismcts:30",
    **preset_kw: bool,
):  # fmt: skip
    teacher = TeacherSpec.parse(spec)
    kwargs = teacher_engine_kwargs(
        _preset(**preset_kw), teacher, rounds=rounds, seed=5, threads=threads,
        first_round=first_round,
    )  # fmt: skip
    return run_teacher_selfplay(
        TeacherEngine(**kwargs),
        out_dir=out,
        metadata=teacher_metadata(teacher, kwargs),
        rounds_per_shard=4,
        first_shard_index=first_round // 4,
    )


def _frame(folder: Path) -> pl.DataFrame:
    return read_shards(folder).collect()


def test_spec_parsing() -> None:
    assert TeacherSpec.parse("ismcts:300") == TeacherSpec(300, 0.7, "random")
    assert TeacherSpec.parse("ismcts:50:1.2:heuristic") == TeacherSpec(50, 1.2, "heuristic")
    assert TeacherSpec.parse("ismcts:50:heuristic").spec() == "ismcts:50:0.7:heuristic"
    bids = TeacherSpec.parse("ismcts:50:heuristic:bids")
    assert (bids.inference, bids.inference_temperature) == ("bids", 0.5)
    assert bids.spec() == "ismcts:50:0.7:heuristic:bids=0.5"
    assert TeacherSpec.parse(bids.spec()) == bids
    for bad in ("heuristic", "ismcts:0", "ismcts:x", "ismcts:10:-1", "model:x", "",
                "ismcts:10:network", "ismcts:10:bids=0"):  # fmt: skip
        with pytest.raises(TeacherSpecError):
            TeacherSpec.parse(bad)


def test_engine_rejects_bad_arguments() -> None:
    for kwargs in (
        dict(rounds=2, iterations=0),
        dict(rounds=2, exploration=-1.0),
        dict(rounds=2, rollout="greedy"),
        dict(rounds=2, rollout="network"),
        dict(rounds=2, inference="plays"),
        dict(rounds=2, inference="bids", inference_temperature=0.0),
        dict(rounds=2, margin=1.5),
        dict(rounds=2, threads=0),
        dict(rounds=2, tables=[(9, 5, 1.0)]),
        dict(rounds=2, first_round=3),
        dict(rounds=-1),
    ):
        with pytest.raises(InvalidArgumentError):
            TeacherEngine(**kwargs)


def test_shards_are_valid_whole_rounds_with_the_teacher_in_metadata(tmp_path: Path) -> None:
    summary = _run(tmp_path, threads=2)
    assert summary.rounds == 10 and not summary.interrupted
    assert [p.name for p in summary.shards] == [f"shard-00000{i}.parquet" for i in range(3)]
    infos = [validate_shard(p) for p in summary.shards]
    assert [i.rounds for i in infos] == [4, 4, 2]
    assert sum(i.rows for i in infos) == summary.examples
    for info in infos:
        assert info.models == ("teacher:ismcts:30:0.7:random",)
        search = json.loads(info.searches[0])
        assert search["teacher"] == "ismcts:30:0.7:random" and search["temperature_moves"] == 4
    df = _frame(tmp_path)
    assert sorted(df["round_id"].unique().to_list()) == list(range(10))
    # Every searched decision: 30 visits over the legal actions, in whole visits.
    policy = np.stack(df["policy"].to_numpy())
    assert np.allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(policy * 30, np.rint(policy * 30), atol=1e-3)
    assert summary.decisions * 30 == summary.iterations
    # The preset's tables, both drawn.
    assert set(zip(df["num_players"].to_list(), df["cards"].to_list())) == {(3, 3), (4, 2)}


def test_a_bid_inference_teacher_records_its_sampler_and_differs(tmp_path: Path) -> None:
    summary = _run(tmp_path / "bids", threads=2, spec="ismcts:30:bids=0.3")
    info = validate_shard(summary.shards[0])
    assert info.models == ("teacher:ismcts:30:0.7:random:bids=0.3",)
    search = json.loads(info.searches[0])
    assert (search["inference"], search["inference_temperature"]) == ("bids", 0.3)
    _run(tmp_path / "uniform", threads=2)
    bids, uniform = _frame(tmp_path / "bids"), _frame(tmp_path / "uniform")
    # Same deals (same seed); the worlds the searches sample differ.
    assert bids["state"].to_list()[0] == uniform["state"].to_list()[0]
    assert bids["policy"].to_list() != uniform["policy"].to_list()


def test_a_margin_teacher_records_its_margin_and_differs(tmp_path: Path) -> None:
    spec = TeacherSpec.parse("ismcts:30:heuristic:margin=1:bids")
    assert (spec.margin, spec.spec()) == (1.0, "ismcts:30:0.7:heuristic:margin=1:bids=0.5")
    assert TeacherSpec.parse(spec.spec()) == spec
    assert TeacherSpec.parse("ismcts:30").margin == 0.0
    with pytest.raises(TeacherSpecError, match="margin"):
        TeacherSpec.parse("ismcts:30:margin=2")
    summary = _run(tmp_path / "margin", threads=2, spec="ismcts:30:margin=1")
    info = validate_shard(summary.shards[0])
    assert info.models == ("teacher:ismcts:30:0.7:random:margin=1",)
    assert json.loads(info.searches[0])["margin"] == 1.0
    _run(tmp_path / "plain", threads=2)
    margin, plain = _frame(tmp_path / "margin"), _frame(tmp_path / "plain")
    # Same deals (same seed); what the seats play for differs.
    assert margin["state"].to_list()[0] == plain["state"].to_list()[0]
    assert margin["policy"].to_list() != plain["policy"].to_list()
    # The value targets are still the seats' own round scores.
    values = np.stack(margin["value"].to_numpy())
    assert ((values == 0) | (values > 0.5)).all()


def test_same_shards_for_any_thread_count_and_resume(tmp_path: Path) -> None:
    one = _frame(_run(tmp_path / "one", threads=1).shards[0].parent)
    three = _frame(_run(tmp_path / "three", threads=3).shards[0].parent)
    assert one.equals(three)
    for a, b in zip(list_shards(tmp_path / "one"), list_shards(tmp_path / "three")):
        assert pl.read_parquet(a).equals(pl.read_parquet(b))
    # Resumed after the first complete shard: the same shards as one run.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    first = list_shards(tmp_path / "one")[0]
    (resumed / first.name).write_bytes(first.read_bytes())
    _run(resumed, threads=2, first_round=4)
    assert _frame(resumed).equals(one)
    # Full games: every round of a game, with game round ids (game * 64 + round).
    games = _frame(_run(tmp_path / "games", threads=2, rounds=2, full_games=True).shards[0].parent)
    ids = sorted(games["round_id"].unique().to_list())
    assert {i // 64 for i in ids} == {0, 1} and len(ids) > 2


def test_cli_teacher_then_train(tmp_path: Path) -> None:
    cfg = tmp_path / "teacher.toml"
    cfg.write_text(f"[selfplay]\nrounds_per_shard = 5\n{TABLES}")
    out = tmp_path / "shards"
    args = ("selfplay", "--teacher", "ismcts:40:heuristic", "--rounds", 12, "--out", out)
    result = _cli(*args, "--config", cfg, "--seed", 3, "--threads", 2, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rounds"] == 12 and summary["teacher"] == "ismcts:40:0.7:heuristic"
    assert summary["shard_files"] == [
        "shard-000000.parquet",
        "shard-000001.parquet",
        "shard-000002.parquet",
    ]
    assert _cli("validate", out).exit_code == 0
    # The same seed gives the same shards.
    again = tmp_path / "again"
    result = _cli(*args[:-1], again, "--config", cfg, "--seed", 3, "--threads", 1, "--no-progress")
    assert result.exit_code == 0, result.output
    assert _frame(out).equals(_frame(again))
    # `blobmaster train` reads them unchanged.
    cli_train_tiny(out, tmp_path, steps=3)


def test_cli_teacher_errors(tmp_path: Path) -> None:
    out = tmp_path / "x"
    for spec, message in (
        ("heuristic", "expected ismcts"),
        ("ismcts:abc", "iterations"),
        ("ismcts:10:-1", "exploration"),
    ):
        result = _cli("selfplay", "--teacher", spec, "--rounds", 2, "--out", out, "--no-progress")
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    result = _cli("selfplay", "--teacher", "ismcts:10", "--model", out, "--out", out)
    assert result.exit_code == 2 and "--teacher" in result.output
    assert not list_shards(out)


def test_loop_preset_as_config(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = _cli(
        "selfplay", "--teacher", "ismcts:20", "--config", "loop_quick", "--rounds", 6,
        "--out", out, "--threads", 2, "--json", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    df = _frame(out)
    assert df["round_id"].n_unique() == 6 and df["model"][0] == "teacher:ismcts:20:0.7:random"


def test_ctrl_c_stops_promptly_and_keeps_finished_rounds(tmp_path: Path) -> None:
    teacher = TeacherSpec.parse("ismcts:200")
    kwargs = teacher_engine_kwargs(_preset(), teacher, rounds=1_000_000, seed=1, threads=2)
    engine = TeacherEngine(**kwargs)
    calls = []

    def progress(stats: dict[str, int], elapsed_s: float) -> None:
        calls.append(stats["rounds"])
        if stats["rounds"] >= 3:
            raise KeyboardInterrupt

    summary = run_teacher_selfplay(
        engine, out_dir=tmp_path, metadata=teacher_metadata(teacher, kwargs),
        rounds_per_shard=1000, progress=progress,
    )  # fmt: skip
    assert summary.interrupted and engine.finished
    assert 3 <= summary.rounds < 1_000_000 and len(summary.shards) == 1
    validate_shard(summary.shards[0])
    assert summary.rounds == _frame(tmp_path)["round_id"].n_unique()


# ---- warm start in the loop ---------------------------------------------------------------

WARM = '\n[teacher]\nagent = "ismcts:20"\nwarm_start_rounds = 9\nwarm_start_steps = 4\n'


def test_loop_warm_start_end_to_end_and_resume(tmp_path: Path, torch_threads_restored) -> None:
    from blobmaster import ModelConfig
    from blobmaster.loop import run_loop
    from blobmaster.model import load_model_info
    from helpers import tiny_loop_toml

    cfg = tmp_path / "warm.toml"
    cfg.write_text(tiny_loop_toml(iterations=1) + WARM)
    run = tmp_path / "run"
    lines: list[str] = []
    summary = run_loop(run, cfg, log=lines.append)
    assert summary.ran == [1]
    warm = run / "warm"
    shards = list_shards(warm / "shards")
    assert len(shards) == 2  # 9 rounds, 6 per shard (the [selfplay] rounds_per_shard)
    assert sum(validate_shard(p).rounds for p in shards) == 9
    assert {validate_shard(p).models for p in shards} == {("teacher:ismcts:20:0.7:random",)}
    teacher = json.loads((warm / "selfplay.json").read_text())
    trained = json.loads((warm / "train.json").read_text())
    assert teacher["rounds"] == 9 and teacher["teacher"] == "ismcts:20:0.7:random"
    assert trained["steps"] == 4 and trained["window_shards"] == 2
    # The first network is the warm-start network, and it played the reference games.
    assert (run / "init" / "model.pt").read_bytes() == (run / trained["model"]).read_bytes()
    assert load_model_info(run / "init" / "model.pt").config == ModelConfig.tiny()
    assert (run / "init" / "eval.json").is_file()
    first_train = json.loads((run / "iter-0001" / "train.json").read_text())
    assert first_train["init_model"] == "init/model.pt"
    assert any(line.startswith("warm start: teacher ismcts:20") for line in lines)
    assert any(line.startswith("first network: trained 4 steps on 9 rounds") for line in lines)
    # Resume after a crash in the teacher's part: the kept shard plus the
    # replayed rounds are the shards of the uninterrupted run.
    before = _frame(warm / "shards")
    (warm / "selfplay.json").unlink()
    shards[-1].unlink()
    run_loop(run, cfg, log=lines.append)  # init/model.pt exists: nothing redone
    assert not (warm / "selfplay.json").exists()
    (run / "init" / "model.pt").unlink()
    (warm / "train.json").unlink()
    ctx_lines: list[str] = []
    run_loop(run, cfg, log=ctx_lines.append)
    assert any("plays 3 rounds (6 kept from before)" in line for line in ctx_lines)
    assert _frame(warm / "shards").equals(before)


def test_loop_teacher_rounds_in_every_iteration(tmp_path: Path, torch_threads_restored) -> None:
    """[teacher] rounds_per_iteration: each iteration's self-play phase adds the
    teacher's rounds in iter-k/teacher, its training window holds them, and the
    first network is still the fresh one (no warm start)."""
    from blobmaster.loop import run_loop

    run, lines = run_tiny_loop_with_teacher(tmp_path, "ismcts:20", 7)
    cfg = tmp_path / "teacher_loop.toml"
    assert not (run / "warm").exists()
    for k in (1, 2):
        it = run / f"iter-{k:04d}"
        teacher_shards = list_shards(it / "teacher")
        assert sum(validate_shard(p).rounds for p in teacher_shards) == 7
        assert {validate_shard(p).models for p in teacher_shards} == {
            ("teacher:ismcts:20:0.7:random",)
        }
        played = json.loads((it / "selfplay.json").read_text())
        assert played["teacher"]["rounds"] == 7
        own = len(list_shards(it / "shards"))
        trained = json.loads((it / "train.json").read_text())
        # the window: this iteration's (and, at k = 2, the previous one's) own and teacher shards
        expected = sum(
            len(list_shards(run / f"iter-{j:04d}" / part))
            for j in range(1, k + 1)
            for part in ("shards", "teacher")
        )
        assert own > 0 and trained["window_shards"] == expected
    assert any(line.startswith("iteration 2: teacher ismcts:20") for line in lines)
    # A crash after the teacher's shards but before the marker: nothing is replayed.
    it2 = run / "iter-0002"
    before = _frame(it2 / "teacher")
    for name in ("selfplay.json", "train.json", "model.pt"):
        (it2 / name).unlink()
    again: list[str] = []
    run_loop(run, cfg, log=again.append)
    assert not any("teacher ismcts:20 plays" in line for line in again)
    assert _frame(it2 / "teacher").equals(before)


def test_teacher_config_checks() -> None:
    from blobmaster.loop import LoopConfigError, load_loop_config, parse_loop_config

    cfg = parse_loop_config(
        '[teacher]\nagent = "ismcts:300:heuristic"\nwarm_start_rounds = 5\n'
        "warm_start_steps = 3\nrounds_per_iteration = 2"
    )
    assert cfg.teacher.agent == "ismcts:300:0.7:heuristic"
    assert cfg.to_dict()["teacher"] == {
        "agent": "ismcts:300:0.7:heuristic",
        "warm_start_rounds": 5,
        "warm_start_steps": 3,
        "rounds_per_iteration": 2,
    }
    assert parse_loop_config("").teacher.agent == ""  # off by default
    for name in ("loop_quick", "loop_proof", "loop_gpu"):
        assert load_loop_config(name).teacher.agent == ""
    # Teacher rounds in every iteration go with an init model (no warm start).
    both = parse_loop_config(
        '[teacher]\nagent = "ismcts:5"\nrounds_per_iteration = 3\n[loop]\ninit_model = "x.pt"'
    )
    assert both.teacher.rounds_per_iteration == 3
    for text, message in (
        ('agent = "heuristic"', "expected ismcts"),
        ('agent = "ismcts:0"', "iterations"),
        ("warm_start_rounds = -1", "warm_start_rounds"),
        ("warm_start_steps = 0", "warm_start_steps"),
        ("rounds_per_iteration = 4", "agent is empty"),
        ('agent = "ismcts:5"\nwarm_start_rounds = 2\n[loop]\ninit_model = "x.pt"', "set one"),
    ):
        with pytest.raises(LoopConfigError, match=message):
            parse_loop_config(f"[teacher]\n{text}")
    # A run started without a teacher refuses a config that adds one (it fixes the run).
    on = parse_loop_config('[teacher]\nagent = "ismcts:5"')
    assert parse_loop_config("").conflicts(on) == ["teacher.agent: '' -> 'ismcts:5:0.7:random'"]
