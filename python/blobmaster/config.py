"""Self-play presets: TOML files with a ``[search]`` and a ``[selfplay]`` section.

``load_config("medium")`` loads a preset shipped inside the package
(``light``, ``medium``, ``heavy``: 2x20, 3x30 and 5x50 determinizations x
simulations); ``load_config("path/to/file.toml")`` loads any file. Every
key is optional (missing keys take the defaults below, which are Medium),
but an unknown key or section, a value of the wrong type or a value out of
range raises ConfigError naming the file and the key. The ranges are those
the Rust engine enforces, so a preset that loads also starts.

The annotated presets live in ``python/blobmaster/configs/`` (package
data; the repository's ``configs/`` is a link to that folder) and say what
every key means. The schema itself is the dataclasses below, checked by
:mod:`blobmaster.settings`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from blobmaster.settings import (
    ConfigError,
    parse_toml,
    read_settings_text,
    settings,
    validate_settings,
)

__all__ = [
    "BUILTIN_PRESETS",
    "ConfigError",
    "Preset",
    "PresetFile",
    "SearchConfig",
    "SelfPlayConfig",
    "Table",
    "builtin_preset_path",
    "engine_kwargs_summary",
    "load_config",
    "parse_config",
    "parse_search",
    "validate_table",
]

BUILTIN_PRESETS = ("light", "medium", "heavy")
"""Names accepted by :func:`load_config` without a path."""

MIN_PLAYERS, MAX_PLAYERS, MAX_CARDS, DECK = 3, 8, 13, 52


def validate_table(players: int, cards: int) -> None:
    """Raises ConfigError unless the rules allow a round of ``players`` x ``cards``:
    3..8 players, 1..13 cards each, at most 52 cards dealt."""
    if not MIN_PLAYERS <= players <= MAX_PLAYERS:
        raise ConfigError(f"players must be in {MIN_PLAYERS}..{MAX_PLAYERS}, got {players}")
    if not 1 <= cards <= MAX_CARDS:
        raise ConfigError(f"cards must be in 1..{MAX_CARDS}, got {cards}")
    if cards * players > DECK:
        raise ConfigError(
            f"{players} players x {cards} cards needs {cards * players} cards, more than the {DECK} in the deck"
            f" (at most {DECK // players} cards for {players} players)"
        )


@settings(ConfigError, "search config")
class SearchConfig:
    """How one decision is searched (field meanings: configs/medium.toml)."""

    determinizations: StrictInt = Field(3, ge=1, le=64)
    simulations: StrictInt = Field(30, ge=2, le=100_000)
    c_puct: StrictFloat = Field(0.2, gt=0.0, le=1e6)
    fpu_reduction: StrictFloat = Field(0.02, ge=0.0, le=1.0)
    virtual_loss: StrictFloat = Field(1.0, ge=0.0, le=1e6)
    max_pending_per_tree: StrictInt = Field(4, ge=1, le=1024)
    dirichlet_alpha: StrictFloat = Field(0.5, gt=0.0, le=1e6)
    dirichlet_fraction: StrictFloat = Field(0.25, ge=0.0, le=1.0)
    temperature_moves: StrictInt = Field(4, ge=0, le=1000)
    temperature: StrictFloat = Field(1.0, ge=0.0, le=1e6)
    normalize_q: StrictBool = False
    gumbel: StrictBool = False
    gumbel_m: StrictInt = Field(16, ge=1, le=66)
    gumbel_c_visit: StrictFloat = Field(50.0, gt=0.0, le=1e6)
    gumbel_c_scale: StrictFloat = Field(0.1, gt=0.0, le=1e6)
    inference: Literal["uniform", "bids"] = "uniform"
    inference_candidates: StrictInt = Field(32, ge=1, le=4096)
    inference_temperature: StrictFloat = Field(1.0, gt=0.0, le=1e6)
    full_search_fraction: StrictFloat = Field(1.0, gt=0.0, le=1.0)
    fast_simulations: StrictInt = Field(0, ge=0, le=100_000)

    @model_validator(mode="after")
    def _playout_cap(self) -> SearchConfig:
        if self.full_search_fraction < 1.0:
            if not 1 <= self.fast_simulations <= self.simulations:
                raise ValueError(
                    f"fast_simulations must be in 1..simulations ({self.simulations}) when "
                    f"full_search_fraction < 1, got {self.fast_simulations}"
                )
            if self.gumbel:
                raise ValueError("full_search_fraction < 1 (playout cap) is not for gumbel search")
        return self

    def label(self) -> str:
        """Short form, e.g. ``3x30``."""
        return f"{self.determinizations}x{self.simulations}"

    def to_json(self) -> str:
        """Compact, key-sorted JSON of every field (stored in replay shards)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))


