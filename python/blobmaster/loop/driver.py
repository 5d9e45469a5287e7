"""``run_loop``: checks, the run folder's config and lock, then iteration
after iteration (self-play, train, gate, reference games) until the target;
and ``run_command``, the body of ``blobmaster loop``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from blobmaster.arena import derive_seed
from blobmaster.atomic import atomic_write_bytes, remove_temporary_files, utc_now, write_json
from blobmaster.checkpoint import model_config_for, read_init_weights, size_name
from blobmaster.config import ConfigError
from blobmaster.loop import gate
from blobmaster.loop.config import (
    DEFAULT_PRESET,
    SEED_MAX,
    LoopConfig,
    LoopConfigError,
    LoopError,
    load_loop_config,
    parse_loop_config,
)
from blobmaster.loop.context import LoopContext
from blobmaster.loop.folder import LoopFolder, locked
from blobmaster.loop.manifest import best_state, read_manifest, write_manifest
from blobmaster.loop.metrics import iteration_row, write_metrics
from blobmaster.loop.pipeline import PhaseTimer, first_phases, timed_phase
from blobmaster.model import BlobNet, default_model, resolve_device, save_model
from blobmaster.train import TrainError

__all__ = ["LoopSummary", "bad_input_errors", "run_command", "run_loop"]


@dataclass
class LoopSummary:
    """What a :func:`run_loop` call did."""

    run_dir: Path
    config: LoopConfig
    iterations_done: int
    target: int
    ran: list[int]
    """Iterations finished by this call."""
    best_model: Path
    best_iteration: int
    """0: the first network."""
    elapsed_s: float
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def one_line(self) -> str:
        ran = f"iterations {self.ran[0]}-{self.ran[-1]}" if self.ran else "no iteration"
        return (
            f"{ran} run in {self.elapsed_s:.1f} s; {self.iterations_done} of {self.target} done; "
            f"best network: iteration {self.best_iteration} ({self.best_model})"
        )


def ensure_init_model(ctx: LoopContext) -> None:
    """Writes ``init/model.pt``: the ``[loop] init_model`` weights, a network
    trained on a search teacher's rounds (``[teacher] warm_start_rounds``) or a fresh network."""
    folder, cfg = ctx.folder, ctx.cfg
    if folder.init_model.is_file():
        return
    if cfg.teacher.agent and cfg.teacher.warm_start_rounds:  # imitate a search teacher first
        from blobmaster.loop.teacher_data import warm_start_model

        warm_start_model(ctx)
        return
    want = model_config_for(cfg.model_size)
    source = cfg.loop.init_model
    if source:
        try:
            model_config, state, kind = read_init_weights(source, want)
        except TrainError as e:
            raise LoopError(f"[loop] init_model: {e}") from None
        net = BlobNet(model_config)
        net.load_state_dict(state)
        extra: dict[str, Any] = {"loop": "init", "from": f"{kind}:{source}"}
    else:
        seed = derive_seed("blobmaster-loop-init", cfg.loop.seed) & SEED_MAX
        net = default_model(seed=seed, config=want)
        extra = {"loop": "init", "seed": seed}
    save_model(net.eval(), folder.init_model, extra=extra)
    ctx.log(
        f"first network ({size_name(want)}, {net.num_parameters():,} parameters): {folder.init_model}"
    )


def run_iteration(ctx: LoopContext, k: int, best: Path, rejections: int) -> dict[str, Any]:
    """The four phases of iteration ``k`` (each skipped when its marker
    exists), then its DONE marker and metrics.csv."""
    it = ctx.folder.iter_dir(k)
    it.mkdir(parents=True, exist_ok=True)
    remove_temporary_files(it)
    with PhaseTimer() as whole:
        sp, tr = first_phases(ctx, k, best)
        gt, gate_busy = timed_phase(
            it / "gate.json", lambda: gate.gate_phase(ctx, k, best, rejections)
        )
        ev, eval_busy = timed_phase(
            it / "eval.json",
            lambda: gate.reference_games(ctx, it / "model.pt", it / "eval.json", f"iteration {k}"),
        )
    row = iteration_row(k, sp, tr, gt, ev)
    row.update(
        {  # after the columns of metrics.py (a resumed iteration: this call's wall time)
            "pipeline": ctx.cfg.loop.pipeline,
            "iteration_wall_s": whole.wall_s,
            "iteration_busy_cores": whole.busy_cores,
            "selfplay_busy_cores": sp.get("busy_cores"),
            "train_busy_cores": tr.get("busy_cores"),
            "train_torch_threads": tr.get("torch_threads"),
            "gate_busy_cores": gate_busy if gt.get("deals") else None,  # no gate: nothing ran
            "eval_busy_cores": eval_busy if ev.get("references") else None,
        }
    )
    write_json(it / "DONE", row)
    write_metrics(ctx.folder)
    return row


