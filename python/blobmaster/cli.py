"""The ``blobmaster`` command line (typer).

``blobmaster selfplay`` runs the Rust self-play engine with a BlobNet and
writes replay shards; ``validate`` checks shards; ``train``, ``eval``,
``loop`` and ``report`` train, compare agents, run the AlphaZero loop and
plot a loop run. Every argument is checked before any work starts (settings
by the same schema as the TOML files): bad input ends with one line on
stderr, ``blobmaster: error: ...``, and exit status 2 (no traceback).
Ctrl-C keeps the finished work and exits with status 130.

The same option means the same thing in every command:

* positional arguments are what a command reads; ``--out`` is where it
  writes (a folder, or the report file of ``eval``), created if missing;
* ``--json`` is a flag: the result as one JSON object on stdout instead of
  text (the log lines stay on stderr);
* ``--threads`` is engine threads and ``--torch-threads`` torch's CPU
  threads; 0 means every core for the first and torch's default for the
  second, no option means the config's value (or torch's default);
* ``--device`` is auto, cpu, cuda or cuda:N; ``--progress/--no-progress``
  shows live progress bars on a terminal.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

__all__ = ["app", "main"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
_MAX_SEED = 2**64 - 1

app = typer.Typer(
    name="blobmaster",
    help="BlobMaster: AlphaZero-style self-play for Blob (Oh Hell).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# ---- options shared by several commands (one meaning everywhere) ----------------------------

Threads = Annotated[
    int | None,
    typer.Option(help="Self-play engine threads, 0 = every core [default: the config's]"),
]
TorchThreads = Annotated[
    int | None,
    typer.Option(help="Threads torch uses on the CPU, 0 = torch's default [default: torch's]"),
]
Device = Annotated[str, typer.Option(help="auto (CUDA if available), cpu, cuda or cuda:N.")]
Progress = Annotated[bool, typer.Option(help="Show live progress bars (on a terminal).")]
Json = Annotated[
    bool,
    typer.Option("--json", help="Print the result as one JSON object on stdout instead of text."),
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr, then exit."""
    line = " ".join(str(message).split())
    typer.echo(f"blobmaster: error: {line}", err=True)
    raise typer.Exit(code)


@contextmanager
def _exits_on(*bad_input: type[BaseException], interrupted: str = "interrupted") -> Iterator[None]:
    """Bad input (the given exception types): one line and status 2;
    Ctrl-C: ``interrupted`` on stderr and status 130."""
    try:
        yield
    except bad_input as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo(f"blobmaster: {interrupted}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _version(value: bool) -> None:
    if value:
        from blobmaster import __version__

        typer.echo(f"blobmaster {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """BlobMaster: AlphaZero-style self-play for Blob (Oh Hell)."""


def _check_range(name: str, value: int | None, lo: int, hi: int | None = None) -> None:
    if value is None:
        return
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        _fail(f"{name} must be {bound}, got {value}")


def _set_torch_threads(torch_threads: int | None) -> None:
    """--torch-threads: None or 0 leave torch's default."""
    _check_range("--torch-threads", torch_threads, 0, 4096)
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)


def _check_out_dir(out: Path) -> None:
    """Creates ``out`` if needed and proves it writable with a temporary file."""
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".blobmaster-write-test-"):
            pass
    except OSError as e:
        _fail(f"--out {out} is not a writable folder: {e.strerror or e}")


def _override(section: Any, options: dict[str, tuple[str, Any]]) -> Any:
    """``section`` (a settings dataclass) with the given command-line values
    (``key: (option name, value or None)``), each checked by the settings
    schema; a bad one fails naming its option."""
    from blobmaster.config import ConfigError

    for key, (option, value) in options.items():
        if value is None:
            continue
        try:
            section = dataclasses.replace(section, **{key: value})
        except ConfigError as e:
            _fail(f"{option}: {str(e).split(f'{key}: ', 1)[-1]}")
    return section


# ---- selfplay -----------------------------------------------------------------------------


def _tables(preset: Any, players: int | None, cards: int | None) -> tuple[Any, ...] | None:
    """The --players/--cards table (the preset's first table fills a missing
    one), or None to keep the preset's tables."""
    from blobmaster.config import ConfigError, Table, validate_table

    if players is None and cards is None:
        return None
    first = preset.selfplay.tables[0]
    p = players if players is not None else first.players
    c = cards if cards is not None else first.cards
    try:
        validate_table(p, c)
    except ConfigError as e:
        _fail(f"--players {p} --cards {c}: {e}")
    return (Table(players=p, cards=c),)


