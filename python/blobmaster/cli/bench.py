"""``blobmaster bench``: the self-play throughput benchmark."""

from __future__ import annotations

import typer

from blobmaster.cli._common import (
    app,
)


@app.command(
    "bench",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench_command(ctx: typer.Context) -> None:
    """Self-play throughput benchmark (forward pass, presets, threads x games scan) as a Markdown report; `blobmaster bench --help` lists the options."""
    from blobmaster.bench import main as bench_main

    bench_main(list(ctx.args))  # the options are parsed (and checked) by blobmaster.bench
