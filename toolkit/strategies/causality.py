"""``check_causal``: does a strategy's signal at bar t use only bars [0, t]?

Two tests, each at random cut points t, for every parameter set checked (Invariant 1 of
docs/ARCHITECTURE: ``signals(x[:t+1])[t] == signals(x)[t]``):

* prefix: the signal computed on bars [0, t] must equal the full run's signal on [0, t]
  (every value, not only the last one; NaN equals NaN);
* scrambled future: every bar after t is rescaled by a random factor (open, high, low and
  close alike, so bars stay valid); the signal on [0, t] must not move.

A leak is reported with the test, the bar (index and time), the symbol, the parameter set
and both values, so the user can see where their rule looks ahead. The same function backs
``python -m toolkit check-causal`` and the test suite's check of the built-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError
from toolkit.strategies.spec import Strategy

_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Leak:
    """One place where the signal saw the future."""

    test: str  # "prefix" or "scrambled future"
    bar: int
    time: pd.Timestamp
    symbol: str
    params: dict[str, Any]
    cut: int  # the last bar the truncated / unchanged data kept
    full: float  # the full run's value at ``bar``
    seen: float  # the value when bars after ``cut`` were cut off or changed

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items()) or "no parameters"
        change = "cut off" if self.test == "prefix" else "changed"
        return (
            f"{self.test}: bar {self.bar} ({self.time}) of {self.symbol} with {params}: "
            f"{self.seen!r} when bars after {self.cut} are {change}, {self.full!r} on all bars"
        )


@dataclass(frozen=True)
class CausalityReport:
    """Outcome of :func:`check_causal`; ``passed`` is True when no leak was found."""

    strategy: str
    bars: int
    symbols: tuple[str, ...]
    parameter_sets: tuple[dict[str, Any], ...]
    cuts: int
    leaks: tuple[Leak, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.leaks

    def __str__(self) -> str:
        head = (
            f"{self.strategy}: {len(self.parameter_sets)} parameter set(s) x {self.cuts} cut "
            f"points on {self.bars} bars of {', '.join(self.symbols)}"
        )
        if self.passed:
            return f"{head}: causal (no look-ahead found)."
        shown = min(len(self.leaks), 5)
        lines = [f"{head}: LOOK-AHEAD found in {len(self.leaks)} check(s), {shown} shown:"]
        lines += [f"  {leak.describe()}" for leak in self.leaks[:shown]]
        return "\n".join(lines)


def random_params(
    strategy: Strategy, rng: np.random.Generator, max_window: int = 300
) -> dict[str, Any]:
    """A random valid point of the declared parameter space (integers capped at
    ``max_window`` so windows fit the data), re-drawn until the constraints hold."""
    for _ in range(1000):
        values: dict[str, Any] = {}
        for p in strategy.params:
            if p.kind is int:
                hi = max(int(p.low), min(int(p.high), max_window))
                values[p.name] = int(rng.integers(int(p.low), hi + 1))
            else:
                values[p.name] = float(rng.uniform(p.low, p.high))
        try:
            return strategy.resolve(values)
        except ConfigError:
            continue
    raise ConfigError(
        f"strategy {strategy.name!r}: could not draw parameters that satisfy "
        f"{strategy.valid_doc or 'its constraint'}; pass params explicitly."
    )


def _books(strategy: Strategy, data: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The frames one signal call sees: each symbol, or the whole panel (cross-sectional)."""
    from toolkit.engine._bars import as_panel

    panel = as_panel(data)
    if strategy.cross_sectional:
        return [("portfolio", data)]
    return [
        (str(sym), pd.concat({f: panel[f][sym] for f in _FIELDS}, axis=1))
        for sym in panel["close"].columns
    ]


def _arrays(strategy: Strategy, frame: pd.DataFrame) -> list[np.ndarray]:
    from toolkit.engine._bars import as_panel, bar_arrays

    a = bar_arrays(as_panel(frame))
    if strategy.cross_sectional:
        return [a[f] for f in _FIELDS]
    return [np.ascontiguousarray(a[f][:, 0]) for f in _FIELDS]


