"""Option contracts, option computations and combo (BAG) orders through the simulator, with
the unmodified ib_async client over TCP. The quotes are the shipped SPXW end-of-day file
(data/options), read here independently with the loader as the test's reference; the Greeks
are checked against vollib (py_vollib's successor), whose vega is per vol point and theta per
day -- IB's units."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ib_async import IB, ComboLeg, Contract, Index, LimitOrder, MarketOrder, Option
from vollib.black_scholes_merton import black_scholes_merton
from vollib.black_scholes_merton.greeks import analytical as vg

from tests.gateway._client import wait_for
from toolkit.data.options import load_option_quotes
from toolkit.engine.commissions import ibkr_option_fixed
from toolkit.gateway import Gateway
from toolkit.options.implied import chain_carry
from toolkit.options.parity import implied_forward

FILE = "SPXW_eod_2018-01-02_2018-02-28_2expiries.csv"
START = "2018-01-10 22:00"  # after the 2018-01-10 close: that day's quotes are in force
DAY = pd.Timestamp("2018-01-10")
EXPIRY = pd.Timestamp("2018-01-31")


@pytest.fixture(scope="module")
def quotes() -> pd.DataFrame:
    return load_option_quotes(FILE)


@pytest.fixture(scope="module")
def gw():
    with Gateway(port=0, start=START, paused=True) as g:
        yield g


_ids = itertools.count(1)


@pytest.fixture()
def ib(gw):
    client = IB()
    client.connect("127.0.0.1", gw.port, clientId=next(_ids), timeout=10)
    try:
        yield client
    finally:
        client.disconnect()


def _row(quotes: pd.DataFrame, strike: float, right: str, day: pd.Timestamp = DAY) -> pd.Series:
    hit = quotes[
        (quotes.quote_date == day)
        & (quotes.expiry == EXPIRY)
        & (quotes.strike == strike)
        & (quotes.right == right)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


def _spxw(strike: float, right: str = "C", expiry: str = "20180131") -> Option:
    return Option("SPX", expiry, strike, right, "SMART", tradingClass="SPXW")


def _bag(*legs: tuple[Option, int, str]) -> Contract:
    return Contract(
        symbol="SPX",
        secType="BAG",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=c.conId, ratio=r, action=a, exchange="SMART") for c, r, a in legs
        ],
    )


def test_option_contract_details_and_chain_parameters(ib, quotes) -> None:
    [spx] = ib.qualifyContracts(Index("SPX", "CBOE"))
    [call] = ib.qualifyContracts(_spxw(2750))
    assert call.conId > 0 and call.multiplier == "100" and call.tradingClass == "SPXW"
    assert (
        call.localSymbol == "SPXW  180131C02750000"
        and call.lastTradeDateOrContractMonth == "20180131"
    )
    [details] = ib.reqContractDetails(call)
    assert details.underConId == spx.conId and details.contract.conId == call.conId
    assert details.realExpirationDate == "20180131"
    # by conId alone, and by the OCC local symbol alone: the same contract
    [by_id] = ib.reqContractDetails(Contract(conId=call.conId))
    assert (by_id.contract.localSymbol, by_id.underConId) == (call.localSymbol, spx.conId)
    by_local = ib.reqContractDetails(Contract(secType="OPT", localSymbol=call.localSymbol))
    assert [d.contract.conId for d in by_local] == [call.conId]
    # a whole expiry's calls: one per strike in the file
    calls = ib.reqContractDetails(Option("SPX", "20180131", 0.0, "C", "SMART"))
    file_calls = quotes[(quotes.expiry == EXPIRY) & (quotes.right == "C")].strike.unique()
    assert sorted(d.contract.strike for d in calls) == sorted(file_calls)
    assert ib.qualifyContracts(_spxw(2751)) == [None]  # no such strike: IB's 200
    [index] = ib.reqTickers(spx)  # an underlying without bars: its chain's price
    assert index.last == quotes[quotes.quote_date == DAY].underlying_price.iloc[0]
    # a contract whose chain has no quote date yet (SPY's snapshots are 2025-2026): IB's 354
    codes: list[int] = []
    ib.errorEvent += lambda req, code, msg, contract: codes.append(code)
    [later] = ib.qualifyContracts(Option("SPY", "20260320", 700, "P", "SMART"))
    [empty] = ib.reqTickers(later)
    assert codes == [354] and empty.modelGreeks is None and math.isnan(empty.bid)
    [chain] = ib.reqSecDefOptParams("SPX", "", "IND", spx.conId)
    assert (chain.exchange, chain.tradingClass, chain.multiplier) == ("SMART", "SPXW", "100")
    assert int(chain.underlyingConId) == spx.conId  # ib_async keeps the field as text
    assert chain.expirations == ["20180131", "20180228"]
    assert chain.strikes == sorted(quotes.strike.unique())


def _carry(quotes: pd.DataFrame, T: float) -> tuple[float, float, float]:
    """Spot, rate and dividend yield of the expiry on DAY from parity (the test's own fit)."""
    day = quotes[(quotes.quote_date == DAY) & (quotes.expiry == EXPIRY)]
    calls = day[day.right == "C"].set_index("strike")
    puts = day[day.right == "P"].set_index("strike")
    k = calls.index.intersection(puts.index)
    fit = implied_forward(
        k.to_numpy(),
        calls.loc[k, "bid"],
        calls.loc[k, "ask"],
        puts.loc[k, "bid"],
        puts.loc[k, "ask"],
    )
    S = float(day.underlying_price.iloc[0])
    r = -math.log(fit.discount_factor) / T
    return S, r, r - math.log(fit.forward / S) / T


def test_model_greeks_on_the_first_snapshot_in_ibs_units(ib, quotes) -> None:
    [put] = ib.qualifyContracts(_spxw(2700, "P"))
    [ticker] = ib.reqTickers(put)
    row = _row(quotes, 2700, "P")
    assert (ticker.bid, ticker.ask) == (row.bid, row.ask)
    model, bid = ticker.modelGreeks, ticker.bidGreeks
    assert model is not None and bid is not None and ticker.askGreeks is not None
    T = (EXPIRY - DAY).days / 365.0
    S, r, q = _carry(quotes, T)
    mid = 0.5 * (row.bid + row.ask)
    sigma = model.impliedVol
    assert model.undPrice == S and model.optPrice == pytest.approx(mid, abs=1e-9)
    assert black_scholes_merton("p", S, 2700, T, r, sigma, q) == pytest.approx(mid, abs=1e-8)
    assert model.delta == pytest.approx(vg.delta("p", S, 2700, T, r, sigma, q), rel=1e-9)
    assert model.gamma == pytest.approx(vg.gamma("p", S, 2700, T, r, sigma, q), rel=1e-9)
    assert model.vega == pytest.approx(vg.vega("p", S, 2700, T, r, sigma, q), rel=1e-9)
    assert model.theta == pytest.approx(vg.theta("p", S, 2700, T, r, sigma, q), rel=1e-9)
    assert model.pvDividend == pytest.approx(S * (1 - math.exp(-q * T)), rel=1e-12)
    # the bid's computation is at the bid's own implied vol
    assert bid.optPrice == pytest.approx(row.bid, abs=1e-9) and bid.impliedVol < sigma


def test_calculations_answer_on_the_request_id(ib, quotes) -> None:
    [call] = ib.qualifyContracts(_spxw(2780))
    T = (EXPIRY - DAY).days / 365.0
    _, r, q = _carry(quotes, T)
    iv = ib.calculateImpliedVolatility(call, 12.5, 2760.0)
    assert iv is not None and iv.undPrice == 2760.0
    assert black_scholes_merton("c", 2760.0, 2780, T, r, iv.impliedVol, q) == pytest.approx(
        12.5, abs=1e-8
    )
    price = ib.calculateOptionPrice(call, iv.impliedVol, 2760.0)
    assert price is not None and price.optPrice == pytest.approx(12.5, abs=1e-8)
    assert price.vega == pytest.approx(vg.vega("c", 2760.0, 2780, T, r, iv.impliedVol, q), rel=1e-9)
    below = ib.calculateImpliedVolatility(call, 0.0, 2760.0)
    assert below is not None and below.impliedVol is None  # no vol for a zero price: IB's -1


def _fills(trade) -> list[tuple[str, str, str, float, float]]:
    return [
        (
            f.contract.secType,
            f.contract.localSymbol,
            f.execution.side,
            f.execution.shares,
            f.execution.price,
        )
        for f in trade.fills
    ]


def test_combo_fills_all_legs_at_the_touch_against_its_net_limit(ib, gw, quotes) -> None:
    long_leg, short_leg = ib.qualifyContracts(_spxw(2650, "C"), _spxw(2700, "C"))
    a, b = _row(quotes, 2650, "C"), _row(quotes, 2700, "C")
    net_ask = a.ask - b.bid  # the debit at the touch: buy at the ask, sell at the bid
    bag = _bag((long_leg, 1, "BUY"), (short_leg, 1, "SELL"))
    # IB answers a combo's contract details with 321, which ib_async takes for a warning and
    # keeps waiting (as with IB: pysystemtrade #1639/#1659): the rehearsal shows it too
    codes: list[int] = []
    ib.errorEvent += lambda req, code, msg, contract: codes.append(code)
    ib.RequestTimeout = 1.0
    with pytest.raises(TimeoutError):
        ib.reqContractDetails(bag)
    ib.RequestTimeout = 0.0
    assert codes == [321]
    [quote] = ib.reqTickers(bag)
    assert quote.ask == pytest.approx(net_ask) and quote.bid == pytest.approx(a.bid - b.ask)
    low = ib.placeOrder(bag, LimitOrder("BUY", 3, round(net_ask - 0.05, 2)))
    wait_for(ib, lambda: low.orderStatus.status == "Submitted")
    assert low.fills == []  # the limit is below the net at the touch: nothing fills
    trade = ib.placeOrder(bag, LimitOrder("BUY", 3, round(net_ask + 0.5, 2)))
    wait_for(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) == 3)
    wait_for(ib, lambda: all(f.commissionReport.execId for f in trade.fills))
    assert _fills(trade) == [
        ("OPT", long_leg.localSymbol, "BOT", 3.0, a.ask),
        ("OPT", short_leg.localSymbol, "SLD", 3.0, b.bid),
        ("BAG", "", "BOT", 3.0, pytest.approx(net_ask)),
    ]
    assert trade.orderStatus.avgFillPrice == pytest.approx(net_ask)
    fees = [f.commissionReport.commission for f in trade.fills]
    schedule = ibkr_option_fixed()
    assert fees == pytest.approx([schedule.cost(3, a.ask), schedule.cost(-3, b.bid), 0.0])
    wait_for(
        ib, lambda: {p.contract.conId for p in ib.positions()} >= {long_leg.conId, short_leg.conId}
    )
    held = {p.contract.conId: p for p in ib.positions()}
    assert held[long_leg.conId].position == 3 and held[short_leg.conId].position == -3
    # IB's avgCost per contract: price x 100, the opening commission included
    assert held[long_leg.conId].avgCost == pytest.approx(a.ask * 100 + fees[0] / 3)
    ib.cancelOrder(low.order)
    wait_for(ib, lambda: low.orderStatus.status == "Cancelled")


