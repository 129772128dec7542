"""TOML tables as config files use them: read a file with errors that name it, and check one
table's keys, types, bounds and choices against the dataclass fields that declare them
(:mod:`toolkit._declare`). Every TOML parser of the toolkit (run configs, live configs, the
report schedule) reads through here, so their messages look alike."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit._declare import declared, declared_fields
from toolkit.errors import ConfigError


class Table:
    """Typed access to one TOML table that rejects unknown keys with the allowed list."""

    def __init__(self, path: Path, name: str, table: Any, allowed: tuple[str, ...]) -> None:
        self.path, self.name = path, name
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: [{name}] must be a table, got {type(table).__name__}.")
        self.table = dict(table)
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            raise ConfigError(
                f"{path}: [{name}] unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(unknown)}; allowed keys: {', '.join(allowed)}."
            )

    def where(self, key: str) -> str:
        return f"{self.path}: [{self.name}] {key}"

    def field(self, cls: type, name: str) -> Any:
        """Field ``name`` of dataclass ``cls`` (the key of the same name), checked against
        the field's declaration: type, default, bounds and choices."""
        d = declared(cls, name)
        r = d.rule
        return self.get(name, d.kinds, d.default, r.choices, r.low, r.high, above=r.above)

    def fields(self, cls: type, table: str | None = None) -> dict[str, Any]:
        """Every declared field of ``cls`` that lives in ``table`` (None: its own)."""
        return {d.name: self.field(cls, d.name) for d in declared_fields(cls, table)}

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        choices: tuple[Any, ...] | None = None,
        low: float | None = None,
        high: float | None = None,
        required: bool = False,
        above: float | None = None,
    ) -> Any:
        """The value of ``key`` checked for type (before any conversion), choices and range:
        ``low``/``high`` inclusive, ``above`` exclusive. Booleans, NaN and infinities are
        refused wherever a number is expected."""
        if key not in self.table:
            if required:
                raise ConfigError(f"{self.where(key)} is missing; it is required.")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(f"{self.where(key)} = {value!r}: expected {_names(kinds)}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"{self.where(key)} = {value!r}: expected a finite number; nan and inf are "
                "not allowed (leave the key out for the default)."
            )
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds):
            raise ConfigError(
                f"{self.where(key)} = {value!r} has the wrong type: expected {_names(kinds)}."
            )
        if choices is not None and value not in choices:
            raise ConfigError(
                f"{self.where(key)} = {value!r} is not allowed; choose one of "
                f"{', '.join(map(repr, choices))}."
            )
        number = float(value) if isinstance(value, (int, float)) else None
        if number is not None and (
            (low is not None and number < low) or (high is not None and number > high)
        ):
            raise ConfigError(f"{self.where(key)} = {value!r} is out of range [{low}, {high}].")
        if number is not None and above is not None and not number > above:
            raise ConfigError(
                f"{self.where(key)} = {value!r} must be greater than {above:g} "
                "(leave the key out for the default)."
            )
        return value


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(
        {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "bool": "true/false",
            "list": "a list",
        }.get(k.__name__, k.__name__)
        for k in kinds
    )


def read_toml(path: Path, missing: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing file says ``missing``, a malformed one where.

    TOML files are UTF-8 (a leading byte-order mark is tolerated); any other byte is named
    by line and column rather than surfacing as a UnicodeDecodeError.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: {missing}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{path}: line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8. "
            "Save the file as UTF-8 (TOML requires it)."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}.") from None


def table_keys(cls: type, table: str | None = None) -> tuple[str, ...]:
    """The config keys of ``cls``'s declared fields in ``table`` (None: its own table)."""
    return tuple(d.name for d in declared_fields(cls, table))
