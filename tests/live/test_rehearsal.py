"""The embedded rehearsal: the simulator bills each strategy its own cost model (issue 14,
item 1: every strategy of a rehearsal paid the first strategy's commission and slippage)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live.conftest import PAPER
from toolkit.engine.backtest import simulate, strategy_targets
from toolkit.live import Journal, run_session


def test_each_strategy_pays_its_own_commission_and_slippage(live_config, tmp_path) -> None:
    tiered = tmp_path / "tiered.toml"
    text = PAPER.read_text().replace('model = "ibkr_fixed"', 'model = "ibkr_tiered"')
    tiered.write_text(text.replace("slippage_bps = 1.0", "slippage_bps = 7.0"))
    cfg = live_config(
        simulator={"start": "2023-01-03 21:30", "end": "2023-05-01", "speed": 8_640_000.0},
        strategies=[
            {"config": str(PAPER), "capital": 100_000, "history": "1 Y", "label": "fixed"},
            {"config": str(tiered), "capital": 100_000, "history": "1 Y", "label": "tiered"},
        ],
    )
    assert cfg.strategies[0].run.engine.commission != cfg.strategies[1].run.engine.commission
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        last = pd.Timestamp(j.rows("decisions", summary.session_id)[-1]["bar_time"])
    bars = tk.load("SPY", adjust="none")
    bars = bars[(bars.index > pd.Timestamp("2022-01-03", tz="UTC")) & (bars.index <= last)]
    for slot in cfg.strategies:
        run = slot.run
        targets = strategy_targets(bars, tk.strategies.get(run.strategy), run.params)
        targets[targets.index < pd.Timestamp("2023-01-03", tz="UTC")] = np.nan
        orders = simulate(bars, targets, run.engine, run.weights, run.risk).orders
        mine = fills[fills["strategy"] == slot.label]
        assert len(orders) >= 4 and len(mine) == len(orders), slot.label
        assert list(pd.to_datetime(mine["ts"])) == list(orders["time"])
        sign = np.where(mine["side"] == "BOT", 1.0, -1.0)
        np.testing.assert_array_equal(sign * mine["shares"].to_numpy(), orders["quantity"])
        # its own slippage and its own commission schedule, fill for fill
        np.testing.assert_allclose(mine["price"].to_numpy(), orders["price"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            mine["commission"].to_numpy(), orders["commission"].to_numpy(), rtol=0, atol=1e-9
        )


def test_the_bar_that_closes_at_the_end_is_traded(live_config) -> None:
    """A rehearsal ending on a trading day decides that day's bar and sends its orders (they
    outlive the end). Whether it did depended on a race: a look reading the end time before
    the simulator had sent the end's bar stopped the session (Lockstep.may_end, whose rule
    tests/live/test_lockstep.py pins without the race)."""
    cfg = live_config(
        simulator={"start": "2023-01-03 21:30", "end": "2023-01-10", "speed": 8_640_000.0},
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        decided = [pd.Timestamp(r["bar_time"]) for r in j.rows("decisions", summary.session_id)]
        orders = [r["order_ref"] for r in j.rows("orders", summary.session_id)]
    assert decided[-1] == pd.Timestamp("2023-01-10", tz="UTC")
    # SPY's 5/20 SMAs cross up on the 10th: the session goes long
    assert orders[-1].endswith("/SPY/20230110")
