"""Level-2 order books: exact replay of LOBSTER message files, order-flow features, queue
position and event-level backtests (issue 20).

* :func:`replay` rebuilds a :class:`~toolkit.data.LobsterDay`'s book from its messages and
  checks it against LOBSTER's book row by row (:class:`BookReplay`).
* :func:`event_features` / :func:`interval_features`: spread, size-weighted mid, depth
  imbalance, Cont-Kukanov-Stoikov order-flow imbalance, trade sign, realised volatility;
  Stoikov's micro-price via :func:`fit_micro_price` and :func:`micro_price`.
"""

from toolkit.orderbook.features import (
    EventFeatures,
    IntervalFeatures,
    MicroPriceModel,
    event_features,
    fit_micro_price,
    interval_features,
    micro_price,
)
from toolkit.orderbook.reconstruct import BookReplay, replay

__all__ = [
    "BookReplay",
    "EventFeatures",
    "IntervalFeatures",
    "MicroPriceModel",
    "event_features",
    "fit_micro_price",
    "interval_features",
    "micro_price",
    "replay",
]
