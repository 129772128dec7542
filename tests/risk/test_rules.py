"""The shared risk rules: hand-computed cases, properties, and the engine applying them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toolkit as tk
from toolkit.config import parse_config
from toolkit.errors import ConfigError
from toolkit.risk import RiskLimits
from toolkit.risk.rules import check_order, desired_shares_nb, kill_switch

INF = math.inf


def _risk(**kw: float) -> np.ndarray:
    return RiskLimits(**kw).vector()  # type: ignore[arg-type]


def test_sizing_truncates_toward_zero() -> None:
    assert desired_shares_nb(1.0, 1.0, 100_000.0, 333.0, False) == 300.0  # 300.3 -> 300
    assert desired_shares_nb(-0.5, 1.0, 100_000.0, 333.0, False) == -150.0  # -150.15 -> -150
    assert desired_shares_nb(1.0, 0.5, 1000.0, 3.0, True) == pytest.approx(1000 / 6)


def test_position_order_and_gross_limits_by_hand() -> None:
    # $20k position cap at $100: at most 200 shares
    assert check_order(500, 0, 100.0, 1e6, 0.0, _risk(max_position=20_000), False) == (
        200.0,
        ["max_position"],
    )
    # already 150 long: the cap leaves 50 more
    assert check_order(500, 150, 100.0, 1e6, 0.0, _risk(max_position=20_000), False) == (
        50.0,
        ["max_position"],
    )
    # $7,550 order cap at $100: 75 shares (whole)
    assert check_order(500, 0, 100.0, 1e6, 0.0, _risk(max_order=7_550), False) == (
        75.0,
        ["max_order"],
    )
    # gross 1.0 x $100k equity with $60k elsewhere: $40k room = 400 shares
    assert check_order(-1000, 0, 100.0, 1e5, 60_000.0, _risk(max_gross=1.0), False) == (
        -400.0,
        ["max_gross"],
    )
    # a flip from +300 to -500 under a $20k cap ends at -200
    assert check_order(-800, 300, 100.0, 1e6, 0.0, _risk(max_position=20_000), False) == (
        -500.0,
        ["max_position"],
    )


def test_reductions_are_never_trimmed() -> None:
    r = _risk(max_position=1.0, max_order=1.0, max_gross=0.0)
    assert check_order(-300, 500, 100.0, 1e5, 9e9, r, False) == (-300.0, [])
    assert check_order(-500, 500, 100.0, 1e5, 9e9, r, False) == (-500.0, [])
    assert check_order(200, -500, 100.0, 1e5, 9e9, r, False) == (200.0, [])


@given(
    delta=st.integers(-10_000, 10_000),
    pos=st.integers(-5_000, 5_000),
    price=st.floats(1.0, 1000.0),
    max_position=st.floats(0.0, 1e6),
    max_order=st.floats(0.0, 1e6),
)
def test_a_trimmed_order_respects_every_limit(
    delta: int, pos: int, price: float, max_position: float, max_order: float
) -> None:
    r = _risk(max_position=max_position, max_order=max_order)
    d, fired = check_order(delta, pos, price, 1e6, 0.0, r, False)
    assert d == int(d) and abs(d) <= abs(delta) and (d == 0 or np.sign(d) == np.sign(delta))
    new = pos + d
    if abs(pos + delta) > abs(pos) or (pos + delta) * pos < 0:  # adds exposure somewhere
        assert abs(new) * price <= max(max_position, abs(pos) * price) + 1e-6 or abs(new) <= abs(
            pos
        )
        if pos != 0 and (pos + delta) * pos < 0:  # a flip: the cover goes out in full
            assert abs(d) >= abs(pos)
            opening = pos + d
        else:
            opening = d
        assert abs(opening) * price <= max_order + 1e-6  # only the opening part is capped
    else:
        assert d == delta and not fired


def test_kill_switch_by_hand() -> None:
    r = _risk(daily_loss=0.02, max_drawdown=0.10)
    assert kill_switch(98_100, 100_000, 100_000, r) is None
    assert kill_switch(97_900, 100_000, 100_000, r) == "daily_loss"
    assert kill_switch(89_000, 100_000, 89_500, r) == "max_drawdown"
    assert kill_switch(1.0, 1e9, 1.0, _risk()) is None
    # always on, whatever the limits: a wiped-out account stops for good
    assert kill_switch(0.0, 1e5, 1e5, _risk()) == "equity_wiped_out"
    assert kill_switch(-5.0, 1e5, 1e5, _risk()) == "equity_wiped_out"


_money = st.floats(-1e6, 1e7, allow_nan=False)
_limit = st.one_of(st.just(INF), st.floats(0.0, 1.0))


@given(_money, _money, _money, _limit, _limit)
def test_kill_switch_is_its_three_rules(
    equity: float, peak: float, day_start: float, daily_loss: float, max_drawdown: float
) -> None:
    """The switch (worked out as floors, kill_floors_nb, then compared: the sweep's driver
    computes the floors once) is the rules as stated, in their order: wiped out, then the
    day's loss against a positive day start, then the drawdown against a positive peak."""
    r = _risk(daily_loss=daily_loss, max_drawdown=max_drawdown)
    if equity <= 0.0:
        want = "equity_wiped_out"
    elif day_start > 0.0 and equity < day_start * (1.0 - daily_loss):
        want = "daily_loss"
    elif peak > 0.0 and equity < peak * (1.0 - max_drawdown):
        want = "max_drawdown"
    else:
        want = None
    assert kill_switch(equity, peak, day_start, r) == want


