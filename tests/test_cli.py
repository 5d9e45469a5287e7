"""The blobmaster command line, and the presets it loads.

Most tests run the typer app in-process (CliRunner); a few run the real
`python -m blobmaster` to check the exit status and stderr a user sees.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import blobmaster as bm
from blobmaster.cli import app
from blobmaster.config import (
    BUILTIN_PRESETS,
    ConfigError,
    SearchConfig,
    builtin_preset_path,
    load_config,
    parse_config,
)
from blobmaster.model import ModelConfig, default_model, save_model
from blobmaster.replay import list_shards, read_shards, validate_shard

REPO = Path(__file__).resolve().parents[1]
TINY_SEARCH = """
[search]
determinizations = 2
simulations = 4

[selfplay]
games_per_thread = 4
max_batch = 64
rounds_per_shard = 2
"""


pytestmark = pytest.mark.usefixtures("torch_threads_restored")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli-inputs")
    tiny = save_model(default_model(seed=2, config=ModelConfig.tiny()), d / "tiny.pt")

    class WrongShape(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(256, 65)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.lin(x), torch.sigmoid(x[:, :8])

    wrong = save_model(WrongShape(), d / "wrong.pt")
    notmodel = d / "notes.pt"
    notmodel.write_text("just text")
    config = d / "tiny.toml"
    config.write_text(TINY_SEARCH)
    typo = d / "typo.toml"
    typo.write_text("[search]\nsimulatons = 4\n")
    badtype = d / "badtype.toml"
    badtype.write_text('[selfplay]\ngames_per_thread = "many"\n')
    afile = d / "a-file"
    afile.write_text("")
    return {
        "tiny": tiny,
        "wrong": wrong,
        "notmodel": notmodel,
        "config": config,
        "typo": typo,
        "badtype": badtype,
        "afile": afile,
    }


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def tiny_args(files, out: Path, *extra: str) -> list[str]:
    return [
        "selfplay",
        "--threads", "2",
        "--rounds", "5",
        "--model", str(files["tiny"]),
        "--config", str(files["config"]),
        "--out", str(out),
        "--players", "3",
        "--cards", "2",
        "--torch-threads", "1",
        "--device", "cpu",
        *extra,
    ]  # fmt: skip


def test_selfplay_with_tiny_settings(tmp_path, files):
    out = tmp_path / "out"
    result = run(*tiny_args(files, out, "--seed", "4", "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rounds"] == 5 and not summary["interrupted"]
    assert summary["shards"] == 3  # 2 rounds per shard from the config
    assert summary["config"] == "tiny" and summary["model"].startswith("sha256:")
    shards = list_shards(out)
    assert [p.name for p in shards] == summary["shard_files"]
    for p in shards:
        info = validate_shard(p)
        assert info.models == (summary["model"],)
        assert json.loads(info.searches[0])["simulations"] == 4


def test_selfplay_threads_zero_means_every_core(tmp_path, files):
    """--threads 0 is every core, as in the presets and `blobmaster loop`."""
    args = tiny_args(files, tmp_path / "out", "--json")
    args[args.index("--threads") + 1] = "0"
    result = run(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["threads"] == (os.cpu_count() or 1) and summary["rounds"] == 5


def test_selfplay_defaults_with_builtin_preset_and_model(tmp_path, files):
    """No --model: the built-in fresh BlobNet (default size); --config by name."""
    out = tmp_path / "default"
    result = run(
        "selfplay", "--rounds", "2", "--threads", "2", "--games-per-thread", "2",
        "--config", "light", "--out", str(out), "--torch-threads", "1", "--batch", "32",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"selfplay: 2 rounds, \d+ examples in 1 shards", result.stdout), result.stdout
    assert "rounds/min" in result.stdout and "evals/s" in result.stdout
    assert validate_shard(list_shards(out)[0]).models == ("default:blobnet-seed0",)


def test_selfplay_full_games(tmp_path, files):
    """--full-games: --rounds counts games; 3 players from 2 cards play 2, 1, 1, 1, 2."""
    out = tmp_path / "games"
    args = tiny_args(files, out, "--full-games", "--json")
    args[args.index("--rounds") + 1] = "1"
    result = run(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["full_games"] and summary["rounds"] == 5
    df = read_shards(out).collect()
    assert sorted(df["round_id"].unique().to_list()) == [
        0,
        1,
        2,
        3,
        4,
    ]  # game g, round r: g * 64 + r
    assert df.group_by("round_id").agg(pl.col("cards").first()).sort("round_id")[
        "cards"
    ].to_list() == [2, 1, 1, 1, 2]
    assert (df["state"].to_numpy()[:, 252] == 1).all()  # FULL_GAME flag in every observation
    for p in list_shards(out):
        validate_shard(p)


BAD_INPUTS = {
    "missing model": (["--model", "{tmp}/nope.pt"], "model file not found"),
    "model is a folder": (["--model", "{tmp}"], "not a file"),
    "not a model": (["--model", "{notmodel}"], "not a TorchScript model file"),
    "wrong-shaped model": (["--model", "{wrong}"], r"policy of shape \(2, 65\)"),
    "unknown config key": (["--config", "{typo}"], "unknown key 'simulatons'"),
    "wrong config type": (["--config", "{badtype}"], "games_per_thread: expected an integer"),
    "unknown config name": (["--config", "ultra"], "unknown config 'ultra'"),
    "missing config file": (["--config", "{tmp}/none.toml"], "config file not found"),
    "out is a file": (["--out", "{afile}"], "not a folder"),
    "out under a file": (["--out", "{afile}/sub"], "not a writable folder"),
    "too many players": (["--players", "9"], "players must be in 3..8"),
    "too few players": (["--players", "2"], "players must be in 3..8"),
    "no cards": (["--cards", "0"], "cards must be in 1..13"),
    "too many cards": (["--cards", "14"], "cards must be in 1..13"),
    "deck too small": (["--players", "8", "--cards", "7"], "more than the 52"),
    "unknown device": (["--device", "tpu"], "unknown device"),
    "too many threads": (["--threads", "5000"], "--threads: must be <= 1024, got 5000"),
    "negative threads": (["--threads", "-1"], "--threads: must be >= 0, got -1"),
    "negative torch threads": (["--torch-threads", "-1"], "--torch-threads must be"),
    "zero games per thread": (["--games-per-thread", "0"], "--games-per-thread: must be >= 1"),
    "zero rounds": (["--rounds", "0"], "--rounds must be"),
    "zero batch": (["--batch", "0"], "--batch: must be >= 1, got 0"),
    "negative seed": (["--seed", "-1"], "--seed must be"),
}
if not torch.cuda.is_available():
    BAD_INPUTS["cuda without CUDA"] = (["--device", "cuda"], "CUDA is not available")


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_nonzero(tmp_path, files, case):
    extra, message = BAD_INPUTS[case]
    names = {k: str(v) for k, v in files.items()}
    extra = [a.format(tmp=tmp_path, **names) for a in extra]
    out = tmp_path / "out"
    args = tiny_args(files, out)
    for i in range(0, len(extra), 2):  # replace the option's value (or add it)
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i : i + 2]
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("blobmaster: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not out.exists() or list_shards(out) == []  # nothing started


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_folder(tmp_path, files):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run(*tiny_args(files, locked))
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2
    assert "not a writable folder" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_real_process_bad_input_and_help(tmp_path):
    """What a user sees: `python -m blobmaster`, exit status 2, one stderr line."""
    env = dict(os.environ, PYTHONWARNINGS="error")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "blobmaster",
            "selfplay",
            "--players",
            "8",
            "--cards",
            "7",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "blobmaster: error: --players 8 --cards 7: 8 players x 7 cards needs 56 cards, more than the 52 in the deck"
        " (at most 6 cards for 8 players)"
    ]
    helped = subprocess.run(
        [sys.executable, "-m", "blobmaster", "selfplay", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0
    for option in ("--threads", "--rounds", "--model", "--out", "--config", "--players", "--cards", "--device",
                   "--batch", "--seed", "--games-per-thread", "--bf16"):  # fmt: skip
        assert option in helped.stdout


def test_validate_command(tmp_path, files):
    out = tmp_path / "out"
    assert run(*tiny_args(files, out)).exit_code == 0
    good = run("validate", str(out))
    assert good.exit_code == 0 and "3 of 3 shards valid" in good.stdout
    broken = list_shards(out)[1]
    broken.write_bytes(broken.read_bytes()[:100])
    bad = run("validate", str(out))
    assert bad.exit_code == 1 and "2 of 3 shards valid" in bad.stdout and "BAD" in bad.stdout
    missing = run("validate", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no such file or folder" in missing.stderr


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and bm.__version__ in result.stdout


# ---- presets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "d", "s"), [("light", 2, 20), ("medium", 3, 30), ("heavy", 5, 50)]
)
def test_builtin_presets(name, d, s):
    preset = load_config(name)
    assert (preset.search.determinizations, preset.search.simulations) == (d, s)
    assert preset.name == name
    repo_file = REPO / "configs" / f"{name}.toml"
    if repo_file.exists():  # a source checkout: configs/ is the package's folder itself
        source = REPO / "python" / "blobmaster" / "configs" / f"{name}.toml"
        assert repo_file.resolve() == source.resolve()
        # the installed package (wheel or editable) ships exactly that file
        assert Path(str(builtin_preset_path(name))).read_bytes() == source.read_bytes()
        assert load_config(str(repo_file)).search == preset.search
    # every preset starts the real engine as it is
    engine = bm.SelfPlayEngine(**preset.engine_kwargs(threads=1, rounds=1))
    engine.close()


def test_every_preset_key_is_commented():
    text = builtin_preset_path("medium").read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            above = [ln for ln in lines[max(0, i - 3) : i] if ln.strip()]
            assert above and above[-1].startswith("#"), f"key without a comment: {line}"
    keys = {m.group(1) for m in re.finditer(r"^([a-z_]+) = ", text, re.M)}
    assert set(SearchConfig.__dataclass_fields__) <= keys
    assert len(BUILTIN_PRESETS) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[search]\nsimulatons = 3", "unknown key 'simulatons' (did you mean 'simulations'?)"),
        ("[serch]\n", "unknown section"),
        ('[search]\nsimulations = "30"', "simulations: expected an integer, got string"),
        ("[search]\nsimulations = 30.0", "expected an integer, got float"),
        ("[search]\nc_puct = true", "c_puct: expected a number, got boolean"),
        ("[search]\nsimulations = 1", "simulations: must be >= 2"),
        ("[search]\ndirichlet_fraction = 1.5", "dirichlet_fraction: must be <= 1.0"),
        ("[search]\ngumbel_m = 0", "gumbel_m: must be >= 1"),
        ("[search]\ngumbel_m = 67", "gumbel_m: must be <= 66"),
        ("[search]\ngumbel_c_scale = 0.0", "gumbel_c_scale: must be > 0"),
        ("[search]\ngumbel = 1", "gumbel: expected true or false, got integer"),
        ("[selfplay]\ntables = [{ players = 8, cards = 7 }]", "more than the 52"),
        ("[selfplay]\ntables = [{ players = 4, cards = 5, wieght = 1 }]", "unknown key 'wieght'"),
        ("[selfplay]\ntables = []", "non-empty array"),
        ("search = 3", "expected a section"),
        ("[search\n", "not valid TOML"),
        ("[selfplay]\nfull_games = 1", "full_games: expected true or false, got integer"),
        ("[selfplay]\nthreads = false", "threads: expected an integer, got boolean"),
    ],
)
def test_config_errors_name_file_and_key(text, message):
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="my.toml")
    assert str(err.value).startswith("my.toml: ")
    assert message in str(err.value)


def test_config_accepts_ints_for_floats_and_overrides(tmp_path):
    preset = parse_config("[search]\nc_puct = 2\n[selfplay]\ntables = [{ players = 5, cards = 7 }]")
    assert preset.search.c_puct == 2.0 and isinstance(preset.search.c_puct, float)
    kwargs = preset.engine_kwargs(threads=3, tables=[(3, 4, 1.0)], seed=9, rounds=10)
    assert kwargs["tables"] == [(3, 4, 1.0)] and kwargs["threads"] == 3 and kwargs["rounds"] == 10
    assert parse_config("").engine_kwargs()["tables"] == [(4, 5, 1.0)]


def test_search_options_reach_the_engine():
    """normalize_q and the Gumbel keys go from a preset file to the engine's
    keyword arguments, off by default, and the engine starts with them."""
    off = parse_config("").engine_kwargs(threads=1, rounds=1)
    assert off["normalize_q"] is False and off["gumbel"] is False
    text = "[search]\nnormalize_q = true\ngumbel = true\ngumbel_m = 4\ngumbel_c_visit = 30"
    kwargs = parse_config(text).engine_kwargs(threads=1, rounds=1)
    assert kwargs["normalize_q"] is True and kwargs["gumbel"] is True
    gumbel = (kwargs["gumbel_m"], kwargs["gumbel_c_visit"], kwargs["gumbel_c_scale"])
    assert gumbel == (4, 30.0, 0.1)
    bm.SelfPlayEngine(**kwargs).close()


def test_shared_options_mean_the_same_in_every_command():
    """--json, --threads, --torch-threads, --out: one meaning, one help text."""
    helps = {
        cmd: CliRunner().invoke(app, [cmd, "--help"], terminal_width=400).output
        for cmd in ("selfplay", "train", "eval", "loop", "report")
    }
    for cmd in ("selfplay", "train", "eval"):
        assert "Print the result as one JSON object on stdout instead of text." in helps[cmd]
    for cmd in ("selfplay", "loop"):
        assert "Self-play engine threads, 0 = every core" in helps[cmd], cmd
    for cmd in ("selfplay", "train", "eval", "loop"):
        assert "0 = torch's default" in helps[cmd], cmd
    for cmd in ("selfplay", "train", "eval", "report"):  # where a command writes
        assert "--out" in helps[cmd], cmd
    # The loop works on its run folder in place: an argument, as report's input is.
    assert "--out" not in helps["loop"] and "run_dir" in helps["loop"]
