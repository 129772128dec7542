"""Transaction-cost analysis: hand-computed parent orders (buy and sell, partial fills), the
prices and intervals read from bars, and a hypothesis property that the four components add up
to Perold's shortfall (paper - real) to 1e-9, against an exact rational oracle."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import DataError
from toolkit.execution import ParentOrder, arrival_mid, tca, tca_many
from toolkit.execution.tca import COLUMNS

T0 = pd.Timestamp("2024-03-01 14:30", tz="UTC")


def t(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def minute_bars(closes: list[float], volumes: list[float], **extra: list[float]) -> pd.DataFrame:
    index = pd.DatetimeIndex([t(i) for i in range(len(closes))])
    return pd.DataFrame({"close": closes, "volume": volumes, **extra}, index=index)


BARS = minute_bars([100.0, 100.05, 100.10, 100.20, 100.30], [1000, 2000, 3000, 2000, 1000])


def fills_of(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["time", "quantity", "price", "fee"]).assign(
        time=lambda f: [t(m) for m in f["time"]])


def test_brief_example_buy_partial_fill() -> None:
    """Buy 1,000 decided at 100.00, first child released at 100.05, 600 filled at 100.10 on
    average with 3.00 fees, 400 unfilled, horizon ends at 100.30.

    paper = 1000 x (100.30 - 100.00) = 300; real = 600 x (100.30 - 100.10) - 3 = 117;
    shortfall 183 = delay 1000 x 0.05 = 50 + execution 600 x 0.05 = 30
                    + opportunity 400 x (100.30 - 100.05) = 100 + fees 3."""
    order = ParentOrder("BUY", 1000, t(0), 100.0, release_time=t(1), release_price=100.05)
    r = tca(order, fills_of([(1.5, 300, 100.08, 1.5), (2.5, 300, 100.12, 1.5)]), BARS)
    assert (r.filled, r.unfilled, r.fill_rate) == (600, 400, 0.6)
    assert r.avg_fill_price == pytest.approx(100.10, abs=1e-12)
    assert r.paper_pnl == pytest.approx(300.0, abs=1e-9)
    assert r.real_pnl == pytest.approx(117.0, abs=1e-9)
    assert r.delay_cost == pytest.approx(50.0, abs=1e-9)
    assert r.execution_cost == pytest.approx(30.0, abs=1e-9)
    assert r.opportunity_cost == pytest.approx(100.0, abs=1e-9)
    assert r.fees == 3.0
    assert r.total_cost == pytest.approx(183.0, abs=1e-9)
    # bp of the paper notional 100,000
    assert r.notional == 100_000.0
    assert (r.delay_bp, r.execution_bp, r.opportunity_bp, r.fees_bp, r.total_bp) == pytest.approx(
        (5.0, 3.0, 10.0, 0.3, 18.3), abs=1e-9)
    assert r.slippage_bp == pytest.approx(10.0, abs=1e-9)  # 100.10 vs 100.00
    # partially filled: active from the release (bar 1) to the horizon end (bar 4)
    assert r.release_time == t(1) and r.active_end == t(4) == r.end_time
    assert r.interval_twap == pytest.approx((100.05 + 100.10 + 100.20 + 100.30) / 4, abs=1e-12)
    vwap = (2000 * 100.05 + 3000 * 100.10 + 2000 * 100.20 + 1000 * 100.30) / 8000
    assert r.interval_vwap == pytest.approx(vwap, abs=1e-12)  # 100.1375
    assert r.close == 100.30 and r.end_price == 100.30
    assert r.vwap_slippage_bp == pytest.approx((100.10 - vwap) / vwap * 1e4, abs=1e-9)
    assert r.close_slippage_bp == pytest.approx((100.10 - 100.30) / 100.30 * 1e4, abs=1e-9)
    assert r.market_volume == 8000 and r.participation == pytest.approx(600 / 8000)


def test_sell_mirror_costs_the_same() -> None:
    """The mirror image: sell 1,000 at 100.00, released at 99.95, 600 sold at 99.90 on
    average, horizon ends at 99.70: every cost is positive and the same as the buy's."""
    bars = minute_bars([100.0, 99.95, 99.90, 99.80, 99.70], [1000, 2000, 3000, 2000, 1000])
    order = ParentOrder("SELL", 1000, t(0), 100.0, release_time=t(1))
    r = tca(order, fills_of([(1.5, 300, 99.92, 1.5), (2.5, 300, 99.88, 1.5)]), bars)
    # the release (14:31) falls at bar 1's start; bar 0 completed then, after the decision at
    # bar 0's start: P_r = bar 0's close = 100.00 (the move to 99.95 happens during bar 1)
    assert r.release_price == 100.0
    order = ParentOrder("SELL", 1000, t(0), 100.0, release_time=t(1), release_price=99.95)
    r = tca(order, fills_of([(1.5, 300, 99.92, 1.5), (2.5, 300, 99.88, 1.5)]), bars)
    assert (r.delay_cost, r.execution_cost, r.opportunity_cost, r.fees, r.total_cost) == (
        pytest.approx(50.0, abs=1e-9), pytest.approx(30.0, abs=1e-9),
        pytest.approx(100.0, abs=1e-9), 3.0, pytest.approx(183.0, abs=1e-9))
    assert r.paper_pnl == pytest.approx(300.0, abs=1e-9)  # short 1000 from 100 to 99.70
    assert r.real_pnl == pytest.approx(600 * 0.20 - 3.0, abs=1e-9)
    assert r.slippage_bp == pytest.approx(10.0, abs=1e-9)
    assert r.side == "SELL"


