"""Public entry points: simulate given targets, or run a registered strategy on bars."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit import strategies
from toolkit.data.calendar import session_days
from toolkit.engine import _kernels as k
from toolkit.engine._bars import FIELDS, Bars, bars_of
from toolkit.engine._risk_inputs import risk_context
from toolkit.engine.result import BacktestResult, MetricInputs
from toolkit.engine.settings import EngineSettings, KernelSettings, OrderType, Reason
from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
from toolkit.risk.rules import guard_names
from toolkit.strategies.spec import Strategy

_FIELDS = FIELDS


def month_ids(index: pd.DatetimeIndex) -> np.ndarray:
    """Calendar month of each bar as an integer, for monthly commission tiers."""
    idx = pd.DatetimeIndex(index)
    if len(idx) and (idx.tz is None or str(idx.tz) == "UTC"):
        # UTC wall clock: look each bar up among the month starts it spans (a few hundred),
        # ~10x cheaper than .year / .month or a datetime64[M] cast of every bar
        ns = idx.as_unit("ns").asi8
        first, last = (np.datetime64(int(x), "ns").astype("datetime64[M]") for x in (ns[0], ns[-1]))
        starts = np.arange(first, last + 1).astype("datetime64[ns]").view(np.int64)
        at = np.searchsorted(starts, ns, side="right") - 1
        return np.asarray(at + (first.astype(np.int64) + 1970 * 12 + 1), dtype=np.int64)
    return np.asarray(idx.year * 12 + idx.month, dtype=np.int64)


def day_ids(index: pd.DatetimeIndex) -> np.ndarray:
    """New York trading day of each bar as an integer, for the daily-loss limit: the exchange
    calendar's session date (daily bars are stamped at midnight UTC and keep their date;
    naive stamps are UTC, as for month ids)."""
    return session_days(pd.DatetimeIndex(index))


def simulate(
    bars: pd.DataFrame,
    targets: pd.DataFrame | pd.Series,
    settings: EngineSettings | None = None,
    weights: Sequence[float] | None = None,
    risk: RiskLimits | None = None,
) -> BacktestResult:
    """Simulate target exposures (signed fractions of equity per symbol) on ``bars``.

    NaN in ``targets`` means "no instruction this bar". ``weights`` scale each symbol's
    target (default 1/number of symbols, i.e. equal sleeves). ``risk`` applies the same
    limits and kill switch as a live session (toolkit.risk).
    """
    b = bars_of(bars)
    tgt = targets.to_frame() if isinstance(targets, pd.Series) else targets
    tgt = tgt.set_axis(b.symbols, axis=1) if len(tgt.columns) == len(b.symbols) else tgt
    if not tgt.index.equals(b.index):
        raise DataError("targets and bars must share the same index.")
    values = np.ascontiguousarray(tgt.to_numpy(dtype=np.float64))
    return _run(b, values, tgt, settings, weights, risk)


def _run(
    b: Bars,
    targets: np.ndarray,
    frame: pd.DataFrame | Callable[[], pd.DataFrame],
    settings: EngineSettings | None,
    weights: Sequence[float] | None,
    risk: RiskLimits | None,
    strategy: str = "",
    params: dict[str, Any] | None = None,
) -> BacktestResult:
    """Simulate ``targets`` (bars x symbols float64) on bars past the gate; the result's
    frames are built on first read (``frame`` is the targets frame or what builds it)."""
    s = settings or _DEFAULT_SETTINGS
    n_sym = len(b.symbols)
    w = np.full(n_sym, 1.0 / n_sym) if weights is None else np.asarray(weights, float)
    if w.shape != (n_sym,):
        raise ConfigError(f"weights has {w.size} values for {n_sym} symbols.")
    idx = b.index
    equity, cash, pos, orders, trades, guards = k.simulate_nb(
        b.arrays["open"],
        b.arrays["high"],
        b.arrays["low"],
        b.arrays["close"],
        targets,
        np.ascontiguousarray(w),
        _months(idx),
        # trading days matter only to the daily-loss limit (pandas time zones cost ~0.5 ms)
        day_ids(idx)
        if risk is not None and risk.daily_loss is not None
        else np.zeros(len(idx), dtype=np.int64),
        _kernel_settings(s, risk),
        risk_context(b.arrays["close"], idx, b.symbols, risk),
    )
    build = _Frames(idx, b.symbols, s.init_cash, equity, cash, pos, orders, trades, frame, guards)
    return BacktestResult.deferred(build, s, strategy, params)


_DEFAULT_SETTINGS = EngineSettings()
_KERNEL_SETTINGS: list[tuple[EngineSettings, RiskLimits | None, KernelSettings]] = []


def _kernel_settings(s: EngineSettings, risk: RiskLimits | None) -> KernelSettings:
    """``s.kernel(risk)``, remembered for the last (frozen) pair seen: a loop of runs with
    the same settings checks and packs them once."""
    last = _KERNEL_SETTINGS[0] if _KERNEL_SETTINGS else None  # one read: threads may swap it
    if last is not None and last[0] is s and last[1] is risk:
        return last[2]
    ks = s.kernel(risk)
    _KERNEL_SETTINGS[:] = [(s, risk, ks)]
    return ks


_MONTHS: list[tuple[weakref.ref[pd.DatetimeIndex], np.ndarray]] = []


def _months(idx: pd.DatetimeIndex) -> np.ndarray:
    """:func:`month_ids`, remembered for the last index seen (an index is immutable, and
    repeated runs on the same bars -- optimisers, notebooks -- would pay ~0.1 ms each)."""
    last = _MONTHS[0] if _MONTHS else None  # one read: threads may swap it
    if last is not None and last[0]() is idx:
        return last[1]
    months = month_ids(idx)  # read only by the kernel
    _MONTHS[:] = [(weakref.ref(idx), months)]
    return months


class _Frames:
    """Builds a result's pandas fields from the kernel's arrays, one on its first read."""

    def __init__(
        self,
        idx: pd.DatetimeIndex,
        symbols: list[Hashable],
        init_cash: float,
        equity: np.ndarray,
        cash: np.ndarray,
        pos: np.ndarray,
        orders: np.ndarray,
        trades: np.ndarray,
        targets: pd.DataFrame | Callable[[], pd.DataFrame],
        guards: np.ndarray,
    ) -> None:
        self.idx, self.symbols, self.init_cash = idx, symbols, init_cash
        self.guards = guards
        self.equity, self.cash, self.pos = equity, cash, pos
        self.orders, self.trades, self.targets = orders, trades, targets

    def _returns(self) -> np.ndarray:
        prev = np.concatenate([[self.init_cash], self.equity[:-1]])
        return np.asarray(self.equity / prev - 1.0)

    def metric_inputs(self) -> MetricInputs:
        """What metrics() reads, as the frames would give it (same arrays, same order)."""
        t, o = self.trades, self.orders
        return MetricInputs(
            returns=self._returns(),
            closed_pnl=np.ascontiguousarray(t[~(t[:, k.T_OPEN] > 0), k.T_PNL]),
            positions=self.pos,
            commissions=float(np.ascontiguousarray(o[:, k.O_COMM]).sum()),
            final_equity=float(self.equity[-1]),
        )

    def __call__(self, name: str) -> pd.Series | pd.DataFrame:
        idx = self.idx
        if name == "equity":
            return pd.Series(self.equity, index=idx, name="equity")
        if name == "returns":
            return pd.Series(self._returns(), index=idx, name="returns")
        if name == "cash":
            return pd.Series(self.cash, index=idx, name="cash")
        if name == "positions":
            return pd.DataFrame(self.pos, index=idx, columns=self.symbols)
        if name == "targets":
            return self.targets if isinstance(self.targets, pd.DataFrame) else self.targets()
        if name == "orders":
            return _orders_frame(self.orders, idx, self.symbols)
        if name == "trades":
            return _trades_frame(self.trades, idx, self.symbols)
        if name == "guards":
            return _guards_frame(self.guards, idx, self.symbols)
        raise AttributeError(name)


# record codes -> names (the enums' lower-case names), indexable by a code array
_TYPE_NAMES = np.array([OrderType(i).name.lower() for i in range(len(OrderType))], dtype=object)
_REASON_NAMES = np.array([Reason(i).name.lower() for i in range(len(Reason))], dtype=object)


def _names(rec: np.ndarray, col: int, names: Sequence[Hashable] | np.ndarray) -> np.ndarray:
    """Column ``col`` of records (integer codes stored as floats) as the names they index."""
    return np.asarray(names, dtype=object)[rec[:, col].astype(np.int64)]


def _guards_frame(
    rec: np.ndarray, idx: pd.DatetimeIndex, symbols: Sequence[Hashable]
) -> pd.DataFrame:
    bar = rec[:, k.GD_BAR].astype(np.int64)
    return pd.DataFrame(
        {
            "time": idx[bar],
            "bar": bar,
            "symbol": _names(rec, k.GD_SYM, symbols),
            "rules": ["+".join(guard_names(int(c))) for c in rec[:, k.GD_CODE]],
            "target_position": rec[:, k.GD_WANT],
            "sent": rec[:, k.GD_QTY],
        }
    )


def _orders_frame(
    rec: np.ndarray, idx: pd.DatetimeIndex, symbols: Sequence[Hashable]
) -> pd.DataFrame:
    bar = rec[:, k.O_BAR].astype(np.int64)
    qty = rec[:, k.O_QTY]
    price = rec[:, k.O_PRICE]
    ref = rec[:, k.O_REF]
    return pd.DataFrame(
        {
            "time": idx[bar],
            "bar": bar,
            "symbol": _names(rec, k.O_SYM, symbols),
            "side": np.where(qty > 0, "BUY", "SELL"),
            "quantity": qty,
            "price": price,
            "value": np.abs(qty) * price,
            "commission": rec[:, k.O_COMM],
            "order_type": _names(rec, k.O_TYPE, _TYPE_NAMES),
            "reason": _names(rec, k.O_REASON, _REASON_NAMES),
            "reference_price": ref,
            "slippage_cost": np.abs(qty) * np.abs(price - ref),
        }
    )


def _trades_frame(
    rec: np.ndarray, idx: pd.DatetimeIndex, symbols: Sequence[Hashable]
) -> pd.DataFrame:
    entry = rec[:, k.T_ENTRY_BAR].astype(np.int64)
    exit_ = rec[:, k.T_EXIT_BAR].astype(np.int64)
    return pd.DataFrame(
        {
            "symbol": _names(rec, k.T_SYM, symbols),
            "direction": np.where(rec[:, k.T_DIR] > 0, "long", "short"),
            "entry_time": idx[entry],
            "exit_time": idx[exit_],
            "quantity": rec[:, k.T_QTY],
            "entry_price": rec[:, k.T_ENTRY_PX],
            "exit_price": rec[:, k.T_EXIT_PX],
            "pnl": rec[:, k.T_PNL],
            "return": rec[:, k.T_RET],
            "commission": rec[:, k.T_COMM],
            "holding_bars": exit_ - entry,
            "holding_days": (idx[exit_] - idx[entry]).days.to_numpy(),
            "is_open": rec[:, k.T_OPEN] > 0,
        }
    )


def strategy_targets(
    bars: pd.DataFrame, strategy: Strategy, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Run the strategy's signal function on each symbol (a cross-sectional one on the whole
    panel at once); exposures or weights as a (bars x symbols) frame."""
    b = bars_of(bars)
    frame = _targets(b, strategy, strategy.vector(params), [str(s) for s in b.symbols])[1]
    return frame if isinstance(frame, pd.DataFrame) else frame()


