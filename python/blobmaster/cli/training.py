"""``blobmaster train``, ``blobmaster loop`` and ``blobmaster report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from blobmaster.cli._common import (
    EXIT_INTERRUPTED,
    Device,
    Json,
    Progress,
    Threads,
    TorchThreads,
    _check_range,
    _exits_on,
    _fail,
    _override,
    app,
)


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