def test_credit_combo_with_a_negative_limit_and_all_or_none(ib, quotes) -> None:
    short_put, long_put = ib.qualifyContracts(_spxw(2600, "P"), _spxw(2550, "P"))
    s, lp = _row(quotes, 2600, "P"), _row(quotes, 2550, "P")
    credit = s.bid - lp.ask  # received at the touch
    bag = _bag((short_put, 1, "SELL"), (long_put, 1, "BUY"))
    greedy = ib.placeOrder(bag, LimitOrder("BUY", 1, -round(credit + 0.5, 2)))
    wait_for(ib, lambda: greedy.orderStatus.status == "Submitted")
    assert greedy.fills == []  # asks for more credit than the touch gives
    trade = ib.placeOrder(bag, LimitOrder("BUY", 2, -round(credit - 0.05, 2)))
    wait_for(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) == 3)
    assert _fills(trade)[:2] == [
        ("OPT", short_put.localSymbol, "SLD", 2.0, s.bid),
        ("OPT", long_put.localSymbol, "BOT", 2.0, lp.ask),
    ]
    assert trade.orderStatus.avgFillPrice == pytest.approx(-credit)
    # a leg without the side it needs (no bid to sell at) holds back the whole combo
    dead = quotes[(quotes.quote_date == DAY) & (quotes.expiry == EXPIRY) & ~(quotes.bid > 0)]
    wing = dead[dead.right == "P"].strike.iloc[0]
    [no_bid] = ib.qualifyContracts(_spxw(float(wing), "P"))
    none = ib.placeOrder(_bag((short_put, 1, "BUY"), (no_bid, 1, "SELL")), MarketOrder("BUY", 1))
    wait_for(ib, lambda: none.orderStatus.status == "Submitted")
    ib.sleep(0.3)
    assert none.fills == []
    ib.cancelOrder(none.order)
    ib.cancelOrder(greedy.order)
    wait_for(ib, lambda: greedy.orderStatus.status == "Cancelled")


