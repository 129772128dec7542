"""Strategy-based option margin (toolkit.gateway.margin) by hand, and the simulator refusing a
naked short put the account cannot carry while taking the same short inside a credit spread
(ib_async over TCP)."""

from __future__ import annotations

import pandas as pd
import pytest
from ib_async import IB, ComboLeg, Contract, LimitOrder, Option

from tests.gateway._client import wait_for
from toolkit.gateway import Gateway
from toolkit.gateway.margin import Holding, naked_requirement, option_requirement
from toolkit.gateway.options import OptionContract

JAN, FEB = pd.Timestamp("2018-01-31"), pd.Timestamp("2018-02-28")


def _spxw(strike: float, right: str, expiry: pd.Timestamp = JAN) -> OptionContract:
    return OptionContract(1, "SPX", "SPXW", expiry, right, strike, f"SPXW {strike}{right}", "E")


def test_naked_requirements_by_hand() -> None:
    # index put, 48.22 out of the money: 15% x 2748.22 - 48.22 = 364.013 beats 10% x 2700
    assert naked_requirement(_spxw(2700, "P"), 20.0, 2748.22) == pytest.approx(38_401.3)
    # far out-of-the-money index put: the 10%-of-strike floor
    assert naked_requirement(_spxw(2000, "P"), 0.1, 2748.22) == pytest.approx(20_010.0)
    # ETF call 4.84 out of the money: 20% x 645.16 - 4.84 = 124.192
    spy = OptionContract(2, "SPY", "SPY", JAN, "C", 650.0, "SPY 650C", "A")
    assert naked_requirement(spy, 0.22, 645.16) == pytest.approx(12_441.2)


def test_spreads_need_their_max_loss_and_longs_their_price() -> None:
    short, wing = _spxw(2700, "P"), _spxw(2690, "P")
    spread = [Holding(short, -2, 20.0, 2748.22), Holding(wing, 2, 17.0, 2748.22)]
    assert option_requirement(spread) == pytest.approx(2 * 17.0 * 100 + 2 * 10 * 100)
    debit = [Holding(short, 1, 20.0, 2748.22), Holding(wing, -1, 17.0, 2748.22)]
    assert option_requirement(debit) == pytest.approx(20.0 * 100)  # the long leg, paid
    calendar = [Holding(short, -1, 20.0, 2748.22), Holding(_spxw(2700, "P", FEB), 1, 45.0, 2748.22)]
    assert option_requirement(calendar) == pytest.approx(45.0 * 100)
    # a long that expires first covers nothing: the short is naked
    early = [Holding(_spxw(2700, "P", FEB), -1, 45.0, 2748.22), Holding(short, 1, 20.0, 2748.22)]
    naked = naked_requirement(_spxw(2700, "P", FEB), 45.0, 2748.22)
    assert option_requirement(early) == pytest.approx(20.0 * 100 + naked)
    # one long covers one short: the second short is naked
    two = [Holding(short, -2, 20.0, 2748.22), Holding(wing, 1, 17.0, 2748.22)]
    assert option_requirement(two) == pytest.approx(
        1700 + 1000 + naked_requirement(short, 20.0, 2748.22)
    )


def test_an_iron_condor_needs_the_greater_spread_not_both() -> None:
    # short 2620/2570 put spread (50 wide) + short 2740/2770 call spread (30 wide), 2 each:
    # both cannot lose at expiry, so 2 x max(50, 30) x 100, plus the longs' prices
    spot = 2680.0
    book = [
        Holding(_spxw(2570, "P"), 2, 3.0, spot), Holding(_spxw(2620, "P"), -2, 6.0, spot),
        Holding(_spxw(2740, "C"), -2, 5.0, spot), Holding(_spxw(2770, "C"), 2, 2.0, spot),
    ]  # fmt: skip
    longs = 2 * 3.0 * 100 + 2 * 2.0 * 100
    assert option_requirement(book) == pytest.approx(longs + 2 * 50 * 100)
    # a third put spread has no call spread to pair with: it needs its own 50 x 100
    more = [*book, Holding(_spxw(2570, "P"), 1, 3.0, spot), Holding(_spxw(2620, "P"), -1, 6.0, spot)]
    assert option_requirement(more) == pytest.approx(longs + 300 + 2 * 50 * 100 + 50 * 100)
    # spreads of different expiries are not a condor: both are required
    feb = [
        Holding(_spxw(2570, "P"), 1, 3.0, spot), Holding(_spxw(2620, "P"), -1, 6.0, spot),
        Holding(_spxw(2740, "C", FEB), -1, 9.0, spot), Holding(_spxw(2770, "C", FEB), 1, 4.0, spot),
    ]  # fmt: skip
    assert option_requirement(feb) == pytest.approx(300 + 400 + 50 * 100 + 30 * 100)


