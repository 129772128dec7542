"""sweep_portfolio: one row per parameter set, exactly the engine's backtest of the book."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.sweep import METRICS, sweep_portfolio


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return tk.load_many(["SPY", "TLT", "GLD"], start="2012-01-01", end="2019-12-31")


def test_rows_equal_the_engine_on_the_whole_book(panel) -> None:
    grid = {"lookback": [63, 126], "vol_window": [20, 60], "target_vol": [0.1]}
    settings = tk.EngineSettings(commission=tk.ibkr_fixed(), rebalance_band=0.02)
    weights = [0.5, 0.3, 0.2]
    rows = sweep_portfolio(panel, "tsmom", grid, settings, weights)
    assert len(rows) == 4 and set(rows["symbol"]) == {"portfolio"}
    for _, row in rows.iterrows():
        params = {"lookback": row["lookback"], "vol_window": row["vol_window"], "target_vol": 0.1}
        m = tk.backtest(panel, "tsmom", params, settings, weights).metrics()
        np.testing.assert_allclose([row[k] for k in METRICS], [m[k] for k in METRICS], rtol=0)


def test_bad_bars_are_refused_by_the_engine_gate(panel) -> None:
    bad = panel.copy()
    bad.loc[bad.index[5], ("close", "TLT")] = -1.0
    with pytest.raises(tk.DataError, match="bars for TLT: close missing, zero or negative"):
        sweep_portfolio(bad, "tsmom", {"lookback": [63]})
