"""The one settings schema (blobmaster.settings) behind every TOML file and
override: strict types, ranges, unknown keys and one-line messages that name
the file, the section and the key, for each of the three kinds of file."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import blobmaster as bm
from blobmaster.config import ConfigError, SearchConfig, SelfPlayConfig, parse_config, parse_search
from blobmaster.loop import LoopConfigError, load_loop_config, parse_loop_config
from blobmaster.train_config import TrainConfig, TrainConfigError, parse_train_config

# (parser, error class, section) of each kind of settings file
FILES = [
    (lambda text: parse_config(text, source="f.toml"), ConfigError, "search"),
    (lambda text: parse_train_config(text, source="f.toml"), TrainConfigError, "train"),
    (lambda text: parse_loop_config(text, source="f.toml"), LoopConfigError, "loop"),
]
INT_KEY = {"search": "simulations", "train": "steps", "loop": "iterations"}


@pytest.mark.parametrize(("parse", "error", "section"), FILES)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "expected an integer, got boolean True"),
        ('"7"', "expected an integer, got string '7'"),
        ("7.5", "expected an integer, got float 7.5"),
        ("0", "must be >= "),
    ],
)
def test_every_file_checks_types_and_ranges_alike(parse, error, section, value, message):
    key = INT_KEY[section]
    with pytest.raises(error) as e:
        parse(f"[{section}]\n{key} = {value}")
    text = str(e.value)
    assert text.startswith(f"f.toml: [{section}] {key}: ") and message in text
    assert "\n" not in text and isinstance(e.value, bm.ConfigError)


@pytest.mark.parametrize(("parse", "error", "section"), FILES)
def test_every_file_refuses_unknown_keys_and_sections(parse, error, section):
    with pytest.raises(error, match=r"unknown key 'nope'"):
        parse(f"[{section}]\nnope = 1")
    with pytest.raises(error, match=r"unknown section or key 'nope'"):
        parse("[nope]\n")


def test_all_problems_are_listed_on_one_line():
    with pytest.raises(ConfigError) as e:
        parse_config("[search]\nsimulations = 1\nc_puct = -1")
    assert "simulations: must be >= 2" in str(e.value) and "c_puct: must be > 0.0" in str(e.value)


def test_choices_are_named():
    with pytest.raises(
        TrainConfigError,
        match=r"\[train\] model: expected one of auto, default, small, tiny, got 'x'",
    ):
        parse_train_config("[train]\nmodel = 'x'")


def test_construction_and_replace_are_checked_like_files():
    with pytest.raises(TrainConfigError, match=r"train config: lr: must be > 0\.0"):
        TrainConfig(lr=0.0)
    with pytest.raises(ConfigError, match="unknown key 'simulatons'"):
        dataclasses.replace(SearchConfig(), simulatons=3)
    with pytest.raises(TrainConfigError, match="steps"):
        TrainConfig().replace(steps=-1)
    with pytest.raises(LoopConfigError, match="iterations: must be >= 1"):
        load_loop_config("loop_quick").with_runtime(iterations=0)
    with pytest.raises(LoopConfigError, match="threads: must be <= 1024"):
        load_loop_config("loop_quick").with_runtime(threads=5000)
    with pytest.raises(ConfigError, match=r"search dict: unknown key 'x'"):
        parse_search({"x": 1}, source="search dict")


def test_floats_accept_integers_and_refuse_non_finite():
    cfg = parse_config("[search]\nc_puct = 2")
    assert cfg.search.c_puct == 2.0 and isinstance(cfg.search.c_puct, float)
    for bad in ("nan", "inf"):
        with pytest.raises(ConfigError, match="finite"):
            parse_config(f"[search]\nc_puct = {bad}")


@given(st.integers(min_value=-5, max_value=20))
def test_determinizations_range_is_exactly_1_to_64(n):
    ok = 1 <= n <= 64
    try:
        SearchConfig(determinizations=n)
    except ConfigError:
        assert not ok
    else:
        assert ok


@given(players=st.integers(1, 10), cards=st.integers(0, 15))
def test_tables_follow_the_rules(players, cards):
    ok = 3 <= players <= 8 and 1 <= cards <= 13 and players * cards <= 52
    text = f"[selfplay]\ntables = [{{ players = {players}, cards = {cards} }}]"
    try:
        preset = parse_config(text, source="t.toml")
    except ConfigError as e:
        assert not ok and str(e).startswith("t.toml: [selfplay] tables[0]: ")
    else:
        assert ok and preset.selfplay.tables[0].as_tuple() == (players, cards, 1.0)
        assert isinstance(preset.selfplay, SelfPlayConfig)


def test_the_message_shown_in_docs_loop_md_is_the_real_one():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "loop.md").read_text()
    with pytest.raises(LoopConfigError) as e:
        parse_loop_config("[selfplay]\nrounds = 0\n[loop]\nseeds = 1", source="bad.toml")
    assert f"\n{e.value}\n" in docs