def _selfplay_preset(config: str, overrides: dict[str, Any]) -> Any:
    """The preset of --config with the command line's [selfplay] values applied."""
    from blobmaster.config import ConfigError, load_config

    try:
        preset = load_config(config)
    except ConfigError as e:
        _fail(str(e))
    options = {
        "threads": "--threads",
        "games_per_thread": "--games-per-thread",
        "max_batch": "--batch",
        "rounds_per_shard": "--rounds-per-shard",
        "full_games": "--full-games",
    }
    changes = {key: (options[key], value) for key, value in overrides.items() if key in options}
    changes["tables"] = ("--players/--cards", _tables(preset, *overrides["table"]))
    selfplay = _override(preset.selfplay, changes)
    return dataclasses.replace(preset, selfplay=selfplay)


def _selfplay_network(model: Path | None, device: str, bf16: bool) -> tuple[Any, Any, str]:
    """(torch device, network, model id) for --model/--device/--bf16."""
    if model is not None and not model.is_file():
        _fail(
            f"model file not found: {model}"
            if not model.exists()
            else f"model path is not a file: {model}"
        )
    # torch takes seconds to import: only after the cheap checks.
    import torch

    from blobmaster.model import (
        DeviceError,
        ModelError,
        default_model,
        load_model,
        load_model_info,
        resolve_device,
        script_model,
    )

    try:
        dev = resolve_device(device)
    except DeviceError as e:
        _fail(f"--device: {e}")
    if bf16 and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        _fail(f"--bf16: {torch.cuda.get_device_name(dev)} does not support bfloat16")
    try:
        if model is None:
            return dev, script_model(default_model(seed=0)).to(dev), "default:blobnet-seed0"
        return dev, load_model(model, dev), load_model_info(model).id
    except ModelError as e:
        _fail(str(e))


def _selfplay_run(
    preset: Any, net: Any, dev: Any, model_id: str, *, rounds: int, seed: int, out: Path,
    bf16: bool, progress: bool, json_out: bool,
) -> bool:  # fmt: skip
    """Plays, prints the summary; returns whether Ctrl-C stopped it."""
    from blobmaster import SelfPlayEngine
    from blobmaster.config import engine_kwargs_summary
    from blobmaster.inference import run_selfplay
    from blobmaster.progress import RichProgress
    from blobmaster.replay import ShardMetadata

    sp = preset.selfplay
    kwargs = preset.engine_kwargs(rounds=rounds, seed=seed)
    games = sp.full_games
    # With full games the engine counts games; the rounds they hold are known
    # when every table has the same schedule length.
    per_game = sp.rounds_per_game() if games else 1
    try:
        engine = SelfPlayEngine(**kwargs)
    except (ValueError, TypeError, OverflowError) as e:
        _fail(f"cannot start the engine: {e}")
    if not json_out:
        typer.echo(
            f"selfplay: {rounds} {'full games' if games else 'rounds'}, {preset.name} "
            f"({engine_kwargs_summary(kwargs)}), model {model_id}, device {dev}, out {out}",
            err=True,
        )
    with RichProgress(rounds * per_game if per_game else None, enabled=progress) as bar:
        summary = run_selfplay(
            engine,
            net,
            dev,
            out_dir=out,
            rounds=None if games else rounds,  # full games: the engine stops after `rounds` games
            rounds_per_shard=sp.rounds_per_shard,
            batch=sp.max_batch,
            timeout_ms=sp.timeout_ms,
            bf16=bf16,
            progress=bar,
            metadata=ShardMetadata(model=model_id, search=preset.search.to_json()),
        )
    if json_out:
        data = summary.as_dict()
        data.update(
            out=str(out),
            config=preset.name,
            model=model_id,
            full_games=games,
            threads=kwargs["threads"],
            shard_files=[p.name for p in summary.shards],
        )
        typer.echo(json.dumps(data))
    else:
        typer.echo(f"selfplay: {summary.one_line()} -> {out}")
    return summary.interrupted