def test_favourable_moves_are_negative_costs() -> None:
    """A buy whose market fell: delay, execution and opportunity are gains (negative)."""
    bars = minute_bars([100.0, 99.9, 99.8, 99.7], [100, 100, 100, 100])
    order = ParentOrder("BUY", 100, t(0), 100.0, release_time=t(1), release_price=99.95)
    r = tca(order, fills_of([(2, 50, 99.90, 0.5)]), bars)
    assert r.delay_cost == pytest.approx(-5.0, abs=1e-9)  # 100 x (99.95 - 100)
    assert r.execution_cost == pytest.approx(-2.5, abs=1e-9)  # 50 x (99.90 - 99.95)
    assert r.opportunity_cost == pytest.approx(-12.5, abs=1e-9)  # 50 x (99.70 - 99.95)
    assert r.total_cost == pytest.approx(-5.0 - 2.5 - 12.5 + 0.5, abs=1e-9)
    assert r.slippage_bp == pytest.approx(-10.0, abs=1e-9)


def test_release_price_from_bars() -> None:
    """P_r is the last bar close completed by the release and after the decision, else P_d."""
    fills = fills_of([(3.2, 10, 100.25, 0.0)])
    # decided inside bar 0, released inside bar 3: bar 2 completed at 14:33 -> its close
    r = tca(ParentOrder("BUY", 10, t(0.5), 99.99, release_time=t(3.1)), fills, BARS)
    assert r.release_price == 100.10
    assert r.delay_cost == pytest.approx(10 * (100.10 - 99.99), abs=1e-9)
    # released in the bar of the decision: no bar completed in between -> the arrival price
    r = tca(ParentOrder("BUY", 10, t(3.05), 99.99, release_time=t(3.1)), fills, BARS)
    assert r.release_price == 99.99 and r.delay_cost == 0.0
    # default release = the first fill
    r = tca(ParentOrder("BUY", 10, t(0.5), 99.99), fills, BARS)
    assert r.release_time == t(3.2) and r.release_price == 100.10


