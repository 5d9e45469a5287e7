"""The AlphaZero loop: self-play -> train -> gate, iteration after iteration.

``run_loop(run_dir, config)`` (and ``blobmaster loop RUN_DIR``) runs
iterations k = 1, 2, ... until ``[loop] iterations`` are done. Iteration k:

1. **self-play**: the current best network plays ``[selfplay] rounds``
   rounds with the Rust engine (:func:`blobmaster.inference.run_selfplay`);
   the replay shards go to ``iter-k/shards/``.
2. **train**: :func:`blobmaster.train.train` starts from the previous
   iteration's trained network (the first network for k = 1) and trains on
   the shards of the newest ``window_iterations`` iterations, in
   ``iter-k/train/``; the result is copied to ``iter-k/model.pt``.
3. **gate**: the new network plays the best one in the duplicate arena at
   the ``[search]`` budget; it becomes the best network when the 95%
   interval of its paired per-deal score difference is above ``threshold``
   (or, after ``force_after`` gates in a row without a promotion, when the
   mean difference alone is above 0).
4. **reference games** (when ``[gate] references`` lists agents): the new
   network plays each of them on the same deals every iteration, on the
   gate's table and on every ``[gate] reference_tables`` table.

Everything lives in the run folder::

    RUN_DIR/
      loop.json          manifest: config, best network, iterations done
      config.toml        the config the run was started with (fixes the run)
      metrics.csv        one row per finished iteration
      init/model.pt      the first network; init/eval.json its reference games
      iter-0001/
        shards/          replay shards of this iteration's self-play
        selfplay-parts.json   throughput of each self-play call (several after a resume)
        selfplay.json    done marker of self-play
        train/           the trainer's run folder (checkpoints, metrics.csv)
        model.pt         the network trained in this iteration
        train.json       done marker of training
        gate.json        done marker of the gate: result, promoted?, best network after it
        eval.json        done marker of the reference games
        DONE             the iteration's metrics row; the iteration is finished
      .lock              held while a loop runs in the folder

**Resume.** Every marker and model is written atomically (temporary file,
then rename), after the work it describes. A phase whose marker exists is
skipped; a phase without one is redone: self-play keeps its complete shards
and plays only the missing rounds (with a new seed), training continues from
its newest checkpoint (or starts again), the gate and the reference games are
played again. So a crash or Ctrl-C at any point loses at most the phase in
progress, and running the same command again finishes the run. The best
network after iteration k is recorded in ``iter-k/gate.json``, which makes
the chain of best networks independent of the manifest.

The config is saved in the run folder; resuming with a config that differs
(other than the runtime keys: iterations, device, torch threads, engine
threads and the trainer's bookkeeping keys) is an error unless ``force``.
docs/loop.md has the details.

The package, one module per concern: ``config`` (the schema of the config
file, loading, the error classes), ``folder`` (the layout above and the
lock), ``metrics`` (metrics.csv), ``selfplay``, ``training`` and ``gate``
(the phases), ``manifest`` (loop.json) and ``driver`` (run_loop and the
command). The names below are the public API; the torch-free ones load
eagerly, the rest on first use (``blobmaster report`` reads run folders
without importing torch).
"""

from __future__ import annotations

from typing import Any

from blobmaster.loop.config import (
    DEFAULT_PRESET,
    LOOP_PRESETS,
    RUNTIME_KEYS,
    GateConfig,
    LoopConfig,
    LoopConfigError,
    LoopError,
    LoopInterrupted,
    LoopSettings,
    builtin_loop_preset_text,
    flatten,
    load_loop_config,
    parse_loop_config,
)
from blobmaster.loop.folder import LoopFolder
from blobmaster.loop.metrics import BASE_COLUMNS, REF_FIELDS, reference_slug, reference_slugs

__all__ = [
    "BASE_COLUMNS",
    "DEFAULT_PRESET",
    "LOOP_PRESETS",
    "REF_FIELDS",
    "RUNTIME_KEYS",
    "GateConfig",
    "LoopConfig",
    "LoopConfigError",
    "LoopError",
    "LoopFolder",
    "LoopInterrupted",
    "LoopSettings",
    "LoopSummary",
    "bad_input_errors",
    "builtin_loop_preset_text",
    "flatten",
    "gate_decision",
    "load_loop_config",
    "parse_loop_config",
    "reference_slug",
    "reference_slugs",
    "run_command",
    "run_loop",
]

_LAZY = {
    "LoopSummary": "blobmaster.loop.driver",
    "bad_input_errors": "blobmaster.loop.driver",
    "run_command": "blobmaster.loop.driver",
    "run_loop": "blobmaster.loop.driver",
    "gate_decision": "blobmaster.loop.gate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'blobmaster.loop' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
