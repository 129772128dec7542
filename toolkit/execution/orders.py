"""Child orders: what every schedule returns, the one type the backtest, the live bridge and
TCA read (time, quantity, order type, limit), plus the parent it came from."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from toolkit.errors import ConfigError, DataError

MARKET = "MKT"
LIMIT = "LMT"
ORDER_TYPES = (MARKET, LIMIT)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChildOrders:
    """A worked parent order as child orders, in time order.

    ``time``: UTC instants (datetime64[ns]); ``bar``: the index of the bar each child trades in
    (-1 when the schedule was planned on a clock, not on bars); ``quantity``: shares, all > 0;
    ``order_type``: ``"MKT"`` or ``"LMT"``; ``limit``: the limit price (NaN for market orders).
    ``parent`` is the quantity asked for; ``remaining`` what the schedule could not place
    (a participation cap that binds until the window ends)."""

    parent: int
    time: npt.NDArray[np.datetime64]
    bar: IntArray
    quantity: IntArray
    order_type: npt.NDArray[np.str_]
    limit: FloatArray

    def __post_init__(self) -> None:
        n = self.quantity.size
        if any(a.size != n for a in (self.time, self.bar, self.order_type, self.limit)):
            raise ConfigError("ChildOrders: time, bar, quantity, order_type and limit must "
                              "have one entry per child.")
        if n and int(self.quantity.min()) <= 0:
            raise ConfigError("ChildOrders: every child quantity must be positive.")
        if n > 1 and bool((np.diff(self.time) < np.timedelta64(0, "ns")).any()):
            raise ConfigError("ChildOrders: children must be in time order.")
        if int(self.quantity.sum()) > self.parent:
            raise ConfigError(f"ChildOrders: children add up to {int(self.quantity.sum())} "
                              f"shares, more than the parent's {self.parent}.")

    @property
    def remaining(self) -> int:
        """Shares of the parent not placed by any child."""
        return self.parent - int(self.quantity.sum())

    def __len__(self) -> int:
        return int(self.quantity.size)

    def on_bars(self, bars: pd.DataFrame) -> ChildOrders:
        """The same children with ``bar`` set to the bar each one's time falls in (the last
        bar starting at or before it), e.g. a clock-planned TWAP laid on minute bars."""
        starts = bar_times(bars)
        bar = np.searchsorted(starts, self.time, side="right").astype(np.int64) - 1
        if (bar < 0).any():
            raise DataError("on_bars: a child comes before the first bar; pass bars that "
                            "cover the schedule's window.")
        return replace(self, bar=bar)

    def frame(self) -> pd.DataFrame:
        """The children as a frame indexed by their UTC time."""
        return pd.DataFrame(
            {
                "bar": self.bar,
                "quantity": self.quantity,
                "order_type": self.order_type,
                "limit": self.limit,
            },
            index=pd.DatetimeIndex(self.time, name="time").tz_localize("UTC"),
        )


def market_children(
    parent: int, time: npt.NDArray[np.datetime64], bar: IntArray, quantity: IntArray
) -> ChildOrders:
    """Market children from per-slot sizes; slots of size 0 are dropped."""
    keep = quantity > 0
    n = int(keep.sum())
    return ChildOrders(
        parent=parent,
        time=time[keep].astype("datetime64[ns]"),
        bar=bar[keep].astype(np.int64),
        quantity=quantity[keep].astype(np.int64),
        order_type=np.full(n, MARKET),
        limit=np.full(n, np.nan),
    )


def check_quantity(quantity: int) -> int:
    """A parent quantity: a positive whole number of shares."""
    if isinstance(quantity, bool) or int(quantity) != quantity or quantity <= 0:
        raise ConfigError(f"quantity={quantity!r}: a parent order needs a positive whole number "
                          "of shares (the side is the caller's: buy or sell the same schedule).")
    return int(quantity)


def bar_times(bars: pd.DataFrame) -> npt.NDArray[np.datetime64]:
    """The bars' start instants as naive-UTC datetime64[ns] (a tz-aware index is required)."""
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("bars need a time-zone-aware DatetimeIndex (the loader's UTC).")
    return np.asarray(index.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]"))