def _targets(
    b: Bars, strategy: Strategy, vec: np.ndarray, labels: list[Hashable]
) -> tuple[np.ndarray, pd.DataFrame | Callable[[], pd.DataFrame]]:
    """The strategy's targets for parameter vector ``vec`` on bars past the gate: the
    (bars x symbols) float64 array the kernel takes, and the frame labelled ``labels`` (or,
    for float64 signals, what builds it on demand: ~0.1 ms a run nobody may read)."""
    a = b.arrays
    if strategy.cross_sectional:
        out = strategy.signal(a["open"], a["high"], a["low"], a["close"], a["volume"], vec)
        shape = (len(b.index), len(b.symbols))
        if isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == shape:
            book = np.array(out, order="C")  # a copy, as the frame was: the caller keeps out
            if len(labels) == shape[1]:  # the frame pandas would make, built on demand
                return book, lambda: pd.DataFrame(book, index=b.index, columns=labels)
        frame = pd.DataFrame(out, index=b.index, columns=[str(c) for c in b.symbols])
    else:
        cols: dict[str, np.ndarray] = {}
        for j, sym in enumerate(b.symbols):
            o, h, lo, c, v = (np.ascontiguousarray(a[f][:, j]) for f in _FIELDS)
            cols[str(sym)] = strategy.signal(o, h, lo, c, v, vec)
        outs = list(cols.values())
        n = len(b.index)
        if len(outs) == len(labels) and all(
            isinstance(x, np.ndarray) and x.dtype == np.float64 and x.shape == (n,) for x in outs
        ):
            values = np.ascontiguousarray(np.stack(outs, axis=1))
            return values, lambda: pd.DataFrame(values, index=b.index, columns=labels)
        frame = pd.DataFrame(cols, index=b.index)
    if len(frame.columns) == len(labels):
        frame = frame.set_axis(labels, axis=1)
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64)), frame