def test_a_working_combo_fills_on_a_later_quote_date(quotes) -> None:
    with Gateway(port=0, start=START, paused=True) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=10)
        try:
            _fills_later(ib, gw, quotes)
        finally:
            ib.disconnect()


def _fills_later(ib: IB, gw: Gateway, quotes: pd.DataFrame) -> None:
    dates = sorted(quotes.quote_date.unique())
    nxt = pd.Timestamp(dates[dates.index(np.datetime64(DAY)) + 1])
    up, down = _spxw(2760, "C"), _spxw(2800, "C")
    ib.qualifyContracts(up, down)
    today = _row(quotes, 2760, "C").ask - _row(quotes, 2800, "C").bid
    later = _row(quotes, 2760, "C", nxt).ask - _row(quotes, 2800, "C", nxt).bid
    assert later != today
    limit = round(max(today, later) - 0.05, 2) if later < today else None
    action = "BUY" if limit is not None else "SELL"
    if limit is None:  # the spread widened: sell it the next day at its new bid instead
        today = _row(quotes, 2760, "C").bid - _row(quotes, 2800, "C").ask
        later = _row(quotes, 2760, "C", nxt).bid - _row(quotes, 2800, "C", nxt).ask
        assert later > today
        limit = round(today + 0.05, 2)
    trade = ib.placeOrder(
        _bag((up, 1, "BUY"), (down, 1, "SELL")), LimitOrder(action, 1, limit, tif="GTC")
    )
    wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
    assert trade.fills == []
    stream = ib.reqMktData(up)  # a streaming option quote follows the quote date too
    wait_for(ib, lambda: stream.modelGreeks is not None)
    first_vol = stream.modelGreeks.impliedVol
    gw.advance(pd.Timestamp(nxt).tz_localize("UTC") + pd.Timedelta(hours=22) - gw.clock.now())
    wait_for(ib, lambda: trade.orderStatus.status == "Filled")
    assert trade.orderStatus.avgFillPrice == pytest.approx(later)
    row = _row(quotes, 2760, "C", nxt)
    mid = 0.5 * (row.bid + row.ask)
    wait_for(
        ib,
        lambda: (
            (stream.bid, stream.ask) == (row.bid, row.ask)
            and abs(stream.modelGreeks.optPrice - mid) < 1e-9
        ),
    )
    assert stream.modelGreeks.impliedVol != first_vol


