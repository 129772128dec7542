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


def _journal_with_schedules(path: Path, with_bars: bool) -> Journal:
    """A daily strategy's session by hand: Tuesday's close decides BUY 300 SPY, worked by a
    schedule 15:01-15:04 UTC the next day as three children (two filled, one cancelled), and
    BUY 50 QQQ, whose parent was cancelled before any child was sent; SPY's minutes are
    journaled or not (an older journal: the decided closes only)."""
    j = Journal(path)
    config = {"strategies": {"a": {"bar_size": "1 day"}}, "capital": {"a": 1e5}}
    j.start_session("s", mode="simulated", account="DU1", config=config)
    for sym, price, qty in (("SPY", 100.0, 300), ("QQQ", 50.0, 50)):
        did = j.record_decision(
            "s",
            strategy="a",
            symbol=sym,
            bar_time="2023-02-28T00:00:00+00:00",
            signal=1.0,
            price=price,
            target_qty=qty,
            current_qty=0,
        )
        j.execute(
            "INSERT INTO parents (parent_ref, session_id, decision_id, ts, strategy, symbol, "
            "action, quantity, algo, decision_bar, arrival_price, window_start, window_end, "
            "status) VALUES (?, 's', ?, 'now', 'a', ?, 'BUY', ?, 'twap', "
            "'2023-02-28T00:00:00+00:00', ?, '2023-03-01T15:01:00+00:00', "
            "'2023-03-01T15:04:00+00:00', ?)",
            (f"s/a/{sym}/20230228", did, sym, qty, price, "done" if sym == "SPY" else "cancelled"),
        )
    if with_bars:
        minutes = [(100.1, 1e4), (100.2, 2e4), (100.4, 1e4), (100.1, 3e4), (100.3, 2e4)]
        for k, (c, v) in enumerate(minutes):
            t = pd.Timestamp("2023-03-01 15:00", tz="UTC") + pd.Timedelta(minutes=k)
            j.record_bars("s", "SPY", "1 min", [(t.isoformat(), c, c, c, c, v)])
    parent = "s/a/SPY/20230228"
    for k in range(3):
        j.execute(
            "INSERT INTO parent_children (parent_ref, k, order_ref, ts, quantity, order_type) "
            "VALUES (?, ?, ?, ?, 100, 'MKT')",
            (parent, k, f"{parent}/c{k}", f"2023-03-01T15:0{k + 1}:00+00:00"),
        )
        j.record_order(
            "s",
            order_ref=f"{parent}/c{k}",
            symbol="SPY",
            action="BUY",
            quantity=100,
            order_type="MKT",
            decision_id=did - 1,
        )
    for k, (px, ts) in enumerate([(100.25, "15:01:00"), (100.45, "15:02:30")]):
        j.record_fill(
            exec_id=f"e{k}",
            order_ref=f"{parent}/c{k}",
            symbol="SPY",
            side="BOT",
            shares=100,
            price=px,
            ts=f"2023-03-01T{ts}+00:00",
            commission=1.0,
        )
    j.record_order_status(
        f"{parent}/c2", status="Cancelled", filled=0, remaining=100, avg_fill_price=0
    )
    return j


