"""The same gateway with the unmodified ib_insync 0.9.86 client. It shares the `eventkit`
package directory with ib_async, so it runs in its own venv (`make test-insync`, part of
`make test`) and is skipped where it is not installed."""

from __future__ import annotations

import datetime as dt

import pytest

ib_insync = pytest.importorskip("ib_insync")
from ib_insync import IB, LimitOrder, MarketOrder, Stock  # noqa: E402

import toolkit as tk  # noqa: E402
from tests.gateway._client import wait_for  # noqa: E402
from toolkit.gateway import Gateway, con_id_for  # noqa: E402


@pytest.fixture()
def gw():
    with Gateway(port=0, start="2024-03-14 14:00", speed=600) as g:
        yield g


def test_connect_contracts_and_history(gw) -> None:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=2, timeout=5)
    try:
        assert ib.client.serverVersion() == 176 and ib.managedAccounts() == ["DU1234567"]
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        assert spy.conId == con_id_for("SPY")
        assert ib.qualifyContracts(Stock("ZZZZ", "SMART", "USD")) == []
        end = dt.datetime(2024, 3, 14, 20, 0, tzinfo=dt.UTC)
        bars = ib.reqHistoricalData(spy, end, "1 D", "5 mins", "TRADES", True, formatDate=2)
        assert len(bars) == 78
    finally:
        ib.disconnect()


def test_orders_fill_and_cancel(gw) -> None:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=3, timeout=5)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        trade = ib.placeOrder(spy, MarketOrder("BUY", 100))
        wait_for(
            ib,
            lambda: (
                trade.orderStatus.status == "Filled"
                and trade.fills
                and trade.fills[0].commissionReport.commission > 0
            ),
        )
        price = trade.fills[0].execution.price
        assert trade.fills[0].commissionReport.commission == pytest.approx(
            tk.ibkr_fixed().cost(100, price)
        )
        wait_for(ib, lambda: ib.positions() and ib.positions()[0].position == 100)
        far = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.00))
        wait_for(ib, lambda: far.orderStatus.status == "Submitted")
        ib.cancelOrder(far.order)
        wait_for(ib, lambda: far.orderStatus.status == "Cancelled")  # via orderStatus, not 202
    finally:
        ib.disconnect()


def test_duplicate_client_id(gw) -> None:
    a = IB()
    a.connect("127.0.0.1", gw.port, clientId=4, timeout=5)
    try:
        b = IB()
        with pytest.raises((TimeoutError, ConnectionError)):
            b.connect("127.0.0.1", gw.port, clientId=4, timeout=1.5)
        b.disconnect()
        assert a.isConnected()
    finally:
        a.disconnect()


def test_off_tick_limit_order_is_settled_not_left_pending(gw) -> None:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=6, timeout=5)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        codes: list[int] = []
        ib.errorEvent += lambda req, code, msg, contract: codes.append(code)
        off = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.005))  # not on the 0.01 grid
        wait_for(ib, lambda: off.orderStatus.status == "Cancelled")  # ib_insync: 110 is a warning
        assert codes == [110] and off.isDone()
    finally:
        ib.disconnect()