def test_ratio_legs_fill_ratio_times_the_combos(ib, quotes) -> None:
    one, two = ib.qualifyContracts(_spxw(2725, "C"), _spxw(2775, "C"))
    a, b = _row(quotes, 2725, "C"), _row(quotes, 2775, "C")
    net = a.ask - 2 * b.bid  # 1x2: one bought at the ask, two sold at the bid, per combo
    trade = ib.placeOrder(_bag((one, 1, "BUY"), (two, 2, "SELL")), MarketOrder("BUY", 3))
    wait_for(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) == 3)
    assert _fills(trade) == [
        ("OPT", one.localSymbol, "BOT", 3.0, a.ask),
        ("OPT", two.localSymbol, "SLD", 6.0, b.bid),
        ("BAG", "", "BOT", 3.0, pytest.approx(net)),
    ]
    wait_for(ib, lambda: {p.contract.conId for p in ib.positions()} >= {one.conId, two.conId})
    held = {p.contract.conId: p.position for p in ib.positions()}
    assert (held[one.conId], held[two.conId]) == (3.0, -6.0)


def _hold_to_expiry(start: str, contract: Option, qty: int, until: str):
    """Buy ``qty`` of ``contract`` at the start, run the clock past its expiry; the gateway's
    book before and after, and the fill."""
    with Gateway(port=0, start=start, paused=True) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=10)
        try:
            [opt] = ib.qualifyContracts(contract)
            trade = ib.placeOrder(opt, MarketOrder("BUY", qty))
            wait_for(ib, lambda: trade.orderStatus.status == "Filled")
            cash = gw.state.book.cash
            gw.advance(pd.Timestamp(until, tz="UTC") - gw.clock.now())
            wait_for(ib, lambda: all(p.contract.conId != opt.conId for p in ib.positions()))
            return (
                cash,
                gw.state.book,
                trade.fills[0],
                {p.contract.symbol: p for p in ib.positions()},
            )
        finally:
            ib.disconnect()


