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

One module per group of commands (selfplay, evaluate, training, people,
bench), all registered on the one app of ``_common``. A command function can
run past 80 lines: typer declares every option in its signature (3-5 lines
each); the body is a few lines that check the input and call the module
that does the work.
"""

from __future__ import annotations

import os
import sys

from blobmaster.cli._common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, app

# Each module registers its commands on the one app; the import order is the
# order of `blobmaster --help`.
# isort: off
from blobmaster.cli import selfplay, evaluate, training, people, bench  # noqa: F401
# isort: on

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``blobmaster`` script and ``python -m blobmaster``."""
    try:
        app(args=argv, prog_name="blobmaster")
    except BrokenPipeError:  # `blobmaster ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
