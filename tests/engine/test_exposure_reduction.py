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
    (out,) = sl.plan({"A": math.nan})
    assert out.intent is not None and out.intent.quantity == 100.0
    assert out.intent.target == 0.0
