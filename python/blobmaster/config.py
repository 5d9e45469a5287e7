"""Self-play presets: TOML files with a ``[search]`` and a ``[selfplay]`` section.

``load_config("medium")`` loads a preset shipped inside the package
(``light``, ``medium``, ``heavy``: 2x20, 3x30 and 5x50 determinizations x
simulations); ``load_config("path/to/file.toml")`` loads any file. Every
key is optional (missing keys take the defaults below, which are Medium),
but an unknown key or section, a value of the wrong type or a value out of
range raises ConfigError naming the file and the key. The ranges are those
the Rust engine enforces, so a preset that loads also starts.

The annotated presets in ``configs/`` (also shipped as package data) say
what every key means.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "BUILTIN_PRESETS",
    "ConfigError",
    "Preset",
    "SearchConfig",
    "SelfPlayConfig",
    "Table",
    "builtin_preset_path",
    "engine_kwargs_summary",
    "load_config",
    "parse_config",
    "validate_table",
]

BUILTIN_PRESETS = ("light", "medium", "heavy")
"""Names accepted by :func:`load_config` without a path."""

MIN_PLAYERS, MAX_PLAYERS, MAX_CARDS, DECK = 3, 8, 13, 52


class ConfigError(ValueError):
    """A preset file or value that cannot be used; the message names the file and key."""


def _num(
    default: float | int, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False
) -> Any:
    """A numeric field with its allowed range (checked by :func:`_coerce`)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "lo_open": lo_open})


