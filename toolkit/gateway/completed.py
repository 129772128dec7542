"""Completed orders (``reqCompletedOrders``, IB message 101): how the orders that no longer
work ended -- filled, cancelled, expired or rejected. A client restarting after a crash asks
for them (with open orders and executions) before it sends anything again: an order it sent
that expired unfilled shows up nowhere else.

The layout is ib_async's ``Decoder.completedOrder`` at server version 176 (one field per
attribute read there, in order; ``faProfile`` is still sent below 177). Every order the
simulator knows is an API order, so ``apiOnly`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.gateway.orders import DONE, Fill, SimOrder

COMPLETED_ORDER = 101


def completed_order(o: SimOrder, account: str, completed_time: str) -> list[str | int | float]:
    """One ``completedOrder`` message for a finished order."""
    f: list[str | int | float] = [COMPLETED_ORDER]
    f += list(o.block) or [
        o.con_id,
        o.symbol,
        "STK",
        "",
        0.0,
        "",
        "",
        "SMART",
        "USD",
        o.symbol,
        o.symbol,
    ]
    f += [
        o.action,
        o.quantity,
        o.order_type,
        "" if o.lmt_price is None else o.lmt_price,
        "" if o.aux_price is None else o.aux_price,
        o.tif,
        o.oca_group,
        account,
        "O",  # openClose
        0,  # origin: customer
        o.order_ref,
        o.perm_id,
        0,  # outsideRth
        0,  # hidden
        "",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # faProfile (server version < 177)
    ]
    f += [""] * 13 + [o.display_size or ""] + [""] * 7  # modelCode .. volatilityType
    f += ["", ""]  # deltaNeutralOrderType (none), deltaNeutralAuxPrice
    f += ["", "", "", "" if o.trailing_percent is None else o.trailing_percent, ""]
    f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    f += ["", "", ""]  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
    f += [""]  # hedgeType
    f += ["", "", 0, 0]  # clearingAccount, clearingIntent, notHeld, deltaNeutralContract
    f += [o.algo_strategy]  # algoStrategy, then its count + tag/value pairs
    if o.algo_strategy:
        f += [len(o.algo_params)]
        for tag, value in o.algo_params:
            f += [tag, value]
    f += [0, o.status, 0, 0]  # solicited, status, randomizeSize, randomizePrice
    f += [0]  # conditions
    # trailStopPrice, lmtPriceOffset, cashQty, dontUseAutoPriceForHedge, isOmsContainer,
    # autoCancelDate; filledQuantity, refFuturesConId, autoCancelParent, shareholder,
    # imbalanceOnly, routeMarketableToBbo, parentPermId
    f += ["" if o.trail_stop is None else o.trail_stop, "", "", 0, 0, ""]
    f += [o.filled, 0, 0, "", 0, 0, 0]
    f += [completed_time, _completed_status(o)]
    f += ["", "", 0, "", ""]  # minTradeQty .. midOffsetAtHalf (server version >= 170)
    return f


def completed_orders(
    orders: Iterable[SimOrder], fills: list[Fill], account: str
) -> list[list[str | int | float]]:
    """``completedOrder`` messages for every finished, transmitted order, oldest first."""
    last_fill = {id(f.order): f.time for f in fills}
    out = []
    for o in orders:
        if o.status in DONE and o.transmitted:
            when = last_fill.get(id(o))
            stamp = "" if when is None else when.strftime("%Y%m%d %H:%M:%S UTC")
            out.append(completed_order(o, account, stamp))
    return out


def _completed_status(o: SimOrder) -> str:
    if o.status == "Filled":
        return f"Filled Size: {o.filled:g}"
    if o.status == "Cancelled":
        return "Cancelled by Trader" if o.filled == 0 else f"Cancelled, filled {o.filled:g}"
    return "Rejected"
