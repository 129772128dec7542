"""ChildOrders: one entry per child, positive sizes, time order, never more than the parent;
clock-planned children laid on bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.execution.conftest import minute_bars
from toolkit.errors import ConfigError
from toolkit.execution import ChildOrders, twap


def _children(quantity: list[int], parent: int = 10) -> ChildOrders:
    n = len(quantity)
    return ChildOrders(
        parent=parent,
        time=np.arange(n).astype("datetime64[m]").astype("datetime64[ns]"),
        bar=np.arange(n, dtype=np.int64),
        quantity=np.asarray(quantity, np.int64),
        order_type=np.full(n, "MKT"),
        limit=np.full(n, np.nan),
    )


def test_invariants() -> None:
    assert _children([3, 3]).remaining == 4
    with pytest.raises(ConfigError, match="positive"):
        _children([3, 0])
    with pytest.raises(ConfigError, match="more than the parent"):
        _children([6, 6])


def test_on_bars() -> None:
    bars = minute_bars([1.0] * 10)
    start = bars.index[0]
    children = twap(4, start, start + pd.Timedelta(minutes=10), 4).on_bars(bars)
    assert children.bar.tolist() == [0, 2, 5, 7]  # 0, 2.5, 5, 7.5 minutes in
