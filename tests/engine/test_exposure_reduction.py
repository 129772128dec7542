"""Orders that reduce exposure are never trimmed by cash, and equity <= 0 flattens everything.

Issue 11 item 5: the engine capped every buy at the cash available, including a buy that only
covers a short, then marked the target as reached, so part of the short stayed open forever.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.live.sleeve import Sleeve
from toolkit.risk import RiskLimits
from toolkit.risk.rules import check_order


def _panel(prices: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(prices.values())))
    idx = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    frames = {}
    for sym, px in prices.items():
        c = np.asarray(px, dtype=float)
        frames[sym] = pd.DataFrame(
            {"open": c, "high": c, "low": c, "close": c, "volume": 1e6}, index=idx
        )
    return pd.concat(frames, axis=1).swaplevel(0, 1, axis=1).sort_index(axis=1)


SHORT_A_LONG_B = {"A": [100, 100, 250, 250, 250, 250.0], "B": [100, 100, 200, 200, 200, 200.0]}
TARGETS = {"A": [-1.0, -1, -1, 0, 0, 0], "B": [1.0, 1, 1, 1, 1, 1]}


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_cover_of_a_short_is_not_trimmed_by_cash(fill: str) -> None:
    panel = _panel(SHORT_A_LONG_B)
    tgt = pd.DataFrame(TARGETS, index=panel.index)
    r = tk.simulate(
        panel, tgt, tk.EngineSettings(init_cash=10_000, fill=fill, commission=tk.no_costs())
    )
    # bar 0 (or the open of bar 1): equal weights -> -50 A and +50 B at 100; cash stays 10,000.
    # target A = 0 decided at bar 3's close (250): the whole 50-share cover (12,500) goes out
    # although cash is 10,000 -- the account borrows 2,500 against B, as a margin account does.
    assert r.positions.iloc[-1].to_dict() == {"A": 0.0, "B": 50.0}
    covers = r.orders[(r.orders["symbol"] == "A") & (r.orders["quantity"] > 0)]
    assert list(covers["quantity"]) == [50.0]
    assert covers["price"].iloc[0] == 250.0
    assert r.equity.iloc[-1] == pytest.approx(-2_500.0 + 50 * 200.0)


def test_wiped_out_account_flattens_even_with_nan_signal() -> None:
    # one symbol, fully short at 100; the price triples: equity = 20,000 - 30,000 < 0
    panel = _panel({"A": [100, 100, 300, 300, 120, 100.0]})
    tgt = pd.DataFrame({"A": [-1.0, -1, math.nan, -1, 1, -1]}, index=panel.index)
    r = tk.simulate(
        panel, tgt, tk.EngineSettings(init_cash=10_000, fill="close", commission=tk.no_costs())
    )
    # bar 0: short 100 at 100 (cash 20,000). bar 2: equity -10,000 -> flatten although the
    # signal is NaN: buy 100 at 300, cash -10,000. Nothing is ever opened again.
    assert list(r.positions["A"]) == [-100.0, -100.0, 0.0, 0.0, 0.0, 0.0]
    assert list(r.orders["quantity"]) == [-100.0, 100.0]
    assert list(r.orders["bar"]) == [0, 2]
    np.testing.assert_allclose(
        r.equity.to_numpy(), [10_000, 10_000, -10_000, -10_000, -10_000, -10_000]
    )


def test_sweep_row_equals_engine_when_a_short_is_wiped_out() -> None:
    # sma_cross 2/3 with shorts: goes short on the way down, then the price explodes
    px = [100, 100, 100, 100, 90, 80, 70, 260, 280, 300, 310, 320, 330, 340.0]
    idx = pd.date_range("2020-01-01", periods=len(px), freq="D", tz="UTC")
    bars = pd.DataFrame({k: np.asarray(px) for k in ("open", "high", "low", "close")}, index=idx)
    bars["volume"] = 1e6
    params = {"fast": 2, "slow": 3, "allow_short": 1}
    settings = tk.EngineSettings(init_cash=10_000, fill="close", commission=tk.no_costs())
    res = tk.backtest(bars, "sma_cross", params, settings)
    assert res.positions.iloc[:, 0].iloc[-1] == 0.0
    assert res.equity.min() < 0.0  # the case really is a wiped-out account
    grid = tk.make_grid("sma_cross", {"fast": [2], "slow": [3], "allow_short": [1]})
    rows = tk.sweep(bars, "sma_cross", grid, settings, progress=False)
    assert float(rows["final_equity"].iloc[0]) == pytest.approx(
        float(res.equity.iloc[-1]), rel=1e-12
    )
    assert int(rows["trades"].iloc[0]) == len(res.trades)


def test_live_sleeve_flattens_a_wiped_out_book_with_nan_signal() -> None:
    sl = Sleeve("s", ("A",), 10_000.0, np.ones(1), tk.EngineSettings(fill="close"), RiskLimits())
    sl.apply_fill("A", -100.0, 100.0)
    sl.closes["A"] = 300.0
    sl.acted["A"] = -1.0
    # the bridge marks the close (kill switch) before it plans, as the engine does
    assert sl.check_kill_switch(pd.Timestamp("2020-01-03", tz="UTC")) == "equity_wiped_out"
    (out,) = sl.plan({"A": math.nan})
    assert out.intent is not None and out.intent.quantity == 100.0
    assert out.intent.target == 0.0


def test_a_wiped_out_account_never_trades_again_even_when_the_flatten_fill_recovers() -> None:
    # review repro: closes [100,100,300,...], opens dip to 50 at bar 3; all targets -1.
    # Equity is -10,000 at bar 2's close; the flatten fills at bar 3's open (50), which puts
    # equity back to +15,000 -- the account must still stay flat.
    idx = pd.date_range("2020-01-01", periods=6, freq="D", tz="UTC")
    close = np.array([100, 100, 300, 300, 300, 300.0])
    open_ = np.array([100, 100, 100, 50, 300, 300.0])
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": 1e6,
        },
        index=idx,
    )
    tgt = pd.Series(-1.0, index=idx)
    settings = tk.EngineSettings(init_cash=10_000, fill="next_open", commission=tk.no_costs())
    r = tk.simulate(bars, tgt, settings)
    assert list(r.positions.iloc[:, 0]) == [0.0, -100.0, -100.0, 0.0, 0.0, 0.0]
    assert list(r.orders["quantity"]) == [-100.0, 100.0]
    assert r.equity.iloc[-1] == pytest.approx(15_000.0)
    # the sweep kernel keeps the same rule
    rows = tk.sweep(
        bars,
        "sma_cross",
        tk.make_grid("sma_cross", {"fast": [2], "slow": [3], "allow_short": [1]}),
        settings,
        progress=False,
    )
    res = tk.backtest(bars, "sma_cross", {"fast": 2, "slow": 3, "allow_short": 1}, settings)
    assert float(rows["final_equity"].iloc[0]) == pytest.approx(float(res.equity.iloc[-1]))


def test_max_order_never_trims_the_cover_of_a_flip() -> None:
    # review repro: price 100, targets -0.5, -1, then +1; max_order 5,000 USD per order
    bars = _panel({"A": [100.0] * 6})
    tgt = pd.DataFrame({"A": [-0.5, -1, 1, 1, 1, 1]}, index=bars.index)
    settings = tk.EngineSettings(init_cash=10_000, fill="close", commission=tk.no_costs())
    r = tk.simulate(bars, tgt, settings, risk=RiskLimits(max_order=5_000))
    # -50, -100 (each step 50 shares = 5,000), then the flip: cover 100 in full + open 50
    assert list(r.positions["A"])[:3] == [-50.0, -100.0, 50.0]
    allowed, fired = check_order(
        200.0, -100.0, 100.0, 10_000.0, 0.0, RiskLimits(max_order=5_000).vector(), False
    )
    assert (allowed, fired) == (150.0, ["max_order"])


def test_live_sleeve_trims_buys_to_the_engines_buying_power() -> None:
    # review repro: 10,000 cash, price 100, target 1, IBKR fixed: 100 shares + USD 1 do not fit
    settings = tk.EngineSettings(init_cash=10_000, fill="close", commission=tk.ibkr_fixed())
    bars = _panel({"A": [100.0] * 3})
    r = tk.simulate(bars, pd.DataFrame({"A": [1.0, 1, 1]}, index=bars.index), settings)
    assert r.orders["quantity"].iloc[0] == 99.0
    sl = Sleeve("s", ("A",), 10_000.0, np.ones(1), settings, RiskLimits())
    sl.closes["A"] = 100.0
    (out,) = sl.plan({"A": 1.0})
    assert out.intent is not None and out.intent.quantity == 99.0
    assert "buying_power" in out.intent.guards
