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
   network plays each of them on the same deals every iteration.

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
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import torch
from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from blobmaster import config as _config
from blobmaster.agents import Agent, AgentError, parse_agent_spec
from blobmaster.arena import agent_seed, derive_seed, play_duplicate
from blobmaster.checkpoint import RunFolder, model_config_for, read_init_weights, size_name
from blobmaster.config import (
    MAX_PLAYERS,
    MIN_PLAYERS,
    ConfigError,
    Preset,
    SearchConfig,
    SelfPlayConfig,
    validate_table,
)
from blobmaster.inference import run_selfplay
from blobmaster.model import (
    BlobNet,
    default_model,
    load_model,
    load_model_info,
    resolve_device,
    save_model,
)
from blobmaster.replay import ShardMetadata, fsync_dir, list_shards
from blobmaster.settings import parse_toml, read_settings_text, settings, validate_settings
from blobmaster.train import (
    IncompatibleModelError,
    TrainConfig,
    TrainConfigError,
    TrainError,
    WindowChangedError,
    train,
)

__all__ = [
    "LOOP_PRESETS",
    "GateConfig",
    "LoopConfig",
    "LoopConfigError",
    "LoopError",
    "LoopFolder",
    "LoopInterrupted",
    "LoopSettings",
    "LoopSummary",
    "gate_decision",
    "load_loop_config",
    "parse_loop_config",
    "run_loop",
]

LOOP_PRESETS = ("loop_quick", "loop_gpu")
"""Names accepted by :func:`load_loop_config` without a path."""
DEFAULT_PRESET = "loop_quick"
"""The config of a new run folder when none is given."""
MANIFEST_FORMAT = "blobmaster-loop"
MANIFEST_VERSION = 1
SEED_MAX = 2**63 - 1
_SUMMARY_STEPS = 50  # the losses of an iteration: mean of its last 50 training steps


class LoopError(ValueError):
    """Bad input to the loop (run folder, config, model); one line naming the problem."""


class LoopConfigError(LoopError, ConfigError):
    """A loop config that cannot be used, or one that differs from the run's."""


class LoopInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the loop; the finished work is kept (run again to resume)."""


# ---- the config ---------------------------------------------------------------------------


@settings(LoopConfigError, "loop settings")
class LoopSettings:
    """The ``[loop]`` section (meanings: configs/loop_quick.toml)."""

    iterations: StrictInt = Field(10, ge=1, le=10**6)
    seed: StrictInt = Field(0, ge=0, le=SEED_MAX)
    window_iterations: StrictInt = Field(4, ge=1, le=10**6)
    init_model: StrictStr = ""
    device: StrictStr = "auto"
    torch_threads: StrictInt = Field(0, ge=0, le=4096)
    bf16: StrictBool = False


@settings(LoopConfigError, "gate settings")
class GateConfig:
    """The ``[gate]`` section: promotion test and reference agents."""

    deals: StrictInt = Field(200, ge=0, le=10**7)
    players: StrictInt = Field(0, ge=0, le=8)
    cards: StrictInt = Field(0, ge=0, le=13)
    threshold: StrictFloat = Field(0.0, ge=-1e6, le=1e6)
    force_after: StrictInt = Field(0, ge=0, le=10**6)
    references: tuple[StrictStr, ...] = ()
    reference_deals: StrictInt = Field(100, ge=1, le=10**7)

    @field_validator("references", mode="before")
    @classmethod
    def _specs(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v.strip() for v in value
        ):
            raise ValueError(f"expected an array of non-empty strings, got {value!r}")
        return tuple(v.strip() for v in value)

    @field_validator("players")
    @classmethod
    def _players(cls, value: int) -> int:
        if value and value < MIN_PLAYERS:
            raise ValueError(f"must be 0 or {MIN_PLAYERS}..{MAX_PLAYERS}, got {value}")
        return value


@settings(LoopConfigError, "selfplay settings")
class LoopSelfPlayConfig(SelfPlayConfig):
    """The loop's ``[selfplay]``: a self-play preset's keys plus ``rounds``."""

    rounds: StrictInt = Field(1000, ge=1, le=10**9)
    """Self-play rounds per iteration."""

    @field_validator("full_games")
    @classmethod
    def _single_rounds(cls, value: bool) -> bool:
        if value:
            raise ValueError("the loop plays single rounds; set it to false")
        return value


@settings(LoopConfigError, "loop config")
class LoopFile:
    """The schema of a loop config file: its five sections."""

    loop: LoopSettings = LoopSettings()
    search: SearchConfig = SearchConfig()
    selfplay: LoopSelfPlayConfig = LoopSelfPlayConfig()
    train: TrainConfig = TrainConfig()
    gate: GateConfig = GateConfig()

    @field_validator("train", mode="before")
    @classmethod
    def _no_train_seed(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "seed" in value:
            raise ValueError("seed: not allowed here; the loop's seed is [loop] seed")
        return value

    @model_validator(mode="after")
    def _gate_table_fits(self) -> LoopFile:
        first = self.selfplay.tables[0]
        players = self.gate.players or first.players
        cards = self.gate.cards or first.cards
        try:
            validate_table(players, cards)
        except ConfigError as e:
            raise ValueError(f"[gate] players / cards: {e}") from None
        return self


# Keys that may differ between invocations of the same run ("section.key").
RUNTIME_KEYS = frozenset(
    {"loop.iterations", "loop.device", "loop.torch_threads", "selfplay.threads"}
    | {f"train.{k}" for k in TrainConfig.RUNTIME_FIELDS}
)


@dataclass(frozen=True)
class LoopConfig:
    """A loaded loop config: where it came from and its sections."""

    name: str
    source: str
    loop: LoopSettings
    search: SearchConfig
    selfplay: SelfPlayConfig
    rounds: int
    """Self-play rounds per iteration (``[selfplay] rounds``)."""
    train: TrainConfig
    gate: GateConfig
    text: str = field(default="", compare=False, repr=False)
    """The TOML text it was parsed from (saved in the run folder)."""

    @property
    def preset(self) -> Preset:
        """The ``[search]`` and ``[selfplay]`` sections as a self-play preset."""
        return Preset(
            name=self.name, source=self.source, search=self.search, selfplay=self.selfplay
        )

    @property
    def gate_table(self) -> tuple[int, int]:
        """(players, cards) of the gate and the reference games."""
        first = self.selfplay.tables[0]
        return (self.gate.players or first.players, self.gate.cards or first.cards)

    @property
    def model_size(self) -> str:
        return "default" if self.train.model == "auto" else self.train.model

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-serializable, by section."""
        selfplay = dataclasses.asdict(self.selfplay)
        selfplay["tables"] = list(selfplay["tables"])
        selfplay["rounds"] = self.rounds
        gate = dataclasses.asdict(self.gate)
        gate["references"] = list(self.gate.references)
        return {
            "loop": dataclasses.asdict(self.loop),
            "search": dataclasses.asdict(self.search),
            "selfplay": selfplay,
            "train": self.train.to_dict(),
            "gate": gate,
        }

    def conflicts(self, other: LoopConfig) -> list[str]:
        """Settings (other than the runtime keys) where ``other`` differs, as
        ``section.key: self -> other`` strings."""
        a, b = flatten(self.to_dict()), flatten(other.to_dict())
        out = []
        for key in sorted(set(a) | set(b)):
            if key in RUNTIME_KEYS:
                continue
            if a.get(key) != b.get(key):
                out.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
        return out

    def with_runtime(
        self,
        *,
        iterations: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        torch_threads: int | None = None,
    ) -> LoopConfig:
        """A copy with the given runtime settings (None: unchanged), checked
        by the same schema as the file (LoopConfigError)."""
        changes = {"iterations": iterations, "device": device, "torch_threads": torch_threads}
        loop = dataclasses.replace(self.loop, **{k: v for k, v in changes.items() if v is not None})
        selfplay = self.selfplay
        if threads is not None:
            try:
                selfplay = dataclasses.replace(selfplay, threads=threads)
            except ConfigError as e:
                raise LoopConfigError(str(e)) from None
        return dataclasses.replace(self, loop=loop, selfplay=selfplay)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def parse_loop_config(text: str, *, name: str = "custom", source: str = "<string>") -> LoopConfig:
    """Parses loop config TOML text (``source`` names it in error messages).
    Raises LoopConfigError naming the file, section and key of a bad value."""
    data = parse_toml(text, source=source, error=LoopConfigError)
    sections = validate_settings(
        LoopFile, data, source=source, error=LoopConfigError, sections=True
    )
    sp = sections.selfplay
    selfplay = SelfPlayConfig(
        **{f.name: getattr(sp, f.name) for f in dataclasses.fields(SelfPlayConfig)}
    )
    return LoopConfig(
        name=name,
        source=source,
        loop=sections.loop,
        search=sections.search,
        selfplay=selfplay,
        rounds=sp.rounds,
        train=sections.train,
        gate=sections.gate,
        text=text,
    )


def builtin_loop_preset_text(name: str) -> str:
    """The TOML text of a packaged loop preset (``loop_quick``, ``loop_gpu``)."""
    return read_settings_text(name, builtins=LOOP_PRESETS, error=LoopConfigError)[0]


def load_loop_config(spec: str | os.PathLike[str] = DEFAULT_PRESET) -> LoopConfig:
    """Loads a loop config by built-in name (``loop_quick``, ``loop_gpu``)
    or by path. Raises LoopConfigError for an unknown name, a missing or
    unreadable file, or bad contents."""
    text, name, source = read_settings_text(
        spec, builtins=LOOP_PRESETS, error=LoopConfigError, kind="loop config"
    )
    return parse_loop_config(text, name=name, source=source)