def _given_config(config: LoopConfig | str | os.PathLike[str]) -> LoopConfig:
    return config if isinstance(config, LoopConfig) else load_loop_config(config)


def _existing_run_config(
    folder: LoopFolder,
    config: LoopConfig | str | os.PathLike[str] | None,
    force: bool,
    say: Callable[[str], None],
) -> tuple[LoopConfig, list[dict[str, Any]]]:
    """The config of a run folder with a manifest (its saved one, or the
    given one when it agrees or under ``force``) and the run's history."""
    manifest = read_manifest(folder)
    history = list(manifest.get("history", []))
    try:
        saved_text = folder.config_file.read_text(encoding="utf-8")
    except OSError as e:
        raise LoopError(
            f"cannot read the run's config {folder.config_file}: {e.strerror or e}"
        ) from None
    saved = parse_loop_config(
        saved_text, name=str(manifest.get("name", "custom")), source=str(folder.config_file)
    )
    if config is None:
        return saved, history
    given = _given_config(config)
    conflicts = saved.conflicts(given)
    if conflicts and not force:
        raise LoopConfigError(
            f"config {given.source} differs from the one run folder {folder.root} was started with "
            f"({'; '.join(conflicts)}); omit --config to use the run's own, or pass --force"
        )
    if conflicts:
        history.append(
            {
                "time": utc_now(),
                "event": "config replaced (force)",
                "source": given.source,
                "changes": conflicts,
            }
        )
        say(f"--force: the config changes for the remaining work: {'; '.join(conflicts)}")
    return given, history


def _run_config(
    folder: LoopFolder,
    config: LoopConfig | str | os.PathLike[str] | None,
    force: bool,
    say: Callable[[str], None],
) -> tuple[LoopConfig, list[dict[str, Any]], bool]:
    """(config, history, new run?) of the folder."""
    root = folder.root
    if root.exists() and not root.is_dir():
        raise LoopError(f"run folder {root} exists and is not a folder")
    if folder.manifest.exists():
        return (*_existing_run_config(folder, config, force, say), False)
    # A folder holding only config.toml is a run that stopped before its manifest.
    if root.is_dir() and any(
        not p.name.startswith(".") and p.name != "config.toml" for p in root.iterdir()
    ):
        raise LoopError(f"{root} is not a loop run folder (no loop.json) and is not empty")
    return _given_config(config if config is not None else DEFAULT_PRESET), [], True


def _iterate(
    ctx: LoopContext, history: list[dict[str, Any]], run_info: dict[str, Any]
) -> list[int]:
    """The first network, its reference games and the iterations still to do."""
    folder, cfg, say = ctx.folder, ctx.cfg, ctx.log
    ensure_init_model(ctx)
    if ctx.references:
        gate.reference_games(ctx, folder.init_model, folder.init_eval, "first network")
    done = folder.done_iterations()
    if done:  # a crash may have come between an iteration's DONE and metrics.csv
        write_metrics(folder)
    best, _, rejections = best_state(folder, done)
    ran: list[int] = []
    if done >= cfg.loop.iterations:
        say(f"{done} iterations done (target {cfg.loop.iterations}): nothing to do")
    for k in range(done + 1, cfg.loop.iterations + 1):
        t0 = time.perf_counter()
        say(f"iteration {k}/{cfg.loop.iterations}: best network {folder.rel(best)}")
        run_iteration(ctx, k, best, rejections)
        ran.append(k)
        write_manifest(folder, cfg, history=history, extra=run_info)
        best, _, rejections = best_state(folder, k)
        say(f"iteration {k}/{cfg.loop.iterations} done in {time.perf_counter() - t0:.1f} s")
    return ran


