"""The AlphaZero loop (blobmaster.loop): two iterations end to end on a tiny
network, resume after a crash or Ctrl-C at several points, config checks,
the promotion rule, the presets and the `blobmaster loop` command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster import loop as loop_mod
from blobmaster.cli import app
from blobmaster.loop import (
    LOOP_PRESETS,
    LoopConfigError,
    LoopError,
    LoopFolder,
    driver,
    folder,
    gate,
    gate_decision,
    load_loop_config,
    parse_loop_config,
    run_loop,
    selfplay,
    training,
)
from blobmaster.model import load_model, load_model_info
from blobmaster.replay import list_shards, validate_shard
from blobmaster.table_specs import (
    PLAYER_SHARES,
    full_game_weights,
    max_cards,
    rounds_by_hand_size,
)
from helpers import tiny_loop_toml

REPO = Path(__file__).resolve().parents[1]


def tiny_config(
    tmp_path: Path, *, threshold: float = -100.0, references: str = '"heuristic"'
) -> Path:
    """A tiny loop config; the default threshold promotes every new network."""
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_loop_toml(threshold=threshold, references=references))
    return path


pytestmark = pytest.mark.usefixtures("torch_threads_restored")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An uninterrupted two-iteration run (every new network promoted)."""
    base = tmp_path_factory.mktemp("loop")
    run = base / "run"
    lines: list[str] = []
    summary = run_loop(run, tiny_config(base), log=lines.append)
    assert summary.ran == [1, 2] and summary.iterations_done == 2
    assert any("iteration 2/2 done" in line for line in lines)
    return run


MARKERS = ("selfplay.json", "train.json", "gate.json", "eval.json", "DONE")


def structure(run: Path, iterations: int) -> dict:
    """What must not depend on interruptions: the files of the run and of its
    iterations (shards as a round count; the trainer's checkpoints left out),
    the metrics columns, the markers' keys."""
    later = {f"iter-{k:04d}" for k in range(iterations + 1, 100)}
    out: dict = {
        "top": sorted(
            p.name for p in run.iterdir() if not p.name.startswith(".") and p.name not in later
        )
    }
    out["init"] = sorted(p.name for p in (run / "init").iterdir())
    for k in range(1, iterations + 1):
        it = run / f"iter-{k:04d}"
        out[k] = {
            "files": sorted(p.name for p in it.iterdir() if not p.name.startswith(".")),
            "rounds": sum(validate_shard(p).rounds for p in list_shards(it / "shards")),
            "train": sorted(
                p.name
                for p in (it / "train").iterdir()
                if p.is_file() and not p.name.startswith(".")
            ),
            "markers": {m: sorted(json.loads((it / m).read_text())) for m in MARKERS},
        }
    header = (run / "metrics.csv").read_text().splitlines()
    out["metrics"] = (header[0], len(header) - 1)
    return out


# ---- end to end ---------------------------------------------------------------------------


def test_two_iterations_end_to_end(finished):
    run = finished
    f = LoopFolder(run)
    assert f.done_iterations() == 2
    manifest = json.loads((run / "loop.json").read_text())
    assert manifest["format"] == "blobmaster-loop" and manifest["iterations_done"] == 2
    assert manifest["best_model"] == "iter-0002/model.pt" and manifest["best_iteration"] == 2
    assert (
        manifest["config"]["train"]["model"] == "tiny"
        and manifest["config"]["selfplay"]["rounds"] == 16
    )
    assert (run / "config.toml").read_text() == tiny_loop_toml(
        threshold=-100.0, references='"heuristic"'
    )
    assert load_model_info(run / "init" / "model.pt").config == bm.ModelConfig.tiny()
    for k in (1, 2):
        it = run / f"iter-{k:04d}"
        for name in (*MARKERS, "selfplay-parts.json", "model.pt"):
            assert (it / name).is_file(), name
        shards = list_shards(it / "shards")
        assert sum(validate_shard(p).rounds for p in shards) == 16 and len(shards) == 3
        assert not [p for p in it.rglob(".*.tmp")]
        load_model(it / "model.pt")  # a loadable scripted network
        gate = json.loads((it / "gate.json").read_text())
        assert (
            gate["promoted"]
            and gate["reason"] == "interval"
            and gate["best_after"] == f"iter-{k:04d}/model.pt"
        )
        assert gate["arena"]["deals"] == 2 and gate["ci95"] is not None
    # iteration 2 played with iteration 1's network and trained from it, on both iterations' shards
    sp2 = json.loads((run / "iter-0002" / "selfplay.json").read_text())
    tr2 = json.loads((run / "iter-0002" / "train.json").read_text())
    assert sp2["model"] == "iter-0001/model.pt"
    assert sp2["model_id"] == load_model_info(run / "iter-0001" / "model.pt").id
    assert tr2["init_model"] == "iter-0001/model.pt"
    assert tr2["window_first_iteration"] == 1 and tr2["window_shards"] == 6
    assert json.loads((run / "iter-0001" / "selfplay.json").read_text())["model"] == "init/model.pt"
    # metrics: one row per iteration with throughput, losses, gate and reference results
    import csv

    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["iteration"] for r in rows] == ["1", "2"]
    for r in rows:
        assert (
            float(r["rounds_per_min"]) > 0
            and float(r["evals_per_s"]) > 0
            and int(r["selfplay_examples"]) > 0
        )
        assert float(r["loss"]) > 0 and float(r["policy_loss"]) > 0 and float(r["val_loss"]) > 0
        assert (
            r["promoted"] == "true"
            and r["gate_ci95"] != ""
            and r["best_iteration"] == r["iteration"]
        )
        assert r["ref_heuristic_diff"] != "" and float(r["ref_heuristic_reference_mean"]) >= 0
    baseline = json.loads((run / "init" / "eval.json").read_text())
    assert baseline["model"] == "init/model.pt" and baseline["references"][0]["spec"] == "heuristic"


