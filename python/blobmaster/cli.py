"""The ``blobmaster`` command line (typer).

``blobmaster selfplay`` runs the Rust self-play engine with a BlobNet and
writes replay shards; ``blobmaster validate`` checks shards. Every argument
is checked before any work starts: bad input ends with one line on stderr,
``blobmaster: error: ...``, and exit status 2 (no traceback). Ctrl-C writes
the finished rounds and exits with status 130.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
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


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr, then exit."""
    line = " ".join(str(message).split())
    typer.echo(f"blobmaster: error: {line}", err=True)
    raise typer.Exit(code)


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


def _tables(
    preset: Any, players: int | None, cards: int | None
) -> list[tuple[int, int, float]] | None:
    """The --players/--cards table (the preset's first table fills a missing
    one), or None to keep the preset's tables."""
    from blobmaster.config import ConfigError, validate_table

    if players is None and cards is None:
        return None
    first = preset.selfplay.tables[0]
    p = players if players is not None else first.players
    c = cards if cards is not None else first.cards
    try:
        validate_table(p, c)
    except ConfigError as e:
        _fail(f"--players {p} --cards {c}: {e}")
    return [(p, c, 1.0)]


@app.command()
def selfplay(
    threads: Annotated[
        int | None,
        typer.Option(help="Engine worker threads [default: the config's, 0 there = every core]"),
    ] = None,
    rounds: Annotated[int, typer.Option(help="Rounds to play.")] = 100,
    model: Annotated[
        Path | None,
        typer.Option(help="TorchScript BlobNet file [default: a fresh BlobNet, seed 0]"),
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
    device: Annotated[
        str, typer.Option(help="auto (CUDA if available), cpu, cuda or cuda:N.")
    ] = "auto",
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
    torch_threads: Annotated[
        int | None,
        typer.Option(help="Threads torch uses for the network on the CPU [default: torch's]"),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="Show the live progress bar (on a terminal).")
    ] = True,
    json_summary: Annotated[
        bool,
        typer.Option("--json", help="Print the final summary as one JSON object instead of text."),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(help="Play on Ray actors: auto, local or HOST:PORT (docs/distributed.md)."),
    ] = None,
    ray_actors: Annotated[
        int | None, typer.Option(help="Ray actors [default: one per node; --threads CPUs each]")
    ] = None,
) -> None:
    """Play self-play rounds with the Rust engine and a BlobNet; write replay shards."""
    try:
        _selfplay(**locals())
    except KeyboardInterrupt:  # Ctrl-C before self-play started (loading torch, the model...)
        typer.echo("blobmaster: interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _selfplay(
    *,
    threads: int | None,
    rounds: int,
    model: Path | None,
    out: Path,
    config: str,
    players: int | None,
    cards: int | None,
    device: str,
    batch: int | None,
    seed: int,
    games_per_thread: int | None,
    rounds_per_shard: int | None,
    bf16: bool,
    full_games: bool | None,
    torch_threads: int | None,
    progress: bool,
    json_summary: bool,
    ray: str | None,
    ray_actors: int | None,
) -> None:
    _check_range("--threads", threads, 1, 1024)
    _check_range("--rounds", rounds, 1)
    _check_range("--batch", batch, 1, 65_535)
    _check_range("--seed", seed, 0, _MAX_SEED)
    _check_range("--games-per-thread", games_per_thread, 1, 100_000)
    _check_range("--rounds-per-shard", rounds_per_shard, 1)
    _check_range("--torch-threads", torch_threads, 1, 4096)

    from blobmaster.config import ConfigError, engine_kwargs_summary, load_config

    try:
        preset = load_config(config)
    except ConfigError as e:
        _fail(str(e))
    tables = _tables(preset, players, cards)
    _check_out_dir(out)
    if model is not None and not model.is_file():
        _fail(
            f"model file not found: {model}"
            if not model.exists()
            else f"model path is not a file: {model}"
        )

    if ray is not None:  # the same run on Ray actors: blobmaster.distributed
        _check_range("--ray-actors", ray_actors, 1, 4096)
        from blobmaster.distributed.command import selfplay_on_ray

        try:
            code = selfplay_on_ray(
                ray, ray_actors, preset=preset, tables=tables, model=model, out=out,
                rounds=rounds, seed=seed, device=device, threads=threads,
                games_per_thread=games_per_thread, batch=batch,
                rounds_per_shard=rounds_per_shard, bf16=bf16, full_games=full_games,
                torch_threads=torch_threads, progress=progress, json_summary=json_summary,
            )  # fmt: skip
        except ValueError as e:  # DistributedError, ModelError, ConfigError
            _fail(str(e))
        raise typer.Exit(code)

    # torch takes seconds to import: only after the cheap checks.
    import torch

    from blobmaster.inference import run_selfplay
    from blobmaster.model import (
        DeviceError,
        ModelError,
        default_model,
        load_model,
        load_model_info,
        resolve_device,
        script_model,
    )
    from blobmaster.progress import RichProgress
    from blobmaster.replay import ShardMetadata

    try:
        dev = resolve_device(device)
    except DeviceError as e:
        _fail(f"--device: {e}")
    if bf16 and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        _fail(f"--bf16: {torch.cuda.get_device_name(dev)} does not support bfloat16")
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    try:
        if model is None:
            net = script_model(default_model(seed=0)).to(dev)
            model_id = "default:blobnet-seed0"
        else:
            net = load_model(model, dev)
            model_id = load_model_info(model).id
    except ModelError as e:
        _fail(str(e))

    kwargs = preset.engine_kwargs(
        threads=threads,
        games_per_thread=games_per_thread,
        max_batch=batch,
        tables=tables,
        rounds=rounds,
        seed=seed,
        full_games=full_games,
    )
    games = bool(kwargs["full_games"])
    # With full games the engine counts games; the rounds they hold are known
    # when every table has the same schedule length.
    lengths = {2 * (c - 1) + p for p, c, _ in kwargs["tables"]}
    total_rounds: int | None = rounds
    if games:
        total_rounds = rounds * lengths.pop() if len(lengths) == 1 else None
    from blobmaster import SelfPlayEngine

    try:
        engine = SelfPlayEngine(**kwargs)
    except (ValueError, TypeError, OverflowError) as e:
        _fail(f"cannot start the engine: {e}")

    metadata = ShardMetadata(model=model_id, search=preset.search.to_json())
    if not json_summary:
        typer.echo(
            f"selfplay: {rounds} {'full games' if games else 'rounds'}, {preset.name} "
            f"({engine_kwargs_summary(kwargs)}), "
            f"model {model_id}, device {dev}, out {out}",
            err=True,
        )
    with RichProgress(total_rounds, enabled=progress) as bar:
        summary = run_selfplay(
            engine,
            net,
            dev,
            out_dir=out,
            rounds=None if games else rounds,  # full games: the engine stops after `rounds` games
            rounds_per_shard=rounds_per_shard or preset.selfplay.rounds_per_shard,
            batch=batch or kwargs["max_batch"],
            timeout_ms=preset.selfplay.timeout_ms,
            bf16=bf16,
            progress=bar,
            metadata=metadata,
        )
    if json_summary:
        data = summary.as_dict()
        data.update(
            out=str(out),
            config=preset.name,
            model=model_id,
            full_games=games,
            shard_files=[p.name for p in summary.shards],
        )
        typer.echo(json.dumps(data))
    else:
        typer.echo(f"selfplay: {summary.one_line()} -> {out}")
    if summary.interrupted:
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
    players: Annotated[int, typer.Option(help="Seats at the table, 3..8.")] = 4,
    cards: Annotated[int, typer.Option(help="Cards per player, 1..13, players x cards <= 52.")] = 5,
    deals: Annotated[
        int, typer.Option(help="Deals; each is replayed once per rotation of the seats.")
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the deals and of every agent.")] = 0,
    json_path: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Also write the report as JSON here ('-': JSON on stdout, no table)."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="For network agents: auto, cpu, cuda or cuda:N.")
    ] = "auto",
    torch_threads: Annotated[
        int | None, typer.Option(help="Threads torch uses on the CPU [default: torch's]")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar (on a terminal).")] = True,
) -> None:
    """Play agents against each other on seat-rotated duplicate deals; print scores, head-to-head and ratings."""
    _check_range("--players", players, 3, 8)
    _check_range("--cards", cards, 1, 13)
    _check_range("--deals", deals, 1)
    _check_range("--seed", seed, 0, _MAX_SEED)
    _check_range("--torch-threads", torch_threads, 1, 4096)
    to_stdout = json_path is not None and str(json_path) == "-"
    if json_path is not None and not to_stdout and not json_path.parent.is_dir():
        _fail(f"--json {json_path}: folder {json_path.parent} does not exist")
    from blobmaster.agents import AgentError
    from blobmaster.arena import ArenaError, evaluate_specs

    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    try:
        report = evaluate_specs(
            agent or [],
            num_players=players,
            cards=cards,
            deals=deals,
            seed=seed,
            device=device,
            progress=progress,
        )
    except (AgentError, ArenaError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo("blobmaster: interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if to_stdout:
        typer.echo(report.to_json())
        return
    report.print()
    if json_path is not None:
        try:
            report.save(json_path)
        except OSError as e:
            _fail(f"--json {json_path}: {e.strerror or e}")


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
    device: Annotated[
        str, typer.Option(help="auto (CUDA if available), cpu, cuda or cuda:N.")
    ] = "auto",
    torch_threads: Annotated[
        int | None, typer.Option(help="Threads torch uses on the CPU [default: torch's]")
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="Show the live progress bar (on a terminal).")
    ] = True,
    json_summary: Annotated[
        bool, typer.Option("--json", help="Print the final summary as one JSON object.")
    ] = False,
) -> None:
    """Train BlobNet on the newest replay shards; checkpoints and a scripted model go to --out."""
    _check_range("--torch-threads", torch_threads, 1, 4096)
    if not resume and not data:
        _fail("give folders of replay shards (or shard files) to train on, or --resume")
    from blobmaster.config import ConfigError
    from blobmaster.model import DeviceError
    from blobmaster.train import TrainError, run_command

    overrides = dict(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        window_shards=window,
        window_examples=window_examples,
        model=model_size,
        seed=seed,
        checkpoint_every=checkpoint_every,
        skip_corrupt=True if skip_corrupt else None,
    )
    try:
        interrupted = run_command(
            data=data, out=out, config=config, overrides=overrides, init_model=init_model, resume=resume,
            until_step=until_step, device=device, torch_threads=torch_threads, progress=progress,
            json_summary=json_summary, echo=typer.echo,
        )  # fmt: skip
    except (TrainError, ConfigError, DeviceError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo("blobmaster: interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command("loop")
def loop_command(
    run_dir: Annotated[
        Path, typer.Argument(help="Run folder: created if new, resumed where it stopped if not.")
    ],
    config: Annotated[
        str | None,
        typer.Option(
            help="loop_quick, loop_gpu or a TOML file (see configs/loop_quick.toml) "
            "[default: the run's saved config; loop_quick for a new run]"
        ),
    ] = None,
    iterations: Annotated[
        int | None, typer.Option(help="Iterations in all [default: the config's]")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="Self-play engine threads, 0 = every core [default: the config's]"),
    ] = None,
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
    progress: Annotated[bool, typer.Option(help="Show live progress bars (on a terminal).")] = True,
) -> None:
    """AlphaZero loop: self-play -> train -> gate, repeated; resumable (docs/loop.md)."""
    _check_range("--iterations", iterations, 1, 10**6)
    _check_range("--threads", threads, 0, 1024)
    _check_range("--torch-threads", torch_threads, 0, 4096)
    from blobmaster.loop import bad_input_errors, run_command

    try:
        run_command(
            run_dir=run_dir, config=config, iterations=iterations, threads=threads, device=device,
            torch_threads=torch_threads, force=force, progress=progress, echo=typer.echo,
        )  # fmt: skip
    except bad_input_errors() as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo(
            "blobmaster: interrupted; finished work is kept, run the same command to resume",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None


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

    try:
        result = write_report(run_dir, out)
    except ReportError as e:
        _fail(str(e))
    for path in result.files:
        typer.echo(f"report: {path}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``blobmaster`` script and ``python -m blobmaster``."""
    try:
        app(args=argv, prog_name="blobmaster")
    except BrokenPipeError:  # `blobmaster ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