def _first_mismatch(a: np.ndarray, b: np.ndarray, atol: float) -> tuple[int, int] | None:
    """First (row, column) where ``a`` and ``b`` differ by more than ``atol`` (NaN equals
    NaN); column 0 for 1-D signals."""
    with np.errstate(invalid="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if atol > 0:
            same |= np.abs(a - b) <= atol
    bad = np.argwhere(~same.reshape(len(same), -1))
    return (int(bad[0][0]), int(bad[0][1])) if len(bad) else None


def _signal(
    strategy: Strategy, arrays: list[np.ndarray], vec: np.ndarray, where: str
) -> np.ndarray:
    try:
        o, h, lo, c, v = (np.ascontiguousarray(a) for a in arrays)
        out = strategy.signal(o, h, lo, c, v, vec)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"strategy {strategy.name!r}: the signal failed on {where}: "
            f"{type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    return np.asarray(out, dtype=np.float64)


def check_causal(
    strategy: str | Strategy,
    data: pd.DataFrame,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    cuts: int = 20,
    random_sets: int = 2,
    scramble: bool = True,
    seed: int = 0,
    atol: float = 0.0,
    on_set: Callable[[int, int], None] | None = None,
) -> CausalityReport:
    """Check that ``strategy``'s signal is causal on ``data``; report any look-ahead.

    ``data``: one symbol's bars or a (field, symbol) panel (each symbol is checked; a
    cross-sectional strategy sees the panel). ``params``: one parameter set, a list of them,
    or None for the defaults; ``random_sets`` random valid sets are checked too. ``cuts`` random cut
    points per set for the prefix test, and as many for the scrambled-future test unless
    ``scramble`` is False. ``atol``: tolerated absolute difference (0: exact). Returns a
    :class:`CausalityReport` (``passed``, ``leaks``, printable). ``on_set(done, total)`` is
    called after each (symbol, parameter set) checked (a progress bar).
    """
    from toolkit import strategies

    spec = strategies.resolve(strategy)
    if cuts < 1:
        raise ConfigError(f"cuts = {cuts}: check at least 1 cut point.")
    rng = np.random.default_rng(seed)
    books = _books(spec, data)
    n = len(data)
    if n < 3:
        raise ConfigError(f"check_causal needs at least 3 bars, got {n}.")
    if params is None:
        sets = [spec.resolve({})]
    elif isinstance(params, Mapping):
        sets = [spec.resolve(params)]
    else:
        sets = [spec.resolve(p) for p in params]
    sets += [random_params(spec, rng, max_window=max(2, n // 3)) for _ in range(random_sets)]
    index = pd.DatetimeIndex(data.index)
    columns = [str(c) for c in _symbols(data)]
    leaks: list[Leak] = []

    def leak(
        test: str, sym: str, values: dict[str, Any], t: int, full: np.ndarray, seen: np.ndarray
    ) -> Leak | None:
        at = _first_mismatch(seen[: t + 1], full[: t + 1], atol)
        if at is None:
            return None
        row, col = at
        where = columns[col] if spec.cross_sectional else sym
        f, s_ = full.reshape(len(full), -1), seen.reshape(len(seen), -1)
        return Leak(
            test, row, index[row], where, dict(values), t, float(f[row, col]), float(s_[row, col])
        )

    for k, (sym, frame) in enumerate(books):
        arrays = _arrays(spec, frame)
        for values in _counted(sets, k * len(sets), len(books) * len(sets), on_set):
            vec = spec.vector(values)
            full = _signal(spec, arrays, vec, "all bars")
            for t in sorted({int(x) for x in rng.integers(1, n - 1, size=cuts)}):
                part = _signal(spec, [a[: t + 1] for a in arrays], vec, f"the first {t + 1} bars")
                found = leak("prefix", sym, values, t, full, part)
                if found is not None:
                    leaks.append(found)
                    break
            if not scramble:
                continue
            for t in sorted({int(x) for x in rng.integers(1, n - 1, size=cuts)}):
                shock = np.ones(n)
                shock[t + 1 :] = rng.uniform(0.5, 1.5, n - t - 1)
                changed = [a * (shock[:, None] if a.ndim > 1 else shock) for a in arrays]
                out = _signal(spec, changed, vec, "bars with a changed future")
                found = leak("scrambled future", sym, values, t, full, out)
                if found is not None:
                    leaks.append(found)
                    break
    return CausalityReport(
        strategy=spec.name,
        bars=n,
        symbols=tuple(columns),
        parameter_sets=tuple(dict(v) for v in sets),
        cuts=cuts,
        leaks=tuple(leaks),
    )


def _counted(
    items: list[dict[str, Any]], start: int, total: int, on_item: Callable[[int, int], None] | None
) -> Iterator[dict[str, Any]]:
    """``items``, telling ``on_item(done, total)`` once the loop is done with each."""
    for i, item in enumerate(items):
        yield item
        if on_item is not None:
            on_item(start + i + 1, total)


def _symbols(data: pd.DataFrame) -> list[Any]:
    from toolkit.engine._bars import as_panel

    return list(as_panel(data)["close"].columns)
