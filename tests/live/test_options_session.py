"""The option session end to end: the real ib_async client over TCP against our gateway
simulator (the shipped SPXW end-of-day chains of January 2018), a real SQLite journal.
A put-credit vertical is chosen from the chain, sent as one combo (BAG) order at a net
limit, worked from the mid toward the touch, filled as a whole, and booked per leg; the
option rules block an order with a journaled reason; a restart neither duplicates the fills
nor sends the working combo again, and works it on to its fill."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB

from tests.live._sessions import journal_rows, wait_for, wait_for_rows
from tests.live.conftest import REPO
from toolkit.errors import ConfigError
from toolkit.gateway import Gateway
from toolkit.live._fault import Faults
from toolkit.live._option_book import OptionBook
from toolkit.live._option_ledger import OptionLedger
from toolkit.live._startup import LiveError
from toolkit.live.journal import Journal
from toolkit.live.option_session import OptionSession
from toolkit.live.options_config import OptionLiveConfig, load_option_config

SPXW = "SPXW_eod_2018-01-02_2018-02-28_2expiries.csv"
START = "2018-01-03 21:20"  # 16:20 New York: Jan 3's closing quotes are in force
SPEED = 1200.0  # a simulated 10-minute pricing step is half a wall second


def _config(
    tmp: Path, pricing: dict[str, Any], risk: dict[str, Any], exits: dict[str, Any] | None = None
) -> OptionLiveConfig:
    def toml(v: Any) -> str:
        return (
            f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else repr(v)
        )

    def table(name: str, values: dict[str, Any]) -> str:
        body = "\n".join(f"{k} = {toml(v)}" for k, v in values.items())
        return f"[{name}]\n{body}\n"

    text = 'name = "opt_test"\n' + "".join(
        [
            table("connection", {"client_id": 41}),
            table(
                "strategy",
                {
                    "label": "pcs",
                    "underlying": "SPX",
                    "sec_type": "IND",
                    "exchange": "CBOE",
                    "trading_class": "SPXW",
                    "template": "put_credit_vertical",
                    "quantity": 2,
                },
            ),
            table(
                "strategy.legs",
                {
                    "short_delta": 0.2,
                    "width": 25,
                    "dte_min": 14,
                    "dte_max": 35,
                    "strike_band": 0.05,
                },
            ),
            table("strategy.entry", {"decide_at": "16:15"}),
            table("strategy.exit", {"take_profit": 0.9, "stop_loss": 5.0, **(exits or {})}),
            table("strategy.pricing", {"interval": 600, "step": 0.05, **pricing}),
            table("risk", risk) if risk else "",
            table("session", {"journal": "state/journal.sqlite", "cancel_on_exit": False}),
        ]
    )
    path = tmp / "options.toml"
    path.write_text(text)
    return load_option_config(path)


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    return journal_rows(path, sql)  # none before the journal exists


class Running:
    """An OptionSession on its own thread and event loop."""

    def __init__(self, cfg: OptionLiveConfig, gw: Gateway, sid: str) -> None:
        self.session = OptionSession(
            cfg, host="127.0.0.1", port=gw.port, session_id=sid, install_signals=False,
            echo=None, poll=0.05,
        )  # fmt: skip
        self.result: list[Any] = []
        self.thread = threading.Thread(target=self._work)
        self.thread.start()

    def _work(self) -> None:
        try:
            self.result.append(asyncio.run(self.session.run()))
        except BaseException as exc:
            self.result.append(exc)

    def stop(self) -> Any:
        self.session.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()
        (got,) = self.result
        if isinstance(got, BaseException):
            raise got
        return got


def _broker_view(gw: Gateway) -> tuple[dict[str, float], list[str]]:
    """The gateway's positions (local symbol -> contracts) and open orders' refs, as another
    ib_async client sees them."""

    async def look() -> tuple[dict[str, float], list[str]]:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=77, timeout=10)
        try:
            pos = {p.contract.localSymbol: float(p.position) for p in ib.positions() if p.position}
            refs = [t.order.orderRef for t in await ib.reqAllOpenOrdersAsync()]
            return pos, refs
        finally:
            ib.disconnect()

    return asyncio.run(look())


@pytest.fixture(scope="module")
def spxw_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/ with the SPXW chain as its only option file (the gateway loads every shipped
    chain on first use: the others only cost time here)."""
    root = tmp_path_factory.mktemp("data")
    for p in (REPO / "data").iterdir():
        if p.name != "options":
            (root / p.name).symlink_to(p)
    (root / "options").mkdir()
    (root / "options" / SPXW).symlink_to(REPO / "data" / "options" / SPXW)
    return root


@pytest.fixture()
def gateway(spxw_data: Path):  # type: ignore[no-untyped-def]
    gw = Gateway(port=0, data_dir=spxw_data, start=START, speed=SPEED, participation=0.0).start()
    yield gw
    gw.stop()


