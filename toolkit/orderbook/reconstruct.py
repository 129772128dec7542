"""Exact replay of a LOBSTER day: rebuild the visible book from its messages and check it
against LOBSTER's own book row by row (issue 20.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from toolkit.data.lobster import CROSS, EXECUTE, EXECUTE_HIDDEN, LobsterDay
from toolkit.orderbook._replay import replay_nb


@dataclass(frozen=True, eq=False)
class BookReplay:
    """The book rebuilt from a day's messages.

    ``book`` (int64, same shape and columns as :attr:`LobsterDay.book`) starts from LOBSTER's
    first book row and applies every later message. ``refilled[i]`` marks the rows where a
    level entered a full side from beyond the file's depth; that level alone is taken from
    LOBSTER's book (no message file can know it). ``differs[i]`` marks rows where the rebuilt
    book is not LOBSTER's (0 on every shipped file). Hidden executions (type 5) and crosses
    (type 6) leave the visible book as it was but count as trades."""

    book: NDArray[np.int64]
    refilled: NDArray[np.bool_]
    differs: NDArray[np.bool_]
    trades: int
    hidden_trades: int
    traded_volume: int
    hidden_volume: int

    @property
    def refills(self) -> int:
        """Rows where a level entered from beyond the depth (taken from the book file)."""
        return int(self.refilled.sum())

    @property
    def differences(self) -> int:
        """Rows where the rebuilt book differs from LOBSTER's."""
        return int(self.differs.sum())


def replay(day: LobsterDay) -> BookReplay:
    """Rebuild ``day``'s book from its first row and its messages (numba), flag the rows that
    needed a level from beyond the depth and compare every row with LOBSTER's book."""
    msgs = day.messages
    n = len(msgs)
    out = np.empty_like(day.book)
    refilled = np.zeros(n, dtype=np.bool_)
    differs = np.zeros(n, dtype=np.bool_)
    if n:
        kinds = np.ascontiguousarray(msgs["type"])
        replay_nb(
            kinds,
            np.ascontiguousarray(msgs["size"]),
            np.ascontiguousarray(msgs["price"]),
            np.ascontiguousarray(msgs["direction"]),
            np.ascontiguousarray(day.book),
            out,
            refilled,
            differs,
        )
    kinds_all: NDArray[Any] = msgs["type"]
    sizes: NDArray[Any] = msgs["size"]
    traded = (kinds_all == EXECUTE) | (kinds_all == EXECUTE_HIDDEN) | (kinds_all == CROSS)
    hidden = kinds_all == EXECUTE_HIDDEN
    return BookReplay(
        book=out,
        refilled=refilled,
        differs=differs,
        trades=int(traded.sum()),
        hidden_trades=int(hidden.sum()),
        traded_volume=int(sizes[traded].sum()),
        hidden_volume=int(sizes[hidden].sum()),
    )