def test_finished_run_has_nothing_to_do_and_can_be_extended(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    lines: list[str] = []
    summary = run_loop(run, log=lines.append)  # the saved config
    assert summary.ran == [] and summary.iterations_done == 2 and "nothing to do" in " ".join(lines)
    assert summary.best_model == run / "iter-0002" / "model.pt"
    summary = run_loop(run, iterations=3, threads=1)  # runtime settings may change
    assert summary.ran == [3] and LoopFolder(run).done_iterations() == 3
    tr3 = json.loads((run / "iter-0003" / "train.json").read_text())
    assert tr3["window_first_iteration"] == 2  # window_iterations = 2


# ---- resume ---------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def _selfplay_crash(monkeypatch, exc: type[BaseException]):
    real = selfplay.run_selfplay

    def crashing(*args, progress=None, **kwargs):
        def cb(snap):
            if progress is not None:
                progress(snap)
            if snap.rounds >= 4:  # the finished rounds are written, then the error propagates
                raise exc("simulated failure in self-play")

        return real(*args, progress=cb, progress_interval_s=0.01, **kwargs)

    monkeypatch.setattr(selfplay, "run_selfplay", crashing)


def _train_crash(monkeypatch, how: str):
    real = training.train

    def crashing(*args, progress=None, **kwargs):
        fired = []

        def cb(snap):
            if progress is not None:
                progress(snap)
            if snap.step >= 4 and not fired:
                fired.append(1)
                if how == "sigint":
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the trainer checkpoints and stops
                else:
                    raise Boom("simulated failure in training")

        return real(*args, progress=cb, **kwargs)

    monkeypatch.setattr(training, "train", crashing)


def _arena_crash(monkeypatch, which: str):
    real = gate.play_duplicate
    calls = []

    def crashing(agents, *args, **kwargs):
        names = [a.name for a in agents]
        calls.append(names)
        gate = all(n.startswith("model:") for n in names)
        if (which == "gate" and gate) or (which == "eval" and not gate and len(calls) > 1):

            def on_round(done, total):
                if done >= 2:
                    raise KeyboardInterrupt  # Ctrl-C in the middle of the games

            kwargs["on_round"] = on_round
        return real(agents, *args, **kwargs)

    monkeypatch.setattr(gate, "play_duplicate", crashing)


def _metrics_crash(monkeypatch):
    def crashing(folder):
        raise Boom("simulated crash after DONE")

    monkeypatch.setattr(driver, "write_metrics", crashing)


POINTS = {
    "selfplay-exception": (lambda mp: _selfplay_crash(mp, Boom), Boom),
    "selfplay-ctrl-c": (lambda mp: _selfplay_crash(mp, KeyboardInterrupt), KeyboardInterrupt),
    "train-exception": (lambda mp: _train_crash(mp, "raise"), Boom),
    "train-sigint": (lambda mp: _train_crash(mp, "sigint"), KeyboardInterrupt),
    "gate-ctrl-c": (lambda mp: _arena_crash(mp, "gate"), KeyboardInterrupt),
    "eval-ctrl-c": (lambda mp: _arena_crash(mp, "eval"), KeyboardInterrupt),
    "after-done": (_metrics_crash, Boom),
}


def _snapshot(it: Path) -> dict[str, bytes]:
    """Bytes of the finished work in an iteration folder (markers, model, shards)."""
    out = {}
    for p in sorted(it.rglob("*")):
        rel = p.relative_to(it).as_posix()
        if (
            p.is_file()
            and not p.name.startswith(".")
            and not rel.startswith("train/")
            and rel != "selfplay-parts.json"
        ):
            out[rel] = p.read_bytes()
    return out


@pytest.mark.parametrize("point", list(POINTS))
def test_resume_after_interruption(point, tmp_path, finished, monkeypatch):
    setup, exc = POINTS[point]
    cfg = tiny_config(tmp_path)
    run = tmp_path / "run"
    with monkeypatch.context() as mp:
        setup(mp)
        with pytest.raises(exc):
            run_loop(run, cfg, iterations=1)
    it = run / "iter-0001"
    before = _snapshot(it)
    # what each point must have kept
    shards_before = {p.name: p.read_bytes() for p in list_shards(it / "shards")}
    assert shards_before, "the complete shards written before the interruption are on disk"
    rounds_before = sum(validate_shard(it / "shards" / n).rounds for n in shards_before)
    if point.startswith("selfplay"):
        assert not (it / "selfplay.json").exists()
        # Stopped once 4 or more rounds were done; a fast engine may have
        # finished all 16 by then, but the phase is still not marked done.
        assert 4 <= rounds_before <= 16, rounds_before
    if point.startswith("train"):
        assert (it / "selfplay.json").exists() and not (it / "train.json").exists()
        ckpts = sorted(p.name for p in (it / "train" / "checkpoints").iterdir())
        assert ckpts[0] == "ckpt-00000003.pt"  # the trainer's checkpoint survives
        if point == "train-sigint":
            assert ckpts[-1] == "ckpt-00000004.pt"  # Ctrl-C checkpoints the step it stopped at
    if point == "gate-ctrl-c":
        assert (it / "train.json").exists() and not (it / "gate.json").exists()
    if point == "eval-ctrl-c":
        assert (it / "gate.json").exists() and not (it / "eval.json").exists()
    if point == "after-done":
        assert (it / "DONE").exists() and not (run / "metrics.csv").exists()

    lines: list[str] = []
    summary = run_loop(run, iterations=1, log=lines.append)  # the same command again (saved config)
    assert summary.iterations_done == 1 and summary.ran == ([] if point == "after-done" else [1])
    after = _snapshot(it)
    for name, data in before.items():  # finished work is never redone
        assert after[name] == data, f"{name} changed on resume"
    for name, data in shards_before.items():
        assert (it / "shards" / name).read_bytes() == data
    assert structure(run, 1) == {
        **structure(finished, 1),
        "metrics": (structure(finished, 1)["metrics"][0], 1),
    }
    if point.startswith("selfplay") and rounds_before < 16:
        # (All 16 rounds may finish together before the interruption lands:
        # then nothing is left to play, the case tested below.)
        assert any(
            f"{16 - rounds_before} rounds ({rounds_before} kept from before)" in line
            for line in lines
        )
        parts = json.loads((it / "selfplay-parts.json").read_text())
        assert parts[-1]["rounds"] == 16 - rounds_before
    if point.startswith("train"):
        assert json.loads((it / "train.json").read_text())["resumed"] is True
    assert not [p for p in run.rglob(".*.tmp")]


def test_selfplay_done_before_marker_is_not_replayed(tmp_path, monkeypatch):
    """All rounds on disk but no marker (a crash right after the last shard): nothing is played again."""
    cfg = tiny_config(tmp_path)
    run = tmp_path / "run"

    def no_marker(path, data):
        if path.name == "selfplay.json":
            raise Boom("crash before the marker")
        return real_write(path, data)

    real_write = selfplay.write_json
    with monkeypatch.context() as mp:
        mp.setattr(selfplay, "write_json", no_marker)
        with pytest.raises(Boom):
            run_loop(run, cfg, iterations=1)
    shards = {p.name: p.stat().st_mtime_ns for p in list_shards(run / "iter-0001" / "shards")}
    calls = []

    def stop(ctx, k):  # stop after self-play: the rest is tested elsewhere
        raise Boom("stop")

    monkeypatch.setattr(selfplay, "run_selfplay", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(training, "train_phase", stop)
    with pytest.raises(Boom, match="stop"):
        run_loop(run, iterations=1)
    assert calls == []
    assert {
        p.name: p.stat().st_mtime_ns for p in list_shards(run / "iter-0001" / "shards")
    } == shards
    assert json.loads((run / "iter-0001" / "selfplay.json").read_text())["rounds"] == 16


# ---- config ----------------------------------------------------------------------------------


def test_resume_with_another_config_is_an_error_unless_forced(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    other = tmp_path / "other.toml"
    other.write_text(
        tiny_loop_toml(threshold=-100.0, references='"heuristic"').replace("steps = 6", "steps = 7")
    )
    with pytest.raises(LoopConfigError, match=r"train\.steps: 6 -> 7.*--force"):
        run_loop(run, other)
    # runtime keys may differ
    runtime = tmp_path / "runtime.toml"
    runtime.write_text(
        tiny_loop_toml(threshold=-100.0, references='"heuristic"')
        .replace("threads = 2", "threads = 1")
        .replace("\niterations = 2", "\niterations = 1")
    )
    assert run_loop(run, runtime).ran == []
    summary = run_loop(run, other, force=True)
    assert summary.ran == []
    manifest = json.loads((run / "loop.json").read_text())
    assert manifest["config"]["train"]["steps"] == 7
    assert manifest["history"][-1]["changes"] == ["train.steps: 6 -> 7"]
    assert "steps = 7" in (run / "config.toml").read_text()
    assert run_loop(run, other).ran == []  # the new config is now the run's own


def test_new_run_checks(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(LoopError, match="not a loop run folder"):
        run_loop(foreign, tiny_config(tmp_path))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(LoopError, match="not a folder"):
        run_loop(a_file, tiny_config(tmp_path))
    with pytest.raises(LoopConfigError, match=r"references.*unknown agent spec"):
        run_loop(tmp_path / "new", tiny_config(tmp_path, references='"grandmaster"'))
    assert not (tmp_path / "new").exists()  # nothing created for a bad config
    with pytest.raises(bm.DeviceError):
        run_loop(tmp_path / "new", tiny_config(tmp_path), device="tpu")
    with pytest.raises(LoopError, match="init_model"):
        bad = tmp_path / "init.toml"
        bad.write_text(
            tiny_loop_toml(threshold=0.0, references="").replace(
                "[loop]", '[loop]\ninit_model = "nope.pt"'
            )
        )
        run_loop(tmp_path / "new", bad)
    assert not (tmp_path / "new").exists()


def test_one_loop_per_folder(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    with folder.locked(LoopFolder(run)), pytest.raises(LoopError, match="in use"):
        run_loop(run)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[loop]\nseeds = 1", "unknown key 'seeds'.*did you mean 'seed'"),
        ("[loop]\niterations = 0", r"\[loop\] iterations: must be >= 1"),
        ("[loop]\ndevice = 3", "expected a string"),
        ("[gate]\nreferences = 'heuristic'", "expected an array"),
        ("[gate]\nplayers = 2", "must be 0 or 3..8"),
        ("[gate]\nplayers = 8\ncards = 7", "more than the 52"),
        ("[selfplay]\nrounds = 0", r"\[selfplay\] rounds: must be >= 1, got 0"),
        ("[gate]\nreference_tables = ['4x14']", "cards must be in 1..13"),
        ("[gate]\nreference_tables = ['8x7']", "more than the 52"),
        ("[gate]\nreference_tables = ['four by five']", "write PLAYERSxCARDS"),
        ("[gate]\nreference_tables = ['4x5', '4X5']", "given twice"),
        ("[gate]\nreference_tables = '4x5'", "expected an array of tables"),
        ("[gate]\nreference_table_deals = 0", "reference_table_deals: must be >= 1"),
        ("[selfplay]\ngames = 3", "unknown key 'games'"),
        ("[search]\nsimulations = 1", "simulations: must be >= 2"),
        ("[train]\nseed = 1", r"\[loop\] seed"),
        ("[train]\nmodel = 'huge'", "expected one of"),
        ("[trian]\nsteps = 1", r"did you mean \[train\]"),
        ("[loop\n", "not valid TOML"),
    ],
)
def test_config_errors(text, message):
    with pytest.raises(LoopConfigError, match=message) as e:
        parse_loop_config(text, source="bad.toml")
    assert isinstance(e.value, bm.ConfigError) and "\n" not in str(e.value)


def test_config_files(tmp_path):
    with pytest.raises(LoopConfigError, match="unknown loop config 'nope'"):
        load_loop_config("nope")
    with pytest.raises(LoopConfigError, match="not found"):
        load_loop_config(tmp_path / "missing.toml")
    cfg = load_loop_config(tiny_config(tmp_path))
    assert (
        cfg.name == "tiny"
        and cfg.rounds == 16
        and cfg.gate_table == (4, 2)
        and cfg.model_size == "tiny"
    )
    assert (
        cfg.conflicts(cfg.with_runtime(iterations=9, threads=1, device="cuda", torch_threads=2))
        == []
    )
    assert (
        parse_loop_config("").train.model == "auto"
        and parse_loop_config("").model_size == "default"
    )


@pytest.mark.parametrize("name", LOOP_PRESETS)
def test_presets_load_are_packaged_and_commented(name):
    cfg = load_loop_config(name)
    packaged = Path(bm.__file__).parent / "configs" / f"{name}.toml"
    if (REPO / "configs").exists():  # a source checkout: one folder, linked from the top
        source = REPO / "python" / "blobmaster" / "configs" / f"{name}.toml"
        assert (REPO / "configs" / f"{name}.toml").resolve() == source.resolve()
        assert packaged.read_bytes() == source.read_bytes()  # what the package ships
    assert load_loop_config(REPO / "configs" / f"{name}.toml").to_dict() == cfg.to_dict()
    # every key is set explicitly and preceded by a comment (directly or in its block)
    lines = packaged.read_text().splitlines()
    flat = loop_mod.flatten(cfg.to_dict())
    for key in flat:
        section, name_ = key.split(".")
        if section == "selfplay" and name_ == "tables":
            continue
        assert any(line.startswith(f"{name_} = ") for line in lines), key
    for i, line in enumerate(lines):
        if line and not line.startswith(("#", "[")) and "=" in line:
            block = lines[max(0, i - 12) : i]
            assert any(x.startswith("#") for x in block), f"{name}: no comment above {line!r}"
    if name in ("loop_quick", "loop_proof"):
        assert (
            cfg.model_size == "small" and cfg.search.label() == "2x20" and cfg.gate_table == (4, 5)
        )
        assert cfg.loop.torch_threads == 1
    else:
        assert (
            cfg.model_size == "default"
            and cfg.search.label() == "3x30"
            and cfg.selfplay.max_batch >= 1024
        )


def test_proof_preset_is_the_4x5_quick_loop_and_the_others_mix_every_table():
    proof, quick, gpu = (load_loop_config(n) for n in ("loop_proof", "loop_quick", "loop_gpu"))
    # the learning proof's settings, as measured (benchmarks/RESULTS.md)
    assert [t.as_tuple() for t in proof.selfplay.tables] == [(4, 5, 1.0)]
    assert proof.rounds == 4000 and proof.train.steps == 800 and proof.gate.deals == 0
    assert proof.gate.references == ("heuristic",) and proof.gate.reference_deals == 100
    assert proof.gate.reference_tables == () and not proof.selfplay.full_games
    # loop_quick is the same loop with the mixed tables (and per-table reference games)
    differ = {k.split(":")[0] for k in proof.conflicts(quick)}
    # (gate.players / cards: 0 = the first table, 4 x 5, in the proof; explicit here)
    assert differ == {"selfplay.tables", "gate.reference_tables", "gate.players", "gate.cards"}
    legal = {(p, c) for p in range(3, 9) for c in range(1, 14) if p * c <= 52}
    for cfg in (quick, gpu):
        tables = [t.as_tuple() for t in cfg.selfplay.tables]
        assert {(p, c) for p, c, _ in tables} == legal and len(tables) == len(legal) == 57
        assert tables == full_game_weights()
        share = {p: sum(w for q, _, w in tables if q == p) for p in range(3, 9)}
        assert share == pytest.approx(dict(PLAYER_SHARES), abs=0.1)  # rounded weights
        assert max(share, key=share.__getitem__) in (4, 5)
        assert cfg.gate_table == (4, 5)
        assert {p for p, _ in cfg.reference_tables} >= {3, 4, 5, 7}
        assert {c for _, c in cfg.reference_tables} >= {1, 5, 10, 13}


def test_full_game_weights_follow_the_rounds_of_a_full_game():
    # 4 players from 13 cards: 13, ..., 2, 1, 1, 1, 1, 2, ..., 13 = 28 rounds
    assert rounds_by_hand_size(4, 13) == {1: 4, **{c: 2 for c in range(2, 14)}}
    assert sum(rounds_by_hand_size(5, 7).values()) == 2 * 6 + 5
    weights = {(p, c): w for p, c, w in full_game_weights({4: 28.0, 8: 18.0})}
    assert weights[(4, 1)] == 4.0 and weights[(4, 13)] == 2.0 and (4, 14) not in weights
    assert weights[(8, 1)] == 8.0 and weights[(8, 6)] == 2.0 and (8, 7) not in weights
    assert [max_cards(p) for p in range(3, 9)] == [13, 13, 10, 8, 7, 6]


def test_full_games_in_the_loop_count_rounds(tmp_path):
    """[selfplay] full_games = true: the engine plays whole games (ids
    g * 64 + r, every hand size of the schedule, the game context in the
    observation) and the loop still stops at `rounds` rounds."""
    text = tiny_loop_toml(references="", iterations=1)
    text = text.replace(
        "tables = [{ players = 4, cards = 2 }]",
        "tables = [{ players = 3, cards = 3 }]\nfull_games = true",
    )
    cfg = tmp_path / "games.toml"
    cfg.write_text(text)
    summary = run_loop(tmp_path / "run", cfg)
    assert summary.iterations_done == 1
    import polars as pl

    shards = list_shards(tmp_path / "run" / "iter-0001" / "shards")
    df = pl.concat([pl.read_parquet(p) for p in shards])
    rounds = df["round_id"].n_unique()
    assert rounds >= 16 and summary.rows[0]["selfplay_rounds"] == rounds
    assert set(df["cards"].unique().to_list()) <= {1, 2, 3}
    assert 1 in df["cards"].to_list() and (df["round_id"] % 64 > 0).any()
    full_game = df["state"].arr.get(252)  # FULL_GAME (docs/observation.md)
    assert (full_game == 1.0).all()


def test_gate_decision():
    assert gate_decision(1.0, 0.5, 0.0, 0, 0) == (True, "interval")
    assert gate_decision(1.0, 1.5, 0.0, 0, 5) == (False, "rejected")
    assert gate_decision(1.0, 0.5, 0.6, 0, 0) == (
        False,
        "rejected",
    )  # above 0 but not above the threshold
    assert gate_decision(0.3, 1.5, 0.0, 3, 2) == (False, "rejected")
    assert gate_decision(0.3, 1.5, 0.0, 3, 3) == (True, "forced")
    assert gate_decision(-0.3, 1.5, 0.0, 3, 9) == (False, "rejected")
    assert gate_decision(2.0, None, 0.0, 0, 0) == (False, "rejected")  # one deal: no interval


def test_rejected_networks_keep_the_best_and_fallback_promotes(tmp_path, monkeypatch):
    """A threshold no network can pass: the first network stays the best;
    force_after = 1 promotes after one rejection when the mean is ahead."""
    cfg = tmp_path / "strict.toml"
    cfg.write_text(
        tiny_loop_toml(threshold=100.0, references="").replace(
            "threshold = 100.0", "threshold = 100.0\nforce_after = 1"
        )
    )
    monkeypatch.setattr(
        gate,
        "gate_decision",
        lambda d, ci, t, f, r: (r >= f, "forced" if r >= f else "rejected"),
    )
    run = tmp_path / "run"
    summary = run_loop(run, cfg)
    g1 = json.loads((run / "iter-0001" / "gate.json").read_text())
    g2 = json.loads((run / "iter-0002" / "gate.json").read_text())
    assert not g1["promoted"] and g1["best_after"] == "init/model.pt" and g1["rejections"] == 1
    assert json.loads((run / "iter-0002" / "selfplay.json").read_text())["model"] == "init/model.pt"
    assert g2["promoted"] and g2["reason"] == "forced" and g2["rejections"] == 0
    assert summary.best_iteration == 2
    assert json.loads((run / "loop.json").read_text())["best_model"] == "iter-0002/model.pt"
    assert not (run / "init" / "eval.json").exists()  # no reference agents


# ---- the command line ------------------------------------------------------------------------


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_loop(tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config(tmp_path, references="")
    result = _cli("loop", run, "--config", cfg, "--iterations", 1, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "loop: iterations 1-1" in result.output and LoopFolder(run).done_iterations() == 1
    result = _cli("loop", run, "--iterations", 1, "--no-progress")
    assert result.exit_code == 0 and "nothing to do" in result.output
    other = tmp_path / "other.toml"
    other.write_text(cfg.read_text().replace("deals = 2", "deals = 4"))
    result = _cli("loop", run, "--config", other, "--iterations", 1, "--no-progress")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("blobmaster: error: ")
        and "gate.deals: 2 -> 4" in lines[0]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--config", "nope"), "unknown loop config 'nope'"),
        (("--config", "missing.toml"), "config file not found"),
        (("--config", "BAD"), "unknown key"),
        (("--iterations", 0), "--iterations: must be >= 1, got 0"),
        (("--threads", -1), "--threads: must be >= 0, got -1"),
        (("--threads", 5000), "--threads: must be <= 1024, got 5000"),
        (("--torch-threads", -1), "--torch-threads: must be >= 0"),
        (("--device", "tpu"), "unknown device"),
    ],
)
def test_cli_loop_bad_input(tmp_path, args, message):
    bad = tmp_path / "bad.toml"
    bad.write_text("[loop]\nbogus = 1\n")
    args = tuple(bad if a == "BAD" else a for a in args)
    result = _cli("loop", tmp_path / "run", *args, "--no-progress")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("blobmaster: error: ") and message in lines[0], (
        result.stderr
    )
    assert not (tmp_path / "run").exists()


def test_exports():
    from blobmaster import report

    assert (
        bm.run_loop is run_loop
        and bm.load_loop_config is load_loop_config
        and bm.LoopError is LoopError
    )
    assert bm.write_report is report.write_report and issubclass(bm.LoopConfigError, bm.ConfigError)
    assert {"run_loop", "write_report", "LoopConfig"} <= set(bm.__all__)
    for name in loop_mod.__all__:
        assert getattr(loop_mod, name) is not None, name


def test_report_and_loop_config_do_not_import_torch():
    """`blobmaster report` and config checks stay light: no torch import."""
    code = (
        "import sys, blobmaster.report, blobmaster.loop; blobmaster.loop.load_loop_config();"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_proof_preset_learns_in_one_iteration(tmp_path):
    """The real loop_proof preset (about 70 s on 2 cores): training lowers
    the loss, and the first trained network does clearly better against the
    heuristic than the untrained one did (the preset has no gate; measured:
    -3.27 -> -1.19 points/round, intervals of about +-0.7)."""
    summary = run_loop(tmp_path / "run", "loop_proof", iterations=1, device="cpu", torch_threads=1)
    row = summary.rows[0]
    assert row["selfplay_rounds"] == 4000 and row["train_steps"] == 800
    assert row["promoted"] and row["promotion"] == "no gate"
    assert row["loss"] < row["first_loss"]
    baseline = json.loads((tmp_path / "run" / "init" / "eval.json").read_text())["references"][0]
    # the same 100 reference deals before and after: a gain of 2 points measured
    assert row["ref_heuristic_diff"] > baseline["diff"] + 1.0


# ---- busy cores, the overlap pipeline, the optimizer across iterations (issue #10, 5-6) ------


def _metrics_rows(run: Path) -> list[dict[str, str]]:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _marker(run: Path, k: int, name: str) -> dict:
    return json.loads((run / f"iter-{k:04d}" / name).read_text())


def test_busy_cores_per_phase_in_markers_metrics_and_report(finished, tmp_path):
    from blobmaster.loop.context import available_cores

    cores = available_cores()
    rows = _metrics_rows(finished)
    assert len(rows) == 2
    for k, row in enumerate(rows, 1):
        assert row["pipeline"] == "sequential"
        for phase in ("selfplay", "train", "gate", "eval", "iteration"):
            busy = float(row[f"{phase}_busy_cores"])
            # process CPU time over wall time: some work, never more than every core
            assert 0.0 < busy <= cores + 0.2, (k, phase, busy)
        sp, tr = _marker(finished, k, "selfplay.json"), _marker(finished, k, "train.json")
        assert float(row["selfplay_busy_cores"]) == pytest.approx(sp["busy_cores"])
        assert sp["cpu_s"] > 0 and not sp["overlapped"] and not tr["overlapped"]
        assert tr["busy_cores"] == pytest.approx(tr["cpu_s"] / tr["elapsed_s"])
        assert tr["torch_threads"] == int(row["train_torch_threads"]) == 1  # [loop] torch_threads
        # one after the other: the iteration's wall time covers its phases
        phases = sum(float(row[c]) for c in ("selfplay_s", "train_s", "gate_s", "eval_s"))
        assert float(row["iteration_wall_s"]) >= 0.99 * phases
    summary = bm.write_report(finished, tmp_path / "report").summary.read_text()
    line = next(x for x in summary.splitlines() if x.startswith("- Busy cores"))
    mean_train = sum(float(r["train_busy_cores"]) for r in rows) / len(rows)
    assert f"train {mean_train:.2f}" in line and "self-play" in line and "whole iteration" in line


def test_optimizer_state_carries_over_iterations(finished):
    """Iteration 2 continues iteration 1's AdamW moments (the step counts go
    on: 6 + 6) and restarts the learning-rate schedule (warmup again)."""
    from blobmaster.checkpoint import RunFolder

    last_1 = RunFolder(finished / "iter-0001" / "train").latest_checkpoint()
    last_2 = RunFolder(finished / "iter-0002" / "train").latest_checkpoint()
    assert last_1 is not None and last_2 is not None and last_1.name == "ckpt-00000006.pt"
    assert _marker(finished, 1, "train.json")["optimizer_from"] is None
    assert _marker(finished, 2, "train.json")["optimizer_from"] == (
        f"iter-0001/train/checkpoints/{last_1.name}"
    )
    old = torch.load(last_1, weights_only=True)["optimizer_state"]["state"]
    new = torch.load(last_2, weights_only=True)["optimizer_state"]["state"]
    assert {float(s["step"]) for s in old.values()} == {6.0}
    assert {float(s["step"]) for s in new.values()} == {12.0}
    first_lr = [
        float(_csv_first(finished / f"iter-000{k}" / "train" / "metrics.csv")["lr"]) for k in (1, 2)
    ]
    assert first_lr[0] == first_lr[1]


def _csv_first(path: Path) -> dict[str, str]:
    import csv

    with open(path, newline="") as f:
        return next(csv.DictReader(f))


def overlap_config(tmp_path: Path) -> Path:
    path = tiny_config(tmp_path)
    text = path.read_text().replace(
        "window_iterations = 2\n", 'window_iterations = 2\npipeline = "overlap"\n'
    )
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def overlapped(tmp_path_factory) -> Path:
    """An uninterrupted three-iteration run of the overlap pipeline."""
    base = tmp_path_factory.mktemp("overlap")
    run = base / "run"
    lines: list[str] = []
    summary = run_loop(run, overlap_config(base), iterations=3, log=lines.append)
    assert summary.ran == [1, 2, 3]
    assert sum("self-play and training overlap" in line for line in lines) == 2  # not iteration 1
    return run


def test_overlap_trains_on_the_complete_shards_of_earlier_iterations(overlapped):
    # (first, last) iteration of the window, with window_iterations = 2
    windows = {1: (1, 1), 2: (1, 1), 3: (1, 2)}
    for k, (first, last) in windows.items():
        tr, sp = _marker(overlapped, k, "train.json"), _marker(overlapped, k, "selfplay.json")
        assert (tr["window_first_iteration"], tr["window_last_iteration"]) == (first, last)
        assert tr["overlapped"] == sp["overlapped"] == (k > 1)
        # exactly the shards of those iterations, none of iteration k's own (being written)
        train_dir = overlapped / f"iter-{k:04d}" / "train"
        ckpt = torch.load(train_dir / "checkpoints" / "ckpt-00000006.pt", weights_only=True)
        used = sorted(Path(s["path"]).resolve() for s in ckpt["window"]["shards"])
        want = sorted(
            p.resolve()
            for j in range(first, last + 1)
            for p in list_shards(overlapped / f"iter-{j:04d}" / "shards")
        )
        assert used == want, k
        assert tr["torch_threads"] == 1  # [loop] torch_threads
        # self-play of k used the best network after k-1, as in the sequential pipeline
        best = "init/model.pt" if k == 1 else f"iter-{k - 1:04d}/model.pt"
        assert sp["model"] == best
    rows = _metrics_rows(overlapped)
    assert [r["pipeline"] for r in rows] == ["overlap"] * 3
    assert all(0.0 < float(r["iteration_busy_cores"]) for r in rows)


OVERLAP_POINTS = {
    "train-exception": (lambda mp: _train_crash(mp, "raise"), Boom),
    "train-sigint": (lambda mp: _train_crash(mp, "sigint"), KeyboardInterrupt),
    "selfplay-exception": (lambda mp: _selfplay_crash(mp, Boom), Boom),
    "selfplay-ctrl-c": (lambda mp: _selfplay_crash(mp, KeyboardInterrupt), KeyboardInterrupt),
}


@pytest.mark.parametrize("point", list(OVERLAP_POINTS))
def test_overlap_resumes_after_interruption(point, tmp_path, overlapped, monkeypatch):
    """A crash or Ctrl-C in either half of an overlapped iteration stops the
    other half with its finished work on disk; running again finishes the
    iteration like an uninterrupted run."""
    setup, exc = OVERLAP_POINTS[point]
    cfg = overlap_config(tmp_path)
    run = tmp_path / "run"
    run_loop(run, cfg, iterations=1)
    with monkeypatch.context() as mp:
        setup(mp)
        with pytest.raises(exc):
            run_loop(run, cfg, iterations=2)
    it = run / "iter-0002"
    before = _snapshot(it)
    shards_before = {p.name: p.read_bytes() for p in list_shards(it / "shards")}
    if point.startswith("train"):
        assert not (it / "train.json").exists()
        assert (it / "train" / "checkpoints" / "ckpt-00000003.pt").exists()
        assert not (it / "selfplay.json").exists() or len(shards_before) == 3
    else:  # the training finished before the self-play's failure was raised
        assert (it / "train.json").exists() and not (it / "selfplay.json").exists()
        assert shards_before
    summary = run_loop(run, iterations=2)
    assert summary.ran == [2]
    after = _snapshot(it)
    for name, data in before.items():  # finished work is never redone
        assert after[name] == data, f"{name} changed on resume"
    assert structure(run, 2) == {
        **structure(overlapped, 2),
        "metrics": (structure(overlapped, 2)["metrics"][0], 2),
    }
    assert _marker(run, 2, "train.json")["window_last_iteration"] == 1
    assert not [p for p in run.rglob(".*.tmp")]


def test_training_refuses_a_window_with_unfinished_selfplay(tmp_path):
    """The guard behind the overlap's shard window: an iteration whose
    self-play has no marker yet is never training data."""
    from blobmaster.loop.context import LoopContext

    cfg = load_loop_config(overlap_config(tmp_path))
    run = LoopFolder(tmp_path / "run")
    (run.iter_dir(1) / "shards").mkdir(parents=True)
    ctx = LoopContext(run, cfg, torch.device("cpu"), force=False, progress=False, log=print)
    assert training.window_iterations(ctx, 2) == (1, 1)
    assert training.window_iterations(ctx, 4) == (2, 3)
    with pytest.raises(LoopError, match="the self-play of iteration 1 is not finished"):
        training.train_phase(ctx, 2)
    assert not (run.iter_dir(2) / "train").exists()
