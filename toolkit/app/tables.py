"""What a command prints: one structure rendered twice, as an aligned table for people and as
JSON for machines (``--json``), so the two always carry the same numbers.

A :class:`Table` names its columns with a machine key, a label and a kind; the kind decides
the printed digits (``pct`` two decimals of a percent, ``num`` three decimals, ``money`` two
with thousands separators, ``int`` a count, ``param`` a parameter value as written in a
config). JSON keeps the full value (NaN becomes null). Plain Python only: the parser of
``toolkit`` imports this without pandas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["pct", "num", "money", "int", "param", "date", "text", "bool", "quantile"]


@dataclass(frozen=True)
class Column:
    """One column: ``key`` in JSON, ``label`` in the table, ``kind`` for its digits."""

    key: str
    label: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    """Rows of values keyed by column key; ``name`` is the table's key in JSON, which has
    the printed columns, or every field of the rows with ``whole_rows``."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    whole_rows: bool = False

    def text(self) -> str:
        header = [c.label for c in self.columns]
        cells = [[fmt(r.get(c.key), c.kind) for c in self.columns] for r in self.rows]
        numeric = [c.kind not in ("text", "date", "bool") for c in self.columns]
        return (f"{self.title}\n" if self.title else "") + grid(header, cells, numeric)

    def records(self) -> list[dict[str, Any]]:
        if self.whole_rows:
            return [{str(k): plain(v) for k, v in r.items()} for r in self.rows]
        return [{c.key: plain(r.get(c.key)) for c in self.columns} for r in self.rows]


@dataclass(frozen=True)
class Facts:
    """A two-column table of named values (label, value); a JSON object of key: value."""

    name: str
    title: str
    items: tuple[tuple[Column, Any], ...]

    def text(self) -> str:
        cells = [[c.label, fmt(v, c.kind)] for c, v in self.items]
        body = grid(["", ""], cells, [False, True], titled=False)
        return (f"{self.title}\n" if self.title else "") + body

    def record(self) -> dict[str, Any]:
        return {c.key: plain(v) for c, v in self.items}


@dataclass
class Output:
    """Everything a command prints, in order; ``extra`` goes to JSON only (paths, settings)."""

    parts: list[Table | Facts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lines printed after the tables
    extra: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        blocks = [p.text() for p in self.parts]
        if self.notes:
            blocks.append("\n".join(self.notes))
        return "\n\n".join(blocks)

    def json(self) -> str:
        data: dict[str, Any] = {}
        for p in self.parts:
            data[p.name] = p.record() if isinstance(p, Facts) else p.records()
        data.update({k: plain(v) for k, v in self.extra.items()})
        return json.dumps(data, indent=2, allow_nan=False)

    def print(self, as_json: bool) -> None:
        print(self.json() if as_json else self.text())


def plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python ones, NaN/inf as None, paths as text,
    timestamps as ISO 8601."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def fmt(value: Any, kind: Kind) -> str:
    """``value`` as the table prints it (``n/a`` for a missing or non-finite number)."""
    if value is None:
        return ""
    if isinstance(value, Mapping):  # a parameter set
        return ", ".join(f"{k}={fmt(v, 'param')}" for k, v in value.items())
    if kind == "text":
        return str(value)
    if kind == "date":
        return str(value)[:10]
    if kind == "bool":
        return "yes" if value else "no"
    v = plain(value)
    if v is None or not isinstance(v, (int, float)):
        return "n/a" if v is None else str(v)
    x = float(v)
    if kind == "pct":
        return f"{x * 100:.2f}%"
    if kind == "quantile":
        return f"{x * 100:g}%"
    if kind == "num":
        return f"{x:.3f}"
    if kind == "money":
        return f"{x:,.2f}"
    if kind == "int":
        return f"{round(x):,}"
    return f"{round(x)}" if x == round(x) and abs(x) < 1e15 else f"{x:.6g}"  # param


def grid(
    header: Sequence[str],
    cells: Sequence[Sequence[str]],
    right: Sequence[bool],
    *,
    titled: bool = True,
) -> str:
    """Aligned columns, two spaces apart; numbers right-aligned; a rule under the header."""
    rows = [list(header), *[list(r) for r in cells]] if titled else [list(r) for r in cells]
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(
            (c.rjust(w) if a else c.ljust(w)) for c, w, a in zip(r, widths, right, strict=True)
        ).rstrip()

    lines = [line(r) for r in rows]
    if titled:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