def test_a_spread_opens_as_one_combo_and_its_legs_are_booked(
    tmp_path: Path, gateway: Gateway
) -> None:
    cfg = _config(tmp_path, {"start": "mid", "max_steps": 8}, {"max_loss_per_spread": 2500})
    journal = cfg.session.journal
    run = Running(cfg, gateway, "opt1")
    fills = wait_for_rows(journal, "SELECT symbol, side, shares, price FROM fills", 90, "fills")
    wait_for(lambda: len(_rows(journal, "SELECT 1 FROM fills")) == 2, 30, "both legs")
    summary = run.stop()
    (order,) = _rows(
        journal, "SELECT order_ref, action, quantity, order_type, limit_price, status FROM orders"
    )
    _, action, qty, kind, limit, status = order
    assert (action, qty, kind, status) == ("BUY", 2.0, "LMT", "Filled")
    legs = _rows(
        journal, "SELECT symbol, opt_right, strike, ratio, action FROM combo_legs ORDER BY leg"
    )
    assert [(r[1], r[3], r[4]) for r in legs] == [("P", 1, "SELL"), ("P", 1, "BUY")]
    short_k, long_k = legs[0][2], legs[1][2]
    assert short_k - long_k == 25.0  # the wing 25 points further out of the money
    fills = _rows(journal, "SELECT symbol, side, shares, price FROM fills ORDER BY side DESC")
    assert [(f[0], f[1], f[2]) for f in fills] == [
        (legs[0][0], "SLD", 2.0),
        (legs[1][0], "BOT", 2.0),
    ]
    net = fills[1][3] - fills[0][3]  # per share of one combo: a credit
    assert net < 0 and net <= limit + 1e-9  # filled at its net limit or better
    # worked from the mid toward the touch: the limit moved, each step journaled
    moves = _rows(journal, "SELECT message FROM order_events WHERE message LIKE 'limit moved%'")
    assert moves, "the combo filled at the mid: no step toward the touch was exercised"
    (decision,) = _rows(journal, "SELECT outcome, guards FROM decisions")
    assert decision == ("spread_open", "")
    # the journal's books are the broker's: contracts per leg, and nothing left working
    positions, open_refs = _broker_view(gateway)
    assert positions == {legs[0][0]: -2.0, legs[1][0]: 2.0}
    assert summary.positions == {legs[0][0].strip(): -2.0, legs[1][0].strip(): 2.0}
    assert open_refs == []

    # a restart of the same session: the book comes back from the journal, the broker's
    # executions replay without a second fill, positions agree, and nothing is sent
    again = Running(cfg, gateway, "opt1")
    wait_for(lambda: again.session.ledger is not None and again.session.now is not None, 30)
    wait_for(lambda: again.session.ledger.book.units() == 2, 30, "the restored book")
    summary = again.stop()
    assert len(_rows(journal, "SELECT 1 FROM orders")) == 1
    assert len(_rows(journal, "SELECT 1 FROM fills")) == 2
    assert _rows(journal, "SELECT guard FROM guard_events") == []
    assert summary.positions == {legs[0][0].strip(): -2.0, legs[1][0].strip(): 2.0}


def test_option_rules_block_the_spread_with_a_journaled_reason(
    tmp_path: Path, gateway: Gateway
) -> None:
    cfg = _config(tmp_path, {"start": "touch"}, {"max_loss_per_spread": 2000, "max_short_vega": 10})
    journal = cfg.session.journal
    run = Running(cfg, gateway, "opt2")
    wait_for_rows(journal, "SELECT 1 FROM decisions", 90, "the decision")
    run.stop()
    ((outcome, guards),) = _rows(journal, "SELECT outcome, guards FROM decisions")
    assert outcome == "spread_blocked"
    assert guards == "max_loss_per_spread,max_short_vega"
    events = dict(_rows(journal, "SELECT guard, detail FROM guard_events"))
    assert set(events) == {"max_loss_per_spread", "max_short_vega"}
    assert "per spread > $2,000.00" in events["max_loss_per_spread"]
    assert "order of 2 spread(s) blocked" in events["max_short_vega"]
    assert "$/vol pt after the order < -10.00" in events["max_short_vega"]
    assert _rows(journal, "SELECT 1 FROM orders") == []
    assert _broker_view(gateway) == ({}, [])