def _selfplay_on_ray(
    address: str, actors: int | None, preset: Any, *, model: Path | None, **run: Any
) -> NoReturn:
    """The same self-play on Ray actors (blobmaster.distributed); exits with its code."""
    _check_range("--ray-actors", actors, 1, 4096)
    if model is not None and not model.is_file():
        _fail(f"model file not found: {model}" if not model.exists() else f"not a file: {model}")
    from blobmaster.distributed.command import selfplay_on_ray

    sp = preset.selfplay  # the command line's values are already in the preset
    try:
        code = selfplay_on_ray(
            address, actors, preset=preset, tables=None, model=model, out=run["out"],
            rounds=run["rounds"], seed=run["seed"], device=run["device"],
            threads=run["threads"] or None, games_per_thread=sp.games_per_thread,
            batch=sp.max_batch, rounds_per_shard=sp.rounds_per_shard, bf16=run["bf16"],
            full_games=sp.full_games, torch_threads=run["torch_threads"] or None,
            progress=run["progress"], json_summary=run["json_out"],
        )  # fmt: skip
    except ValueError as e:  # DistributedError, ModelError, ConfigError
        _fail(str(e))
    raise typer.Exit(code)


@app.command()
def selfplay(
    threads: Threads = None,
    rounds: Annotated[int, typer.Option(help="Rounds to play (games with --full-games).")] = 100,
    model: Annotated[
        Path | None,
        typer.Option(
            help="TorchScript BlobNet file [default: the untrained seed-0 BlobNet, as in the "
            "benchmarks; not the trained network that play and serve use]"
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for the replay shards (created if missing).")
    ] = Path("selfplay_out"),
    config: Annotated[
        str, typer.Option(help="Preset: light, medium, heavy, or a TOML file (see configs/).")
    ] = "medium",
    players: Annotated[
        int | None, typer.Option(help="Players per table, 3..8 [default: the config's]")
    ] = None,
    cards: Annotated[
        int | None,
        typer.Option(help="Cards per player, 1..13, players x cards <= 52 [default: the config's]"),
    ] = None,
    device: Device = "auto",
    batch: Annotated[
        int | None, typer.Option(help="Largest network batch [default: the config's max_batch]")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the deals and of every random choice of the search.")
    ] = 0,
    games_per_thread: Annotated[
        int | None, typer.Option(help="Rounds each worker keeps in flight [default: the config's]")
    ] = None,
    rounds_per_shard: Annotated[
        int | None, typer.Option(help="Rounds per shard file [default: the config's]")
    ] = None,
    bf16: Annotated[
        bool, typer.Option("--bf16", help="Run the network under bfloat16 autocast.")
    ] = False,
    full_games: Annotated[
        bool | None,
        typer.Option(
            "--full-games/--single-rounds",
            help="Play whole games (--cards = starting hand size, --rounds counts games) [default: the config's]",
        ),
    ] = None,
    torch_threads: TorchThreads = None,
    progress: Progress = True,
    json_out: Json = False,
    ray: Annotated[
        str | None,
        typer.Option(help="Play on Ray actors: auto, local or HOST:PORT (docs/distributed.md)."),
    ] = None,
    ray_actors: Annotated[
        int | None, typer.Option(help="Ray actors [default: one per node; --threads CPUs each]")
    ] = None,
) -> None:
    """Play self-play rounds with the Rust engine and a BlobNet; write replay shards to --out."""
    with _exits_on():  # Ctrl-C before self-play started (loading torch, the model...)
        _check_range("--rounds", rounds, 1)
        _check_range("--seed", seed, 0, _MAX_SEED)
        _check_range("--torch-threads", torch_threads, 0, 4096)
        preset = _selfplay_preset(
            config,
            dict(
                threads=threads, games_per_thread=games_per_thread, max_batch=batch,
                rounds_per_shard=rounds_per_shard, full_games=full_games, table=(players, cards),
            ),
        )  # fmt: skip
        _check_out_dir(out)
        if ray is not None:
            _selfplay_on_ray(
                ray, ray_actors, preset, model=model, out=out, rounds=rounds, seed=seed,
                device=device, threads=threads, bf16=bf16, torch_threads=torch_threads,
                progress=progress, json_out=json_out,
            )  # fmt: skip
        dev, net, model_id = _selfplay_network(model, device, bf16)
        _set_torch_threads(torch_threads)
        interrupted = _selfplay_run(
            preset, net, dev, model_id, rounds=rounds, seed=seed, out=out, bf16=bf16,
            progress=progress, json_out=json_out,
        )  # fmt: skip
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Shard files or folders of shards.")],
) -> None:
    """Check replay shards: schema, legal masks, policies, values. Exit 1 if any is bad."""
    from blobmaster.replay import ShardError, list_shards, validate_shard

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = list_shards(p)
            if not found:
                _fail(f"no shards in {p}")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            _fail(f"no such file or folder: {p}")
    bad = rows = rounds = 0
    for f in files:
        try:
            info = validate_shard(f)
        except ShardError as e:
            bad += 1
            typer.echo(f"BAD  {' '.join(str(e).split())}")
            continue
        rows += info.rows
        rounds += info.rounds
        typer.echo(f"ok   {f}: {info.rows} examples, {info.rounds} rounds")
    typer.echo(f"{len(files) - bad} of {len(files)} shards valid, {rows} examples, {rounds} rounds")
    if bad:
        raise typer.Exit(1)