def backtest(
    bars: pd.DataFrame,
    strategy: str | Strategy,
    params: Mapping[str, Any] | None = None,
    settings: EngineSettings | None = None,
    weights: Sequence[float] | None = None,
    risk: RiskLimits | None = None,
) -> BacktestResult:
    """Run ``strategy`` (a registered name or a Strategy) on ``bars`` and simulate its targets.

    A cross-sectional strategy's weights are taken as fractions of the whole book (sleeve
    weights 1 unless ``weights`` are given); a per-symbol one trades equal sleeves by default.
    """
    # split and validated once for the signal and the simulation
    return backtest_gated(bars_of(bars), strategy, params, settings, weights, risk)


def backtest_gated(
    b: Bars,
    strategy: str | Strategy,
    params: Mapping[str, Any] | None = None,
    settings: EngineSettings | None = None,
    weights: Sequence[float] | None = None,
    risk: RiskLimits | None = None,
) -> BacktestResult:
    """:func:`backtest` on bars already past the gate (:func:`bars_of`): a caller running
    many parameter sets on one book (the generic sweep's engine rows) gates it once."""
    strat = strategies.resolve(strategy)
    resolved = strat.resolve(params)
    vec = np.array([resolved[n] for n in strat.param_names], dtype=np.float64)  # = vector()
    values, frame = _targets(b, strat, vec, b.symbols)
    book = book_weights(strat, weights, values.shape[1])
    return _run(b, values, frame, settings, book, risk, strat.name, resolved)


def book_weights(
    strategy: Strategy, weights: Sequence[float] | None, n_symbols: int
) -> Sequence[float] | None:
    """The sleeve weights a strategy's targets are scaled by: the given ones, else equal
    sleeves (None) for a per-symbol strategy and 1 per symbol for a cross-sectional one,
    whose targets are already weights of the whole book."""
    if weights is not None or not strategy.cross_sectional:
        return weights
    return [1.0] * n_symbols