@pytest.mark.parametrize("with_bars", [True, False])
def test_a_schedules_children_are_one_parent(tmp_path, with_bars) -> None:
    with _journal_with_schedules(tmp_path / "j.sqlite", with_bars) as j:
        h = order_history(j, "s")
    assert list(h.index) == ["s/a/SPY/20230228", "s/a/QQQ/20230228"]
    row = h.iloc[0]
    info = ["kind", "children", "quantity", "filled", "order_type", "status", "bar_size"]
    size = "1 min" if with_bars else "1 day"
    assert list(row[info]) == ["schedule", 3, 300.0, 200.0, "twap", "done", size]
    # decided at Tuesday's close, released at the window's start, judged to its end
    assert row["decision_time"] == pd.Timestamp("2023-02-28 16:00", tz="America/New_York")
    assert row["release_time"] == pd.Timestamp("2023-03-01 15:01", tz="UTC")
    assert row["end_time"] == pd.Timestamp("2023-03-01 15:04", tz="UTC")
    # the same parent given to toolkit.execution.tca by hand
    order = ParentOrder(
        "BUY",
        300,
        pd.Timestamp("2023-02-28 21:00", tz="UTC"),
        100.0,
        release_time=pd.Timestamp("2023-03-01 15:01", tz="UTC"),
        end_time=pd.Timestamp("2023-03-01 15:04", tz="UTC"),
    )
    fills = pd.DataFrame(
        {
            "time": pd.to_datetime(["2023-03-01 15:01:00", "2023-03-01 15:02:30"], utc=True),
            "quantity": [100.0, 100.0],
            "price": [100.25, 100.45],
            "fee": [1.0, 1.0],
        }
    )
    if with_bars:
        times = pd.date_range("2023-03-01 15:00", periods=5, freq="min", tz="UTC")
        bars = pd.DataFrame(
            {"close": [100.1, 100.2, 100.4, 100.1, 100.3], "volume": [1e4, 2e4, 1e4, 3e4, 2e4]},
            index=times,
        )
    else:  # an older journal: the decided closes, no volume
        day = pd.DatetimeIndex([pd.Timestamp("2023-02-28", tz="UTC")])
        bars = pd.DataFrame({"close": [100.0], "volume": [0.0]}, index=day)
    want = tca(order, fills, bars)
    names = ["delay_cost", "execution_cost", "opportunity_cost", "fees", "total_cost"]
    names += ["end_price", "release_price", "interval_twap", "market_volume", "participation"]
    for name in names:
        assert row[name] == pytest.approx(getattr(want, name), abs=1e-12, nan_ok=True), name
    if with_bars:
        # 300 decided at 100.00, the 15:00 minute closes at 100.10 before the release: delay
        # 30; 100 @ 100.25 and 100 @ 100.45 against 100.10: execution 15 + 35; 100 left at
        # the window end's close 100.30: opportunity 20; fees 2
        assert list(row[names[:5]]) == pytest.approx([30.0, 50.0, 20.0, 2.0, 102.0])
        assert row["participation"] == pytest.approx(200 / 8e4)  # 15:01 .. 15:04
    else:
        assert math.isnan(row["interval_vwap"]) and math.isnan(row["participation"])
    # a parent cancelled before any child: all of it unfilled, no fill, no child
    qqq = h.iloc[1]
    assert list(qqq[info[:5]]) == ["schedule", 0, 50.0, 0.0, "twap"]
    assert qqq["paper_pnl"] - qqq["total_cost"] == pytest.approx(0.0, abs=1e-12)


def test_a_twap_parent_in_a_rehearsal(tmp_path) -> None:
    """Tuesday's decision worked by TWAP (10 children over Wednesday's first 30 minutes): one
    parent whose benchmarks are the minute file's over its active interval, reconciled with
    the journal's P&L."""
    from tests.live.test_execution_parity import parent_config, rth_minutes

    cfg = parent_config(tmp_path, 'algo = "twap", end = "+30min", slices = 10')
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        h = order_history(j, summary.session_id)
        (parent,) = j.rows("parents", summary.session_id)
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        bars = pd.DataFrame(j.rows("bars", summary.session_id))
    bars = bars[bars["bar_size"] == "1 min"]
    minutes = bars.set_index(pd.DatetimeIndex(pd.to_datetime(bars["bar_time"], utc=True)))
    assert list(h.index) == [parent["parent_ref"]]
    row = h.iloc[0]
    assert (row["kind"], row["order_type"], row["children"]) == ("schedule", "twap", 10)
    assert row["quantity"] == row["filled"] == parent["quantity"] == fills["shares"].sum()
    assert row["arrival_price"] == parent["arrival_price"]
    assert row["release_time"] == pd.Timestamp(parent["window_start"])
    assert row["end_time"] == pd.Timestamp(parent["window_end"])
    # benchmarks from the minutes it was worked on: first child's minute to the last fill's
    m = rth_minutes().loc[pd.Timestamp(parent["window_start"]) : fills["ts"].max()]
    assert row["interval_vwap"] == pytest.approx(
        (m["close"] * m["volume"]).sum() / m["volume"].sum()
    )
    assert row["interval_twap"] == pytest.approx(m["close"].mean())
    assert row["participation"] == pytest.approx(row["filled"] / m["volume"].sum())
    # P_N: the close of the last minute the session journaled by the window's end (the
    # minute stream may stop once the parent is done), the minute file's close
    end = pd.Timestamp(parent["window_end"])
    last = minutes.index[minutes.index <= end][-1]
    assert row["end_price"] == minutes.at[last, "close"] == rth_minutes().at[last, "close"]
    assert row[COMPONENTS].sum() == pytest.approx(row["total_cost"], abs=1e-9)
    t = summary.tca
    assert t is not None and t.orders == 1 and abs(t.difference) < 0.005