def test_nothing_filled() -> None:
    """No fills: released at the decision (no delay), the whole order is opportunity cost;
    what does not exist (average fill, slippages) is NaN, participation is 0."""
    order = ParentOrder("BUY", 1000, t(0), 100.0)
    empty = pd.DataFrame(columns=["time", "quantity", "price", "fee"])
    for fills in (empty, pd.DataFrame()):
        r = tca(order, fills, BARS)
        assert r.filled == 0 and r.delay_cost == 0 and r.execution_cost == 0
        assert r.opportunity_cost == pytest.approx(300.0, abs=1e-9) == r.total_cost
        assert math.isnan(r.avg_fill_price) and math.isnan(r.slippage_bp)
        assert math.isnan(r.vwap_slippage_bp) and r.participation == 0.0
        assert r.market_volume == 9000  # bars 0..4


def test_complete_fill_interval_ends_at_last_fill_and_uses_bar_vwap() -> None:
    """A complete fill's active interval ends at its last fill; its end price does not matter
    to the shortfall (paper and real both hold the whole Q); bar vwaps make the VWAP."""
    bars = BARS.assign(vwap=[100.01, 100.04, 100.12, 100.18, 100.29])
    order = ParentOrder("BUY", 600, t(0), 100.0, release_time=t(1), release_price=100.05)
    fills = fills_of([(1.5, 300, 100.08, 1.5), (2.5, 300, 100.12, 1.5)])
    r = tca(order, fills, bars)
    assert r.active_end == t(2.5) and r.unfilled == 0
    assert r.interval_vwap == pytest.approx((2000 * 100.04 + 3000 * 100.12) / 5000, abs=1e-12)
    assert r.interval_twap == pytest.approx((100.05 + 100.10) / 2, abs=1e-12)
    assert r.participation == pytest.approx(600 / 5000)
    assert r.opportunity_cost == 0.0
    assert r.total_cost == pytest.approx(600 * 0.10 + 3.0, abs=1e-9)
    later = tca(ParentOrder("BUY", 600, t(0), 100.0, release_time=t(1), release_price=100.05,
                            end_price=123.0), fills, bars)
    assert later.total_cost == pytest.approx(r.total_cost, abs=1e-9)


def test_many_parents_many_symbols_equal_one_by_one() -> None:
    """tca_many over two symbols gives each parent's single-order result, row for row."""
    other = minute_bars([50.0, 50.1, 49.9, 50.2, 50.3], [10, 20, 30, 20, 10])
    bars = {"AAA": BARS, "BBB": other}
    parents = pd.DataFrame({
        "order_id": ["a1", "b1", "a2"], "symbol": ["AAA", "BBB", "AAA"],
        "side": ["BUY", -1, "SELL"], "quantity": [1000, 40, 20],
        "decision_time": [t(0), t(0.5), t(2)], "arrival_price": [100.0, 50.0, 100.1],
        "release_time": [t(1), pd.NaT, pd.NaT], "release_price": [100.05, np.nan, np.nan],
        "end_time": [pd.NaT, t(3), t(4)],
    })
    fills = pd.DataFrame({
        "order_id": ["a2", "a1", "b1", "a1", "b1"],
        "time": [t(2.5), t(2.5), t(1.2), t(1.5), t(2.7)],
        "quantity": [20, 300, 15, 300, 10], "price": [100.12, 100.12, 50.05, 100.08, 49.95],
        "fee": [1.0, 1.5, 0.35, 1.5, 0.35],
    })
    frame = tca_many(parents, fills, bars)
    assert list(frame.index) == ["a1", "b1", "a2"] and tuple(frame.columns) == COLUMNS
    for k, row in parents.iterrows():
        order = ParentOrder(
            "BUY" if row["side"] in ("BUY", 1) else "SELL", row["quantity"],
            row["decision_time"], row["arrival_price"],
            release_time=None if pd.isna(row["release_time"]) else row["release_time"],
            release_price=None if pd.isna(row["release_price"]) else row["release_price"],
            end_time=None if pd.isna(row["end_time"]) else row["end_time"],
            order_id=row["order_id"], symbol=row["symbol"])
        own = fills[fills["order_id"] == row["order_id"]].drop(columns="order_id")
        one = tca(order, own, bars[row["symbol"]]).to_frame()
        pd.testing.assert_frame_equal(one, frame.iloc[[int(str(k))]], check_dtype=False)
    assert frame.loc["a1", "total_cost"] == pytest.approx(183.0, abs=1e-9)
    # b1: sell 40, released at its first fill 14:31:12 (bar 1, which started after the
    # decision at 14:30:30) -> P_r = bar 0's close 50.0
    b1 = frame.loc["b1"]
    # b1: end_time 14:33 is bar 3's start -> P_N = bar 3's close 50.2
    assert b1["release_price"] == 50.0 and b1["end_price"] == 50.2
    assert b1["filled"] == 25