@app.command("eval")
def eval_agents(
    agent: Annotated[
        list[str] | None,
        typer.Option(
            "--agent",
            "-a",
            metavar="SPEC",
            help="An agent, given twice or more: heuristic, random, rollout[:SEARCH], default[:SEARCH], "
            "model:PATH[:SEARCH] or ismcts:N[:C], SEARCH = light, medium (default) or heavy. See docs/evaluation.md.",
        ),
    ] = None,
    players: Annotated[
        int | None, typer.Option(help="Seats at the table, 3..8 [default: 4]")
    ] = None,
    cards: Annotated[
        int | None,
        typer.Option(help="Cards per player, 1..13, players x cards <= 52 [default: 5]"),
    ] = None,
    tables: Annotated[
        str | None,
        typer.Option(
            metavar="PxC,...",
            help="Several tables instead of --players/--cards, e.g. 3x5,4x5,5x10,7x7: "
            "the match on each, reported by table (points per round and the paired "
            "difference against the first agent, with 95% intervals).",
        ),
    ] = None,
    deals: Annotated[
        int,
        typer.Option(
            help="Deals (per table with --tables); each is played once per distinct rotation of the seats."
        ),
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the deals and of every agent.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Also write the report as a JSON file here.")
    ] = None,
    device: Annotated[
        str, typer.Option(help="For network agents: auto, cpu, cuda or cuda:N.")
    ] = "auto",
    torch_threads: TorchThreads = None,
    progress: Progress = True,
    json_out: Json = False,
) -> None:
    """Play agents against each other on seat-rotated duplicate deals; print scores, head-to-head and ratings."""
    if tables is not None and (players is not None or cards is not None):
        _fail("give either --tables or --players/--cards, not both")
    players = 4 if players is None else players
    cards = 5 if cards is None else cards
    _check_range("--players", players, 3, 8)
    _check_range("--cards", cards, 1, 13)
    _check_range("--deals", deals, 1)
    _check_range("--seed", seed, 0, _MAX_SEED)
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        _fail(
            f"--out {out} is a folder (give a file name)"
            if out.is_dir()
            else f"--out {out}: folder {out.parent} does not exist"
        )
    from blobmaster.agents import AgentError
    from blobmaster.arena import ArenaError, evaluate_specs
    from blobmaster.table_specs import TableSpecError, parse_tables

    if tables is not None:
        try:
            parse_tables(tables)  # before any network is loaded
        except TableSpecError as e:
            _fail(f"--tables: {e}")
    _set_torch_threads(torch_threads)
    report: Any
    with _exits_on(AgentError, ArenaError):
        if tables is not None:
            from blobmaster.table_eval import evaluate_tables

            report = evaluate_tables(
                agent or [], tables, deals=deals, seed=seed, device=device, progress=progress
            )
        else:
            report = evaluate_specs(
                agent or [],
                num_players=players,
                cards=cards,
                deals=deals,
                seed=seed,
                device=device,
                progress=progress,
            )
    if out is not None:
        try:
            report.save(out)
        except OSError as e:
            _fail(f"--out {out}: {e.strerror or e}")
    if json_out:
        typer.echo(report.to_json())
    else:
        report.print()


