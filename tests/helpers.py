"""Helpers shared by the API tests (they run against the installed wheel)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import blobmaster as bm
from blobmaster.replay import ShardMetadata

SUIT = 13  # cards per suit: card // SUIT is its suit

EXAMPLE_COLUMNS = (
    "state",
    "mask",
    "policy",
    "value",
    "seat",
    "num_players",
    "cards",
    "round_id",
    "move",
)
"""The columns of the examples SelfPlayEngine.take_examples returns and
write_shard takes, written out here so that tests do not take them from the
code they check."""

TINY_META = ShardMetadata(model="test:tiny", search='{"determinizations":2,"simulations":6}')
"""The metadata of shards from :func:`tiny_engine`'s self-play."""

TINY_TRAIN = dict(model="tiny", batch_size=16, warmup_steps=2, lr=3e-3, log_every=1)
"""TrainConfig fields of the training tests: a tiny network, fast steps, a log line each step."""


def suit_of(card: int) -> int:
    return card // SUIT


def fixed_hands(players: int = 4, cards: int = 3) -> list[list[int]]:
    """Seat s gets cards s*cards .. s*cards+cards-1: easy to reason about."""
    return [list(range(s * cards, (s + 1) * cards)) for s in range(players)]


def snapshot(r: bm.Round) -> tuple:
    """Everything observable about a round, for "unchanged" checks that do
    not rely on __eq__ alone."""
    return (
        r.num_players,
        r.cards,
        r.dealer,
        r.trump,
        r.phase,
        r.current_player,
        r.hands,
        r.bids,
        r.tricks_won,
        r.trick_winners,
        r.current_trick,
        r.scores,
        r.legal_actions(),
    )


def play_randomly(r: bm.Round, rng: random.Random, stop_after: int | None = None) -> list[int]:
    """Plays uniformly random legal actions until the round ends (or after
    `stop_after` actions); returns the actions played."""
    played = []
    while not r.is_over and (stop_after is None or len(played) < stop_after):
        action = rng.choice(r.legal_actions())
        r.apply(action)
        played.append(action)
    return played


def tiny_engine(rounds: int | None = 8, seed: int = 3) -> bm.SelfPlayEngine:
    """A small self-play engine (2x6 searches, 4- and 3-player tables): the
    shards the training tests learn from."""
    return bm.SelfPlayEngine(
        threads=2,
        games_per_thread=4,
        determinizations=2,
        simulations=6,
        tables=[(4, 3, 1.0), (3, 4, 1.0)],
        seed=seed,
        max_batch=64,
        rounds=rounds,
    )


def tiny_loop_toml(
    *,
    threshold: float = -100.0,
    references: str = '"heuristic"',
    iterations: int = 2,
    device: str = "cpu",
    rounds: int = 16,
    bf16: bool | None = None,
) -> str:
    """The settings of a tiny AlphaZero loop (TOML): a tiny network, short
    searches and a two-deal gate. ``references`` is the inside of the TOML
    list; ``bf16`` None leaves it to the defaults. The default threshold
    promotes every new network."""
    bf16_line = "" if bf16 is None else f"\nbf16 = {str(bf16).lower()}"
    return f"""
[loop]
iterations = {iterations}
seed = 3
device = "{device}"
torch_threads = 1
window_iterations = 2{bf16_line}

[search]
determinizations = 2
simulations = 4

[selfplay]
rounds = {rounds}
threads = 2
games_per_thread = 4
max_batch = 64
rounds_per_shard = 6
tables = [{{ players = 4, cards = 2 }}]

[train]
model = "tiny"
steps = 6
batch_size = 16
warmup_steps = 2
checkpoint_every = 3
keep_checkpoints = 2
log_every = 1
val_fraction = 0.1{bf16_line}

[gate]
deals = 2
threshold = {threshold}
references = [{references}]
reference_deals = 2
"""


def cli_train_tiny(shards: Path, folder: Path, steps: int) -> dict[str, Any]:
    """``blobmaster train`` of a tiny network on ``shards`` for ``steps``
    steps (run folder ``folder / "run"``); asserts it succeeded and returns
    its JSON summary."""
    from typer.testing import CliRunner

    from blobmaster.cli import app

    config = folder / "tiny.toml"
    config.write_text("[train]\nmodel = 'tiny'\nwarmup_steps = 1\ncheckpoint_every = 0\n")
    args = (
        "train", shards, "--out", folder / "run", "--steps", steps, "--config", config,
        "--batch-size", 16, "--device", "cpu", "--torch-threads", 1, "--no-progress", "--json",
    )  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["step"] == steps and Path(summary["model_path"]).is_file()
    return summary


def run_tiny_loop_with_teacher(folder: Path, agent: str, rounds: int) -> tuple[Path, list[str]]:
    """Two iterations of the tiny loop with ``[teacher] agent`` playing
    ``rounds`` rounds in each; returns the run folder and the log lines."""
    from blobmaster.loop import run_loop

    cfg = folder / "teacher_loop.toml"
    cfg.write_text(
        tiny_loop_toml(iterations=2)
        + f'\n[teacher]\nagent = "{agent}"\nrounds_per_iteration = {rounds}\n'
    )
    run = folder / "run"
    lines: list[str] = []
    run_loop(run, cfg, log=lines.append)
    return run, lines
