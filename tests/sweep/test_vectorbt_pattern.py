"""The benchmark's pattern: sma_cross(cross=1) sweeps equal vectorbt's MA.run_combs +
crossed signals + from_signals, final value by final value."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit as tk
from toolkit.sweep import make_grid, sweep

vbt = pytest.importorskip("vectorbt")

# vectorbt's numba functions compile once for every vectorbt comparison (one xdist worker;
# tests/engine/test_vectorbt_oracle.py)
pytestmark = pytest.mark.xdist_group("vectorbt")


@pytest.mark.parametrize("symbol", ["SPY", "IWM", "NVDA"])
def test_final_values_equal_vectorbt_standard_pattern(symbol: str) -> None:
    bars = tk.load(symbol).iloc[-2500:]
    windows = np.arange(2, 41)
    grid = make_grid("sma_cross", {"fast": windows, "slow": windows, "cross": 1})
    settings = tk.EngineSettings(
        init_cash=100.0, fill="close", commission=tk.proportional(0.001), fractional=True
    )
    ours = sweep(bars, "sma_cross", grid, settings, progress=False)
    close = bars["close"].copy()
    close.index = close.index.tz_localize(None)
    fast, slow = vbt.MA.run_combs(close, window=windows, r=2, short_names=["fast", "slow"])
    pf = vbt.Portfolio.from_signals(
        close,
        fast.ma_crossed_above(slow),
        fast.ma_crossed_below(slow),
        fees=0.001,
        init_cash=100.0,
        freq="1D",
    )
    theirs = pf.final_value()
    key = list(zip(ours.fast, ours.slow, strict=True))
    expected = theirs.loc[key].to_numpy()
    np.testing.assert_allclose(ours["final_equity"].to_numpy(), expected, rtol=1e-9)