@dataclass(frozen=True)
class SearchConfig:
    """How one decision is searched (field meanings: configs/medium.toml)."""

    determinizations: int = _num(3, lo=1, hi=64)
    simulations: int = _num(30, lo=2, hi=100_000)
    c_puct: float = _num(0.2, lo=0.0, lo_open=True, hi=1e6)
    fpu_reduction: float = _num(0.02, lo=0.0, hi=1.0)
    virtual_loss: float = _num(1.0, lo=0.0, hi=1e6)
    max_pending_per_tree: int = _num(4, lo=1, hi=1024)
    dirichlet_alpha: float = _num(0.5, lo=0.0, lo_open=True, hi=1e6)
    dirichlet_fraction: float = _num(0.25, lo=0.0, hi=1.0)
    temperature_moves: int = _num(4, lo=0, hi=1000)
    temperature: float = _num(1.0, lo=0.0, hi=1e6)

    def label(self) -> str:
        """Short form, e.g. ``3x30``."""
        return f"{self.determinizations}x{self.simulations}"

    def to_json(self) -> str:
        """Compact, key-sorted JSON of every field (stored in replay shards)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Table:
    """One kind of round: players, cards per player, relative weight."""

    players: int = 4
    cards: int = 5
    weight: float = 1.0

    def as_tuple(self) -> tuple[int, int, float]:
        return (self.players, self.cards, float(self.weight))


@dataclass(frozen=True)
class SelfPlayConfig:
    """How the engine and the inference loop run (meanings: configs/medium.toml)."""

    threads: int = _num(0, lo=0, hi=1024)
    games_per_thread: int = _num(64, lo=1, hi=100_000)
    max_batch: int = _num(512, lo=1, hi=65_535)
    pipeline_depth: int = _num(3, lo=2, hi=64)
    cache_entries: int = _num(65_536, lo=0, hi=1 << 30)
    timeout_ms: int = _num(10, lo=1, hi=10_000)
    rounds_per_shard: int = _num(100, lo=1, hi=10_000_000)
    tables: tuple[Table, ...] = (Table(),)
    full_games: bool = False

    def rounds_per_game(self) -> int | None:
        """Rounds in one full game, when every table gives the same number
        (C, C-1, ..., 2, then one 1-card round per player, then 2, ..., C)."""
        counts = {2 * (t.cards - 1) + t.players for t in self.tables}
        return counts.pop() if len(counts) == 1 else None

    def resolved_threads(self) -> int:
        """``threads``, with 0 meaning every core (os.cpu_count())."""
        return self.threads or (os.cpu_count() or 1)


@dataclass(frozen=True)
class Preset:
    """A loaded preset: where it came from and its two sections."""

    name: str
    source: str
    search: SearchConfig = SearchConfig()
    selfplay: SelfPlayConfig = SelfPlayConfig()

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


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)


def _coerce(
    where: str,
    f: dataclasses.Field[Any],
    value: Any,
    *,
    error: type[ValueError] = ConfigError,
    integral_floats: bool = False,
) -> Any:
    """Checks one numeric value against its field's type and range, raising
    `error` (the calling module's config error) naming `where`. With
    `integral_floats`, 3.0 is accepted where an integer is wanted."""
    want_int = isinstance(f.default, int)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if want_int else "a number"
        raise error(f"{where}: expected {kind}, got {_type_name(value)} {value!r}")
    if want_int and not isinstance(value, int):
        if integral_floats and value.is_integer():
            value = int(value)
        else:
            raise error(f"{where}: expected an integer, got float {value!r}")
    if not want_int:
        value = float(value)
        if not math.isfinite(value):
            raise error(f"{where}: expected a finite number, got {value!r}")
    lo, hi, lo_open = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("lo_open")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise error(f"{where}: must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise error(f"{where}: must be <= {hi}, got {value!r}")
    return value


def _unknown(
    where: str, key: str, known: list[str], *, error: type[ValueError] = ConfigError
) -> ValueError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return error(f"{where}: unknown key {key!r}{hint}")


def _tables(where: str, value: Any) -> tuple[Table, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"{where}: expected a non-empty array of tables, got {_type_name(value)} {value!r}"
        )
    known = [f.name for f in dataclasses.fields(Table)]
    out = []
    for i, entry in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{here}: expected a table like {{ players = 4, cards = 5 }}, got {entry!r}"
            )
        for key in entry:
            if key not in known:
                raise _unknown(here, key, known)
        for key in ("players", "cards"):
            if key not in entry:
                raise ConfigError(f"{here}: missing key {key!r}")
        players, cards = entry["players"], entry["cards"]
        for key, v in (("players", players), ("cards", cards)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{here}.{key}: expected an integer, got {_type_name(v)} {v!r}")
        weight = entry.get("weight", 1.0)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not (0 < weight < math.inf)
        ):
            raise ConfigError(f"{here}.weight: expected a positive number, got {weight!r}")
        try:
            validate_table(players, cards)
        except ConfigError as e:
            raise ConfigError(f"{here}: {e}") from None
        out.append(Table(players, cards, float(weight)))
    return tuple(out)


def _section(file: str, name: str, cls: type[Any], data: Any) -> Any:
    where = f"{file}: [{name}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a section (table), got {_type_name(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise _unknown(where, key, list(fields))
        if key == "tables":
            values[key] = _tables(f"{where} tables", value)
        elif isinstance(fields[key].default, bool):
            if not isinstance(value, bool):
                raise ConfigError(
                    f"{where} {key}: expected true or false, got {_type_name(value)} {value!r}"
                )
            values[key] = value
        else:
            values[key] = _coerce(f"{where} {key}", fields[key], value)
    return cls(**values)


_SECTIONS: dict[str, type[Any]] = {"search": SearchConfig, "selfplay": SelfPlayConfig}


def parse_config(text: str, *, name: str = "custom", source: str = "<string>") -> Preset:
    """Parses preset TOML text (``source`` names it in error messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from None
    for key in data:
        if key not in _SECTIONS:
            close = difflib.get_close_matches(key, list(_SECTIONS), n=1)
            hint = (
                f" (did you mean [{close[0]}]?)" if close else " (expected [search] and [selfplay])"
            )
            raise ConfigError(f"{source}: unknown section or key {key!r}{hint}")
    sections = {
        key: _section(source, key, cls, data.get(key, {})) for key, cls in _SECTIONS.items()
    }
    return Preset(name=name, source=source, **sections)


def builtin_preset_path(name: str) -> Any:
    """The packaged file of a built-in preset (an importlib.resources Traversable)."""
    return resources.files("blobmaster").joinpath("configs", f"{name}.toml")


def load_config(spec: str | os.PathLike[str] = "medium") -> Preset:
    """Loads a preset by built-in name (light, medium, heavy) or by path.

    A spec that names an existing file is read as a path; otherwise a bare
    built-in name is looked up in the package. Raises ConfigError for an
    unknown name, a missing or unreadable file, or bad contents.
    """
    text_spec = os.fspath(spec)
    path = Path(text_spec)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from None
        return parse_config(text, name=path.stem, source=str(path))
    key = text_spec.strip().lower()
    if key in BUILTIN_PRESETS:
        resource = builtin_preset_path(key)
        return parse_config(
            resource.read_text(encoding="utf-8"), name=key, source=f"<built-in {key}>"
        )
    if path.exists():
        raise ConfigError(f"config path is not a file: {path}")
    if os.sep in text_spec or text_spec.endswith(".toml"):
        raise ConfigError(f"config file not found: {path}")
    raise ConfigError(
        f"unknown config {text_spec!r}: not a file and not a built-in preset ({', '.join(BUILTIN_PRESETS)})"
    )


def engine_kwargs_summary(kwargs: Mapping[str, Any]) -> str:
    """One-line description of engine settings, for logs and summaries."""
    tables = ",".join(f"{p}x{c}" for p, c, _ in kwargs.get("tables", []))
    return (
        f"{kwargs['determinizations']}x{kwargs['simulations']} search, {kwargs['threads']} threads x "
        f"{kwargs['games_per_thread']} games, batch <= {kwargs['max_batch']}, tables {tables}"
    )