@settings(ConfigError, "table")
class Table:
    """One kind of round: players, cards per player, relative weight."""

    players: StrictInt = 4
    cards: StrictInt = 5
    weight: StrictFloat = Field(1.0, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _players_and_cards_given(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in ("players", "cards"):
                if key not in data:
                    raise ValueError(
                        f"missing key {key!r} (a table is like {{ players = 4, cards = 5 }})"
                    )
        return data

    @model_validator(mode="after")
    def _fits_the_deck(self) -> Table:
        validate_table(self.players, self.cards)
        return self

    def as_tuple(self) -> tuple[int, int, float]:
        return (self.players, self.cards, float(self.weight))


@settings(ConfigError, "selfplay config")
class SelfPlayConfig:
    """How the engine and the inference loop run (meanings: configs/medium.toml)."""

    threads: StrictInt = Field(0, ge=0, le=1024)
    games_per_thread: StrictInt = Field(64, ge=1, le=100_000)
    max_batch: StrictInt = Field(512, ge=1, le=65_535)
    pipeline_depth: StrictInt = Field(3, ge=2, le=64)
    cache_entries: StrictInt = Field(65_536, ge=0, le=1 << 30)
    timeout_ms: StrictInt = Field(10, ge=1, le=10_000)
    rounds_per_shard: StrictInt = Field(100, ge=1, le=10_000_000)
    tables: tuple[Table, ...] = (Table(),)
    full_games: StrictBool = False

    @field_validator("tables", mode="before")
    @classmethod
    def _non_empty_array(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"expected a non-empty array of tables, got {value!r}")
        return tuple(value)

    def rounds_per_game(self) -> int | None:
        """Rounds in one full game, when every table gives the same number
        (C, C-1, ..., 2, then one 1-card round per player, then 2, ..., C)."""
        counts = {2 * (t.cards - 1) + t.players for t in self.tables}
        return counts.pop() if len(counts) == 1 else None

    def resolved_threads(self) -> int:
        """``threads``, with 0 meaning every core (os.cpu_count())."""
        return self.threads or (os.cpu_count() or 1)


@settings(ConfigError, "preset")
class PresetFile:
    """The schema of a self-play preset file: its two sections."""

    search: SearchConfig = SearchConfig()
    selfplay: SelfPlayConfig = SelfPlayConfig()


@dataclass(frozen=True)
class Preset:
    """A loaded preset: where it came from and its two sections."""

    name: str
    source: str
    search: SearchConfig = field(default_factory=SearchConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)

    def engine_kwargs(
        self,
        *,
        threads: int | None = None,
        games_per_thread: int | None = None,
        max_batch: int | None = None,
        tables: list[tuple[int, int, float]] | None = None,
        rounds: int | None = None,
        seed: int = 0,
        full_games: bool | None = None,
    ) -> dict[str, Any]:
        """Keyword arguments for ``blobmaster.SelfPlayEngine``; the given
        arguments override the preset."""
        sp = self.selfplay
        kwargs: dict[str, Any] = dataclasses.asdict(self.search)
        kwargs.update(
            threads=threads if threads is not None else sp.resolved_threads(),
            games_per_thread=games_per_thread
            if games_per_thread is not None
            else sp.games_per_thread,
            max_batch=max_batch if max_batch is not None else sp.max_batch,
            pipeline_depth=sp.pipeline_depth,
            cache_entries=sp.cache_entries,
            tables=list(tables) if tables is not None else [t.as_tuple() for t in sp.tables],
            rounds=rounds,
            seed=seed,
            full_games=sp.full_games if full_games is None else full_games,
        )
        return kwargs


def parse_search(data: Mapping[str, Any], *, source: str = "search") -> SearchConfig:
    """A SearchConfig from a dict of ``[search]`` keys (checked like a file's)."""
    return validate_settings(SearchConfig, dict(data), source=source, error=ConfigError)


def parse_config(text: str, *, name: str = "custom", source: str = "<string>") -> Preset:
    """Parses preset TOML text (``source`` names it in error messages)."""
    data = parse_toml(text, source=source, error=ConfigError)
    sections = validate_settings(PresetFile, data, source=source, error=ConfigError, sections=True)
    return Preset(name=name, source=source, search=sections.search, selfplay=sections.selfplay)


def builtin_preset_path(name: str) -> Any:
    """The packaged file of a built-in preset (an importlib.resources Traversable)."""
    return resources.files("blobmaster").joinpath("configs").joinpath(f"{name}.toml")


def load_config(spec: str | os.PathLike[str] = "medium") -> Preset:
    """Loads a preset by built-in name (light, medium, heavy) or by path.

    A spec that names an existing file is read as a path; otherwise a bare
    built-in name is looked up in the package. Raises ConfigError for an
    unknown name, a missing or unreadable file, or bad contents.
    """
    text, name, source = read_settings_text(spec, builtins=BUILTIN_PRESETS, error=ConfigError)
    return parse_config(text, name=name, source=source)


def engine_kwargs_summary(kwargs: Mapping[str, Any]) -> str:
    """One-line description of engine settings, for logs and summaries."""
    tables = ",".join(f"{p}x{c}" for p, c, _ in kwargs.get("tables", []))
    return (
        f"{kwargs['determinizations']}x{kwargs['simulations']} search, {kwargs['threads']} threads x "
        f"{kwargs['games_per_thread']} games, batch <= {kwargs['max_batch']}, tables {tables}"
    )