def _bars(close: list[float]) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC")
    c = np.asarray(close)
    return pd.DataFrame(
        {"open": c, "high": c, "low": c, "close": c, "volume": np.full(len(c), 1e6)}, index=idx
    )


def test_engine_drawdown_switch_flattens_and_stays_out() -> None:
    bars = _bars([100, 100, 95, 85, 80, 90, 100, 110])
    target = pd.Series(1.0, index=bars.index)
    settings = tk.EngineSettings(commission=tk.no_costs(), fill="close")
    free = tk.simulate(bars, target, settings)
    guarded = tk.simulate(bars, target, settings, risk=RiskLimits(max_drawdown=0.12))
    assert len(free.orders) == 1
    # 1000 shares at 100; at 85 equity is 85,000 (-15% from the peak): flattened at that close
    assert list(guarded.orders["quantity"]) == [1000.0, -1000.0]
    assert guarded.orders["time"].iloc[1] == bars.index[3]
    assert (guarded.positions.iloc[4:].to_numpy() == 0).all()
    assert guarded.equity.iloc[-1] == pytest.approx(85_000.0)


def test_engine_daily_loss_and_position_cap() -> None:
    bars = _bars([100, 100, 97, 96, 96])
    target = pd.Series(1.0, index=bars.index)
    s = tk.EngineSettings(commission=tk.no_costs(), fill="close")
    daily = tk.simulate(bars, target, s, risk=RiskLimits(daily_loss=0.025))
    assert list(daily.orders["quantity"]) == [1000.0, -1000.0]  # -3% on day 3
    capped = tk.simulate(bars, target, s, risk=RiskLimits(max_position=25_000))
    assert list(capped.orders["quantity"]) == [250.0]


def test_risk_table_in_config() -> None:
    raw = {
        "data": {"symbols": ["SPY"]},
        "strategy": {
            "name": "sma_cross",
            "params": {"fast": 5, "slow": 20, "allow_short": 0, "cross": 0},
        },
        "risk": {
            "max_drawdown": 0.2,
            "trading_hours": ["09:30", "15:55"],
            "max_orders_per_minute": 5,
        },
    }
    cfg = parse_config(raw)
    assert cfg.risk.max_drawdown == 0.2 and cfg.risk.max_orders_per_minute == 5
    assert cfg.risk.trading_hours is not None and cfg.risk.trading_hours.end.minute == 55
    with pytest.raises(ConfigError, match=r"\[risk\] trading_hours"):
        parse_config({**raw, "risk": {"trading_hours": ["16:00", "9:30"]}})
    with pytest.raises(ConfigError, match=r"\[risk\] unknown key max_loss"):
        parse_config({**raw, "risk": {"max_loss": 1}})


def test_trading_hours_are_closed_on_exchange_holidays() -> None:
    from toolkit.risk import TradingHours

    hours = TradingHours()  # 09:30-16:00 New York
    assert hours.allows(pd.Timestamp("2024-03-28 15:00", tz="UTC"))  # Thursday 11:00
    assert not hours.allows(pd.Timestamp("2024-03-29 15:00", tz="UTC"))  # Good Friday
    assert not hours.allows(pd.Timestamp("2024-07-04 15:00", tz="UTC"))
    assert not hours.allows(pd.Timestamp("2024-03-30 15:00", tz="UTC"))  # a Saturday
