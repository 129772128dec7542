"""Level-2 order books: exact replay of LOBSTER message files, order-flow features, queue
position and event-level backtests (issue 20).

* :func:`replay` rebuilds a :class:`~toolkit.data.LobsterDay`'s book from its messages and
  checks it against LOBSTER's book row by row (:class:`BookReplay`).
* :func:`event_features` / :func:`interval_features`: spread, size-weighted mid, depth
  imbalance, Cont-Kukanov-Stoikov order-flow imbalance, trade sign, realised volatility;
  Stoikov's micro-price via :func:`fit_micro_price` and :func:`micro_price`.
* :func:`fill_times`: when a resting order fills, by exact L3 queue position (LOBSTER's
  order ids) and hftbacktest's L2 queue models, on the same events.
* :func:`backtest_book`: an event-level market maker (latency, queue-position fills, fees,
  inventory limit) reported as a :class:`~toolkit.engine.result.BacktestResult`.
"""

from toolkit.orderbook.backtest import BookBacktest, MarketMaking, backtest_book, imbalance_signal
from toolkit.orderbook.features import (
    EventFeatures,
    IntervalFeatures,
    MicroPriceModel,
    event_features,
    fit_micro_price,
    interval_features,
    micro_price,
)
from toolkit.orderbook.queue import fill_times, touch_placements
from toolkit.orderbook.reconstruct import BookReplay, replay

__all__ = [
    "BookBacktest",
    "BookReplay",
    "EventFeatures",
    "IntervalFeatures",
    "MarketMaking",
    "MicroPriceModel",
    "backtest_book",
    "event_features",
    "fill_times",
    "fit_micro_price",
    "imbalance_signal",
    "interval_features",
    "micro_price",
    "replay",
    "touch_placements",
]
