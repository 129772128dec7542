"""Public entry points: simulate given targets, or run a registered strategy on bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from toolkit import strategies
from toolkit.data.calendar import session_days
from toolkit.engine import _kernels as k
from toolkit.engine._bars import FIELDS, as_panel, bar_arrays
from toolkit.engine.result import BacktestResult
from toolkit.engine.settings import EngineSettings, OrderType, Reason
from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
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
    return _simulate_panel(as_panel(bars), None, targets, settings, weights, risk)


def _simulate_panel(
    panel: Mapping[str, pd.DataFrame],
    arrays: Mapping[str, np.ndarray] | None,
    targets: pd.DataFrame | pd.Series,
    settings: EngineSettings | None,
    weights: Sequence[float] | None,
    risk: RiskLimits | None,
) -> BacktestResult:
    """:func:`simulate` on a panel already split (and, if ``arrays``, already validated)."""
    s = settings or EngineSettings()
    symbols = list(panel["close"].columns)
    tgt = targets.to_frame() if isinstance(targets, pd.Series) else targets
    tgt = tgt.set_axis(symbols, axis=1) if len(tgt.columns) == len(symbols) else tgt
    if not tgt.index.equals(panel["close"].index):
        raise DataError("targets and bars must share the same index.")
    a = bar_arrays(panel) if arrays is None else arrays
    w = np.full(len(symbols), 1.0 / len(symbols)) if weights is None else np.asarray(weights, float)
    if w.shape != (len(symbols),):
        raise ConfigError(f"weights has {w.size} values for {len(symbols)} symbols.")
    idx = pd.DatetimeIndex(panel["close"].index)
    equity, cash, pos, orders, trades = k.simulate_nb(
        a["open"],
        a["high"],
        a["low"],
        a["close"],
        np.ascontiguousarray(tgt.to_numpy(dtype=np.float64)),
        np.ascontiguousarray(w),
        month_ids(idx),
        # trading days matter only to the daily-loss limit (pandas time zones cost ~0.5 ms)
        day_ids(idx)
        if risk is not None and risk.daily_loss is not None
        else np.zeros(len(idx), dtype=np.int64),
        s.kernel(risk),
    )
    eq = pd.Series(equity, index=idx, name="equity")
    prev = np.concatenate([[s.init_cash], equity[:-1]])
    return BacktestResult(
        equity=eq,
        returns=pd.Series(equity / prev - 1.0, index=idx, name="returns"),
        cash=pd.Series(cash, index=idx, name="cash"),
        positions=pd.DataFrame(pos, index=idx, columns=symbols),
        targets=tgt,
        orders=_orders_frame(orders, idx, symbols),
        trades=_trades_frame(trades, idx, symbols),
        settings=s,
    )


# record codes -> names (the enums' lower-case names), indexable by a code array
_TYPE_NAMES = np.array([OrderType(i).name.lower() for i in range(len(OrderType))], dtype=object)
_REASON_NAMES = np.array([Reason(i).name.lower() for i in range(len(Reason))], dtype=object)


def _names(rec: np.ndarray, col: int, names: Sequence[str] | np.ndarray) -> np.ndarray:
    """Column ``col`` of records (integer codes stored as floats) as the names they index."""
    return np.asarray(names, dtype=object)[rec[:, col].astype(np.int64)]


def _orders_frame(rec: np.ndarray, idx: pd.DatetimeIndex, symbols: list[str]) -> pd.DataFrame:
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


def _trades_frame(rec: np.ndarray, idx: pd.DatetimeIndex, symbols: list[str]) -> pd.DataFrame:
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
    panel = as_panel(bars)
    return _panel_targets(panel, bar_arrays(panel), strategy, params)


def _panel_targets(
    panel: Mapping[str, pd.DataFrame],
    a: Mapping[str, np.ndarray],
    strategy: Strategy,
    params: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """:func:`strategy_targets` on a panel already split and validated."""
    vec = strategy.vector(params)
    if strategy.cross_sectional:
        close = panel["close"]
        out = strategy.signal(a["open"], a["high"], a["low"], a["close"], a["volume"], vec)
        return pd.DataFrame(out, index=close.index, columns=[str(c) for c in close.columns])
    cols: dict[str, np.ndarray] = {}
    for j, sym in enumerate(panel["close"].columns):
        o, h, lo, c, v = (np.ascontiguousarray(a[f][:, j]) for f in _FIELDS)
        cols[str(sym)] = strategy.signal(o, h, lo, c, v, vec)
    return pd.DataFrame(cols, index=panel["close"].index)


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
    strat = strategies.resolve(strategy)
    resolved = strat.resolve(params)
    panel = as_panel(bars)  # split and validated once for the signal and the simulation
    arrays = bar_arrays(panel)
    targets = _panel_targets(panel, arrays, strat, resolved)
    book = book_weights(strat, weights, targets.shape[1])
    result = _simulate_panel(panel, arrays, targets, settings, book, risk)
    return replace(result, strategy=strat.name, params=resolved)


def book_weights(
    strategy: Strategy, weights: Sequence[float] | None, n_symbols: int
) -> Sequence[float] | None:
    """The sleeve weights a strategy's targets are scaled by: the given ones, else equal
    sleeves (None) for a per-symbol strategy and 1 per symbol for a cross-sectional one,
    whose targets are already weights of the whole book."""
    if weights is not None or not strategy.cross_sectional:
        return weights
    return [1.0] * n_symbols
