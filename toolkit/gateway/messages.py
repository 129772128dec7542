"""Server -> client messages at server version 176 (field layouts from the installed client).

Each builder returns the field list for :func:`toolkit.gateway.framing.encode`.
"""

from __future__ import annotations

from collections.abc import Sequence

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157

# message ids, server -> client
TICK_PRICE, TICK_SIZE, ORDER_STATUS, ERR_MSG, OPEN_ORDER, ACCT_VALUE = 1, 2, 3, 4, 5, 6
PORTFOLIO_VALUE, ACCT_UPDATE_TIME, NEXT_VALID_ID, CONTRACT_DATA = 7, 8, 9, 10
EXECUTION_DATA, MANAGED_ACCTS, HISTORICAL_DATA, CURRENT_TIME = 11, 15, 17, 49
CONTRACT_DATA_END, OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END = 52, 53, 54, 55
POSITION_DATA, POSITION_END, ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END = 61, 62, 63, 64
ACCOUNT_UPDATE_MULTI_END, COMPLETED_ORDERS_END, HISTORICAL_DATA_UPDATE = 74, 102, 90
COMMISSION_REPORT = 59
ORDER_REJECTED, ORDER_CANCELLED, PRICE_VARIATION, CANCEL_NOT_FOUND = 201, 202, 110, 10147

# error codes (IB's, with IB's texts)
NO_SECURITY_DEFINITION = 200
CLIENT_ID_IN_USE = 326
CONNECT_FAIL = 502  # "Couldn't connect to TWS"
HISTORICAL_DATA_ERROR = 162
NOT_SUPPORTED = 10_000  # our own: a request this simulator does not implement yet