def run_loop(
    run_dir: str | os.PathLike[str],
    config: LoopConfig | str | os.PathLike[str] | None = None,
    *,
    iterations: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    torch_threads: int | None = None,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    ray: str | None = None,
    ray_actors: int | None = None,
) -> LoopSummary:
    """Runs (or resumes) the loop in ``run_dir`` until ``iterations``
    iterations (default: the config's) are finished; returns a LoopSummary.

    ``config``: a LoopConfig, a preset name (``loop_quick``, ``loop_gpu``)
    or a TOML file. For a new run folder None means ``loop_quick``; for an
    existing one None means the config saved in it, and a given config must
    agree with it except for the runtime keys unless ``force`` (then the new
    config replaces the saved one for the work still to do). ``threads``,
    ``device`` and ``torch_threads`` override the config's runtime values.
    ``progress`` shows rich progress bars on a terminal; ``log`` receives
    one line per step of the loop. ``ray`` (``auto``, ``local`` or an
    address) plays self-play on Ray actors (``ray_actors`` of them, default
    one per node or GPU) instead of in this process (docs/distributed.md).

    Ctrl-C raises :class:`LoopInterrupted` (a KeyboardInterrupt) once the
    work done so far is safely on disk. Bad input raises LoopError,
    LoopConfigError (a ConfigError), TrainError, AgentError or DeviceError.
    """
    say = log or (lambda line: None)
    folder = LoopFolder(run_dir)
    cfg, history, new_run = _run_config(folder, config, force, say)
    cfg = cfg.with_runtime(
        iterations=iterations, threads=threads, device=device, torch_threads=torch_threads
    )
    dev = resolve_device(cfg.loop.device)
    if new_run and cfg.loop.init_model:
        try:  # checked before the folder is created
            read_init_weights(cfg.loop.init_model, model_config_for(cfg.model_size))
        except TrainError as e:
            raise LoopError(f"[loop] init_model: {e}") from None
    ctx = LoopContext(folder, cfg, dev, force=force, progress=progress, log=say)
    gate.build_references(
        ctx
    )  # bad specs and missing model files fail before the folder is touched

    started = time.perf_counter()
    try:
        folder.root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LoopError(f"cannot create run folder {folder.root}: {e.strerror or e}") from None
    previous_threads = torch.get_num_threads()
    with locked(folder):
        if cfg.loop.torch_threads:
            torch.set_num_threads(cfg.loop.torch_threads)
        try:
            if new_run or (force and config is not None):
                atomic_write_bytes(folder.config_file, cfg.text.encode())
            run_info = {
                "device": str(dev),
                "threads": cfg.selfplay.resolved_threads(),
                "torch_threads": torch.get_num_threads(),
                "pipeline": cfg.loop.pipeline,
            }
            if ray is not None:
                ctx.ray_pool = _ray_pool(ray, ray_actors, dev, say)
                run_info["ray"] = ray
            run_info["train_torch_threads"] = ctx.train_threads
            write_manifest(folder, cfg, history=history, extra=run_info)
            ran = _iterate(ctx, history, run_info)
        finally:
            torch.set_num_threads(previous_threads)
            if ctx.ray_pool is not None:
                ctx.ray_pool.close()
    done = folder.done_iterations()
    best, best_iteration, _ = best_state(folder, done)
    return LoopSummary(
        run_dir=folder.root,
        config=cfg,
        iterations_done=done,
        target=cfg.loop.iterations,
        ran=ran,
        best_model=best,
        best_iteration=best_iteration,
        elapsed_s=time.perf_counter() - started,
        rows=folder.rows(),
    )


def _ray_pool(
    address: str, actors: int | None, dev: torch.device, say: Callable[[str], None]
) -> Any:
    """Self-play actors on Ray, started once for the whole run (their start-up is paid once)."""
    from blobmaster.distributed import RaySelfPlayPool

    pool = RaySelfPlayPool(
        address, actors=actors, gpus_per_actor=1.0 if dev.type == "cuda" else 0.0
    )
    say(f"self-play on Ray ({address}): {len(pool.slots)} actors")
    return pool


# ---- the command line ----------------------------------------------------------------------


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean bad input (one-line messages) rather than a bug."""
    from blobmaster.agents import AgentError
    from blobmaster.arena import ArenaError
    from blobmaster.distributed.cluster import DistributedError  # imports no ray
    from blobmaster.model import DeviceError, ModelError

    return (
        LoopError, ConfigError, TrainError, AgentError, ArenaError, DeviceError, ModelError,
        DistributedError,
    )  # fmt: skip


def run_command(
    *,
    run_dir: Path,
    config: str | None,
    iterations: int | None,
    threads: int | None,
    device: str | None,
    torch_threads: int | None,
    force: bool,
    progress: bool,
    echo: Callable[..., None],
    ray: str | None = None,
    ray_actors: int | None = None,
) -> LoopSummary:
    """The body of ``blobmaster loop`` (the typer command in cli.py only
    declares the options): log lines on stderr, the summary on stdout.
    Raises the errors of :func:`bad_input_errors` for bad input and
    LoopInterrupted on Ctrl-C."""

    def log(line: str) -> None:
        echo(f"loop: {line}", err=True)

    summary = run_loop(
        run_dir,
        config,
        iterations=iterations,
        threads=threads,
        device=device,
        torch_threads=torch_threads,
        force=force,
        progress=progress,
        log=log,
        ray=ray,
        ray_actors=ray_actors,
    )
    echo(f"loop: {summary.one_line()}")
    return summary
