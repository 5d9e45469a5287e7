"""The one settings schema machinery behind every TOML file and CLI override.

Each section of a settings file (``[search]``, ``[selfplay]``, ``[train]``,
``[loop]``, ``[gate]``) is a frozen pydantic dataclass declared with
:func:`settings`: unknown keys are refused, types are strict (no ``"30"``
for 30, no ``true`` for 1, no 2.5 for an integer; an integer is fine where a
float is wanted), floats must be finite and every range is declared on the
field. Being real dataclasses, sections keep ``dataclasses.asdict`` and
``dataclasses.replace`` (which re-checks the values).

A bad value raises the section's own error class (a ValueError, see
:class:`ConfigError`) with one line naming the file, the section, the key
and what is allowed, e.g. ``my.toml: [search] simulations: must be >= 2,
got 1``.
"""

from __future__ import annotations

import difflib
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as _pydantic_dataclass
from typing_extensions import dataclass_transform  # typing has it from 3.11 only

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "describe_errors",
    "parse_toml",
    "read_settings_text",
    "settings",
    "validate_settings",
]

T = TypeVar("T")

_SCHEMA = ConfigDict(extra="forbid", allow_inf_nan=False)


class ConfigError(ValueError):
    """A settings file or value that cannot be used; the message names the file and key."""


@dataclass_transform(frozen_default=True)
def settings(error: type[ValueError], what: str) -> Callable[[type[T]], type[T]]:
    """Declares a settings section: a frozen pydantic dataclass whose
    constructor (and so ``dataclasses.replace``) raises ``error`` naming
    ``what`` (e.g. ``train config``) instead of a bare ValidationError."""

    def wrap(cls: type[T]) -> type[T]:
        out = _pydantic_dataclass(frozen=True, config=_SCHEMA)(cls)
        init = out.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except ValidationError as e:
                raise error(describe_errors(e, what, root=out)) from None

        __init__.__doc__ = init.__doc__
        out.__init__ = __init__  # type: ignore[method-assign]
        return cast("type[T]", out)

    return wrap


def validate_settings(
    cls: type[T],
    data: Any,
    *,
    source: str,
    error: type[ValueError],
    sections: bool = False,
) -> T:
    """``data`` (a dict from a TOML file) checked against ``cls``; errors
    raise ``error`` prefixed with ``source``. ``sections``: the first keys of
    ``cls`` are the ``[sections]`` of a file (named so in messages)."""
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as e:
        raise error(describe_errors(e, source, root=cls, sections=sections)) from None


def parse_toml(text: str, *, source: str, error: type[ValueError]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(f"{source}: not valid TOML: {e}") from None


def read_settings_text(
    spec: str | os.PathLike[str],
    *,
    builtins: tuple[str, ...],
    error: type[ValueError],
    kind: str = "config",
) -> tuple[str, str, str]:
    """(TOML text, name, source) of a settings file given by path, or of a
    built-in preset (a file in the package's ``configs`` folder) by name.
    A spec naming an existing file is read as a path."""
    text_spec = os.fspath(spec)
    path = Path(text_spec)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8"), path.stem, str(path)
        except (OSError, UnicodeDecodeError) as e:
            raise error(f"cannot read config file {path}: {e}") from None
    key = text_spec.strip().lower()
    if key in builtins:
        from importlib import resources

        resource = resources.files("blobmaster").joinpath("configs").joinpath(f"{key}.toml")
        return resource.read_text(encoding="utf-8"), key, f"<built-in {key}>"
    if path.exists():
        raise error(f"config path is not a file: {path}")
    if os.sep in text_spec or text_spec.endswith(".toml"):
        raise error(f"{kind} file not found: {path}")
    raise error(
        f"unknown {kind} {text_spec!r}: not a file and not a built-in preset ({', '.join(builtins)})"
    )


# ---- messages ----------------------------------------------------------------------------------

_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "table",
}


def type_name(value: Any) -> str:
    """The TOML name of a value's type (for messages)."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _got(value: Any) -> str:
    return f"got {type_name(value)} {value!r}"


_LIMITS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}
_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "an array",
    "list_type": "an array",
}


def _message(err: Mapping[str, Any], is_section: bool) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, {_got(value)}"
    if kind in _LIMITS:
        limit = next(iter(ctx.values()))
        return f"must be {_LIMITS[kind]} {limit}, got {value!r}"
    if kind == "literal_error":
        allowed = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"expected one of {allowed}, got {value!r}"
    if kind == "finite_number":
        return f"expected a finite number, got {value!r}"
    if kind in ("dataclass_type", "dataclass_args_type", "model_type", "dict_type"):
        return f"expected a {'section (table)' if is_section else 'table'}, got {type_name(value)}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    return str(err.get("msg", kind))


def _field_type(cls: Any, key: str) -> Any:
    fields = getattr(cls, "__pydantic_fields__", None) or {}
    return fields[key].annotation if key in fields else None


def _dataclass_in(annotation: Any) -> Any:
    """The settings dataclass inside ``X``, ``tuple[X, ...]`` or ``X | None``."""
    if getattr(annotation, "__pydantic_fields__", None) is not None:
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (tuple, list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _dataclass_in(arg)
            if found is not None:
                return found
    return None


def _known_keys(root: Any, loc: tuple[Any, ...]) -> list[str]:
    cls = root
    for part in loc:
        if isinstance(part, int):
            continue
        cls = _dataclass_in(_field_type(cls, part))
        if cls is None:
            return []
    return list(getattr(cls, "__pydantic_fields__", {}))


def _path(loc: tuple[Any, ...], sections: bool) -> str:
    """``("selfplay", "tables", 0, "weight")`` -> ``[selfplay] tables[0].weight``."""
    rest = list(loc)
    head = f"[{rest.pop(0)}]" if sections and rest and isinstance(rest[0], str) else ""
    text = head
    for part in rest:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not text:
            text = str(part)
        else:
            text += f"{' ' if text == head else '.'}{part}"
    return text


def _describe_one(err: Mapping[str, Any], root: Any, sections: bool) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden", "missing", "missing_argument"):
        parent, key = loc[:-1], loc[-1]
        where = _path(parent, sections)
        prefix = f"{where}: " if where else ""
        if kind.startswith("missing"):
            return f"{prefix}missing key {key!r}"
        known = _known_keys(root, parent)
        close = difflib.get_close_matches(str(key), known, n=1)
        if sections and not parent:
            hint = f" (did you mean [{close[0]}]?)" if close else f" (sections: {', '.join(known)})"
            return f"unknown section or key {key!r}{hint}"
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        return f"{prefix}unknown key {key!r}{hint}"
    where = _path(loc, sections)
    is_section = sections and len(loc) == 1
    return f"{where}: {_message(err, is_section)}" if where else _message(err, is_section)


def describe_errors(
    error: ValidationError, source: str, *, root: Any = None, sections: bool = False
) -> str:
    """One line for every problem pydantic found, prefixed with ``source``."""
    parts = [_describe_one(e, root, sections) for e in error.errors()]
    return f"{source}: {'; '.join(dict.fromkeys(parts))}"