@st.composite
def parent_orders(draw: st.DrawFn) -> tuple[ParentOrder, pd.DataFrame, pd.DataFrame]:
    side = draw(st.sampled_from(["BUY", "SELL"]))
    q = draw(st.integers(1, 10_000))
    cents = draw(st.integers(100, 50_000))  # arrival 1.00 .. 500.00

    def near() -> float:  # a price within 5 % of arrival, on a 0.0001 grid
        return round(cents / 100 * (1 + draw(st.integers(-500, 500)) / 10_000), 4)

    n_bars = draw(st.integers(1, 12))
    bars = minute_bars([near() for _ in range(n_bars)],
                       [float(draw(st.integers(0, 50_000))) for _ in range(n_bars)])
    n_fills = draw(st.integers(0, 8))
    sizes = [draw(st.integers(1, q)) for _ in range(n_fills)]
    left, qty = q - draw(st.integers(0, q - 1)), []  # fill up to `left` shares in total
    for s in sizes:
        take = min(s, left)
        if take > 0:
            qty.append(take)
            left -= take
    times = sorted(draw(st.floats(0.0, n_bars - 0.01)) for _ in qty)
    fills = fills_of([(m, float(x), near(), draw(st.integers(-100, 1_000)) / 100)
                      for m, x in zip(times, qty, strict=True)])
    explicit = draw(st.booleans())
    order = ParentOrder(side, q, t(0), cents / 100,
                        release_time=t(times[0]) if times else t(0),
                        release_price=near() if explicit else None,
                        end_price=near() if explicit else None)
    return order, fills, bars


def _exact_shortfall(r: pd.Series, fills: pd.DataFrame) -> Fraction:
    """Perold's shortfall in exact rationals: sum s q_j (p_j - P_d) + s (Q - X)(P_N - P_d) + F
    (the execution-plus-opportunity form, no release price at all)."""
    s = 1 if r["side"] == "BUY" else -1
    p_d, p_n = Fraction(r["arrival_price"]), Fraction(r["end_price"])
    filled = sum((Fraction(q) for q in fills["quantity"]), Fraction(0))
    out = s * (Fraction(r["quantity"]) - filled) * (p_n - p_d)
    for q, p, f in zip(fills["quantity"], fills["price"], fills["fee"], strict=True):
        out += s * Fraction(q) * (Fraction(p) - p_d) + Fraction(f)
    return out