def test_a_journal_tca_cannot_read_leaves_the_summary_standing(tmp_path, capsys) -> None:
    """A broker overfill (150 executed on an order of 100) cannot be a parent's fills: the
    summary and `status` say so in one line and still show the P&L; `orders` is the error."""
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.start_session("s", mode="paper", account="DU1", config={"strategies": {}})
        did = j.record_decision(
            "s",
            strategy="a",
            symbol="SPY",
            bar_time="2023-03-01T00:00:00+00:00",
            signal=1.0,
            price=100.0,
            target_qty=100,
            current_qty=0,
        )
        ref = "s/a/SPY/20230301"
        j.record_order(
            "s", order_ref=ref, symbol="SPY", action="BUY", quantity=100, order_type="MKT",
            decision_id=did,
        )  # fmt: skip
        j.record_fill(
            exec_id="e0", order_ref=ref, symbol="SPY", side="BOT", shares=150, price=101.0,
            ts="2023-03-02T14:30:00+00:00", commission=1.0,
        )  # fmt: skip
        s = summarize(j, "s")
    assert s.tca is None and s.tca_error is not None and "filled 150" in s.tca_error
    assert s.pnl == pytest.approx(150 * (100.0 - 101.0) - 1.0)
    assert main(["status", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "TCA not available" in out and "net P&L" in out and "parent orders" not in out
    assert main(["orders", "--journal", str(path)]) == 2
    assert "filled 150" in capsys.readouterr().err


def test_an_ib_algo_order_is_judged_over_its_window(tmp_path) -> None:
    """An IB Twap order (one order the broker works): released at its startTime, judged to
    its endTime on the minutes the journal holds, labelled with its algo."""
    with Journal(tmp_path / "j.sqlite") as j:
        config = {"strategies": {"a": {"bar_size": "1 day"}}, "capital": {"a": 1e5}}
        j.start_session("s", mode="simulated", account="DU1", config=config)
        did = j.record_decision(
            "s", strategy="a", symbol="SPY", bar_time="2023-02-28T00:00:00+00:00", signal=1.0,
            price=100.0, target_qty=200, current_qty=0,
        )  # fmt: skip
        for k, (c, v) in enumerate([(100.1, 1e4), (100.2, 2e4), (100.4, 1e4), (100.1, 3e4)]):
            t = pd.Timestamp("2023-03-01 15:00", tz="UTC") + pd.Timedelta(minutes=k)
            j.record_bars("s", "SPY", "1 min", [(t.isoformat(), c, c, c, c, v)])
        ref = "s/a/SPY/20230228"
        window = (("startTime", "20230301 10:01:00 US/Eastern"),
                  ("endTime", "20230301 10:03:00 US/Eastern"))  # fmt: skip
        j.record_order(
            "s", order_ref=ref, symbol="SPY", action="BUY", quantity=200, order_type="MKT",
            decision_id=did, algo="Twap", algo_params=(("strategyType", "Marketable"), *window),
        )  # fmt: skip
        j.record_fill(
            exec_id="e0", order_ref=ref, symbol="SPY", side="BOT", shares=100, price=100.3,
            ts="2023-03-01T15:01:00+00:00", commission=1.0,
        )  # fmt: skip
        row = order_history(j, "s").iloc[0]
    assert (row["kind"], row["order_type"], row["bar_size"]) == ("ib_algo", "MKT Twap", "1 min")
    assert row["release_time"] == pd.Timestamp("2023-03-01 15:01", tz="UTC")
    assert row["end_time"] == pd.Timestamp("2023-03-01 15:03", tz="UTC")
    # delay 200 x 0.10 (15:00 close), execution 100 x 0.20, opportunity 100 x 0.00, fees 1
    assert list(row[COMPONENTS]) == pytest.approx([20.0, 20.0, 0.0, 1.0])
    assert row["market_volume"] == 6e4  # 15:01 .. 15:03, unfilled: to the window's end
