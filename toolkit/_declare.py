"""Settings declared once: a dataclass field carries its default, bounds and choices.

``x: float = setting(1.0, low=0.0)`` is an ordinary dataclass default plus a :class:`Rule` in
the field's metadata; the TOML parsers (``toolkit.config``, ``toolkit.live.config``) read the
type, default, bounds and choices from there (:func:`declared`) instead of repeating them, so
a default changed on the dataclass is the default of every config file too.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Rule:
    """What a value must satisfy: ``low``/``high`` inclusive, ``above`` exclusive, one of
    ``choices``; ``table`` names the config table when it is not the class's own (the
    engine's exits live in ``[exits]``)."""

    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple[Any, ...] | None = None
    table: str | None = None


@dataclass(frozen=True)
class Declared:
    """A field as a parser sees it: accepted TOML types, default, and its rule."""

    name: str
    kinds: tuple[type, ...]
    default: Any
    rule: Rule

    @property
    def choices(self) -> tuple[Any, ...] | None:
        return self.rule.choices


_NO_DEFAULT: Any = dataclasses.MISSING


def setting(
    default: Any = _NO_DEFAULT,
    *,
    factory: Callable[[], Any] | None = None,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: tuple[Any, ...] | None = None,
    table: str | None = None,
) -> Any:
    """A dataclass field with its rule (choices default to the field's ``Literal`` values)."""
    meta = {"rule": Rule(low, high, above, choices, table)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@cache
def declared(cls: type, name: str) -> Declared:
    """Field ``name`` of dataclass ``cls``: the TOML types its annotation accepts (a Path
    is written as a string, a float may be written as an integer), default and rule."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    f = fields[name]
    hint = typing.get_type_hints(cls)[name]
    kinds, literal = _kinds(hint)
    rule = f.metadata.get("rule", Rule())
    if rule.choices is None and literal:
        rule = dataclasses.replace(rule, choices=literal)
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None
    if isinstance(default, Path):
        default = str(default)
    return Declared(name, kinds, default, rule)


def declared_fields(cls: type, table: str | None = None) -> tuple[Declared, ...]:
    """Every declared field of ``cls`` whose rule puts it in ``table`` (None: its own)."""
    out = []
    for f in dataclasses.fields(cls):
        if "rule" in f.metadata and f.metadata["rule"].table == table:
            out.append(declared(cls, f.name))
    return tuple(out)


def _kinds(hint: Any) -> tuple[tuple[type, ...], tuple[Any, ...]]:
    """(TOML types, Literal values) of a field annotation."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        values = typing.get_args(hint)
        return tuple(dict.fromkeys(type(v) for v in values)), values
    if origin in (typing.Union, types.UnionType):
        kinds: list[type] = []
        literal: tuple[Any, ...] = ()
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            k, lit = _kinds(arg)
            kinds.extend(k)
            literal += lit
        return tuple(dict.fromkeys(kinds)), literal
    if hint is Path:
        return (str,), ()
    if isinstance(hint, type):
        return (hint,), ()
    return (object,), ()
