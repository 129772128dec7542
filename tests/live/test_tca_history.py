"""TCA of a live session's parent orders from its journal (issue 17 item 4): a rehearsal on the
simulator whose costs reconcile with the journal's P&L to the cent, and a hand-built journal
whose schedule children are grouped under their parent and priced by toolkit.execution.tca."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests.live.conftest import PAPER
from toolkit.app.live import main
from toolkit.execution import ParentOrder, tca
from toolkit.live import Journal, run_session
from toolkit.live.summary import summarize
from toolkit.live.tca_history import order_history, tca_totals

COMPONENTS = ["delay_cost", "execution_cost", "opportunity_cost", "fees"]


def test_rehearsal_costs_reconcile_with_the_journal_pnl(live_config, tmp_path, capsys) -> None:
    research = tmp_path / "bracketed.toml"
    research.write_text(PAPER.read_text() + "\n[exits]\nstop_loss = 0.02\ntake_profit = 0.04\n")
    cfg = live_config(
        strategies=[
            {"config": str(research), "capital": 100_000, "history": "1 Y", "bracket": True}
        ],
        simulator={"start": "2023-01-03 21:30", "end": "2023-05-01", "speed": 8_640_000.0},
    )
    sid = run_session(cfg, echo=None).session_id
    with Journal(cfg.session.journal) as j:
        history = order_history(j, sid)
        summary = summarize(j, sid)
        fills = pd.DataFrame(j.session_fills(sid))
        orders = pd.DataFrame(j.rows("orders", sid)).set_index("order_ref")
        decisions = pd.DataFrame(j.rows("decisions", sid)).set_index("decision_id")
        bars = pd.DataFrame(j.rows("bars", sid))

    # the journal's bars are the data file's (unadjusted, as the broker streams them)
    data = tk.load("SPY", adjust="none")
    when = pd.DatetimeIndex(pd.to_datetime(bars["bar_time"], utc=True))
    assert len(bars) > 60 and when.is_monotonic_increasing
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(bars[col], data.loc[when, col], rtol=1e-9)

    # entries and the bracket legs that filled (stops and take-profits) are parents
    kinds = history["kind"].value_counts()
    assert kinds["order"] >= 5 and kinds.get("sl", 0) + kinds.get("tp", 0) >= 2
    assert set(fills["order_ref"]) <= set(history.index)
    parts = history[COMPONENTS].sum(axis=1)
    np.testing.assert_allclose(parts, history["total_cost"], rtol=0, atol=1e-9)
    for ref, row in history.iterrows():
        mine = fills[fills["order_ref"] == ref]
        assert row["filled"] == mine["shares"].sum() == row["quantity"]
        assert row["fees"] == pytest.approx(mine["commission"].sum(), abs=1e-12)
        order = orders.loc[ref]
        if row["kind"] == "order":  # arrival = the close the decision recorded
            assert row["arrival_price"] == decisions.loc[order["decision_id"], "price"]
            day = pd.Timestamp(decisions.loc[order["decision_id"], "bar_time"]).date()
            close = pd.Timestamp(f"{day} 16:00", tz="America/New_York")
            assert row["decision_time"] == close  # the decided bar's end
        else:  # a protective exit is decided by its trigger
            trigger = order["aux_price"] if order["order_type"] == "STP" else order["limit_price"]
            assert row["arrival_price"] == trigger
        # one-bar horizon: the fill's daily bar, benchmarks from its close and volume
        day = pd.Timestamp(mine["ts"].iloc[-1]).tz_convert("UTC").floor("D")
        assert row["end_price"] == row["close"] == data.at[day, "close"]
        assert row["market_volume"] == data.at[day, "volume"]
        avg = (mine["shares"] * mine["price"]).sum() / mine["shares"].sum()
        s = 1.0 if row["side"] == "BUY" else -1.0
        assert row["slippage_bp"] == pytest.approx(
            s * (avg / row["arrival_price"] - 1.0) * 1e4, abs=1e-9
        )

    # paper - shortfall + after-horizon = realised + unrealised - commissions, to the cent
    t = summary.tca
    assert t is not None and t.orders == len(history)
    assert t.journal_pnl == summary.pnl
    assert summary.pnl == summary.realized + summary.unrealized - summary.commissions
    assert abs(t.difference) < 0.005
    assert t.fees == pytest.approx(summary.commissions, abs=1e-9)
    assert t.shortfall == pytest.approx(t.delay + t.execution + t.opportunity + t.fees, abs=1e-9)
    # the identity by hand: every fill's P&L to the session's mark, minus its fees
    q = np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"]
    by_hand = math.fsum(q * (summary.marks["SPY"] - fills["price"])) - fills["commission"].sum()
    assert t.tca_pnl == pytest.approx(by_hand, abs=0.005)
    again = tca_totals(history, summary.marks, summary.pnl)
    assert again == t

    assert main(["status", "--journal", str(cfg.session.journal)]) == 0
    out = capsys.readouterr().out
    assert f"TCA, {len(history)} parent orders" in out and "difference 0.00" in out
    assert "spy_sma_paper/SPY/20230103/sl" in out or "/tp " in out
    assert main(["orders", "--journal", str(cfg.session.journal), "--session", sid, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["order_ref"] for r in rows] == list(history.index)
    np.testing.assert_allclose([r["total_cost"] for r in rows], history["total_cost"])


def _journal_with_a_schedule(path: Path, with_bars: bool) -> Journal:
    """A one-minute session by hand: a BUY 300 parent worked as three children (c0..c2), two
    filled, one cancelled, and a market order of another strategy without bars."""
    j = Journal(path)
    config = {"strategies": {"a": {"bar_size": "1 min"}}, "capital": {"a": 1e5}}
    j.start_session("s", mode="simulated", account="DU1", config=config)
    did = j.record_decision(
        "s",
        strategy="a",
        symbol="SPY",
        bar_time="2023-03-01T15:00:00+00:00",
        signal=1.0,
        price=100.0,
        target_qty=300,
        current_qty=0,
    )
    if with_bars:
        for k, (c, v) in enumerate([(100.0, 1e4), (100.2, 2e4), (100.4, 1e4), (100.1, 3e4)]):
            t = pd.Timestamp("2023-03-01 15:00", tz="UTC") + pd.Timedelta(minutes=k)
            j.record_bars("s", "SPY", "1 min", [(t.isoformat(), c, c, c, c, v)])
    parent = "s/a/SPY/20230301T1500"
    for k in range(3):
        j.record_order(
            "s",
            order_ref=f"{parent}/c{k}",
            symbol="SPY",
            action="BUY",
            quantity=100,
            order_type="MKT",
            parent_ref=parent,
            decision_id=did,
        )
    j.record_fill(
        exec_id="e0",
        order_ref=f"{parent}/c0",
        symbol="SPY",
        side="BOT",
        shares=100,
        price=100.25,
        ts="2023-03-01T15:01:00+00:00",
        commission=1.0,
    )
    j.record_fill(
        exec_id="e1",
        order_ref=f"{parent}/c1",
        symbol="SPY",
        side="BOT",
        shares=100,
        price=100.45,
        ts="2023-03-01T15:02:30+00:00",
        commission=1.0,
    )
    j.record_order_status(
        f"{parent}/c2", status="Cancelled", filled=0, remaining=100, avg_fill_price=0
    )
    return j


@pytest.mark.parametrize("with_bars", [True, False])
def test_a_schedules_children_are_one_parent(tmp_path, with_bars) -> None:
    with _journal_with_a_schedule(tmp_path / "j.sqlite", with_bars) as j:
        h = order_history(j, "s")
    assert list(h.index) == ["s/a/SPY/20230301T1500"]
    row = h.iloc[0]
    assert (row["kind"], row["children"], row["quantity"], row["filled"]) == (
        "schedule",
        3,
        300.0,
        200.0,
    )
    # the same parent given to toolkit.execution.tca by hand
    order = ParentOrder(
        "BUY",
        300,
        pd.Timestamp("2023-03-01 15:01", tz="UTC"),
        100.0,
        end_time=pd.Timestamp("2023-03-01 15:02:30", tz="UTC"),
    )
    fills = pd.DataFrame(
        {
            "time": pd.to_datetime(["2023-03-01 15:01:00", "2023-03-01 15:02:30"], utc=True),
            "quantity": [100.0, 100.0],
            "price": [100.25, 100.45],
            "fee": [1.0, 1.0],
        }
    )
    times = pd.date_range("2023-03-01 15:00", periods=4, freq="min", tz="UTC")
    closes, volumes = [100.0, 100.2, 100.4, 100.1], [1e4, 2e4, 1e4, 3e4]
    if not with_bars:  # an older journal: the decided closes, no volume
        times, closes, volumes = times[:1], closes[:1], [0.0]
    bars = pd.DataFrame({"close": closes, "volume": volumes}, index=times)
    want = tca(order, fills, bars)
    for name in [
        "delay_cost",
        "execution_cost",
        "opportunity_cost",
        "fees",
        "total_cost",
        "end_price",
        "release_price",
        "interval_twap",
        "market_volume",
    ]:
        assert row[name] == pytest.approx(getattr(want, name), abs=1e-12), name
    if with_bars:
        # 300 decided at 100.00; 100 @ 100.25 and 100 @ 100.45 then 100 left at the 15:02
        # bar's close 100.40: execution 25 + 45, opportunity 100 x 0.40, fees 2
        assert row["execution_cost"] == pytest.approx(70.0)
        assert row["opportunity_cost"] == pytest.approx(40.0)
        assert row["total_cost"] == pytest.approx(112.0)
        assert row["participation"] == pytest.approx(200 / 3e4)
    else:
        assert math.isnan(row["interval_vwap"]) and math.isnan(row["participation"])
