"""Event-level backtest of a market maker on a LOBSTER day, reported like a bar backtest.

The strategy quotes the touch on both sides and pulls the side its signal says is about to
be run over (:func:`imbalance_signal`, a causal pure function of the events: the depth
imbalance over the first levels, as :mod:`toolkit.orderbook.features` computes it). The
simulation (``toolkit.orderbook._backtest_nb``) replays every event with feed and order
latency, fills resting quotes by their queue position (exact L3 by default, or one of
hftbacktest's L2 queue models, :mod:`toolkit.orderbook.queue`), books maker rebates / taker
fees, holds a hard inventory limit, pulls its quotes in trading halts and closes out at
the end of the day.

The result is a :class:`~toolkit.engine.result.BacktestResult` on equity marks (every
``mark_seconds``, default 1 s), so ``metrics()``, ``plot()`` and the tear sheet
(:func:`toolkit.report.tearsheet.write_tearsheet` on ``result.returns``, with
``result.settings.periods_per_year``) are the ones bar backtests use; the fills with their
exact event times are kept beside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from toolkit.data.lobster import LobsterDay, trading_status
from toolkit.engine._kernels import MARKET, O_COMM, O_PRICE, O_QTY, O_TYPE, ORDER_COLS
from toolkit.engine.backtest import _Frames
from toolkit.engine.result import BacktestResult
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError, DataError
from toolkit.orderbook._backtest_nb import simulate_book_nb
from toolkit.orderbook.features import event_features
from toolkit.orderbook.queue import MODELS, event_arrays

_SESSION_SECONDS = 23_400.0  # 09:30-16:00
STRATEGY = "book_imbalance_mm"


@dataclass(frozen=True)
class MarketMaking:
    """The market maker's parameters and the simulation's costs and delays.

    Fees are USD per share, a negative fee a rebate: NASDAQ's 2012 schedule paid about
    $0.0020-0.0029 to add liquidity and charged $0.0030 to take it (the defaults are its
    plain tier). Latencies in seconds (1 ms each way: a co-located but not the fastest
    trader of 2012)."""

    quote_size: int = 100
    max_position: int = 500
    threshold: float = 0.5  # pull a side when the imbalance is beyond this (0..1)
    imbalance_levels: int = 3
    feed_latency: float = 0.001
    order_latency: float = 0.001
    maker_fee: float = -0.0020
    taker_fee: float = 0.0030
    queue_model: str = "l3"
    queue_param: float = 2.0  # the exponent of the power models
    hidden_prints: bool = False
    init_cash: float = 500_000.0
    mark_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.queue_model not in MODELS:
            raise ConfigError(f"queue_model {self.queue_model!r} is not one of {', '.join(MODELS)}")
        if self.queue_model.startswith("power") and not self.queue_param > 0:
            raise ConfigError(f"queue_param must be a positive exponent, got {self.queue_param!r}")
        for name in ("quote_size", "max_position", "imbalance_levels", "init_cash"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("feed_latency", "order_latency"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0 seconds, got {getattr(self, name)!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must lie in [0, 1], got {self.threshold!r}")
        if not self.mark_seconds > 0:
            raise ConfigError(f"mark_seconds must be positive, got {self.mark_seconds!r}")


@dataclass(frozen=True)
class BookBacktest:
    """A market-making run: ``result`` on equity marks (metrics, plot, tear sheet as for bar
    backtests), ``fills`` at event resolution (time, event, side, shares, price, fee,
    liquidity), ``equity`` per event, and the config it ran with."""

    result: BacktestResult
    fills: pd.DataFrame
    equity: pd.Series
    config: MarketMaking


def imbalance_signal(lobster: LobsterDay, levels: int = 3) -> NDArray[np.float64]:
    """The market maker's signal per event: the depth imbalance (bid - ask) / (bid + ask) over
    the first ``levels`` book levels (at most the day's), from
    :func:`toolkit.orderbook.features.event_features` (+1: all depth on the bid, buyers
    press; -1: all on the ask). Causal and pure: its value at event t depends on the events
    up to t only."""
    depth = max(1, min(int(levels), lobster.levels))
    return np.ascontiguousarray(event_features(lobster, depth_levels=depth).depth_imbalance)


def _marks(time: NDArray[Any], day: date, every: float) -> tuple[NDArray[Any], pd.DatetimeIndex]:
    """Each event's equity mark (the first mark at or after it) and the marks' times."""
    start = math.ceil(time[0] / every) * every
    grid = np.arange(start, time[-1] + every, every)
    mark = np.searchsorted(grid, time, side="left")
    idx = pd.Timestamp(day) + pd.to_timedelta(grid, unit="s")
    return mark.astype(np.int64), pd.DatetimeIndex(idx)


def backtest_book(
    lobster: LobsterDay,
    config: MarketMaking | None = None,
    *,
    signal: NDArray[Any] | None = None,
) -> BookBacktest:
    """Run the market maker over a LOBSTER day (:func:`toolkit.data.lobster.read_lobster`).
    ``signal`` (one value per event) defaults to :func:`imbalance_signal` of the book."""
    cfg = config or MarketMaking()
    messages, book = lobster.messages, lobster.book
    symbol, day = lobster.symbol, lobster.date
    n = len(messages)
    if n == 0 or book.shape[0] != n:
        raise DataError(f"need one book row per message, got {n} messages, {book.shape[0]} rows")
    sig = imbalance_signal(lobster, cfg.imbalance_levels) if signal is None else signal
    sig = np.ascontiguousarray(sig, dtype=np.float64)
    if sig.shape != (n,):
        raise ConfigError(f"signal must have one value per event ({n}), got shape {sig.shape}")
    events = event_arrays(lobster)
    mark, idx = _marks(events.time, day, cfg.mark_seconds)
    equity, cash, pos, orders, trades = simulate_book_nb(
        events,
        sig,
        trading_status(messages),
        mark,
        float(cfg.feed_latency),
        float(cfg.order_latency),
        float(cfg.quote_size),
        float(cfg.max_position),
        float(cfg.threshold),
        float(cfg.maker_fee),
        float(cfg.taker_fee),
        MODELS[cfg.queue_model],
        float(cfg.queue_param),
        bool(cfg.hidden_prints),
        float(cfg.init_cash),
    )
    # each mark holds the state after the last event at or before it
    last = np.searchsorted(mark, np.arange(len(idx)), side="right") - 1
    seen = last >= 0
    at = np.maximum(last, 0)
    eq_m = np.where(seen, equity[at], cfg.init_cash)
    cash_m = np.where(seen, cash[at], cfg.init_cash)
    pos_m = np.where(seen, pos[at], 0.0)[:, None]
    targets = pd.DataFrame({symbol or "book": np.where(seen, sig[at], np.nan)}, index=idx)
    settings = EngineSettings(
        init_cash=cfg.init_cash, periods_per_year=252.0 * _SESSION_SECONDS / cfg.mark_seconds
    )
    frames = _Frames(
        idx,
        [symbol or "book"],
        cfg.init_cash,
        np.ascontiguousarray(eq_m),
        np.ascontiguousarray(cash_m),
        np.ascontiguousarray(pos_m),
        np.ascontiguousarray(orders[:, :ORDER_COLS]),
        trades,
        targets,
        np.zeros((0, 5)),
    )
    result = BacktestResult.deferred(frames, settings, STRATEGY, asdict(cfg))
    event = orders[:, ORDER_COLS].astype(np.int64)
    fills = pd.DataFrame(
        {
            "time": pd.Timestamp(day) + pd.to_timedelta(events.time[event], unit="s"),
            "event": event,
            "side": np.where(orders[:, O_QTY] > 0, "BUY", "SELL"),
            "quantity": np.abs(orders[:, O_QTY]),
            "price": orders[:, O_PRICE],
            "fee": orders[:, O_COMM],
            "liquidity": np.where(orders[:, O_TYPE] == MARKET, "taker", "maker"),
        }
    )
    eq = pd.Series(equity, index=pd.Timestamp(day) + pd.to_timedelta(events.time, unit="s"))
    return BookBacktest(result=result, fills=fills, equity=eq.rename("equity"), config=cfg)