def managed_accounts(accounts: list[str]) -> list[str | int | float]:
    return [MANAGED_ACCTS, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> list[str | int | float]:
    return [NEXT_VALID_ID, 1, order_id]


def error(req_id: int, code: int, message: str) -> list[str | int | float]:
    """``error``: reqId -1 when not tied to a request; 6 fields are mandatory at >= 166."""
    return [ERR_MSG, 2, req_id, code, message, ""]


def current_time(epoch: int) -> list[str | int | float]:
    return [CURRENT_TIME, 1, epoch]


def end_marker(msg_id: int, *fields: str | int) -> list[str | int | float]:
    """The many ``<name>End`` messages: id, version 1, then optional fields (reqId/account)."""
    if msg_id == COMPLETED_ORDERS_END:
        return [msg_id]
    return [msg_id, 1, *fields]


def account_value(key: str, value: str, currency: str, account: str) -> list[str | int | float]:
    return [ACCT_VALUE, 2, key, value, currency, account]


def account_summary(
    req_id: int, account: str, tag: str, value: str, currency: str
) -> list[str | int | float]:
    return [ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


Block = Sequence[str | int | float]  # an 11-field contract block (see Instrument.block)
Leg = tuple[int, int, str, str]  # a combo leg: conId, ratio, action, exchange


def stock_block(con_id: int, symbol: str, exchange: str = "SMART") -> list[str | int | float]:
    """The 11-field contract block used by position, execDetails and openOrder (a stock)."""
    return [con_id, symbol, "STK", "", 0.0, "", "", exchange, "USD", symbol, symbol]


def open_order(
    order_id: int,
    block: Block,
    action: str,
    quantity: float,
    order_type: str,
    lmt_price: float | None,
    aux_price: float | None,
    tif: str,
    account: str,
    order_ref: str,
    client_id: int,
    perm_id: int,
    parent_id: int,
    status: str,
    legs: Sequence[Leg] = (),
    what_if: Sequence[str] = (),
    commission: float | None = None,
    display_size: int = 0,
    algo: tuple[str, Sequence[tuple[str, str]]] = ("", ()),
) -> list[str | int | float]:
    """``openOrder`` at 176: 128 fields (+ 8 per combo leg, + 1 + 2 per parameter of an
    algo); structural fields empty/0 as the decoder requires. ``what_if``: the nine margin
    strings of a whatIf reply (with its ``commission``); ``display_size`` an iceberg's,
    ``algo`` the algoStrategy and its algoParams as placed."""
    f: list[str | int | float] = [OPEN_ORDER, order_id, *block]
    f += [
        action,
        quantity,
        order_type,
        "" if lmt_price is None else lmt_price,
        "" if aux_price is None else aux_price,
        tif,
        "",
        account,
        "O",
        0,
        order_ref,
        client_id,
        perm_id,
        0,
        0,
    ]  # 13..27
    f += [""] * 21 + [display_size or ""] + [""] * 8  # 28..57 (49: displaySize)
    f += [parent_id]  # 58
    f += [""] * 3  # 59..61
    f += [""]  # 62 deltaNeutralOrderType
    f += [""] * 8  # 63..70 (70: comboLegsDescrip)
    f += [len(legs)]  # 71 combo legs, each conId, ratio, action, exchange, openClose,
    for con_id, ratio, leg_action, exchange in legs:  # shortSaleSlot, designatedLocation,
        f += [con_id, ratio, leg_action, exchange, 0, 0, "", -1]  # exemptCode
    f += [0, 0]  # 72..73 order combo legs, smart combo routing params
    f += ["", ""]  # 74..75
    f += [""]  # 76 scalePriceIncrement
    f += [""]  # 77 hedgeType
    f += ["", "", "", ""]  # 78..81
    f += [0]  # 82 dncPresent
    strategy, params = algo
    f += [strategy]  # 83 algoStrategy, then its count + tag/value pairs
    if strategy:
        f += [len(params)]
        for tag, value in params:
            f += [tag, value]
    f += ["", 1 if what_if else 0]  # 84 solicited, 85 whatIf
    f += [status]  # 86
    f += list(what_if) or [""] * 9  # 87..95 margins: before, change, after (init, maint, EWL)
    f += ["" if commission is None else commission, "", "", "USD" if what_if else "", ""]
    f += ["", ""]  # 101..102 randomize
    f += [0]  # 103 numConditions
    f += [""] * 16  # 104..119
    f += ["", "", ""]  # 120..122
    f += [""] * 5  # 123..127
    assert len(f) == 128 + 8 * len(legs) + (1 + 2 * len(params) if strategy else 0)
    return f


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_price: float,
    perm_id: int,
    parent_id: int,
    last_price: float,
    client_id: int,
) -> list[str | int | float]:
    return [
        ORDER_STATUS,
        order_id,
        status,
        filled,
        remaining,
        avg_price,
        perm_id,
        parent_id,
        last_price,
        client_id,
        "",
        0.0,
    ]


def exec_details(
    req_id: int,
    order_id: int,
    block: Block,
    exec_id: str,
    when: str,
    account: str,
    side: str,
    shares: float,
    price: float,
    perm_id: int,
    client_id: int,
    cum_qty: float,
    avg_price: float,
    order_ref: str,
) -> list[str | int | float]:
    """``execDetails``: 31 fields, no version field."""
    return [
        EXECUTION_DATA,
        req_id,
        order_id,
        *block,
        exec_id,
        when,
        account,
        "SMART",
        side,
        shares,
        price,
        perm_id,
        client_id,
        0,
        cum_qty,
        avg_price,
        order_ref,
        "",
        "",
        "",
        0,
    ]


def commission_report(
    exec_id: str, commission: float, realized: float | None
) -> list[str | int | float]:
    """``commissionReport``: exactly 8 fields."""
    return [
        COMMISSION_REPORT,
        1,
        exec_id,
        commission,
        "USD",
        "" if realized is None else realized,
        "",
        "",
    ]


def position(
    account: str, block: Block, quantity: float, avg_cost: float
) -> list[str | int | float]:
    """``position``: exactly 16 fields (the block's exchange empty, as IB sends it)."""
    return [POSITION_DATA, 3, account, *block, quantity, avg_cost]


def portfolio(
    block: Block,
    quantity: float,
    price: float,
    market_value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> list[str | int | float]:
    """``updatePortfolio``: exactly 20 fields (primaryExchange in the contract block);
    ``market_value`` is quantity x price x multiplier."""
    return [
        PORTFOLIO_VALUE,
        8,
        *block,
        quantity,
        price,
        market_value,
        avg_cost,
        unrealized,
        realized,
        account,
    ]


TICK_STRING, TICK_SNAPSHOT_END, MARKET_DATA_TYPE, TICK_REQ_PARAMS = 46, 57, 58, 81
BID, ASK, LAST, VOLUME, CLOSE, LAST_TIMESTAMP = 1, 2, 4, 8, 9, 45


def tick_price(req_id: int, tick_type: int, price: float, size: float) -> list[str | int | float]:
    """``tickPrice``: exactly 7 fields (price and size together)."""
    return [TICK_PRICE, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: float) -> list[str | int | float]:
    return [TICK_SIZE, 6, req_id, tick_type, size]


def tick_string(req_id: int, tick_type: int, value: str) -> list[str | int | float]:
    return [TICK_STRING, 6, req_id, tick_type, value]


def historical_update(
    req_id: int, date: str, o: float, h: float, lo: float, c: float, wap: float, volume: float
) -> list[str | int | float]:
    """``historicalDataUpdate`` (keepUpToDate): note the order open, close, high, low."""
    return [HISTORICAL_DATA_UPDATE, req_id, 0, date, o, c, h, lo, wap, volume]


REAL_TIME_BARS = 50


def realtime_bar(
    req_id: int,
    epoch: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: float,
    wap: float,
    count: int,
) -> list[str | int | float]:
    """``realtimeBar``: time (epoch int), OHLC, volume, wap, count (int)."""
    return [REAL_TIME_BARS, 3, req_id, epoch, o, h, lo, c, volume, wap, count]


UPDATE_MKT_DEPTH = 12
DEPTH_INSERT, DEPTH_UPDATE = 0, 1
DEPTH_ASK, DEPTH_BID = 0, 1


def depth_update(
    req_id: int, position: int, operation: int, side: int, price: float, size: float
) -> list[str | int | float]:
    """``updateMktDepth``: operation 0 insert, 1 update, 2 delete; side 0 ask, 1 bid."""
    return [UPDATE_MKT_DEPTH, 1, req_id, position, operation, side, price, size]


# -- options ---------------------------------------------------------------------------------
TICK_OPTION_COMPUTATION, SEC_DEF_OPT_PARAMS, SEC_DEF_OPT_PARAMS_END = 21, 75, 76
BID_OPTION, ASK_OPTION, LAST_OPTION, MODEL_OPTION, CUST_OPTION = 10, 11, 12, 13, 53
NO_MARKET_DATA = 354  # IB: "Requested market data is not subscribed" (here: no quote to serve)


def tick_option_computation(
    req_id: int,
    tick_type: int,
    iv: float,
    delta: float,
    price: float,
    pv_dividend: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
) -> list[str | int | float]:
    """``tickOptionComputation`` (no version field at 176): tickAttrib 1 (price based), then
    IB's sentinels for what was not computed (-1 for vol and prices, -2 for the Greeks)."""

    def value(x: float, unset: float) -> float:
        return x if x == x and abs(x) != float("inf") else unset

    return [
        TICK_OPTION_COMPUTATION,
        req_id,
        tick_type,
        1,
        value(iv, -1.0),
        value(delta, -2.0),
        value(price, -1.0),
        value(pv_dividend, -1.0),
        value(gamma, -2.0),
        value(vega, -2.0),
        value(theta, -2.0),
        value(und_price, -1.0),
    ]


def sec_def_opt_params(
    req_id: int,
    exchange: str,
    under_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> list[str | int | float]:
    """``securityDefinitionOptionParameter``: one exchange and trading class of a chain."""
    return [
        SEC_DEF_OPT_PARAMS,
        req_id,
        exchange,
        under_con_id,
        trading_class,
        multiplier,
        len(expirations),
        *expirations,
        len(strikes),
        *strikes,
    ]


def contract_details(
    req_id: int,
    block: Block,
    *,
    market_name: str,
    min_tick: float,
    order_types: str,
    valid_exchanges: str,
    under_con_id: int,
    long_name: str,
    primary_exchange: str,
    contract_month: str,
    under_symbol: str,
    under_sec_type: str,
    real_expiration: str,
    stock_type: str,
) -> list[str | int | float]:
    """``contractDetails`` at >= 164 (no version field; the 3 size fields at the end), from
    an 11-field contract block (conId, symbol, secType, lastTradeDate, strike, right,
    multiplier, exchange, currency, localSymbol, tradingClass)."""
    con_id, symbol, sec_type, last, strike, right, mult, exch, cur, local, cls = block
    return [
        CONTRACT_DATA, req_id, symbol, sec_type, last, strike, right, exch, cur, local,
        market_name, cls, con_id, min_tick, mult, order_types, valid_exchanges, 1,
        under_con_id, long_name, primary_exchange, contract_month, "", "", "", "US/Eastern",
        "", "", "", "", 0,  # tradingHours, liquidHours, evRule, evMultiplier, numSecIds
        1, under_symbol, under_sec_type, "26", real_expiration, stock_type, 1.0, 1.0, 1.0,
    ]  # fmt: skip