def test_option_details_model_greeks_and_a_combo_fill() -> None:
    from ib_insync import ComboLeg, Contract, Option

    with Gateway(port=0, start="2018-01-10 22:00", paused=True) as g:
        ib = IB()
        ib.connect("127.0.0.1", g.port, clientId=7, timeout=5)
        try:
            legs = [
                Option("SPX", "20180131", k, "C", "SMART", tradingClass="SPXW")
                for k in (2750, 2800)
            ]
            buy, sell = ib.qualifyContracts(*legs)
            assert (buy.localSymbol, buy.multiplier) == ("SPXW  180131C02750000", "100")
            [details] = ib.reqContractDetails(buy)
            assert details.contract.conId == buy.conId and details.underSymbol == "SPX"
            [ticker] = ib.reqTickers(buy)
            model = ticker.modelGreeks
            assert model is not None and 0 < model.impliedVol < 1 and 0 < model.delta < 1
            assert model.optPrice == pytest.approx((ticker.bid + ticker.ask) / 2)
            bag = Contract(
                symbol="SPX",
                secType="BAG",
                exchange="SMART",
                currency="USD",
                comboLegs=[
                    ComboLeg(conId=buy.conId, ratio=1, action="BUY", exchange="SMART"),
                    ComboLeg(conId=sell.conId, ratio=1, action="SELL", exchange="SMART"),
                ],
            )
            trade = ib.placeOrder(bag, LimitOrder("BUY", 1, 25.0))
            wait_for(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) == 3)
            sides = [(f.contract.secType, f.execution.side) for f in trade.fills]
            assert sides == [("OPT", "BOT"), ("OPT", "SLD"), ("BAG", "BOT")]
            net = trade.fills[0].execution.price - trade.fills[1].execution.price
            assert trade.orderStatus.avgFillPrice == pytest.approx(net) and net <= 25.0
            wait_for(ib, lambda: len(ib.positions()) == 2)
            assert sorted(p.position for p in ib.positions()) == [-1.0, 1.0]
        finally:
            ib.disconnect()


