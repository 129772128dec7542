"""Execution backtest: a target path worked by a schedule on minute bars, fills capped by the
bar's volume, a square-root impact price, booked by the core's booking and commissions, and
the TCA of every parent."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.engine.commissions import no_costs, proportional
from toolkit.errors import ConfigError, DataError
from toolkit.execution import ChildOrders, pov, sessions
from toolkit.execution.backtest import Impact, execution_backtest, session_targets

# its tests compile the same execution kernels (~4 s cold, then 0.4-1.3 s a test): one
# pytest-xdist worker runs the module, so a fresh clone compiles them once, not per worker
pytestmark = pytest.mark.xdist_group("execution_backtest")


def _bars(close: list[float], volume: list[float], open0: float) -> pd.DataFrame:
    """Minute bars from 09:30 New York whose typical price (h + l + c) / 3 is the close."""
    index = pd.date_range("2024-05-17 09:30", periods=len(close), freq="1min",
                          tz="America/New_York").tz_convert("UTC")
    c = np.asarray(close, float)
    opens = np.r_[open0, c[:-1]]
    return pd.DataFrame({"open": opens, "high": c + 0.3, "low": c - 0.3, "close": c,
                         "volume": np.asarray(volume, float)}, index=index)


def test_three_bars_by_hand() -> None:
    """Buy 300 by TWAP in 3 slices of 100 over 3 bars (volumes 1000, 500, 2000; cap 10 %:
    100, 50, 200 shares): bar 0 fills 100, bar 1 fills 50 and carries 50, bar 2 fills 150.
    Impact k sigma sqrt(q / V) with sigma 0.001; fees 0.1 % of value; arrival = the first
    bar's open 99.9 (no bar before the decision)."""
    bars = _bars([100.0, 101.0, 102.0], [1000, 500, 2000], open0=99.9)
    res = execution_backtest(bars, [(bars.index[0], 300)], schedule="twap", slices=3,
                             window="3min", max_pct_vol=0.1,
                             impact=Impact("sqrt", k=1.0, sigma=0.001),
                             commission=proportional(0.001), initial_cash=100_000.0)
    q = np.array([100.0, 50.0, 150.0])
    base = np.array([100.0, 101.0, 102.0])
    frac = 0.001 * np.sqrt(q / np.array([1000.0, 500.0, 2000.0]))
    price = base * (1.0 + frac)
    fee = 0.001 * q * price
    f = res.fills
    assert f["quantity"].tolist() == q.tolist()
    assert f["cap"].tolist() == [100.0, 50.0, 200.0]
    assert np.allclose(f["price"], price, rtol=0, atol=1e-12)
    assert np.allclose(f["impact_bp"], frac * 1e4, rtol=0, atol=1e-12)
    assert np.allclose(f["fee"], fee, rtol=0, atol=1e-12)
    cash = 100_000.0 - (q * price).sum() - fee.sum()
    eq = res.equity
    assert eq["position"].tolist() == [100.0, 150.0, 300.0]
    assert eq["cash"].iloc[-1] == pytest.approx(cash, abs=1e-9)
    assert eq["equity"].iloc[-1] == pytest.approx(cash + 300 * 102.0, abs=1e-9)
    assert eq["avg_cost"].iloc[-1] == pytest.approx((q * price).sum() / 300, abs=1e-12)
    row = res.parents.loc["P1"]
    assert row["filled"] == 300 and row["capped_unfilled"] == 0
    assert row["arrival_price"] == 99.9
    avg = (q * price).sum() / 300
    assert row["avg_fill_price"] == pytest.approx(avg, abs=1e-12)
    assert row["slippage_bp"] == pytest.approx((avg / 99.9 - 1) * 1e4, abs=1e-9)
    assert row["execution_cost"] == pytest.approx((q * (price - 99.9)).sum(), abs=1e-9)
    assert row["fees"] == pytest.approx(fee.sum(), abs=1e-12)
    # paper P&L - real P&L at the horizon's close 102 = the shortfall
    assert row["total_cost"] == pytest.approx(300 * (avg - 99.9) + fee.sum(), abs=1e-9)


def test_leftover_after_window_is_unfilled_and_sells_pay_impact_downward() -> None:
    """Sell 300 (target -300 from flat) with a cap of 10 % of 1000, 500, 500: 100 + 50 + 50
    fill, 100 shares stay unfilled; the sell's price is moved down by the impact; TCA counts
    the rest as opportunity cost valued from release to the horizon's close."""
    bars = _bars([100.0, 99.0, 98.0], [1000, 500, 500], open0=100.0)
    res = execution_backtest(bars, [(bars.index[0], -300)], schedule="twap", slices=3,
                             window="3min", max_pct_vol=0.1,
                             impact=Impact("linear", k=2.0, sigma=0.002),
                             commission=no_costs())
    f = res.fills
    assert f["quantity"].tolist() == [100.0, 50.0, 50.0]
    frac = 2.0 * 0.002 * np.array([0.1, 0.1, 0.1])
    assert np.allclose(f["price"], np.array([100.0, 99.0, 98.0]) * (1 - frac), atol=1e-12)
    row = res.parents.loc["P1"]
    assert row["side"] == "SELL" and row["unfilled"] == 100 and row["capped_unfilled"] == 100
    # opportunity: s (Q - X)(P_N - P_r) = -1 x 100 x (98 - 100)
    assert row["opportunity_cost"] == pytest.approx(200.0, abs=1e-9)
    assert res.equity["position"].iloc[-1] == -200.0