@app.command("train")
def train_command(
    data: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Folders of replay shards and/or shard files (not needed with --resume).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="Run folder: checkpoints, models/, model.pt, metrics.csv, runs.csv."),
    ] = Path("train_out"),
    config: Annotated[
        str | None,
        typer.Option(
            help="Training settings: 'train' (built-in) or a TOML file (see configs/train.toml)."
        ),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Optimizer steps of the whole run [default: the config's]")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Examples per step [default: the config's]")
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="Peak learning rate [default: the config's]")
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(help="Train on the newest N shards, 0 = all [default: the config's]"),
    ] = None,
    window_examples: Annotated[
        int | None,
        typer.Option(help="... and at most N examples, 0 = no limit [default: the config's]"),
    ] = None,
    model_size: Annotated[
        str | None, typer.Option(help="auto, default, small or tiny [default: the config's]")
    ] = None,
    init_model: Annotated[
        Path | None,
        typer.Option(help="Start from this scripted model file or training checkpoint."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the newest checkpoint in --out exactly.")
    ] = False,
    until_step: Annotated[
        int | None,
        typer.Option(help="Stop (with a checkpoint) at this step; --resume continues later."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the weights and of the example order.")
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Steps between checkpoints, 0 = only at the end.")
    ] = None,
    skip_corrupt: Annotated[
        bool,
        typer.Option(
            "--skip-corrupt", help="Skip unusable shards with a warning instead of stopping."
        ),
    ] = False,
    device: Device = "auto",
    torch_threads: TorchThreads = None,
    progress: Progress = True,
    json_out: Json = False,
) -> None:
    """Train BlobNet on the newest replay shards; checkpoints and a scripted model go to --out."""
    _check_range("--torch-threads", torch_threads, 0, 4096)
    if not resume and not data:
        _fail("give folders of replay shards (or shard files) to train on, or --resume")
    from blobmaster.config import ConfigError
    from blobmaster.model import DeviceError
    from blobmaster.train import TrainError, run_command

    overrides = dict(
        steps=steps, batch_size=batch_size, lr=lr, window_shards=window,
        window_examples=window_examples, model=model_size, seed=seed,
        checkpoint_every=checkpoint_every, skip_corrupt=True if skip_corrupt else None,
    )  # fmt: skip
    with _exits_on(TrainError, ConfigError, DeviceError):
        interrupted = run_command(
            data=data, out=out, config=config, overrides=overrides, init_model=init_model, resume=resume,
            until_step=until_step, device=device, torch_threads=torch_threads or None,
            progress=progress, json_summary=json_out, echo=typer.echo,
        )  # fmt: skip
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command("loop")
def loop_command(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="Run folder: created if new, resumed where it stopped if not (docs/loop.md).",
            show_default=False,
        ),
    ],
    config: Annotated[
        str | None,
        typer.Option(
            help="loop_quick, loop_gpu, loop_proof or a TOML file (see configs/loop_quick.toml) "
            "[default: the run's saved config; loop_quick for a new run]"
        ),
    ] = None,
    iterations: Annotated[
        int | None, typer.Option(help="Iterations in all [default: the config's]")
    ] = None,
    threads: Threads = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda or cuda:N [default: the config's]")
    ] = None,
    torch_threads: Annotated[
        int | None,
        typer.Option(
            help="Threads torch uses on the CPU, 0 = torch's default [default: the config's]"
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Continue the run with a --config that differs from its saved one."
        ),
    ] = False,
    progress: Progress = True,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Self-play on Ray actors: auto, local or HOST:PORT; training stays here "
            "(docs/distributed.md)."
        ),
    ] = None,
    ray_actors: Annotated[
        int | None, typer.Option(help="Ray self-play actors [default: one per node or GPU]")
    ] = None,
) -> None:
    """AlphaZero loop in RUN_DIR: self-play -> train -> gate, repeated; resumable (docs/loop.md)."""
    from blobmaster.config import SelfPlayConfig
    from blobmaster.loop import LoopSettings, bad_input_errors, run_command

    # The schema's ranges, checked here to name the options in messages.
    _override(
        LoopSettings(),
        {
            "iterations": ("--iterations", iterations),
            "torch_threads": ("--torch-threads", torch_threads),
        },
    )
    _override(SelfPlayConfig(), {"threads": ("--threads", threads)})
    _check_range("--ray-actors", ray_actors, 1, 4096)

    with _exits_on(
        *bad_input_errors(),
        interrupted="interrupted; finished work is kept, run the same command to resume",
    ):
        run_command(
            run_dir=run_dir, config=config, iterations=iterations, threads=threads, device=device,
            torch_threads=torch_threads, force=force, progress=progress, echo=typer.echo,
            ray=ray, ray_actors=ray_actors,
        )  # fmt: skip


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder of `blobmaster loop`.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the plots and report.md [default: RUN_DIR/report]"),
    ] = None,
) -> None:
    """Plots (PNG) and a Markdown summary of a loop run: losses, gate and reference results, throughput."""
    from blobmaster.report import ReportError, write_report

    with _exits_on(ReportError):
        result = write_report(run_dir, out)
    for path in result.files:
        typer.echo(f"report: {path}")


