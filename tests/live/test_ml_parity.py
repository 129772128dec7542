"""Issue 21's parity, train -> trade -> backtest: an artefact trained on the session's first
weeks is loaded by a lockstep live rehearsal of the ML strategy on the gateway simulator,
which serves those windows from it and retrains on its schedule after them (a model per
training window, never one per bar); every bar's prediction equals the walk-forward
backtest's (<= 1e-12) and so do the fills, order for order.

The live session and the backtest share one process here, so the model cache is emptied
before each: the backtest refits every model itself rather than reusing the session's."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live._sessions import assert_fills_are_orders, backtest_like
from toolkit.config import parse_config
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal
from toolkit.ml import artefact
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


def test_live_serves_the_artefact_then_retrains_with_the_backtests_predictions_and_fills(
    live_config, tmp_path: Path
) -> None:
    # train: the artefact covers the bars the session's window starts with, to 2023-01-31
    research = tmp_path / "ml_paper_test.toml"
    research.write_text(ML_CONFIG)
    trained = ML_CONFIG.replace('start = "2018-01-01"', 'start = "2022-01-04"\nend = "2023-01-31"')
    art = artefact.train(parse_config(tomllib.loads(trained), research), tmp_path / "model")
    served_until = pd.Timestamp(art.manifest["bars"]["last"])
    CACHE.clear()
    # trade: the session loads it (live config model = ...) and retrains after it
    cfg = live_config(
        strategies=[{"config": str(research), "model": str(tmp_path / "model"),
                     "capital": 100_000, "history": "1 Y"}],
        simulator={"start": "2023-01-03 21:30", "end": "2023-03-31", "speed": 8_640_000.0},
    )  # fmt: skip
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        decisions = pd.DataFrame(j.rows("decisions", summary.session_id))
    live_fits = CACHE.fits
    run = cfg.strategies[0].run
    days = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    assert len(days) >= 55 and days.is_unique

    # backtest: the walk-forward on the same bars, every model refitted from scratch
    CACHE.clear()
    bars = tk.load("SPY", adjust="none")
    targets, bt = backtest_like(cfg, bars, days[0], days[-1])
    window = bars[(bars.index > days[0] - pd.DateOffset(years=1)) & (bars.index <= days[-1])]
    assert window.index[0] == pd.Timestamp(art.manifest["bars"]["first"])
    p = ml_params(run.params)
    prob, windows = walk_forward(
        *(window[f].to_numpy() for f in ("high", "low", "close", "volume")), p
    )
    prob = pd.Series(prob, index=window.index)
    fitted = [w for w in windows if w.model is not None]
    assert CACHE.fits == len(fitted)
    # the session fitted exactly the windows the artefact did not hold (retraining bars
    # after 2023-01-31), each once; the artefact's own came from it, on every bar
    after = [w for w in fitted if window.index[w.bar] > served_until]
    assert len(after) >= 2 and live_fits == len(after)
    assert {w.model.key for w in fitted if window.index[w.bar] <= served_until} <= set(art.models)
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