def test_a_naked_put_beyond_equity_is_refused_its_spread_taken() -> None:
    with Gateway(port=0, start="2018-01-10 22:00", paused=True, cash=20_000.0) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=10)
        try:
            short, wing = ib.qualifyContracts(
                Option("SPX", "20180131", 2700, "P", "SMART", tradingClass="SPXW"),
                Option("SPX", "20180131", 2690, "P", "SMART", tradingClass="SPXW"),
            )
            codes: list[int] = []
            ib.errorEvent += lambda req, code, msg, contract: codes.append(code)
            naked = ib.placeOrder(short, LimitOrder("SELL", 1, 0.05))
            wait_for(ib, lambda: naked.orderStatus.status == "Cancelled")
            assert codes == [201] and naked.fills == []
            bag = Contract(
                symbol="SPX",
                secType="BAG",
                exchange="SMART",
                currency="USD",
                comboLegs=[
                    ComboLeg(conId=short.conId, ratio=1, action="SELL", exchange="SMART"),
                    ComboLeg(conId=wing.conId, ratio=1, action="BUY", exchange="SMART"),
                ],
            )
            spread = ib.placeOrder(bag, LimitOrder("BUY", 1, -0.05))
            wait_for(ib, lambda: spread.orderStatus.status == "Filled")
            wing_price = gw.state.exchange.price(wing.localSymbol)
            expected = f"{1000 + 100 * wing_price:.2f}"  # the spread's max loss + the wing
            wait_for(
                ib,
                lambda: any(
                    v.tag == "InitMarginReq" and v.value == expected for v in ib.accountValues()
                ),
            )
        finally:
            ib.disconnect()


def test_what_if_previews_margin_and_commission_without_trading() -> None:
    from ib_async import MarketOrder, Stock

    from toolkit.engine.commissions import ibkr_option_fixed

    with Gateway(port=0, start="2018-01-10 22:00", paused=True) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=10)
        try:
            short, wing = ib.qualifyContracts(
                Option("SPX", "20180131", 2700, "P", "SMART", tradingClass="SPXW"),
                Option("SPX", "20180131", 2690, "P", "SMART", tradingClass="SPXW"),
            )
            bag = Contract(
                symbol="SPX",
                secType="BAG",
                exchange="SMART",
                currency="USD",
                comboLegs=[
                    ComboLeg(conId=short.conId, ratio=1, action="SELL", exchange="SMART"),
                    ComboLeg(conId=wing.conId, ratio=1, action="BUY", exchange="SMART"),
                ],
            )
            state = ib.whatIfOrder(bag, LimitOrder("BUY", 3, -0.05))
            ex = gw.state.exchange
            wing_price = ex.price(wing.localSymbol)
            assert float(state.initMarginBefore) == 0.0
            assert float(state.initMarginChange) == pytest.approx(
                3 * (1000 + 100 * wing_price), abs=0.01
            )
            schedule = ibkr_option_fixed()
            short_bid = ex._touch(short.localSymbol, False)
            wing_ask = ex._touch(wing.localSymbol, True)
            fees = schedule.cost(-3, short_bid) + schedule.cost(3, wing_ask)
            assert state.commission == pytest.approx(fees)
            assert float(state.equityWithLoanChange) == pytest.approx(-fees, abs=0.01)
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            stock = ib.whatIfOrder(spy, MarketOrder("BUY", 100))
            value = 100 * ex.price("SPY")
            assert float(stock.initMarginChange) == pytest.approx(value / 2, abs=0.01)  # Reg T
            assert float(stock.maintMarginChange) == pytest.approx(value / 4, abs=0.01)
            ib.sleep(0.3)
            assert gw.state.book.orders == {} and ib.positions() == []  # nothing traded
        finally:
            ib.disconnect()
