"""Parity: the live bridge, trading real SPY bars replayed through the gateway over TCP,
makes exactly the backtest's trades on the same bars and config (same signals, same fills,
same commissions, same equity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.engine.backtest import simulate, strategy_targets
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal


def test_live_trades_equal_the_backtest_over_a_year_of_trading_days(live_config) -> None:
    cfg = live_config(
        simulator={"start": "2022-06-01 21:30", "end": "2023-06-01", "speed": 8_640_000.0},
    )
    summary = run_session(cfg, echo=None)
    slot = cfg.strategies[0]
    run = slot.run
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        decisions = pd.DataFrame(j.rows("decisions", summary.session_id))
        equity = pd.DataFrame(
            [e for e in j.rows("equity", summary.session_id) if e["strategy"] == slot.label]
        )
    days = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    assert days[0] == pd.Timestamp("2022-06-01", tz="UTC")
    assert len(days) >= 250 and days.is_unique and days.is_monotonic_increasing

    # the backtest: same unadjusted bars (history the bridge loaded included), targets only
    # from the session's first decision bar on, same engine settings, weights and risk
    bars = tk.load("SPY", adjust="none")
    bars = bars[(bars.index > pd.Timestamp("2021-06-01", tz="UTC")) & (bars.index <= days[-1])]
    targets = strategy_targets(bars, tk.strategies.get(run.strategy), run.params)
    targets[targets.index < days[0]] = np.nan
    bt = simulate(bars, targets, run.engine, run.weights, run.risk)

    # the session decided every trading day from its first bar to its last, none twice
    assert list(days) == list(bars.index[bars.index >= days[0]])
    # every bar the session decided on is a bar of the backtest, with the same signal
    np.testing.assert_array_equal(
        decisions["signal"].to_numpy(), targets.loc[days, "SPY"].to_numpy()
    )
    # same fills: bar, signed quantity, price, commission
    orders = bt.orders
    assert len(orders) >= 15 and len(fills) == len(orders)
    sign = np.where(fills["side"] == "BOT", 1.0, -1.0)
    fill_bar = pd.DatetimeIndex(pd.to_datetime(fills["ts"]))
    assert list(fill_bar) == list(orders["time"])
    np.testing.assert_array_equal(sign * fills["shares"].to_numpy(), orders["quantity"].to_numpy())
    np.testing.assert_allclose(
        fills["price"].to_numpy(), orders["price"].to_numpy(), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        fills["commission"].to_numpy(), orders["commission"].to_numpy(), atol=1e-9
    )
    # the same round trips and P&L
    closed = bt.trades[~bt.trades["is_open"]]
    assert len(summary.trades) == len(closed) >= 8
    np.testing.assert_allclose(
        summary.trades["pnl"].to_numpy(), closed["pnl"].to_numpy(), atol=1e-3
    )
    # equity marked at every decided close equals the engine's
    eq = pd.Series(equity["net_liquidation"].to_numpy(), index=pd.to_datetime(equity["ts"]))
    np.testing.assert_allclose(eq.to_numpy(), bt.equity.loc[eq.index].to_numpy(), rtol=1e-9)
    assert summary.pnl == pytest.approx(bt.equity.iloc[-1] - run.engine.init_cash, abs=1e-3)


def test_limit_orders_match_the_backtest_to_the_tick(live_config, tmp_path) -> None:
    """Limit entries 5 bp through the close, working the next session as DAY orders and
    re-placed when they expire unfilled, as the engine re-places them at the next close.
    Prices agree to the cent: IB needs limits on the tick grid, the engine does not."""
    from tests.live.conftest import PAPER

    research = tmp_path / "limit.toml"
    research.write_text(
        PAPER.read_text().replace(
            'order_type = "market"', 'order_type = "limit"\norder_offset_bps = 5.0'
        )
    )
    cfg = live_config(
        simulator={"start": "2023-06-01 21:30", "end": "2023-08-31", "speed": 8_640_000.0},
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
    )
    summary = run_session(cfg, echo=None)
    run = cfg.strategies[0].run
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        orders = pd.DataFrame(j.rows("orders", summary.session_id))
        last = pd.Timestamp(j.rows("decisions", summary.session_id)[-1]["bar_time"])
    bars = tk.load("SPY", adjust="none")
    bars = bars[(bars.index > pd.Timestamp("2022-06-01", tz="UTC")) & (bars.index <= last)]
    targets = strategy_targets(bars, tk.strategies.get(run.strategy), run.params)
    targets[targets.index < pd.Timestamp("2023-06-01", tz="UTC")] = np.nan
    bt = simulate(bars, targets, run.engine, run.weights, run.risk)
    assert set(orders["order_type"]) == {"LMT"}
    assert len(orders) > len(fills) >= 2  # some limits expired unfilled and were re-placed
    assert list(pd.to_datetime(fills["ts"])) == list(bt.orders["time"])
    sign = np.where(fills["side"] == "BOT", 1.0, -1.0)
    np.testing.assert_array_equal(
        sign * fills["shares"].to_numpy(), bt.orders["quantity"].to_numpy()
    )
    np.testing.assert_allclose(fills["price"].to_numpy(), bt.orders["price"].to_numpy(), atol=0.01)


def test_two_symbols_share_one_book_as_in_the_backtest(live_config, tmp_path) -> None:
    """SPY and QQQ in one strategy: sizes from the shared equity, sells before buys, both
    filled at the same opens -- fill for fill the engine's multi-symbol portfolio."""
    from tests.live.conftest import PAPER

    research = tmp_path / "two.toml"
    text = PAPER.read_text().replace('symbols = ["SPY"]', 'symbols = ["SPY", "QQQ"]')
    research.write_text(text.replace("weights = [0.95]", "weights = [0.45, 0.45]"))
    cfg = live_config(
        simulator={"start": "2023-01-03 21:30", "end": "2023-07-03", "speed": 8_640_000.0},
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
    )
    summary = run_session(cfg, echo=None)
    run = cfg.strategies[0].run
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        last = pd.Timestamp(j.rows("decisions", summary.session_id)[-1]["bar_time"])
    panel = tk.load_many(["SPY", "QQQ"], adjust="none")
    panel = panel[(panel.index > pd.Timestamp("2022-01-03", tz="UTC")) & (panel.index <= last)]
    targets = strategy_targets(panel, tk.strategies.get(run.strategy), run.params)
    targets[targets.index < pd.Timestamp("2023-01-03", tz="UTC")] = np.nan
    bt = simulate(panel, targets, run.engine, run.weights, run.risk)
    live = fills.assign(
        time=pd.to_datetime(fills["ts"]),
        quantity=np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"],
    ).sort_values(["time", "symbol"], kind="stable")
    engine = bt.orders.sort_values(["time", "symbol"], kind="stable")
    assert len(engine) >= 8 and set(engine["symbol"]) == {"SPY", "QQQ"}
    assert list(live["time"]) == list(engine["time"])
    assert list(live["symbol"]) == list(engine["symbol"])
    np.testing.assert_array_equal(live["quantity"].to_numpy(), engine["quantity"].to_numpy())
    np.testing.assert_allclose(live["price"].to_numpy(), engine["price"].to_numpy(), atol=1e-6)
    assert summary.pnl == pytest.approx(bt.equity.iloc[-1] - run.engine.init_cash, abs=1e-3)