@settings(max_examples=300, deadline=None)
@given(parent_orders())
def test_components_sum_to_the_shortfall(case: tuple[ParentOrder, pd.DataFrame, pd.DataFrame]
                                         ) -> None:
    order, fills, bars = case
    r = tca(order, fills, bars)
    parts = r.delay_cost + r.execution_cost + r.opportunity_cost + r.fees
    assert abs(parts - r.total_cost) <= 1e-9
    assert abs(r.total_cost - (r.paper_pnl - r.real_pnl)) <= 1e-9
    assert abs(r.total_cost - float(_exact_shortfall(pd.Series(r.to_row()), fills))) <= 1e-9
    bps = r.delay_bp + r.execution_bp + r.opportunity_bp + r.fees_bp
    assert abs(bps - r.total_bp) <= 1e-9
    assert r.filled + r.unfilled == order.quantity
    if r.filled:
        avg = float(sum(Fraction(q) * Fraction(p) for q, p in
                        zip(fills["quantity"], fills["price"], strict=True)) / int(r.filled))
        assert r.avg_fill_price == pytest.approx(avg, rel=1e-13)
        sign = 1 if order.side == "BUY" else -1
        assert r.slippage_bp == pytest.approx(
            sign * (avg - order.arrival_price) / order.arrival_price * 1e4, abs=1e-8)


def test_naive_times_are_utc() -> None:
    naive = BARS.tz_localize(None)
    order = ParentOrder("BUY", 1000, t(0).tz_localize(None), 100.0,
                        release_time=t(1).tz_localize(None), release_price=100.05)
    fills = fills_of([(1.5, 300, 100.08, 1.5), (2.5, 300, 100.12, 1.5)])
    a = tca(order, fills.assign(time=fills["time"].dt.tz_localize(None)), naive)
    assert a.to_row() == tca(
        ParentOrder("BUY", 1000, t(0), 100.0, release_time=t(1), release_price=100.05),
        fills, BARS).to_row()