def test_a_vwap_algo_fills_over_time_and_a_bad_one_is_refused() -> None:
    from ib_insync import TagValue

    with Gateway(port=0, start="2024-03-14 14:00", speed=600, paused=True) as g:
        ib = IB()
        ib.connect("127.0.0.1", g.port, clientId=8, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            errors: list[tuple[int, int]] = []
            ib.errorEvent += lambda req, code, msg, contract: errors.append((req, code))
            bad = MarketOrder("BUY", 100, algoStrategy="Vwap",
                              algoParams=[TagValue("maxPctVol", "0.75")])
            refused = ib.placeOrder(spy, bad)
            order = MarketOrder("BUY", 1000, algoStrategy="Vwap", algoParams=[
                TagValue("maxPctVol", "0.1"), TagValue("startTime", "10:00:00 US/Eastern"),
                TagValue("endTime", "10:10:00 US/Eastern"), TagValue("allowPastEndTime", "1"),
            ])
            trade = ib.placeOrder(spy, order)
            wait_for(ib, lambda: trade.orderStatus.status == "Submitted"
                     and refused.orderStatus.status == "Cancelled")
            g.resume()
            wait_for(ib, lambda: trade.orderStatus.status == "Filled"
                     and all(f.commissionReport.commission > 0 for f in trade.fills), 20)
            assert errors == [(refused.order.orderId, 145)]  # TWS: a bad algo entry field
            shares = [f.execution.shares for f in trade.fills]
            assert len(shares) == 9 and sum(shares) == 1000  # one child a window minute
            fees = sum(f.commissionReport.commission for f in trade.fills)
            assert fees == pytest.approx(sum(tk.ibkr_fixed().cost(f.execution.shares,
                                                                   f.execution.price)
                                             for f in trade.fills))
        finally:
            ib.disconnect()


def _insync_order(spec):  # type: ignore[no-untyped-def]
    """A live bridge's order (toolkit.live.orders.OrderSpec) as an ib_insync Order, field by
    field as the bridge fills ib_async's (toolkit.live._broker)."""
    from ib_insync import Order, TagValue

    o = Order(action=spec.action, totalQuantity=spec.quantity, orderType=spec.order_type,
              tif=spec.tif, orderRef=spec.ref)  # fmt: skip
    if spec.limit_price is not None:
        o.lmtPrice = spec.limit_price
    if spec.aux_price is not None:
        o.auxPrice = spec.aux_price
    if spec.algo_strategy is not None:
        o.algoStrategy = spec.algo_strategy
        o.algoParams = [TagValue(t, v) for t, v in spec.algo_params]
    if spec.display_size is not None:
        o.displaySize = spec.display_size
    if spec.oca_group is not None:
        o.ocaGroup, o.ocaType = spec.oca_group, spec.oca_type
    return o


def test_the_live_bridges_twap_and_iceberg_orders_with_ib_insync() -> None:
    """The fields toolkit.live.ib_algos writes for [strategies.execution] ib_twap / ib_iceberg
    (IB tag names, 'yyyymmdd hh:mm:ss US/Eastern' window) go through ib_insync's encoder and
    the simulator works them: Twap slices a minute apart, iceberg tranches <= 40."""
    import pandas as pd

    from toolkit.engine.settings import EngineSettings
    from toolkit.live.execution_config import ExecutionSpec
    from toolkit.live.ib_algos import with_ib_algo
    from toolkit.live.orders import entry_order

    now = pd.Timestamp("2024-03-14 14:00", tz="UTC")  # 10:00 New York
    market = entry_order("s/x/SPY/20240314T1400", "SPY", 500, 510.0, EngineSettings())
    twap = with_ib_algo(market, ExecutionSpec("ib_twap", None, "+5min"), now)
    assert dict(twap.algo_params)["endTime"] == "20240314 10:05:00 US/Eastern"
    limit = entry_order("s/y/SPY/20240314T1400", "SPY", 200, 600.0,
                        EngineSettings(order_type="limit"))  # fmt: skip
    ice = with_ib_algo(limit, ExecutionSpec("ib_iceberg", params={"display_size": 40}), now)
    with Gateway(port=0, start="2024-03-14 14:00", speed=600, paused=True) as g:
        ib = IB()
        ib.connect("127.0.0.1", g.port, clientId=9, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            errors: list[int] = []
            ib.errorEvent += lambda req, code, msg, contract: errors.append(code)
            t1 = ib.placeOrder(spy, _insync_order(twap))
            t2 = ib.placeOrder(spy, _insync_order(ice))
            wait_for(ib, lambda: t1.orderStatus.status == t2.orderStatus.status == "Submitted")
            g.resume()
            wait_for(ib, lambda: t1.orderStatus.status == t2.orderStatus.status == "Filled", 20)
            assert not errors
            # the window's minutes after the bar it was placed in: 14:01 .. 14:04
            assert [f.execution.shares for f in t1.fills] == [125.0] * 4
            times = [pd.Timestamp(f.execution.time) for f in t1.fills]
            assert times == list(pd.date_range("2024-03-14 14:01", periods=4, freq="1min",
                                               tz="UTC"))  # fmt: skip
            assert sum(f.execution.shares for f in t2.fills) == 200
            assert max(f.execution.shares for f in t2.fills) <= 40 and len(t2.fills) >= 5
        finally:
            ib.disconnect()


def test_a_replayed_lobster_book_is_the_same_in_ib_insyncs_list_book() -> None:
    """ib_insync keeps depth as lists (insert shifts, update at a missing row raises): the
    replay's operations leave it holding LOBSTER's book after every event (issue 20.6)."""
    from toolkit.gateway.depth_replay import DepthReplay, load_tape

    sample = "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"
    tape = load_tape(tk.data.default_data_dir() / "orderbook" / sample)
    replay = DepthReplay(tape, fast=True)
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as g:
        ib = IB()
        ib.connect("127.0.0.1", g.port, clientId=4, timeout=5)
        try:
            [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
            ticker = ib.reqMktDepth(aapl, numRows=10)
            g.resume()
            wait_for(ib, lambda: replay.done, 30)
            ib.reqCurrentTime()  # every depth message before it is applied
            last = len(tape) - 1
            assert [(lv.price, lv.size) for lv in ticker.domBids] == tape.side(last, True, 10)
            assert [(lv.price, lv.size) for lv in ticker.domAsks] == tape.side(last, False, 10)
        finally:
            ib.disconnect()