def test_targets_not_deltas_and_refusals() -> None:
    """The second parent trades the gap to what the first one actually filled; a decision
    inside a working parent's window, or a fractional target, is refused with one line."""
    bars = _bars([100.0] * 8, [1000] * 4 + [10_000] * 4, open0=100.0)
    res = execution_backtest(bars, [(bars.index[0], 500), (bars.index[4], 0)],
                             schedule="twap", window="4min", max_pct_vol=0.1,
                             impact=Impact("none"), commission=no_costs())
    assert res.parents["filled"].tolist() == [400.0, 400.0]
    assert res.parents.loc["P2", "quantity"] == 400.0
    assert res.equity["position"].iloc[-1] == 0.0
    with pytest.raises(ConfigError, match="while the previous parent still works"):
        execution_backtest(bars, [(bars.index[0], 500), (bars.index[2], 0)], window="4min",
                           impact=Impact("none"))
    with pytest.raises(ConfigError, match="not a whole number of shares"):
        execution_backtest(bars, [(bars.index[0], 1.5)], impact=Impact("none"))
    with pytest.raises(DataError, match="needs at least 2"):
        execution_backtest(bars, [(bars.index[0], 100)])


@settings(max_examples=40, deadline=None)
@given(
    volume=st.lists(st.integers(0, 5_000), min_size=2, max_size=12),
    quantity=st.integers(1, 20_000),
    cap=st.sampled_from([0.01, 0.05, 0.1, 0.25, 0.5, 1.0]),
    schedule=st.sampled_from(["twap", "pov"]),
)
def test_no_bar_fills_more_than_cap_times_volume(
    volume: list[int], quantity: int, cap: float, schedule: str
) -> None:
    """Whatever the schedule wants, a bar's fill never exceeds floor(cap x volume), fills stay
    in the window, and filled + unfilled = the parent."""
    bars = _bars([100.0] * len(volume), volume, open0=100.0)
    res = execution_backtest(bars, [(bars.index[0], quantity)], schedule=schedule,
                             window=f"{len(volume)}min", max_pct_vol=cap,
                             impact=Impact(sigma=0.001), commission=no_costs(), pov_rate=0.5)
    f = res.fills
    vol = bars["volume"].to_numpy()[f["bar"].to_numpy()]
    assert (f["quantity"].to_numpy() <= np.floor(cap * vol + 1e-9)).all()
    assert (f["quantity"] > 0).all()
    row = res.parents.iloc[0]
    assert row["filled"] + row["unfilled"] == quantity
    assert row["capped_unfilled"] + row["unplaced"] == row["unfilled"]


@pytest.fixture(scope="module")
def spy() -> pd.DataFrame:
    from tests.execution.conftest import SPY_MINUTES

    raw = pd.read_csv(SPY_MINUTES)
    return raw.set_index(pd.DatetimeIndex(pd.to_datetime(raw.pop("timestamp"), utc=True)))


def test_twap_vs_vwap_on_spy_sessions(spy: pd.DataFrame) -> None:
    """Six held-out SPY sessions (after the VWAP profile's 20): buy 300,000 at 10:00 New York,
    flatten at 10:00 the next session, each over 120 minutes at a 10 % participation cap, by
    TWAP and by VWAP. The slippage table reconciles (components sum to the shortfall; the
    impact's share of the execution cost equals sum q x base x impact), no fill exceeds its
    bar's cap, and the numbers are pinned (they are printed in the report)."""
    days = sessions(spy).days[20:26]
    targets = [(pd.Timestamp(f"{d} 10:00", tz="America/New_York"), 300_000 * (1 - i % 2))
               for i, d in enumerate(days)]
    tables = {}
    for schedule in ("twap", "vwap"):
        res = execution_backtest(spy, targets, schedule=schedule, window="120min",
                                 max_pct_vol=0.1)
        p = res.parents
        parts = p[["delay_cost", "execution_cost", "opportunity_cost", "fees"]].sum(axis=1)
        assert np.abs(parts - p["total_cost"]).max() <= 1e-6
        f = res.fills
        assert (f["quantity"] <= f["cap"]).all()
        assert (f["cap"] == np.floor(0.1 * spy["volume"].to_numpy()[f["bar"]] + 1e-9)).all()
        assert p["filled"].sum() == f["quantity"].sum()
        # the same run without impact: the execution cost drops by exactly the impact's cost
        flat = execution_backtest(spy, targets, schedule=schedule, window="120min",
                                  max_pct_vol=0.1, impact=Impact("none"))
        impact_cost = (f["quantity"] * f["base_price"] * f["impact_bp"] / 1e4).groupby(
            f["order_id"]).sum()
        assert np.allclose(p["execution_cost"] - flat.parents["execution_cost"],
                           impact_cost[p.index], rtol=1e-9)
        assert (res.equity["position"].iloc[-1]) == pytest.approx(
            p["filled"].where(p["side"] == "BUY", -p["filled"]).sum())
        tables[schedule] = res.slippage()
    twap, vwap = tables["twap"], tables["vwap"]
    assert len(twap) == len(vwap) == 6
    # TWAP ignores volume: its cap binds and leaves shares unfilled; VWAP sizes within it
    assert twap["filled"].sum() < 6 * 300_000
    assert math.isclose(twap["total_bp"].mean(), 3.031, abs_tol=0.005)
    assert math.isclose(vwap["total_bp"].mean(), 2.714, abs_tol=0.005)