def test_arrival_mid() -> None:
    assert arrival_mid(99.98, 100.02) == 100.0
    assert arrival_mid(100.02, 99.98, last=100.01) == 100.01  # crossed quote -> last
    assert arrival_mid(None, 100.02, last=100.01) == 100.01  # one-sided -> last
    assert arrival_mid(-1.0, 100.02, last=100.01) == 100.01  # IB's -1: no bid
    with pytest.raises(DataError, match=r"no two-sided quote .* pass the last trade"):
        arrival_mid(math.nan, 100.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"fills": [(1.5, 700, 100.1, 0.0), (2.5, 400, 100.1, 0.0)]},
     r"order 'parent' filled 1100 of a parent of 1000: fills must not exceed"),
    ({"fills": [(0.5, 100, 100.1, 0.0)]},
     r"order 'parent' has a fill at 2024-03-01 14:30:30\+00:00, before its release"),
    ({"fills": [(1.5, 100, -1.0, 0.0)]}, r"fill #0 has price -1.0: .* must be positive"),
    ({"fills": [(1.5, 100, 100.1, math.nan)]}, r"fill #0 has fee nan"),
    ({"order": {"release_time": t(-1)}}, r"released at .* before its decision"),
    ({"order": {"end_time": t(2)}}, r"has a fill at .* after its end_time"),
    ({"order": {"end_time": t(-5), "release_time": t(-5), "decision_time": t(-6)},
      "fills": []}, r"no bar at or before order 'parent'\'s horizon end"),
    ({"order": {"quantity": 0}}, r"order 'parent' has quantity 0.* positive number"),
])
def test_bad_input_is_one_clear_error(change: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {"side": "BUY", "quantity": 1000, "decision_time": t(0),
                                 "arrival_price": 100.0, "release_time": t(1)}
    kwargs.update(change.get("order", {}))  # type: ignore[call-overload]
    rows = change.get("fills", [(2.5, 300, 100.1, 1.0)])
    with pytest.raises(DataError, match=message):
        tca(ParentOrder(**kwargs), fills_of(rows), BARS)  # type: ignore[arg-type]


def test_bad_frames_are_named() -> None:
    with pytest.raises(DataError, match=r"side must be 'BUY' or 'SELL', not 'buy it'"):
        ParentOrder("buy it", 1, t(0), 1.0)
    parents = pd.DataFrame({"order_id": ["x"], "side": ["BUY"], "quantity": [1],
                            "decision_time": [t(0)]})
    with pytest.raises(DataError, match=r"parents: missing column\(s\) arrival_price"):
        tca_many(parents, pd.DataFrame(), BARS)
    parents["arrival_price"] = 100.0
    fills = fills_of([(1, 1, 100.0, 0.0)]).assign(order_id="y")
    with pytest.raises(DataError, match=r"fill for order 'y', which is not among the parents"):
        tca_many(parents, fills, BARS)
    with pytest.raises(DataError, match=r"missing column\(s\) fee"):
        tca_many(parents, fills.drop(columns="fee").assign(order_id="x"), BARS)
    parents["symbol"] = "ZZZ"
    with pytest.raises(DataError, match=r"no bars for symbol 'ZZZ' of order 'x'"):
        tca_many(parents, pd.DataFrame(), {"AAA": BARS})
    with pytest.raises(DataError, match=r"bar times must be strictly increasing"):
        tca_many(parents, pd.DataFrame(), BARS.iloc[::-1])


def test_spy_vwap_schedules_in_one_batch() -> None:
    """43 held-out SPY sessions in one tca_many call: a 20,000-share VWAP schedule per session
    (toolkit.execution.vwap), each child filled at its bar's own vwap with IBKR Fixed fees.
    The interval VWAP equals the session's VWAP computed here with pandas, participation is
    20,000 / session volume, and mean |fill - VWAP| is the 3.30 bp the schedule benchmark
    prints for the per-bar vwap column (an independent computation of the same number)."""
    from tests.execution.conftest import SPY_MINUTES
    from toolkit.data.calendar import session_close, session_open
    from toolkit.execution import sessions, volume_profile, vwap

    raw = pd.read_csv(SPY_MINUTES)
    bars = raw.set_index(pd.DatetimeIndex(pd.to_datetime(raw.pop("timestamp"), utc=True)))
    grid = sessions(bars)
    parents, fills, day_vwap, day_volume = [], [], {}, {}
    for day in grid.days[20:]:
        inside = (bars.index >= session_open(day)) & (bars.index < session_close(day))
        session = bars[inside]
        children = vwap(20_000, session, volume_profile(grid, day, 20), max_pct_vol=0.1)
        oid = str(day)
        last = float(bars.loc[bars.index < session_open(day), "close"].iloc[-1])
        parents.append({"order_id": oid, "side": "BUY" if len(parents) % 2 else "SELL",
                        "quantity": 20_000, "decision_time": session.index[0],
                        "arrival_price": arrival_mid(None, None, last=last),
                        "end_time": session.index[-1]})
        q = children.quantity.astype(float)
        fills.append(pd.DataFrame({
            "order_id": oid, "time": session.index[children.bar], "quantity": q,
            "price": session["vwap"].to_numpy()[children.bar],
            "fee": np.maximum(1.0, 0.005 * q)}))
        day_vwap[oid] = float((session["vwap"] * session["volume"]).sum()
                              / session["volume"].sum())
        day_volume[oid] = float(session["volume"].sum())
    frame = tca_many(pd.DataFrame(parents), pd.concat(fills, ignore_index=True), bars)
    assert len(frame) == 43 and (frame["filled"] == 20_000).all()
    # every schedule ends in the session's last minute, so the interval is the whole session
    expected_vwap = pd.Series(day_vwap)
    assert np.allclose(frame["interval_vwap"], expected_vwap[frame.index], rtol=0, atol=1e-9)
    assert np.allclose(frame["participation"],
                       20_000 / pd.Series(day_volume)[frame.index], rtol=1e-12)
    parts = frame[["delay_cost", "execution_cost", "opportunity_cost", "fees"]].sum(axis=1)
    assert np.abs(parts - frame["total_cost"]).max() <= 1e-9
    assert (frame["opportunity_cost"] == 0).all()
    assert frame["vwap_slippage_bp"].abs().mean() == pytest.approx(3.30, abs=0.005)
