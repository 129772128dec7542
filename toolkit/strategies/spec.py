"""What a strategy is: a pure, causal numba signal function plus a declared parameter space."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError

# The compiled signal: (open, high, low, close, volume, params) -> target exposure per bar.
# Arrays are float64 1-D of equal length; params is a float64 vector in declared order.
SignalFn = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray
]
# Features for a grid of parameter sets (K x P): indicator rows ``aux`` (R x n) and, per set,
# the rows its rule reads (K x Q int64). Computing each distinct indicator once lets a sweep
# share it across every set that uses it.
FeaturesFn = Callable[..., tuple[np.ndarray, np.ndarray]]
# The decision rule: (o, h, l, c, v, aux, params, index_row, out) -> None, writing exposures.
RuleFn = Callable[..., None]


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


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Strategy:
    """A registered strategy. ``signal`` is the one function every runtime calls.

    ``signal`` is ``rule(features(...))`` for a single parameter set; the sweep calls the same
    ``features`` once for a whole grid and the same ``rule`` per set. ``valid`` is a predicate
    over parameter values that works on scalars and on whole grid columns alike (e.g.
    ``fast < slow``), described by ``valid_doc``; ``warmup`` gives the number of bars needed
    before the first non-flat signal.
    """

    name: str
    signal: SignalFn
    features: FeaturesFn
    rule: RuleFn
    params: tuple[Param, ...]
    doc: str
    warmup: Callable[[Mapping[str, float]], int]
    valid: Callable[[Mapping[str, Any]], Any] | None = None
    valid_doc: str = ""

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

    def signals(self, bars: pd.DataFrame, **params: Any) -> pd.Series:
        """Target exposure per bar (signed fraction of equity) for one symbol's bars."""
        o, h, lo, c, v = (
            np.ascontiguousarray(bars[col].to_numpy(dtype=np.float64))
            for col in ("open", "high", "low", "close", "volume")
        )
        out = self.signal(o, h, lo, c, v, self.vector(params))
        return pd.Series(out, index=bars.index, name=self.name)
