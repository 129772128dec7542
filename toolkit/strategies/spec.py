"""What a strategy is: a pure, causal signal function plus a declared parameter space.

Two kinds share one shape. A ``single`` strategy sees one symbol's bars (1-D arrays) and
returns a target exposure per bar; a ``cross_sectional`` one sees a panel (bars x symbols,
2-D arrays) and returns target weights of one shared book (bars x symbols). Either way
``signal(open, high, low, close, volume, params)`` is the one function every runtime calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError

# The signal: (open, high, low, close, volume, params) -> target exposure per bar. Arrays are
# float64, 1-D of equal length (single) or 2-D bars x symbols (cross-sectional, which returns
# weights of the same shape); params is a float64 vector in declared order.
SignalFn = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray
]
# Features for a grid of parameter sets (K x P): indicator rows ``aux`` (R x n) and, per set,
# the rows its rule reads (K x Q int64). Computing each distinct indicator once lets a sweep
# share it across every set that uses it.
FeaturesFn = Callable[..., tuple[np.ndarray, np.ndarray]]
# The decision rule: (o, h, l, c, v, aux, params, index_row, out) -> None, writing exposures.
RuleFn = Callable[..., None]
Kind = Literal["single", "cross_sectional"]
KINDS: tuple[Kind, ...] = ("single", "cross_sectional")


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its type, default and inclusive bounds."""

    name: str
    kind: type[int] | type[float]
    default: float
    low: float
    high: float
    doc: str = ""

    def describe(self) -> str:
        bounds = f"[{_fmt(self.low)}, {_fmt(self.high)}]"
        return f"{self.kind.__name__} in {bounds}, default {_fmt(self.default)}"

    def check(self, value: Any, where: str) -> float:
        """Validate one value; return it as float for the numba parameter vector."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(
                f"{where}: {self.name} = {value!r} has the wrong type; expected {self.describe()}."
            )
        if not np.isfinite(value):
            raise ConfigError(
                f"{where}: {self.name} = {value!r} is not a finite number; expected "
                f"{self.describe()}."
            )
        if self.kind is int and float(value) != int(value):
            raise ConfigError(
                f"{where}: {self.name} = {value!r} must be a whole number ({self.describe()})."
            )
        v = float(value)
        if not (self.low <= v <= self.high):
            raise ConfigError(
                f"{where}: {self.name} = {_fmt(v)} is out of range; expected {self.describe()}."
            )
        return v

    def check_all(self, values: Any, where: str) -> np.ndarray:
        """Validate a sequence of values at once (a grid axis); return them as float64.
        Numeric arrays are checked whole; anything else, or a bad value, goes through
        :meth:`check` value by value, which names the first bad one."""
        arr = values if isinstance(values, np.ndarray) else None
        if arr is None and isinstance(values, range):
            arr = np.arange(values.start, values.stop, values.step, dtype=np.int64)
        if arr is not None and arr.ndim == 1 and arr.dtype.kind in "iuf":
            v = arr.astype(np.float64)
            ok = bool(np.isfinite(v).all() and ((v >= self.low) & (v <= self.high)).all())
            if ok and self.kind is int and arr.dtype.kind == "f":
                ok = bool((v == np.round(v)).all())
            if ok:
                return v
        return np.array([self.check(x, where) for x in values], dtype=np.float64)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True, kw_only=True)
class Strategy:
    """A registered strategy. ``signal`` is the one function every runtime calls.

    Built-ins also give ``features`` and ``rule`` (``signal`` is ``rule(features(...))`` for
    one parameter set): the sweep calls ``features`` once for a whole grid and ``rule`` per
    set in its fused kernel. A strategy with ``signal`` only sweeps on the generic path
    (targets per set, then the engine's rules). ``valid`` is a predicate over parameter values
    that works on scalars and on whole grid columns alike (e.g. ``fast < slow``), described by
    ``valid_doc``; ``warmup`` gives the number of bars needed before the first non-flat
    signal. ``module`` is the importable module that defines it (None for built-ins and
    notebook cells).
    """

    name: str
    signal: SignalFn
    params: tuple[Param, ...]
    doc: str = ""
    kind: Kind = "single"
    features: FeaturesFn | None = None
    rule: RuleFn | None = None
    warmup: Callable[[Mapping[str, float]], int] | None = None
    valid: Callable[[Mapping[str, Any]], Any] | None = None
    valid_doc: str = ""
    module: str | None = None

    def __repr__(self) -> str:
        space = "; ".join(f"{p.name}: {p.describe()}" for p in self.params) or "none"
        return f"Strategy({self.name!r}, kind={self.kind!r}, params: {space})"

    @property
    def cross_sectional(self) -> bool:
        """True if the signal sees all symbols at once (panel in, weights out)."""
        return self.kind == "cross_sectional"

    @property
    def summary(self) -> str:
        """The first paragraph of the docstring, on one line."""
        return " ".join(self.doc.strip().split("\n\n")[0].split())

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def defaults(self) -> dict[str, float]:
        return {p.name: (int(p.default) if p.kind is int else p.default) for p in self.params}

    def resolve(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        where: str = "params",
        require_all: bool = False,
    ) -> dict[str, float]:
        """Validate ``values`` against the parameter space; fill defaults unless ``require_all``."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(self.param_names))
        if unknown:
            raise ConfigError(
                f"{where}: unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                f"for strategy {self.name!r}; allowed: "
                + "; ".join(f"{p.name} ({p.describe()})" for p in self.params)
            )
        out: dict[str, float] = {}
        for p in self.params:
            if p.name not in values:
                if require_all:
                    raise ConfigError(f"{where}: missing parameter {p.name} ({p.describe()}).")
                out[p.name] = p.default
            else:
                out[p.name] = p.check(values[p.name], where)
        if self.valid is not None and not bool(self.valid(out)):
            got = ", ".join(f"{k} = {_fmt(v)}" for k, v in out.items())
            raise ConfigError(f"{where}: need {self.valid_doc}; got {got}.")
        return {k: (int(v) if self._kind(k) is int else v) for k, v in out.items()}

    def _kind(self, name: str) -> type[int] | type[float]:
        return next(p.kind for p in self.params if p.name == name)

    def vector(self, values: Mapping[str, Any] | None = None) -> np.ndarray:
        """The validated parameters as the float64 vector the signal function takes."""
        resolved = self.resolve(values)
        return np.array([float(resolved[n]) for n in self.param_names], dtype=np.float64)

    def signals(self, bars: pd.DataFrame, **params: Any) -> pd.Series | pd.DataFrame:
        """Target exposure per bar (signed fraction of equity) for one symbol's bars; for a
        cross-sectional strategy, target weights (bars x symbols) for a (field, symbol) panel."""
        if self.cross_sectional:
            from toolkit.engine._bars import as_panel, bar_arrays

            panel = as_panel(bars)
            a = bar_arrays(panel)
            vec = self.vector(params)
            out = self.signal(a["open"], a["high"], a["low"], a["close"], a["volume"], vec)
            close = panel["close"]
            return pd.DataFrame(out, index=close.index, columns=close.columns)
        o, h, lo, c, v = (
            np.ascontiguousarray(bars[col].to_numpy(dtype=np.float64))
            for col in ("open", "high", "low", "close", "volume")
        )
        out = self.signal(o, h, lo, c, v, self.vector(params))
        return pd.Series(out, index=bars.index, name=self.name)
