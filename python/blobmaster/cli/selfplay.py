"""``blobmaster selfplay`` (local or on Ray) and ``blobmaster validate``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from blobmaster.cli._common import (
    _MAX_SEED,
    EXIT_INTERRUPTED,
    Device,
    Json,
    Progress,
    Threads,
    TorchThreads,
    _check_out_dir,
    _check_range,
    _exits_on,
    _fail,
    _override,
    _set_torch_threads,
    app,
)

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


def _load_preset(config: str) -> Any:
    """The self-play preset of --config: a self-play preset, or (for the
    teacher, which only needs its tables and temperature) a loop preset's."""
    from blobmaster.config import ConfigError, load_config
    from blobmaster.loop.config import LOOP_PRESETS, load_loop_config

    try:
        path = Path(config)
        is_loop = config in LOOP_PRESETS or (
            path.suffix == ".toml" and path.is_file() and "[loop]" in path.read_text()
        )
        return load_loop_config(config).preset if is_loop else load_config(config)
    except (ConfigError, OSError) as e:
        _fail(str(e))


def _selfplay_preset(config: str, overrides: dict[str, Any]) -> Any:
    """The preset of --config with the command line's [selfplay] values applied."""
    preset = _load_preset(config)
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


def _teacher_run(
    spec: str, preset: Any, *, rounds: int, seed: int, out: Path, progress: bool, json_out: bool,
    device: str = "auto",
) -> bool:  # fmt: skip
    """Teacher self-play (blobmaster.teacher, or blobmaster.arena_teacher for a
    network search); returns whether Ctrl-C stopped it."""
    from blobmaster.teacher import TeacherProgress, open_teacher, run_teacher_selfplay

    try:
        engine, name, metadata, threads = open_teacher(
            spec, preset, rounds=rounds, seed=seed, device=device
        )
    except (ValueError, TypeError, OverflowError) as e:  # TeacherSpecError, NetworkTeacherError...
        _fail(f"--teacher: {e}")
    sp = preset.selfplay
    games = sp.full_games
    if not json_out:
        listed = [f"{t.players}x{t.cards}" for t in sp.tables]
        tables = ",".join(listed) if len(listed) <= 6 else f"({len(listed)} kinds)"
        typer.echo(
            f"selfplay: {rounds} {'full games' if games else 'rounds'} played by teacher "
            f"{name} on every seat, {preset.name} tables {tables}, "
            f"{threads} threads, out {out}",
            err=True,
        )
    per_game = sp.rounds_per_game() if games else 1
    with TeacherProgress(rounds * per_game if per_game else None, enabled=progress) as bar:
        summary = run_teacher_selfplay(
            engine, out_dir=out, metadata=metadata, rounds_per_shard=sp.rounds_per_shard,
            progress=bar,
        )  # fmt: skip
    if json_out:
        data = summary.as_dict()
        data.update(
            out=str(out), config=preset.name, teacher=name, full_games=games,
            threads=threads, shard_files=[p.name for p in summary.shards],
        )  # fmt: skip
        typer.echo(json.dumps(data))
    else:
        typer.echo(f"selfplay: {summary.one_line()} -> {out}")
    return summary.interrupted


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
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Play every seat with this search instead of a network: "
            "ismcts:N[:C][:heuristic][:margin=M][:bids[=T]] (shards to distil the search into a network; "
            "--config may be a loop preset), or a network search such as "
            "model:PATH:ismcts:200:0.7:1:network:policy=0.5 (expert iteration)."
        ),
    ] = None,
) -> None:
    """Play self-play rounds with the Rust engine and a BlobNet (or, with --teacher, ISMCTS
    on every seat); write replay shards to --out."""
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
        if teacher is not None:
            if model is not None or ray is not None:
                _fail("--teacher names its own network: --model and --ray do not apply")
            _set_torch_threads(torch_threads)
            interrupted = _teacher_run(
                teacher, preset, rounds=rounds, seed=seed, out=out, progress=progress,
                json_out=json_out, device=device,
            )  # fmt: skip
            if interrupted:
                raise typer.Exit(EXIT_INTERRUPTED)
            return
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