def test_series_targets_custom_schedule_and_no_change() -> None:
    """Targets as a Series with naive (UTC) times; a caller's schedule gets the quantity, the
    window's bars and only the bars before the window; a path that never changes the
    position makes no parent and leaves the cash alone."""
    bars = _bars([100.0, 100.5, 101.0, 101.5], [1000] * 4, open0=100.0)
    seen: dict[str, object] = {}

    def front_loaded(q: int, window: pd.DataFrame, history: pd.DataFrame) -> ChildOrders:
        seen["window"], seen["history"] = len(window), len(history)
        return pov(q, window, 0.5, lag=0)

    naive = bars.index.tz_convert("UTC").tz_localize(None)
    res = execution_backtest(bars, pd.Series([150.0], index=[naive[1]]),
                             schedule=front_loaded, window="2min", max_pct_vol=0.1,
                             impact=Impact(sigma=0.0), commission=no_costs())
    assert seen == {"window": 2, "history": 1}
    assert res.parents.loc["P1", "schedule"] == "front_loaded"
    assert res.fills["quantity"].tolist() == [100.0, 50.0]
    assert res.fills.index[0] == bars.index[1]
    # arrival: the close of bar 0, the last bar completed at the decision
    assert res.parents.loc["P1", "arrival_price"] == 100.0
    flat = execution_backtest(bars, [(bars.index[1], 0)], impact=Impact("none"),
                              initial_cash=5.0)
    assert flat.parents.empty and flat.fills.empty and "total_bp" in flat.slippage().columns
    assert (flat.equity["cash"] == 5.0).all()


def test_sigma_skips_the_overnight_return_and_the_unfinished_bar() -> None:
    """The impact's volatility: returns of bars completed at the decision, not the overnight
    jump between two sessions (a gap in the bars) nor the bar still running at a decision
    made inside it."""
    day1 = _bars([100.0, 100.1, 100.0, 100.2], [1000] * 4, open0=100.0)
    day2 = _bars([110.0, 110.3, 110.1, 150.0, 110.0], [1000] * 5, open0=110.0)
    day1.index = day1.index - pd.Timedelta(days=1)
    bars = pd.concat([day1, day2])
    decision = bars.index[4 + 3] + pd.Timedelta(seconds=30)  # inside day 2's 4th bar
    res = execution_backtest(bars, [(decision, 10)], window="1min", commission=no_costs())
    c = np.array([100.0, 100.1, 100.0, 100.2, 110.0, 110.3, 110.1])
    r = np.diff(np.log(c))
    expected = np.std(np.delete(r, 3), ddof=1)  # without the overnight 100.2 -> 110.0
    assert res.parents.loc["P1", "sigma"] == pytest.approx(expected, rel=1e-12)
    assert res.parents.loc["P1", "arrival_price"] == 110.1


def test_daily_positions_become_session_targets(spy: pd.DataFrame) -> None:
    """A daily position path (as the engine reports it: one row per daily bar, midnight
    UTC) becomes a decision at the open of each day its position changes, and the minute
    backtest then works those orders: 1,000 shares bought on 2024-04-15, held, sold on
    04-17."""
    days = pd.DatetimeIndex(["2024-04-12", "2024-04-15", "2024-04-16", "2024-04-17"], tz="UTC")
    positions = pd.Series([0.0, 1000.0, 1000.0, 0.0], index=days)
    targets = session_targets(positions)
    assert targets.tolist() == [1000.0, 0.0]
    assert list(targets.index) == [pd.Timestamp("2024-04-15 13:30", tz="UTC"),
                                   pd.Timestamp("2024-04-17 13:30", tz="UTC")]
    res = execution_backtest(spy, targets, schedule="twap", window="15min")
    assert res.parents["side"].tolist() == ["BUY", "SELL"]
    assert (res.parents["filled"] == 1000).all()
    assert res.parents["window_start"].tolist() == list(targets.index)
    assert res.equity["position"].iloc[-1] == 0.0
    with pytest.raises(ConfigError, match="a New York clock time"):
        session_targets(positions, at="noon")