# ---- files ---------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to a hidden temporary file next to ``path``, flushes
    it to disk and renames it into place: readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON file (NaN and infinity written as null)."""
    atomic_write_bytes(
        path, (json.dumps(_json_safe(data), indent=2, sort_keys=False) + "\n").encode()
    )


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove_temporary_files(folder: Path) -> None:
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
                p.unlink(missing_ok=True)


class LoopFolder:
    """Paths of a loop run folder (layout: the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.manifest = self.root / "loop.json"
        self.config_file = self.root / "config.toml"
        self.metrics = self.root / "metrics.csv"
        self.init_dir = self.root / "init"
        self.init_model = self.init_dir / "model.pt"
        self.init_eval = self.init_dir / "eval.json"
        self.lock_file = self.root / ".lock"

    def iter_dir(self, k: int) -> Path:
        return self.root / f"iter-{k:04d}"

    def rel(self, path: Path) -> str:
        """``path`` relative to the run folder (as stored in the markers)."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(Path(path).resolve())

    def abs(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def done_iterations(self) -> int:
        """Iterations finished (1..n all have their DONE marker)."""
        k = 0
        while read_json(self.iter_dir(k + 1) / "DONE") is not None:
            k += 1
        return k

    def rows(self) -> list[dict[str, Any]]:
        """The metrics rows of the finished iterations (from their DONE markers)."""
        return [
            read_json(self.iter_dir(k) / "DONE") or {} for k in range(1, self.done_iterations() + 1)
        ]


@contextlib.contextmanager
def _locked(folder: LoopFolder) -> Iterator[None]:
    """Holds an exclusive lock on the run folder (one loop at a time)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    f = open(folder.lock_file, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LoopError(
                f"run folder {folder.root} is in use by another blobmaster loop"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    finally:
        f.close()


# ---- metrics -------------------------------------------------------------------------------

BASE_COLUMNS = (
    "iteration",
    "finished",
    "iteration_s",
    "selfplay_rounds",
    "selfplay_examples",
    "selfplay_shards",
    "selfplay_parts",
    "selfplay_s",
    "rounds_per_min",
    "evals_per_s",
    "mean_batch",
    "train_steps",
    "train_s",
    "train_examples_per_s",
    "window_first_iteration",
    "window_shards",
    "window_examples",
    "loss",
    "policy_loss",
    "value_loss",
    "first_loss",
    "val_loss",
    "val_policy_loss",
    "val_value_loss",
    "val_policy_acc",
    "gate_deals",
    "gate_s",
    "gate_candidate_mean",
    "gate_best_mean",
    "gate_diff",
    "gate_ci95",
    "gate_low",
    "gate_candidate_elo",
    "promoted",
    "promotion",
    "rejections",
    "best_iteration",
    "eval_s",
)
"""The first columns of metrics.csv; then ``ref_<name>_<field>`` for every reference agent."""
REF_FIELDS = ("candidate_mean", "reference_mean", "diff", "ci95", "candidate_elo")


def reference_slug(spec: str) -> str:
    """The column-name form of a reference agent spec (``rollout:light`` -> ``rollout_light``)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", spec).strip("_").lower()
    return slug or "agent"


def _slugs(specs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for spec in specs:
        slug = reference_slug(spec)
        base, n = slug, 2
        while slug in out:
            slug, n = f"{base}_{n}", n + 1
        out.append(slug)
    return out


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return str(value)


def write_metrics(folder: LoopFolder) -> Path:
    """Rewrites metrics.csv (atomically) from the DONE markers of the finished iterations."""
    rows = folder.rows()
    columns = list(BASE_COLUMNS)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(c)) for c in columns])
    atomic_write_bytes(folder.metrics, buf.getvalue().encode())
    return folder.metrics


# ---- the phases ----------------------------------------------------------------------------


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


def gate_decision(
    diff: float, ci95: float | None, threshold: float, force_after: int, rejections: int
) -> tuple[bool, str]:
    """The promotion rule. ``diff`` and ``ci95``: the new network's mean
    paired per-deal score difference against the best one and its 95%
    half-width (None with one deal); ``rejections``: gates in a row without
    a promotion before this one. Returns (promoted, reason):

    * ``(True, "interval")`` when the whole interval is above ``threshold``
      (``diff - ci95 > threshold``);
    * ``(True, "forced")`` otherwise, when ``force_after`` > 0, at least
      ``force_after`` gates in a row promoted nothing and ``diff > 0``;
    * ``(False, "rejected")`` otherwise.
    """
    if ci95 is not None and diff - ci95 > threshold:
        return True, "interval"
    if force_after and rejections >= force_after and diff > 0:
        return True, "forced"
    return False, "rejected"


class _Loop:
    """One run_loop call: the folder, the config and the phases."""

    def __init__(
        self,
        folder: LoopFolder,
        cfg: LoopConfig,
        device: torch.device,
        *,
        force: bool,
        progress: bool,
        log: Callable[[str], None],
    ) -> None:
        self.f = folder
        self.cfg = cfg
        self.dev = device
        self.force = force
        self.progress = progress
        self.log = log
        self.ref_seed = derive_seed("blobmaster-loop-reference", cfg.loop.seed)
        self.references: list[tuple[str, str, Agent]] = []

    # -- setup

    def build_references(self) -> None:
        """The reference agents, built once (they decide from the position and their seed only)."""
        specs = self.cfg.gate.references
        for spec, slug in zip(specs, _slugs(specs)):
            try:
                agent = parse_agent_spec(spec, device=self.dev, seed=agent_seed(self.ref_seed, 1))
            except AgentError as e:
                raise LoopConfigError(f"[gate] references: {e}") from None
            self.references.append((spec, slug, agent))

    def ensure_init_model(self) -> None:
        if self.f.init_model.is_file():
            return
        want = model_config_for(self.cfg.model_size)
        source = self.cfg.loop.init_model
        if source:
            try:
                model_config, state, kind = read_init_weights(source, want)
            except TrainError as e:
                raise LoopError(f"[loop] init_model: {e}") from None
            net = BlobNet(model_config)
            net.load_state_dict(state)
            extra = {"loop": "init", "from": f"{kind}:{source}"}
        else:
            seed = derive_seed("blobmaster-loop-init", self.cfg.loop.seed) & SEED_MAX
            net = default_model(seed=seed, config=want)
            extra = {"loop": "init", "seed": seed}
        save_model(net.eval(), self.f.init_model, extra=extra)
        self.log(
            f"first network ({size_name(want)}, {net.num_parameters():,} parameters): {self.f.init_model}"
        )

    # -- self-play

    @staticmethod
    def _shard_stats(shards_dir: Path) -> tuple[int, int, int]:
        """(rounds, examples, shards) in the complete shards of a folder."""
        rounds = examples = 0
        files = list_shards(shards_dir)
        for p in files:
            row = (
                pl.scan_parquet(p)
                .select(pl.len().alias("n"), pl.col("round_id").n_unique().alias("r"))
                .collect()
            )
            examples += int(row["n"][0])
            rounds += int(row["r"][0])
        return rounds, examples, len(files)

    def selfplay(self, k: int, best: Path) -> dict[str, Any]:
        it = self.f.iter_dir(k)
        marker = it / "selfplay.json"
        done = read_json(marker)
        if done is not None:
            return done
        shards = it / "shards"
        shards.mkdir(parents=True, exist_ok=True)
        _remove_temporary_files(shards)
        parts_file = it / "selfplay-parts.json"
        parts: list[dict[str, Any]] = list(read_json(parts_file) or [])
        have, _, _ = self._shard_stats(shards)
        cfg, preset = self.cfg, self.cfg.preset
        info = load_model_info(best)
        if have < cfg.rounds:
            from blobmaster import SelfPlayEngine
            from blobmaster.progress import RichProgress

            missing = cfg.rounds - have
            seed = derive_seed("blobmaster-loop-selfplay", cfg.loop.seed, k, have)
            kwargs = preset.engine_kwargs(rounds=missing, seed=seed)
            model = load_model(best, self.dev)
            bf16 = bool(
                cfg.loop.bf16 and self.dev.type == "cuda" and torch.cuda.is_bf16_supported()
            )
            self.log(
                f"iteration {k} self-play: {missing} rounds"
                f"{f' ({have} kept from before)' if have else ''} with {self.f.rel(best)}, "
                f"{_config.engine_kwargs_summary(kwargs)}, {self.dev}"
            )
            engine = SelfPlayEngine(**kwargs)
            with RichProgress(missing, enabled=self.progress) as bar:
                summary = run_selfplay(
                    engine,
                    model,
                    self.dev,
                    out_dir=shards,
                    rounds=missing,
                    rounds_per_shard=cfg.selfplay.rounds_per_shard,
                    batch=kwargs["max_batch"],
                    timeout_ms=cfg.selfplay.timeout_ms,
                    bf16=bf16,
                    progress=bar,
                    metadata=ShardMetadata(model=info.id, search=cfg.search.to_json()),
                )
            parts.append(
                {
                    "seed": seed,
                    "rounds": summary.rounds,
                    "examples": summary.examples,
                    "elapsed_s": summary.elapsed_s,
                    "evaluations": summary.evaluations,
                    "batches": summary.batches,
                    "interrupted": summary.interrupted,
                    "threads": kwargs["threads"],
                    "device": summary.device,
                    "finished": _now(),
                }
            )
            write_json(parts_file, parts)
            self.log(f"iteration {k} self-play: {summary.one_line()}")
            if summary.interrupted:
                raise LoopInterrupted(f"interrupted during the self-play of iteration {k}")
        if not parts_file.exists():  # every round was on disk already (a crash before the marker)
            write_json(parts_file, parts)
        rounds, examples, n_shards = self._shard_stats(shards)
        if rounds < cfg.rounds:  # the engine stopped early: never expected
            raise LoopError(f"iteration {k}: self-play wrote {rounds} of {cfg.rounds} rounds")
        timed_rounds = sum(p["rounds"] for p in parts)
        elapsed = sum(p["elapsed_s"] for p in parts)
        evaluations = sum(p["evaluations"] for p in parts)
        batches = sum(p["batches"] for p in parts)
        result = {
            "rounds": rounds,
            "examples": examples,
            "shards": n_shards,
            "parts": len(parts),
            "elapsed_s": elapsed,
            "rounds_per_min": 60.0 * timed_rounds / elapsed if elapsed > 0 else None,
            "evals_per_s": evaluations / elapsed if elapsed > 0 else None,
            "mean_batch": evaluations / batches if batches else None,
            "model": self.f.rel(best),
            "model_id": info.id,
            "search": cfg.search.to_json(),
            "finished": _now(),
        }
        write_json(marker, result)
        return result

    # -- training

    @staticmethod
    def _loss_summary(train_dir: Path) -> tuple[dict[str, float], dict[str, float]]:
        """Mean losses over the last and the first 50 steps of the trainer's metrics.csv."""
        rows = RunFolder(train_dir).metrics.rows()

        def mean(rs: list[dict[str, str]]) -> dict[str, float]:
            out = {}
            for key in ("loss", "policy_loss", "value_loss"):
                vals = [float(r[key]) for r in rs if r.get(key) not in (None, "", "nan")]
                out[key] = float(sum(vals) / len(vals)) if vals else math.nan
            return out

        return mean(rows[-_SUMMARY_STEPS:]), mean(rows[:_SUMMARY_STEPS])

    def train(self, k: int) -> dict[str, Any]:
        from blobmaster.train import RichTrainProgress

        it = self.f.iter_dir(k)
        marker = it / "train.json"
        done = read_json(marker)
        if done is not None:
            return done
        cfg = self.cfg
        train_dir = it / "train"
        first = max(1, k - cfg.loop.window_iterations + 1)
        data = [self.f.iter_dir(j) / "shards" for j in range(first, k + 1)]
        init = self.f.init_model if k == 1 else self.f.iter_dir(k - 1) / "model.pt"
        tcfg = cfg.train.replace(
            model=cfg.model_size,
            seed=derive_seed("blobmaster-loop-train", cfg.loop.seed, k) & SEED_MAX,
        )
        run = RunFolder(train_dir)
        for p in run.temporary_files():
            p.unlink(missing_ok=True)
        resume = run.latest_checkpoint() is not None
        started = time.perf_counter()

        def info(line: str) -> None:
            self.log(f"iteration {k} train: {line}")

        def call(resume: bool) -> Any:
            with RichTrainProgress(enabled=self.progress) as bar:
                return train(
                    tcfg,
                    data,
                    train_dir,
                    init_model=None if resume else init,
                    resume=resume,
                    device=self.dev,
                    progress=bar,
                    log=info,
                )

        try:
            summary = call(resume)
        except (TrainConfigError, IncompatibleModelError, WindowChangedError) as e:
            if not (resume and self.force):
                raise
            info(f"cannot resume the interrupted training ({e}); --force: starting it again")
            shutil.rmtree(train_dir)
            summary = call(False)
        if summary.interrupted:
            raise LoopInterrupted(
                f"interrupted during the training of iteration {k} (step {summary.step})"
            )
        model_path = it / "model.pt"
        atomic_write_bytes(model_path, Path(summary.model_path).read_bytes())
        losses, first_losses = self._loss_summary(train_dir)
        val = summary.val or {}
        result = {
            "steps": summary.step,
            "resumed": summary.resumed,
            "elapsed_s": time.perf_counter() - started,
            "train_s": summary.elapsed_s,
            "examples_per_s": summary.examples_per_s if summary.steps else None,
            "window_first_iteration": first,
            "window_shards": len(summary.window.shards),
            "window_examples": summary.window.examples,
            "train_examples": summary.train_examples,
            "val_examples": summary.val_examples,
            "losses": losses,
            "first_losses": first_losses,
            "val": val,
            "init_model": self.f.rel(init),
            "model": self.f.rel(model_path),
            "seed": tcfg.seed,
            "finished": _now(),
        }
        write_json(marker, result)
        info(summary.one_line())
        return result

    # -- gate

    def _network_agent(self, model: Path, seed: int) -> Agent:
        return Agent.load(model, search=self.cfg.search, device=self.dev, seed=seed)

    def gate(self, k: int, best: Path, rejections: int) -> dict[str, Any]:
        it = self.f.iter_dir(k)
        marker = it / "gate.json"
        done = read_json(marker)
        if done is not None:
            return done
        g = self.cfg.gate
        candidate = it / "model.pt"
        players, cards = self.cfg.gate_table
        started = time.perf_counter()
        result: dict[str, Any] = {
            "candidate": self.f.rel(candidate),
            "best_before": self.f.rel(best),
            "rejections_before": rejections,
            "deals": g.deals,
            "players": players,
            "cards": cards,
            "threshold": g.threshold,
            "force_after": g.force_after,
        }
        arena: dict[str, Any] | None = None
        if g.deals == 0:
            promoted, reason = True, "no gate"
        else:
            seed = derive_seed("blobmaster-loop-gate", self.cfg.loop.seed, k)
            agents = [
                self._network_agent(candidate, agent_seed(seed, 0)),
                self._network_agent(best, agent_seed(seed, 1)),
            ]
            self.log(
                f"iteration {k} gate: {self.f.rel(candidate)} vs {self.f.rel(best)}, "
                f"{g.deals} deals of {players}x{cards}"
            )
            report = play_duplicate(agents, players, cards, g.deals, seed, progress=self.progress)
            h = report.pair(0, 1)
            low = h.mean_diff - h.ci95 if h.ci95 is not None else -math.inf
            promoted, reason = gate_decision(
                h.mean_diff, h.ci95, g.threshold, g.force_after, rejections
            )
            result.update(
                seed=seed,
                rounds=report.rounds,
                played=report.played,
                candidate_mean=report.agents[0].mean,
                candidate_ci95=report.agents[0].ci95,
                best_mean=report.agents[1].mean,
                best_ci95=report.agents[1].ci95,
                diff=h.mean_diff,
                ci95=h.ci95,
                low=low if math.isfinite(low) else None,
                high=h.mean_diff + h.ci95 if h.ci95 is not None else None,
                wins=h.wins,
                ties=h.ties,
                losses=h.losses,
                candidate_elo=report.agents[0].elo,
                best_elo=report.agents[1].elo,
            )
            arena = report.to_dict()
        result.update(
            promoted=promoted,
            reason=reason,
            rejections=0 if promoted else rejections + 1,
            best_after=self.f.rel(candidate if promoted else best),
            best_iteration=k if promoted else self._iteration_of(best),
            elapsed_s=time.perf_counter() - started,
            finished=_now(),
            arena=arena,
        )
        write_json(marker, result)
        ci = f" ± {result['ci95']:.2f}" if result.get("ci95") is not None else ""
        diff = f"diff {result['diff']:+.2f}{ci} points/round, " if "diff" in result else ""
        self.log(
            f"iteration {k} gate: {diff}{'promoted' if promoted else 'not promoted'} ({reason})"
        )
        return result

    def _iteration_of(self, model: Path) -> int:
        m = re.search(r"iter-(\d+)", self.f.rel(model))
        return int(m.group(1)) if m else 0

    # -- reference games

    def evaluate(self, model: Path, marker: Path, label: str) -> dict[str, Any]:
        done = read_json(marker)
        if done is not None:
            return done
        players, cards = self.cfg.gate_table
        deals = self.cfg.gate.reference_deals
        started = time.perf_counter()
        results = []
        for spec, slug, ref in self.references:
            cand = self._network_agent(model, agent_seed(self.ref_seed, 0))
            self.log(
                f"{label} reference games: {self.f.rel(model)} vs {spec}, {deals} deals of {players}x{cards}"
            )
            report = play_duplicate(
                [cand, ref], players, cards, deals, self.ref_seed, progress=self.progress
            )
            h = report.pair(0, 1)
            results.append(
                {
                    "spec": spec,
                    "slug": slug,
                    "name": report.agents[1].name,
                    "deals": deals,
                    "seed": self.ref_seed,
                    "candidate_mean": report.agents[0].mean,
                    "candidate_ci95": report.agents[0].ci95,
                    "reference_mean": report.agents[1].mean,
                    "reference_ci95": report.agents[1].ci95,
                    "diff": h.mean_diff,
                    "ci95": h.ci95,
                    "wins": h.wins,
                    "ties": h.ties,
                    "losses": h.losses,
                    "candidate_elo": report.agents[0].elo,
                    "reference_elo": report.agents[1].elo,
                    "arena": report.to_dict(),
                }
            )
            ci = f" ± {h.ci95:.2f}" if h.ci95 is not None else ""
            self.log(
                f"{label} reference games vs {spec}: {report.agents[0].mean:.2f} vs {report.agents[1].mean:.2f} "
                f"points/round (diff {h.mean_diff:+.2f}{ci})"
            )
        result = {
            "model": self.f.rel(model),
            "players": players,
            "cards": cards,
            "references": results,
            "elapsed_s": time.perf_counter() - started,
            "finished": _now(),
        }
        write_json(marker, result)
        return result

    # -- one iteration

    def iteration(self, k: int, best: Path, rejections: int) -> dict[str, Any]:
        it = self.f.iter_dir(k)
        it.mkdir(parents=True, exist_ok=True)
        _remove_temporary_files(it)
        sp = self.selfplay(k, best)
        tr = self.train(k)
        gate = self.gate(k, best, rejections)
        ev = self.evaluate(it / "model.pt", it / "eval.json", f"iteration {k}")
        row = self.row(k, sp, tr, gate, ev)
        write_json(it / "DONE", row)
        write_metrics(self.f)
        return row

    @staticmethod
    def row(
        k: int, sp: dict[str, Any], tr: dict[str, Any], gate: dict[str, Any], ev: dict[str, Any]
    ) -> dict[str, Any]:
        losses, first, val = (
            tr.get("losses") or {},
            tr.get("first_losses") or {},
            tr.get("val") or {},
        )
        times = [
            sp.get("elapsed_s"),
            tr.get("elapsed_s"),
            gate.get("elapsed_s"),
            ev.get("elapsed_s"),
        ]
        row: dict[str, Any] = {
            "iteration": k,
            "finished": _now(),
            "iteration_s": sum(t for t in times if t is not None),
            "selfplay_rounds": sp.get("rounds"),
            "selfplay_examples": sp.get("examples"),
            "selfplay_shards": sp.get("shards"),
            "selfplay_parts": sp.get("parts"),
            "selfplay_s": sp.get("elapsed_s"),
            "rounds_per_min": sp.get("rounds_per_min"),
            "evals_per_s": sp.get("evals_per_s"),
            "mean_batch": sp.get("mean_batch"),
            "train_steps": tr.get("steps"),
            "train_s": tr.get("elapsed_s"),
            "train_examples_per_s": tr.get("examples_per_s"),
            "window_first_iteration": tr.get("window_first_iteration"),
            "window_shards": tr.get("window_shards"),
            "window_examples": tr.get("window_examples"),
            "loss": losses.get("loss"),
            "policy_loss": losses.get("policy_loss"),
            "value_loss": losses.get("value_loss"),
            "first_loss": first.get("loss"),
            "val_loss": val.get("val_loss"),
            "val_policy_loss": val.get("val_policy_loss"),
            "val_value_loss": val.get("val_value_loss"),
            "val_policy_acc": val.get("val_policy_acc"),
            "gate_deals": gate.get("deals"),
            "gate_s": gate.get("elapsed_s"),
            "gate_candidate_mean": gate.get("candidate_mean"),
            "gate_best_mean": gate.get("best_mean"),
            "gate_diff": gate.get("diff"),
            "gate_ci95": gate.get("ci95"),
            "gate_low": gate.get("low"),
            "gate_candidate_elo": gate.get("candidate_elo"),
            "promoted": gate.get("promoted"),
            "promotion": gate.get("reason"),
            "rejections": gate.get("rejections"),
            "best_iteration": gate.get("best_iteration"),
            "eval_s": ev.get("elapsed_s"),
        }
        for ref in ev.get("references", []):
            for key in REF_FIELDS:
                row[f"ref_{ref['slug']}_{key}"] = ref.get(key)
        return row


# ---- the manifest and run_loop ------------------------------------------------------------


def _best_state(folder: LoopFolder, done: int) -> tuple[Path, int, int]:
    """(best network, its iteration, gates in a row without a promotion) after ``done`` iterations."""
    if done == 0:
        return folder.init_model, 0, 0
    gate = read_json(folder.iter_dir(done) / "gate.json")
    if gate is None:
        raise LoopError(f"{folder.iter_dir(done)}: finished iteration without gate.json")
    return folder.abs(gate["best_after"]), int(gate["best_iteration"]), int(gate["rejections"])


def _write_manifest(
    folder: LoopFolder, cfg: LoopConfig, *, history: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    old = read_json(folder.manifest) or {}
    done = folder.done_iterations()
    best, best_iteration, rejections = _best_state(folder, done)
    data = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "name": cfg.name,
        "source": cfg.source,
        "created": old.get("created", _now()),
        "updated": _now(),
        "iterations_done": done,
        "target_iterations": cfg.loop.iterations,
        "best_model": folder.rel(best),
        "best_iteration": best_iteration,
        "rejections": rejections,
        "config": cfg.to_dict(),
        "history": history,
        **extra,
    }
    write_json(folder.manifest, data)


def _read_manifest(folder: LoopFolder) -> dict[str, Any]:
    data = read_json(folder.manifest)
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise LoopError(f"{folder.manifest}: not a blobmaster loop manifest")
    if int(data.get("version", 0)) > MANIFEST_VERSION:
        raise LoopError(
            f"{folder.manifest}: manifest version {data.get('version')} is newer than this blobmaster reads"
        )
    return data


def _load_config_arg(config: LoopConfig | str | os.PathLike[str]) -> LoopConfig:
    return config if isinstance(config, LoopConfig) else load_loop_config(config)


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
    one line per step of the loop.

    Ctrl-C raises :class:`LoopInterrupted` (a KeyboardInterrupt) once the
    work done so far is safely on disk. Bad input raises LoopError,
    LoopConfigError (a ConfigError), TrainError, AgentError or DeviceError.
    """
    say = log or (lambda line: None)
    folder = LoopFolder(run_dir)
    root = folder.root
    if root.exists() and not root.is_dir():
        raise LoopError(f"run folder {root} exists and is not a folder")
    history: list[dict[str, Any]] = []
    if folder.manifest.exists():
        manifest = _read_manifest(folder)
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
        cfg = saved
        if config is not None:
            given = _load_config_arg(config)
            conflicts = saved.conflicts(given)
            if conflicts and not force:
                raise LoopConfigError(
                    f"config {given.source} differs from the one run folder {root} was started with "
                    f"({'; '.join(conflicts)}); omit --config to use the run's own, or pass --force"
                )
            if conflicts:
                history.append(
                    {
                        "time": _now(),
                        "event": "config replaced (force)",
                        "source": given.source,
                        "changes": conflicts,
                    }
                )
                say(f"--force: the config changes for the remaining work: {'; '.join(conflicts)}")
            cfg = given
        new_run = False
    else:
        # A folder holding only config.toml is a run that stopped before its manifest.
        if root.is_dir() and any(
            not p.name.startswith(".") and p.name != "config.toml" for p in root.iterdir()
        ):
            raise LoopError(f"{root} is not a loop run folder (no loop.json) and is not empty")
        cfg = _load_config_arg(config if config is not None else DEFAULT_PRESET)
        new_run = True
    cfg = cfg.with_runtime(
        iterations=iterations, threads=threads, device=device, torch_threads=torch_threads
    )
    dev = resolve_device(cfg.loop.device)
    if new_run and cfg.loop.init_model:
        try:  # checked before the folder is created
            read_init_weights(cfg.loop.init_model, model_config_for(cfg.model_size))
        except TrainError as e:
            raise LoopError(f"[loop] init_model: {e}") from None

    loop = _Loop(folder, cfg, dev, force=force, progress=progress, log=say)
    loop.build_references()  # bad specs and missing model files fail before the folder is touched

    started = time.perf_counter()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LoopError(f"cannot create run folder {root}: {e.strerror or e}") from None
    previous_threads = torch.get_num_threads()
    with _locked(folder):
        if cfg.loop.torch_threads:
            torch.set_num_threads(cfg.loop.torch_threads)
        try:
            if new_run or (force and config is not None):
                atomic_write_bytes(folder.config_file, cfg.text.encode())
            run_info = {
                "device": str(dev),
                "threads": cfg.selfplay.resolved_threads(),
                "torch_threads": torch.get_num_threads(),
            }
            _write_manifest(folder, cfg, history=history, extra=run_info)
            loop.ensure_init_model()
            if loop.references:
                loop.evaluate(folder.init_model, folder.init_eval, "first network")
            done = folder.done_iterations()
            if done:  # a crash may have come between an iteration's DONE and metrics.csv
                write_metrics(folder)
            best, _best_iteration, rejections = _best_state(folder, done)
            ran: list[int] = []
            if done >= cfg.loop.iterations:
                say(f"{done} iterations done (target {cfg.loop.iterations}): nothing to do")
            for k in range(done + 1, cfg.loop.iterations + 1):
                t0 = time.perf_counter()
                say(f"iteration {k}/{cfg.loop.iterations}: best network {folder.rel(best)}")
                loop.iteration(k, best, rejections)
                ran.append(k)
                _write_manifest(folder, cfg, history=history, extra=run_info)
                best, _best_iteration, rejections = _best_state(folder, k)
                say(f"iteration {k}/{cfg.loop.iterations} done in {time.perf_counter() - t0:.1f} s")
        finally:
            torch.set_num_threads(previous_threads)
    done = folder.done_iterations()
    best, best_iteration, _ = _best_state(folder, done)
    return LoopSummary(
        run_dir=root,
        config=cfg,
        iterations_done=done,
        target=cfg.loop.iterations,
        ran=ran,
        best_model=best,
        best_iteration=best_iteration,
        elapsed_s=time.perf_counter() - started,
        rows=folder.rows(),
    )


# ---- the command line ----------------------------------------------------------------------


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean bad input (one-line messages) rather than a bug."""
    from blobmaster.arena import ArenaError
    from blobmaster.model import DeviceError, ModelError

    return (LoopError, ConfigError, TrainError, AgentError, ArenaError, DeviceError, ModelError)


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
    )
    echo(f"loop: {summary.one_line()}")
    return summary