# ---- play / serve: a person against the agents (bodies in blobmaster.play and blobmaster.serve)

_SEARCH_HELP = "Agents' search: light (fast), medium, heavy, or a preset TOML file."
_MODEL_HELP = (
    "TorchScript BlobNet file for the agents, or 'random' for the untrained seed-0 network "
    "[default: the trained network shipped in the package; the seed-0 one, with a warning, "
    "if it has none]"
)
_AGENT_HELP = "Another agent instead of the network, e.g. heuristic (see blobmaster eval)."


@app.command("play")
def play_command(
    players: Annotated[int, typer.Option(help="Seats at the table, 3..8.")] = 4,
    cards: Annotated[
        int,
        typer.Option(help="Starting hand size of the game (the hand size with --one-round)."),
    ] = 5,
    seat: Annotated[int, typer.Option(help="Your seat, 0..players-1.")] = 0,
    one_round: Annotated[
        bool, typer.Option("--one-round", help="Play one round instead of a full game.")
    ] = False,
    search: Annotated[str, typer.Option(help=_SEARCH_HELP)] = "light",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    agent: Annotated[str | None, typer.Option(metavar="SPEC", help=_AGENT_HELP)] = None,
    hint: Annotated[
        bool, typer.Option("--hint", help="Show the agent's policy for your own moves.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the deals and agents.")] = None,
    device: Annotated[str, typer.Option(help="For the network: cpu, auto, cuda.")] = "cpu",
) -> None:
    """Play Blob against the agents in the terminal (docs/play.md)."""
    _check_range("--seed", seed, 0, _MAX_SEED)
    from blobmaster.agents import AgentError
    from blobmaster.play import run_command
    from blobmaster.table import TableError

    try:
        code = run_command(
            players=players, cards=cards, seat=seat, one_round=one_round, search=search,
            model=None if model is None else str(model), agent=agent, device=device,
            seed=seed, hint=hint,
        )  # fmt: skip
    except (AgentError, TableError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo("\nblobmaster: interrupted, game abandoned", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(code)


@app.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    search: Annotated[str, typer.Option(help=_SEARCH_HELP)] = "light",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    agent: Annotated[str | None, typer.Option(metavar="SPEC", help=_AGENT_HELP)] = None,
    delay: Annotated[
        float, typer.Option(help="Seconds the page waits before each agent move.")
    ] = 0.6,
    max_games: Annotated[int, typer.Option(help="Games held at once.")] = 64,
    idle_minutes: Annotated[
        float, typer.Option(help="A game with no request for this long is dropped.")
    ] = 60.0,
    seed: Annotated[int | None, typer.Option(help="Seed of the agents.")] = None,
    device: Annotated[str, typer.Option(help="For the network: cpu, auto, cuda.")] = "cpu",
) -> None:
    """Serve a web table: play Blob against the agents in the browser (docs/play.md)."""
    _check_range("--port", port, 1, 65535)
    _check_range("--max-games", max_games, 1, 100_000)
    _check_range("--seed", seed, 0, _MAX_SEED)
    if not 0 <= delay <= 60:
        _fail(f"--delay must be 0..60 seconds, got {delay}")
    if not 0 < idle_minutes <= 7 * 24 * 60:
        _fail(f"--idle-minutes must be > 0 and at most a week, got {idle_minutes}")
    from blobmaster.agents import AgentError
    from blobmaster.serve import run_command

    try:
        run_command(
            host=host, port=port, search=search, model=None if model is None else str(model),
            agent=agent, device=device, seed=seed, delay=delay, max_games=max_games,
            idle_minutes=idle_minutes, echo=typer.echo,
        )  # fmt: skip
    except AgentError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command(
    "bench",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench_command(ctx: typer.Context) -> None:
    """Self-play throughput benchmark (forward pass, presets, threads x games scan) as a Markdown report; `blobmaster bench --help` lists the options."""
    from blobmaster.bench import main as bench_main

    bench_main(list(ctx.args))  # the options are parsed (and checked) by blobmaster.bench


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``blobmaster`` script and ``python -m blobmaster``."""
    try:
        app(args=argv, prog_name="blobmaster")
    except BrokenPipeError:  # `blobmaster ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
