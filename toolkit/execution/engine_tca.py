"""Transaction-cost analysis of a bar backtest's orders (:func:`toolkit.engine.backtest`): each
engine order is a parent filled at once, analysed by :func:`toolkit.execution.tca_many` (the
live session's order history uses the same function, :mod:`toolkit.live.tca_history`).

The arrival rule, as the engine decides and fills (the one place it is written):

* a **signal** order is decided at the close of its decision bar: the bar before its fill bar
  (a next-open market order, and every limit or stop order, which works through the bar after
  the decision), or its fill bar itself for a market order with ``fill = "close"``; its
  arrival price is that close (:func:`~toolkit.execution.arrival_mid`'s last-price fallback:
  bars carry no quotes);
* a **protective exit** (stop-loss, take-profit, trailing stop) is decided by its trigger: its
  arrival is the engine's reference price (the stop or limit price, or the open it gapped
  through), so its execution cost is the exit's slippage.

The decision time is the start of the fill bar (bars are stamped at their start: the decision
bar's end), the horizon ends with the fill bar, whose close is P_N and the close benchmark;
interval VWAP and TWAP are the fill bar's (its ``vwap`` column, else its close). With one fill
at the decision's next bar there is no observable delay; the overnight or intrabar move from
the decision close to the fill is the execution cost. An order the engine did not fill (a
limit that did not touch) has no record, so a backtest shows no opportunity cost.

Reconciliation (tested): the orders' paper P&L minus their shortfall plus each fill's P&L from
its horizon to the last close (:func:`toolkit.execution.after_horizon`) is the backtest's P&L
(final equity - initial cash).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

from toolkit.engine._bars import as_panel
from toolkit.engine.result import BacktestResult
from toolkit.errors import DataError
from toolkit.execution.tca import COLUMNS, arrival_mid, tca_many


def engine_parents(
    result: BacktestResult, bars: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """The parents, fills and per-symbol bar paths :func:`tca_many` takes for ``result``'s
    orders on ``bars`` (the frame the backtest ran on: single-symbol or (field, symbol))."""
    orders = result.orders
    panel = as_panel(bars)
    symbols = [str(c) for c in panel["close"].columns]
    named = {str(s) for s in orders["symbol"]} if len(orders) else set()
    rename: dict[Hashable, str] = {}
    if len(symbols) == 1 and len(named) == 1 and named != set(symbols):
        rename = {panel["close"].columns[0]: next(iter(named))}  # a frame without its symbol
        symbols = list(named)
    close = panel["close"].rename(columns=rename)
    volume = panel["volume"].rename(columns=rename)
    vwap = panel.get("vwap")
    missing = sorted(named - set(symbols))
    if missing:
        raise DataError(
            f"engine_tca: no bars for {', '.join(missing)}: pass the bars the backtest ran on."
        )
    idx = close.index
    if len(orders) and int(orders["bar"].max()) >= len(idx):
        raise DataError(
            "engine_tca: the result's orders reach past these bars: pass the bars "
            "the backtest ran on."
        )
    bar = orders["bar"].to_numpy(dtype=np.int64)
    same_bar = (orders["order_type"].to_numpy() == "market") & (result.settings.fill == "close")
    signal = orders["reason"].to_numpy() == "signal"
    decided = np.where(same_bar, bar, bar - 1)
    if (signal & (decided < 0)).any():
        raise DataError(
            "engine_tca: a signal order fills on the first bar, before any "
            "decision close: pass the bars the backtest ran on."
        )
    closes = close.to_numpy(dtype=float)
    col = pd.Index(close.columns).get_indexer(pd.Index(orders["symbol"].astype(str)))
    arrival = [
        arrival_mid(None, None, last=float(closes[d, c])) if s else float(ref)
        for d, c, s, ref in zip(decided, col, signal, orders["reference_price"], strict=True)
    ]
    order_id = [f"{i}" for i in range(len(orders))]
    times = pd.DatetimeIndex(idx[bar])
    parents = pd.DataFrame(
        {
            "order_id": order_id,
            "symbol": orders["symbol"].astype(str).to_numpy(),
            "side": orders["side"].to_numpy(),
            "quantity": orders["quantity"].abs().to_numpy(dtype=float),
            "decision_time": times,
            "arrival_price": arrival,
            "end_time": times,
        }
    )
    fills = pd.DataFrame(
        {
            "order_id": order_id,
            "time": times,
            "quantity": parents["quantity"].to_numpy(),
            "price": orders["price"].to_numpy(dtype=float),
            "fee": orders["commission"].to_numpy(dtype=float),
        }
    )
    paths = {}
    for sym in sorted(named):
        frame = pd.DataFrame({"close": close[sym], "volume": volume[sym]})
        if vwap is not None and sym in vwap.columns:
            frame["vwap"] = vwap[sym]
        paths[sym] = frame
    return parents, fills, paths


def engine_tca(result: BacktestResult, bars: pd.DataFrame) -> pd.DataFrame:
    """TCA of every order of a backtest ``result`` on ``bars`` (the frame it ran on): one
    row per order in the orders' order (index = the order's row in ``result.orders``), the
    columns of :func:`tca_many` plus ``reason`` and ``order_type``."""
    parents, fills, paths = engine_parents(result, bars)
    if parents.empty:
        return pd.DataFrame(columns=[*COLUMNS, "reason", "order_type"]).rename_axis("order")
    tca = tca_many(parents.set_index("order_id"), fills, paths)
    tca.index = tca.index.astype(int)
    tca.index.name = "order"
    orders = result.orders.reset_index(drop=True)
    return tca.assign(
        reason=orders["reason"].to_numpy(), order_type=orders["order_type"].to_numpy()
    )
