"""POV sizes on the previous (or own) bar's volume; an iceberg never shows more than its
display size (property) and fills only where prices reached its limit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.execution.conftest import minute_bars
from toolkit.errors import ConfigError
from toolkit.execution import iceberg, pov


def test_pov_hand_example() -> None:
    bars = minute_bars([1000.0, 2000.0, 500.0, 3000.0, 4000.0])
    lagged = pov(400, bars, 0.1)  # previous bar: nothing in bar 0, then 100, 200, 50, 50 left
    assert lagged.bar.tolist() == [1, 2, 3, 4]
    assert lagged.quantity.tolist() == [100, 200, 50, 50]
    own = pov(400, bars, 0.1, lag=0)  # the bar's own: 100, 200, 50, 50 (parent done)
    assert own.bar.tolist() == [0, 1, 2, 3]
    assert own.quantity.tolist() == [100, 200, 50, 50]
    short = pov(10_000, bars, 0.1, lag=0)
    assert short.remaining == 10_000 - 1050


@settings(max_examples=50, deadline=None)
@given(volume=st.lists(st.integers(0, 20_000), min_size=2, max_size=200),
       quantity=st.integers(1, 50_000), rate=st.floats(0.001, 0.5))
def test_pov_rate_property(volume: list[int], quantity: int, rate: float) -> None:
    vol = np.asarray(volume, float)
    children = pov(quantity, minute_bars(vol), rate)
    assert (children.bar >= 1).all()
    assert (children.quantity <= rate * vol[children.bar - 1]).all()
    assert children.quantity.sum() + children.remaining == quantity


def test_iceberg_hand_example() -> None:
    bars = minute_bars([1000.0, 1000.0, 1000.0])
    bars.loc[bars.index[0], "low"] = 100.10  # bar 0 never reaches a 100.00 buy limit
    children, filled = iceberg(250, bars, 100.0, 100, fill_rate=0.15)  # 150 a bar
    assert filled.tolist() == [0, 150, 100]
    assert children.quantity.tolist() == [100, 100, 50]
    assert children.bar.tolist() == [0, 1, 2]  # the second tranche shows once the first fills
    assert set(children.order_type) == {"LMT"} and (children.limit == 100.0).all()


@settings(max_examples=60, deadline=None)
@given(
    volume=st.lists(st.integers(0, 5_000), min_size=1, max_size=120),
    quantity=st.integers(1, 20_000),
    display=st.integers(1, 2_000),
    jitter=st.sampled_from([0.0, 0.3, 0.8]),
    seed=st.integers(0, 1000),
    side=st.sampled_from(["BUY", "SELL"]),
)
def test_iceberg_never_shows_more_than_its_display(
    volume: list[int], quantity: int, display: int, jitter: float, seed: int, side: str
) -> None:
    bars = minute_bars(volume)
    children, filled = iceberg(quantity, bars, 100.0, display, side=side, fill_rate=0.2,
                               display_jitter=jitter, seed=seed)
    assert (children.quantity <= display).all()
    assert filled.sum() <= children.quantity.sum() <= quantity
    assert (filled <= np.floor(0.2 * np.asarray(volume, float))).all()
    again, _ = iceberg(quantity, bars, 100.0, display, side=side, fill_rate=0.2,
                       display_jitter=jitter, seed=seed)
    assert np.array_equal(children.quantity, again.quantity)  # reproducible per seed
    if filled.sum() == quantity:
        assert children.quantity.sum() == quantity


def test_bad_rate() -> None:
    with pytest.raises(ConfigError, match="percent of volume"):
        pov(10, minute_bars([10.0]), 0.0)
