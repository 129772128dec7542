"""Execution parity (issue 17.3): a live session whose slot works its orders with our VWAP,
TWAP or POV (``[strategies.execution]``) sends, in a lockstep rehearsal on the simulator, exactly the
child orders the execution backtest makes for the same parent -- time, quantity, type, limit --
each at its minute, each filled in full at that minute, and journals parent and children."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests.live.conftest import PAPER
from toolkit.data import calendar
from toolkit.execution import Impact, execution_backtest
from toolkit.live.bridge import LiveSession
from toolkit.live.config import LiveConfig, load_live_config
from toolkit.live.journal import Journal
from toolkit.live.orders import OrderRef

MINUTES = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"


def parent_config(
    tmp: Path,
    execution: str,
    end: str = "2024-03-20 14:05",
    extra: str = "",
    start: str = "2024-03-19 21:30",
) -> LiveConfig:
    """The SMA paper strategy on daily SPY bars from Tuesday 2024-03-19's close (its first
    decision buys), its order worked by ``execution`` (an inline TOML table's body);
    ``extra``: more tables (e.g. ``[connection]``)."""
    (tmp / "live.toml").write_text(
        f"""name = "parents"
{extra}[simulator]
start = "{start}"
end = "{end}"
speed = 8640000.0
[session]
journal = "state/journal.sqlite"
[[strategies]]
config = "{PAPER}"
capital = 100000
history = "1 Y"
execution = {{ {execution} }}
"""
    )
    return load_live_config(tmp / "live.toml")


def rth_minutes() -> pd.DataFrame:
    bars = tk.load(MINUTES, adjust="none")
    return bars[calendar.in_regular_hours(pd.DatetimeIndex(bars.index))]


def rehearse(cfg: LiveConfig) -> tuple[LiveSession, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Run the rehearsal; its session, the parent row, its scheduled children and fills."""
    session = LiveSession(cfg, echo=None, install_signals=False)
    summary = asyncio.run(session.run())
    with Journal(cfg.session.journal) as j:
        parents = j.rows("parents", summary.session_id)
        children = pd.DataFrame(j.rows("parent_children"))
        orders = pd.DataFrame(j.rows("orders", summary.session_id))
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    assert len(parents) == 1
    parent = parents[0]
    # every child was journaled as an order under <parent ref>/c<k>, a DAY market order
    assert list(orders["order_ref"]) == list(children["order_ref"])
    refs = [OrderRef.parse(r) for r in children["order_ref"]]
    assert [r.slice for r in refs] == list(range(len(children)))
    assert {str(r.parent) for r in refs} == {parent["parent_ref"]}
    assert (orders["status"] == "Filled").all() and (orders["order_type"] == "MKT").all()
    return session, parent, children, fills


@pytest.mark.parametrize(
    ("algo", "execution"),
    [
        ("vwap", 'algo = "vwap", end = "+30min"'),  # a 20-session volume profile
        ("twap", 'algo = "twap", end = "+30min", slices = 10'),
        ("pov", 'algo = "pov", end = "+30min", rate = 0.0002'),  # sized minute by minute
    ],
)
def test_live_children_equal_the_execution_backtest(
    tmp_path: Path, algo: str, execution: str
) -> None:
    cfg = parent_config(tmp_path, execution)
    session, parent, children, fills = rehearse(cfg)
    q = int(parent["quantity"])
    assert parent["action"] == "BUY" and parent["algo"] == algo and parent["status"] == "done"
    # decided on Tuesday's close, worked from Wednesday's open for 30 minutes
    assert parent["decision_bar"] == "2024-03-19T00:00:00+00:00"
    start = pd.Timestamp("2024-03-20 13:30", tz="UTC")
    assert pd.Timestamp(parent["window_start"]) == start
    assert pd.Timestamp(parent["window_end"]) == start + pd.Timedelta("30min")

    # the execution backtest's children for the same parent: decision at the window's start,
    # the same regular-hours minutes, no schedule-level cap (max_pct_vol 1 = bars' volume)
    bt = execution_backtest(
        rth_minutes(),
        [(start, q)],
        schedule=algo,
        window="30min",
        max_pct_vol=1.0,
        slices=10 if algo == "twap" else None,
        pov_rate=0.0002,
        impact=Impact(model="none"),
    )
    expected = bt.children
    assert len(expected) == len(children) == {"vwap": 30, "twap": 10}.get(algo, len(expected))
    assert len(expected) >= 4
    live_times = pd.DatetimeIndex(pd.to_datetime(children["ts"]))
    assert list(live_times) == list(expected.index)
    np.testing.assert_array_equal(children["quantity"].to_numpy(), expected["quantity"].to_numpy())
    assert list(children["order_type"]) == list(expected["order_type"]) == ["MKT"] * len(children)
    assert children["limit_price"].isna().all() and expected["limit"].isna().all()
    assert children["quantity"].sum() == q and int(bt.parents["filled"].iloc[0]) == q

    # each child was sent at its minute and filled in full there, as the backtest fills it
    assert len(fills) == len(children)
    assert list(pd.DatetimeIndex(pd.to_datetime(fills["ts"]))) == list(expected.index)
    np.testing.assert_array_equal(fills["shares"].to_numpy(), expected["quantity"].to_numpy())
    assert list(bt.fills.index) == list(expected.index)
    np.testing.assert_array_equal(bt.fills["quantity"].to_numpy(), fills["shares"].to_numpy())
    # the simulator fills a market order at once at its minute's close (gateway rule);
    # the backtest at the minute's typical price: the same minute, each its own price model
    closes = rth_minutes()["close"].reindex(expected.index).to_numpy()
    np.testing.assert_allclose(fills["price"].to_numpy(), closes, atol=1e-9)
    np.testing.assert_allclose(fills["commission"].to_numpy(), 1.0)  # IBKR fixed minimum

    # what the dashboard reads
    p = session.parents[parent["parent_ref"]]
    assert p.progress == (q, q) and p.status == "done" and not p.paused
    assert [c.quantity for c in p.children] == list(children["quantity"])
    assert session.unstuck == 0  # the clock held at every minute without the 2 s fallback


@pytest.mark.slow  # a whole session of minute holds between the two windows (~15-30 s)
def test_a_reversal_sells_through_a_second_parent_as_the_backtest_does(tmp_path: Path) -> None:
    """Friday 2024-04-05's decision buys, Monday's (the SMA cross turns short) sells twice as
    much: two TWAP parents on consecutive mornings, the second sized from what the first
    filled; both schedules and fills equal the execution backtest of the same targets."""
    cfg = parent_config(
        tmp_path,
        'algo = "twap", end = "+30min", slices = 10',
        start="2024-04-05 21:30",
        end="2024-04-09 14:05",
    )
    session = LiveSession(cfg, echo=None, install_signals=False)
    summary = asyncio.run(session.run())
    with Journal(cfg.session.journal) as j:
        parents = j.rows("parents", summary.session_id)
        children = pd.DataFrame(j.rows("parent_children"))
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    assert [(p["action"], p["status"]) for p in parents] == [("BUY", "done"), ("SELL", "done")]
    bought, sold = (int(p["quantity"]) for p in parents)
    assert sold > bought > 0  # from long to short
    starts = [pd.Timestamp(p["window_start"]) for p in parents]
    assert starts == [pd.Timestamp("2024-04-08 13:30", tz="UTC"),
                      pd.Timestamp("2024-04-09 13:30", tz="UTC")]  # fmt: skip
    bt = execution_backtest(
        rth_minutes(),
        [(starts[0], bought), (starts[1], bought - sold)],
        schedule="twap",
        window="30min",
        max_pct_vol=1.0,
        slices=10,
        impact=Impact(model="none"),
    )
    assert list(bt.parents["side"]) == ["BUY", "SELL"]
    np.testing.assert_array_equal(bt.parents["quantity"].to_numpy(), [bought, sold])
    expected = bt.children
    assert list(pd.DatetimeIndex(pd.to_datetime(children["ts"]))) == list(expected.index)
    np.testing.assert_array_equal(children["quantity"].to_numpy(), expected["quantity"].to_numpy())
    live = fills.assign(q=np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"])
    assert list(pd.DatetimeIndex(pd.to_datetime(live["ts"]))) == list(bt.fills.index)
    signed = np.where(bt.fills["side"] == "BUY", 1.0, -1.0) * bt.fills["quantity"].to_numpy()
    np.testing.assert_array_equal(live["q"].to_numpy(), signed)
    assert session.sleeves[cfg.strategies[0].label].positions["SPY"] == bought - sold
    assert session.unstuck == 0
