"""What every command of the ``blobmaster`` command line shares: the typer
app, the options that mean the same everywhere, and one way to fail."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

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