def test_index_options_settle_in_cash_at_expiry(quotes) -> None:
    settle = float(quotes[quotes.quote_date == EXPIRY].underlying_price.iloc[0])
    cash, book, fill, held = _hold_to_expiry(START, _spxw(2800), 2, "2018-01-31 21:30")
    intrinsic = max(settle - 2800, 0.0)
    assert intrinsic > 0 and book.cash - cash == pytest.approx(2 * 100 * intrinsic)
    paid = 2 * 100 * fill.execution.price + fill.commissionReport.commission
    assert book.positions["SPXW  180131C02800000"].realized == pytest.approx(
        2 * 100 * intrinsic - paid
    )
    assert "SPX" not in held  # cash settled: nothing delivered


def test_stock_options_in_the_money_are_exercised_into_shares() -> None:
    # SPY closed at 646.63 on 2025-08-27 (data/daily/SPY.csv): the 640 call is exercised
    cash, book, _, held = _hold_to_expiry(
        "2025-08-26 21:00", Option("SPY", "20250827", 640, "C", "SMART"), 1, "2025-08-27 20:30"
    )
    assert book.cash - cash == pytest.approx(-640 * 100)  # the strike paid for 100 shares
    assert held["SPY"].position == 100 and held["SPY"].avgCost == pytest.approx(646.63)


def test_reconnect_replays_a_working_combo_and_a_filled_ones_executions(gw, quotes) -> None:
    first = IB()
    first.connect("127.0.0.1", gw.port, clientId=90, timeout=10)
    try:
        a, b = first.qualifyContracts(_spxw(2705, "P"), _spxw(2695, "P"))
        bag = _bag((a, 1, "BUY"), (b, 1, "SELL"))
        done = first.placeOrder(bag, MarketOrder("BUY", 1))
        wait_for(first, lambda: done.orderStatus.status == "Filled")
        resting = first.placeOrder(bag, LimitOrder("BUY", 1, 0.05, tif="GTC", orderRef="rest"))
        wait_for(first, lambda: resting.orderStatus.status == "Submitted")
        odd = first.placeOrder(a, LimitOrder("BUY", 1.5, 1.0))  # half a contract
        wait_for(first, lambda: odd.orderStatus.status == "Cancelled")
    finally:
        first.disconnect()
    again = IB()
    again.connect("127.0.0.1", gw.port, clientId=90, timeout=10)
    try:
        [open_bag] = [t for t in again.openTrades() if t.order.orderRef == "rest"]
        legs = [(leg.conId, leg.ratio, leg.action) for leg in open_bag.contract.comboLegs]
        assert open_bag.contract.secType == "BAG" and legs == [
            (a.conId, 1, "BUY"),
            (b.conId, 1, "SELL"),
        ]
        mine = [f for f in again.reqExecutions() if f.execution.permId == done.order.permId]
        assert [f.contract.secType for f in mine] == ["OPT", "OPT", "BAG"]
        again.cancelOrder(open_bag.order)
        wait_for(again, lambda: open_bag.orderStatus.status == "Cancelled")
    finally:
        again.disconnect()


