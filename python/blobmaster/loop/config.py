"""The loop's config file: its schema (six sections), loading, and the
loop's error classes. The meaning of every key: configs/loop_quick.toml."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from blobmaster.config import (
    MAX_PLAYERS,
    MIN_PLAYERS,
    ConfigError,
    Preset,
    SearchConfig,
    SelfPlayConfig,
    validate_table,
)
from blobmaster.settings import parse_toml, read_settings_text, settings, validate_settings
from blobmaster.table_specs import TableSpecError, parse_tables, table_label
from blobmaster.train_config import TrainConfig

LOOP_PRESETS = ("loop_quick", "loop_gpu", "loop_proof")
"""Names accepted by :func:`load_loop_config` without a path."""
DEFAULT_PRESET = "loop_quick"
"""The config of a new run folder when none is given."""
SEED_MAX = 2**63 - 1


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
    pipeline: Literal["sequential", "overlap"] = "sequential"


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
    reference_tables: tuple[StrictStr, ...] = ()
    """Tables (``PxC``) of the per-table reference games, normalized to ``4x5``."""
    reference_table_deals: StrictInt = Field(20, ge=1, le=10**7)

    @field_validator("reference_tables", mode="before")
    @classmethod
    def _tables(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f'expected an array of tables like "4x5", got {value!r}')
        if not value:
            return ()
        try:
            return tuple(table_label(p, c) for p, c in parse_tables(value))
        except TableSpecError as e:
            raise ValueError(str(e)) from None

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


@settings(LoopConfigError, "teacher settings")
class TeacherConfig:
    """The ``[teacher]`` section: a search teacher's rounds as training data,
    for the first network (warm start) and/or in every iteration (docs/loop.md,
    "A search teacher")."""

    agent: StrictStr = ""
    """"" (off), an ISMCTS spec, ``ismcts:N[:C][:heuristic][:margin=M][:bids[=T]]``, or a
    search with the loop's own network, ``current:ismcts:N[:C[:W]][:network]
    [:policy[=T]]`` (expert iteration: iteration k's network searches, in
    the engine arena, and its moves teach the next; one table, single rounds,
    ``rounds_per_iteration`` only)."""
    warm_start_rounds: StrictInt = Field(0, ge=0, le=10**9)
    """Teacher rounds the first network learns from; 0 = no warm start
    (games with ``[selfplay] full_games``)."""
    warm_start_steps: StrictInt = Field(2000, ge=1, le=10**9)
    """Training steps of the first network on the warm start's rounds."""
    rounds_per_iteration: StrictInt = Field(0, ge=0, le=10**9)
    """Teacher rounds added to every iteration's training data; 0 = none."""

    @field_validator("agent")
    @classmethod
    def _ismcts_spec(cls, value: str) -> str:
        from blobmaster.arena_teacher import NetworkTeacherError, current_network_search
        from blobmaster.teacher import TeacherSpec, TeacherSpecError

        if not value.strip():
            return ""
        try:
            search = current_network_search(value)
            if search is not None:
                return f"current:{search}"
            return TeacherSpec.parse(value).spec()
        except (TeacherSpecError, NetworkTeacherError) as e:
            raise ValueError(str(e)) from None


@settings(LoopConfigError, "selfplay settings")
class LoopSelfPlayConfig(SelfPlayConfig):
    """The loop's ``[selfplay]``: a self-play preset's keys plus ``rounds``.

    With ``full_games = true`` the engine's count means games, but the loop
    still counts rounds: it asks the engine for ``rounds`` games (always
    more rounds than needed, a game has at least 3) and stops when
    ``rounds`` rounds are finished; the games still in flight then are cut
    short (docs/loop.md, "Tables")."""

    rounds: StrictInt = Field(1000, ge=1, le=10**9)
    """Self-play rounds per iteration."""


@settings(LoopConfigError, "loop config")
class LoopFile:
    """The schema of a loop config file: its six sections."""

    loop: LoopSettings = LoopSettings()
    search: SearchConfig = SearchConfig()
    selfplay: LoopSelfPlayConfig = LoopSelfPlayConfig()
    train: TrainConfig = TrainConfig()
    gate: GateConfig = GateConfig()
    teacher: TeacherConfig = TeacherConfig()

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
        t = self.teacher
        if not t.agent and (t.warm_start_rounds or t.rounds_per_iteration):
            raise ValueError("[teacher] rounds are set but [teacher] agent is empty")
        if t.agent.startswith("current:"):
            if t.warm_start_rounds:
                raise ValueError(
                    "[teacher] warm_start_rounds: a current: teacher needs a network first;"
                    " use rounds_per_iteration"
                )
            if self.selfplay.full_games or len(self.selfplay.tables) != 1:
                raise ValueError(
                    "[teacher] a current: teacher plays single rounds of one table kind:"
                    " [selfplay] full_games = false and one entry in tables"
                )
        if t.agent and t.warm_start_rounds and self.loop.init_model:
            raise ValueError(
                "[loop] init_model and [teacher] warm_start_rounds both give the first network:"
                " set one"
            )
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
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
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
    def reference_tables(self) -> list[tuple[int, int]]:
        """(players, cards) of the per-table reference games."""
        return parse_tables(self.gate.reference_tables) if self.gate.reference_tables else []

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
        gate["reference_tables"] = list(self.gate.reference_tables)
        return {
            "loop": dataclasses.asdict(self.loop),
            "search": dataclasses.asdict(self.search),
            "selfplay": selfplay,
            "train": self.train.to_dict(),
            "gate": gate,
            "teacher": dataclasses.asdict(self.teacher),
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
        changes: dict[str, Any] = {
            "iterations": iterations,
            "device": device,
            "torch_threads": torch_threads,
        }
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
        teacher=sections.teacher,
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
