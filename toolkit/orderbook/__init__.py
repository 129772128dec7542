"""Level-2 order books: exact replay of LOBSTER message files, order-flow features, queue
position and event-level backtests (issue 20).

* :func:`replay` rebuilds a :class:`~toolkit.data.LobsterDay`'s book from its messages and
  checks it against LOBSTER's book row by row (:class:`BookReplay`).
"""

from toolkit.orderbook.reconstruct import BookReplay, replay

__all__ = ["BookReplay", "replay"]
