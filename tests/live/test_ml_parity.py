"""Issue 21's parity: a lockstep live rehearsal of the ML strategy on the gateway simulator
retrains on its schedule (a model per training window, never one per bar) and gives the
walk-forward backtest's prediction on every bar (<= 1e-12) and its fills, order for order.

The live session and the backtest share one process here, so the model cache is emptied
before each: the backtest refits every model itself rather than reusing the session's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live._sessions import assert_fills_are_orders, backtest_like, rehearse
from toolkit.ml.model import CACHE
from toolkit.ml.strategy import ml_params
from toolkit.ml.walkforward import retrain_bars, walk_forward

# leverage 0.5, long and short: the exposure 0.5 (2p - 1) is the prediction, never capped;
# a small logistic model retrained every 20 bars on the last 150
ML_CONFIG = """
name = "ml_paper_test"
[data]
symbols = ["SPY"]
start = "2018-01-01"
adjust = "none"
[strategy]
module = "toolkit.ml.strategy"
name = "ml_classifier"
[strategy.params]
fast = 5
slow = 20
horizon = 5
width = 1.0
model = 0
c = 1.0
trees = 10
depth = 2
train = 150
every = 20
leverage = 0.5
band = 0.0
long_only = 0
seed = 0
[engine]
slippage_bps = 1.0
weights = [0.95]
"""


def test_live_retraining_gives_the_backtests_predictions_and_fills(
    live_config, tmp_path: Path
) -> None:
    CACHE.clear()
    cfg, fills, decisions = rehearse(
        live_config, tmp_path / "ml_paper_test.toml", ML_CONFIG, "2023-03-31"
    )
    live_fits = CACHE.fits
    run = cfg.strategies[0].run
    days = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    assert len(days) >= 55 and days.is_unique

    CACHE.clear()
    bars = tk.load("SPY", adjust="none")
    targets, bt = backtest_like(cfg, bars, days[0], days[-1])
    window = bars[(bars.index > days[0] - pd.DateOffset(years=1)) & (bars.index <= days[-1])]
    p = ml_params(run.params)
    prob, windows = walk_forward(
        *(window[f].to_numpy() for f in ("high", "low", "close", "volume")), p
    )
    prob = pd.Series(prob, index=window.index)
    # the session retrained on its schedule: one fit per training window of its last bar's
    # view (each earlier window came from the cache on every later bar), several inside it
    fitted = [w for w in windows if w.model is not None]
    assert live_fits == len(fitted) == CACHE.fits
    inside = [window.index[b] for b in retrain_bars(len(window), p.every)]
    assert sum(days[0] <= t <= days[-1] for t in inside) >= 2

    # every decided bar: the live prediction is the backtest's (the signal is 0.5 (2p - 1))
    live_prob = decisions["signal"].to_numpy() / (2 * 0.5) + 0.5
    assert np.isfinite(prob.loc[days]).all()
    np.testing.assert_allclose(live_prob, prob.loc[days].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        decisions["signal"].to_numpy(), targets.loc[days, "SPY"].to_numpy()
    )
    # and the same fills: time, symbol, signed quantity, price
    orders = assert_fills_are_orders(fills, bt)
    assert len(orders) >= 20
