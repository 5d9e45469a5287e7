"""The trained network shipped inside the package, and the names of the
networks ``Agent.load`` knows without a file.

``python/blobmaster/models/blobnet.pt`` (package data, in the wheel) is the
network ``Agent.load()``, ``blobmaster play`` and ``blobmaster serve`` use
when no model is given; ``blobnet.json`` beside it records its sha256, the
command, config and commit that trained it and its evaluation
(docs/play.md, "The shipped network"). Until a trained file is shipped,
:func:`default_model_path` returns None and the callers fall back to the
untrained seed-0 network with a one-line warning on stderr.

``"random"`` (:data:`RANDOM_MODEL`) names the untrained seed-0 network
(``blobmaster.model.default_model(seed=0)``) explicitly: the network of
the benchmarks and of ``blobmaster selfplay`` without ``--model``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "PACKAGED_MODEL",
    "RANDOM_MODEL",
    "default_model_path",
    "file_sha256",
    "packaged_model_info",
    "warn_no_packaged_model",
]

PACKAGED_MODEL = "blobnet.pt"
"""File name of the shipped network in ``blobmaster/models/``."""
RANDOM_MODEL = "random"
"""The model name of the untrained seed-0 network."""

_warned = False


def _models_dir() -> Path:
    return Path(str(resources.files("blobmaster").joinpath("models")))


def default_model_path() -> Path | None:
    """The shipped trained network file, or None when the package has none."""
    path = _models_dir() / PACKAGED_MODEL
    return path if path.is_file() else None


def packaged_model_info() -> dict[str, Any] | None:
    """The record beside the shipped network (``blobnet.json``: sha256,
    command, config, commit, evaluation), or None without one."""
    path = _models_dir() / (Path(PACKAGED_MODEL).stem + ".json")
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def warn_no_packaged_model() -> None:
    """One line on stderr, once per process: no trained network is shipped,
    the untrained seed-0 network plays instead."""
    global _warned
    if _warned:
        return
    _warned = True
    print(
        f"blobmaster: warning: this package ships no trained network (blobmaster/models/"
        f"{PACKAGED_MODEL}); the agents use the untrained seed-0 network",
        file=sys.stderr,
    )