def test_a_working_combo_is_recognised_after_a_restart_and_not_sent_again(
    tmp_path: Path, gateway: Gateway
) -> None:
    # from the mid, three steps short of the end-of-day touch: it stays working
    cfg = _config(tmp_path, {"start": "mid", "max_steps": 3}, {})
    journal = cfg.session.journal
    first = Running(cfg, gateway, "opt3")
    moved = "SELECT message FROM order_events WHERE message LIKE 'limit moved%' ORDER BY event_id"
    wait_for(lambda: len(_rows(journal, moved)) == 3, 90, "three steps")
    first.stop()  # cancel_on_exit = false: the combo stays at the broker
    (ref,) = _rows(journal, "SELECT order_ref FROM orders")[0]
    assert _broker_view(gateway)[1] == [ref]

    # the restart finds it by orderRef and works it toward the touch: one order, filled
    cfg = _config(tmp_path, {"start": "mid", "max_steps": 8}, {})
    second = Running(cfg, gateway, "opt3")
    wait_for(lambda: len(_rows(journal, "SELECT 1 FROM fills")) == 2, 90, "the legs' fills")
    second.stop()
    assert _rows(journal, "SELECT order_ref, status FROM orders") == [(ref, "Filled")]
    positions, open_refs = _broker_view(gateway)
    assert sorted(positions.values()) == [-2.0, 2.0] and open_refs == []
    log = "\n".join(second.session.lines)
    assert f"{ref}: working at the broker; not sent again" in log
    assert "sent " not in log.replace("not sent again", "")
    # the restart went on from the working limit's step, never back toward the mid
    limits = [float(m.split()[3]) for (m,) in _rows(journal, moved)]
    assert limits == sorted(limits) and len(set(limits)) == len(limits)
    assert len(limits) == 6 and limits[-1] == pytest.approx(-1.90)  # the touch


def test_an_exit_rule_closes_the_spread_as_one_combo(tmp_path: Path, spxw_data: Path) -> None:
    # opened on Jan 3 with 28 days to the Jan 31 expiry; exit_dte 27 closes it on Jan 4
    # (New York), against Jan 3's quotes still in force: every leg bought back or sold
    gw = Gateway(port=0, data_dir=spxw_data, start=START, speed=4 * SPEED, participation=0.0)
    gw.start()
    try:
        cfg = _config(tmp_path, {"start": "touch"}, {}, {"exit_dte": 27})
        journal = cfg.session.journal
        run = Running(cfg, gw, "opt5")
        wait_for(lambda: len(_rows(journal, "SELECT 1 FROM fills")) == 4, 90, "closing fills")
        summary = run.stop()
    finally:
        gw.stop()
    decisions = _rows(journal, "SELECT outcome, note FROM decisions ORDER BY decision_id")
    assert [d[0] for d in decisions] == ["spread_open", "spread_close"]
    assert "27 days to expiry <= 27" in decisions[1][1]
    orders = _rows(journal, "SELECT order_ref, quantity, status FROM orders ORDER BY ts")
    assert [(o[1], o[2]) for o in orders] == [(2.0, "Filled"), (2.0, "Filled")]
    legs = [
        _rows(journal, f"SELECT con_id, action FROM combo_legs WHERE order_ref = '{o[0]}'")
        for o in orders
    ]
    flip = {"BUY": "SELL", "SELL": "BUY"}
    assert sorted(legs[1]) == sorted((k, flip[a]) for k, a in legs[0])  # each leg reversed
    fills = _rows(journal, "SELECT symbol, side, shares, price FROM fills")
    held: dict[str, float] = {}
    cash = 0.0
    for sym, side, n, px in fills:
        q = n if side == "BOT" else -n
        held[sym] = held.get(sym, 0.0) + q
        cash -= q * px * 100.0
    assert all(abs(q) < 1e-9 for q in held.values()) and summary.positions == {}
    assert summary.realized == pytest.approx(cash, abs=1e-6)  # flat: realised is the cash