def test_american_chains_get_american_model_greeks() -> None:
    from toolkit.options.american import american_greeks, american_price

    quotes = load_option_quotes("SPY_chain_2026-02-11.csv")
    expiry, day = pd.Timestamp("2026-03-20"), pd.Timestamp("2026-02-11")
    with Gateway(port=0, start="2026-02-11 21:30", paused=True) as g:
        client = IB()
        client.connect("127.0.0.1", g.port, clientId=1, timeout=10)
        try:
            [put] = client.qualifyContracts(Option("SPY", "20260320", 700, "P", "SMART"))
            [ticker] = client.reqTickers(put)
        finally:
            client.disconnect()
    model = ticker.modelGreeks
    assert model is not None and model.impliedVol is not None
    # the toolkit's one carry rule for American chains (plain parity gave r = -13.6 % here)
    carry = chain_carry(quotes[quotes.quote_date == day])
    row = carry[carry.expiry == expiry].iloc[0]
    T, S, r, q = row["T"], row["spot"], row["rate"], row["dividend_yield"]
    assert row["carry_source"] == "parity_american" and 0.03 < r < 0.06 and 0.005 < q < 0.02
    mid = 0.5 * (ticker.bid + ticker.ask)
    sigma = model.impliedVol
    assert float(american_price("P", S, 700, T, r, q, sigma)) == pytest.approx(mid, abs=1e-6)
    greeks = american_greeks("P", S, 700, T, r, q, sigma)
    assert model.delta == pytest.approx(float(greeks.delta), rel=1e-9)
    assert model.vega == pytest.approx(float(greeks.vega) / 100, rel=1e-9)  # per vol point
    assert model.theta == pytest.approx(float(greeks.theta) / 365, rel=1e-9)  # per day


def test_daily_bars_of_an_option_and_of_the_index_from_the_chain(ib, quotes) -> None:
    [call] = ib.qualifyContracts(_spxw(2750))
    bars = ib.reqHistoricalData(call, "", "1 W", "1 day", "MIDPOINT", True)
    days = sorted(quotes.quote_date.unique())
    week = [pd.Timestamp(d) for d in days if DAY - pd.Timedelta(days=7) < pd.Timestamp(d) <= DAY]
    assert [pd.Timestamp(b.date) for b in bars] == week
    rows = [_row(quotes, 2750, "C", d) for d in week]
    assert [(b.open, b.close) for b in bars] == [((r.bid + r.ask) / 2,) * 2 for r in rows]
    [spx] = ib.qualifyContracts(Index("SPX", "CBOE"))
    [last] = ib.reqHistoricalData(spx, "", "1 D", "1 day", "TRADES", True)
    assert last.close == quotes[quotes.quote_date == DAY].underlying_price.iloc[0]


def test_a_broken_option_file_ends_the_request_with_an_error(tmp_path) -> None:
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / "SPY.csv").write_bytes(Path("data/daily/SPY.csv").read_bytes())
    (tmp_path / "options").mkdir()
    (tmp_path / "options" / "SPX_broken.csv").write_text("not,an,option,file\n1,2,3,4\n")
    with Gateway(port=0, data_dir=tmp_path, start=START, paused=True) as g:
        client = IB()
        client.connect("127.0.0.1", g.port, clientId=1, timeout=10)
        try:
            codes: list[int] = []
            client.errorEvent += lambda req, code, msg, contract: codes.append(code)
            client.RequestTimeout = 10.0  # before the fix: a TimeoutError, not a hung test
            # the request ends (was: error 320 on request -1, and the client waited forever)
            assert client.reqContractDetails(_spxw(2750)) == []
            assert codes == [320] and client.isConnected()
        finally:
            client.disconnect()