def _bridge(cfg: OptionLiveConfig, gw: Gateway, log: Path, fault: str | None) -> Any:
    """``python -m toolkit.live options`` against ``gw`` as a child process (session opt4)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TOOLKIT_LIVE_FAULT", None)
    if fault:
        env["TOOLKIT_LIVE_FAULT"] = fault
    cmd = [sys.executable, "-m", "toolkit.live", "options", "--config", str(cfg.source)]
    cmd += ["--host", "127.0.0.1", "--port", str(gw.port), "--session", "opt4"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_crashes_around_the_send_leave_exactly_one_combo(tmp_path: Path, spxw_data: Path) -> None:
    # killed after the combo is journaled (not sent): the restart resends it (its day is not
    # over) and is killed right after that send (not acknowledged); the third start finds
    # it at the broker (filled meanwhile) and does not send it again. The broker got one
    # combo, it filled once, and its legs are booked once.
    # a slow clock: the three starts happen on the combo's New York day however loaded the
    # machine is (an unsent combo of a day gone by is dropped, and the day decided anew)
    gateway = Gateway(port=0, data_dir=spxw_data, start=START, speed=30.0, participation=0.0)
    gateway.start()
    try:
        _crash_thrice(tmp_path, gateway)
    finally:
        gateway.stop()


def _crash_thrice(tmp_path: Path, gateway: Gateway) -> None:
    cfg = _config(tmp_path, {"start": "touch"}, {})
    journal, log = cfg.session.journal, tmp_path / "bridge.log"
    first = _bridge(cfg, gateway, log, "after-journal")
    assert first.wait(90) == 137, log.read_text()
    ((ref, status),) = _rows(journal, "SELECT order_ref, status FROM orders")
    assert status == "PendingSubmit"
    second = _bridge(cfg, gateway, log, "after-send")
    assert second.wait(90) == 137, log.read_text()
    assert _rows(journal, "SELECT status FROM orders") == [("PendingSubmit",)]
    third = _bridge(cfg, gateway, log, None)
    try:
        wait_for(lambda: len(_rows(journal, "SELECT 1 FROM fills")) == 2, 90, "legs booked")
    finally:
        third.send_signal(signal.SIGTERM)
        assert third.wait(60) == 0, log.read_text()
    assert _rows(journal, "SELECT order_ref, status FROM orders") == [(ref, "Filled")]

    async def orders_at_broker() -> set[int]:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=78, timeout=10)
        try:
            fills = await ib.reqExecutionsAsync()
            return {f.execution.orderId for f in fills if f.execution.orderRef == ref}
        finally:
            ib.disconnect()

    assert len(asyncio.run(orders_at_broker())) == 1
    assert log.read_text().count(f"resending {ref}") == 1


def test_paper_by_default_real_money_needs_live_and_the_account(
    tmp_path: Path, spxw_data: Path
) -> None:
    cfg = _config(tmp_path, {}, {})
    with pytest.raises(ConfigError, match="port 4001 is a live-trading port"):
        OptionSession(cfg, host="127.0.0.1", port=4001)
    with pytest.raises(ConfigError, match=r"\[connection\] account is required with --live"):
        OptionSession(cfg, host="127.0.0.1", port=4001, live=True)
    # a live (real-money) account behind a paper-looking port: refused before any order
    with Gateway(port=0, data_dir=spxw_data, start=START, account="U7654321") as gw:
        run = Running(cfg, gw, "opt6")
        run.thread.join(60)
        (got,) = run.result
        assert isinstance(got, LiveError) and "refusing to trade without --live" in str(got)
    assert _rows(cfg.session.journal, "SELECT 1 FROM orders") == []


def test_a_dropped_connection_reconnects_and_keeps_the_working_combo(
    tmp_path: Path, gateway: Gateway
) -> None:
    cfg = _config(tmp_path, {"start": "mid", "max_steps": 0}, {})
    journal = cfg.session.journal
    run = Running(cfg, gateway, "opt7")
    wait_for_rows(journal, "SELECT 1 FROM orders WHERE status = 'Submitted'", 90, "working")
    ((ref,),) = _rows(journal, "SELECT order_ref FROM orders")
    gateway.drop_clients()  # IB Gateway's nightly restart, a network outage
    wait_for(lambda: run.session.broker.reconnects >= 1, 60, "the reconnect")
    wait_for(lambda: any("working at the broker" in x for x in run.session.lines), 30, "reconcile")
    run.stop()
    assert _rows(journal, "SELECT order_ref FROM orders") == [(ref,)]
    assert _broker_view(gateway)[1] == [ref]  # still one combo working, never a second


def test_the_kill_switch_closes_the_spread_at_the_touch_and_stays_off(
    tmp_path: Path, gateway: Gateway
) -> None:
    # filled at the touch, the spread is marked at its mid at once: the half-spread and the
    # commission are a drawdown far past 0.01 % of the book
    cfg = _config(tmp_path, {"start": "touch"}, {"max_drawdown": 0.0001})
    journal = cfg.session.journal
    run = Running(cfg, gateway, "opt8")
    wait_for(lambda: len(_rows(journal, "SELECT 1 FROM fills")) == 4, 90, "the closing fills")
    run.stop()
    ((guard, detail),) = _rows(journal, "SELECT guard, detail FROM guard_events")
    assert guard == "max_drawdown" and "closing the spread at the touch" in detail
    notes = _rows(journal, "SELECT outcome, note FROM decisions ORDER BY decision_id")
    assert [n[0] for n in notes] == ["spread_open", "spread_close"]
    assert "kill switch max_drawdown" in notes[1][1]
    assert _broker_view(gateway)[0] == {}  # flat at the broker
    # a restart keeps it off: the journal's guard event says so
    with Journal(journal) as j:
        again = OptionLedger(j, "opt8", OptionBook("pcs", 100_000.0), Faults.from_env({}))
        again.restore()
        assert again.book.killed == "max_drawdown" and again.book.held() == {}
