"""Initial margin of option positions, strategy-based as under Reg T at IBKR (the CBOE
margin rules IBKR publishes for US options, "Options margin requirements", read 2026-11):

* a long option has no loan value: it is paid in full (its market value is required);
* a short option covered by a long one of the same underlying, right and multiplier expiring
  no earlier (a vertical or calendar spread) requires the spread's maximum loss at the short's
  expiry, ``max(0, K_long - K_short)`` for calls and ``max(0, K_short - K_long)`` for puts, per
  share and contract (a debit spread: nothing beyond the long leg's price);
* an uncovered (naked) short requires its market value plus, per share, ``max(pct x S -
  out-of-the-money amount, 10% x S)`` for a call and ``max(pct x S - OTM, 10% x K)`` for a put,
  ``pct`` 15% on broad-based indexes (SPX) and 20% on stocks and ETFs.

Shorts are paired with longs greedily, nearest strike first on the protective side (the
pairing IBKR's Reg T engine also looks for), contract by contract. Nothing here knows about
orders, sockets or the wire: the exchange calls :func:`option_requirement` with its book."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from toolkit.gateway.options import OptionContract

INDEX_PCT, STOCK_PCT, MIN_PCT = 0.15, 0.20, 0.10


@dataclass(frozen=True)
class Holding:
    """An option position as margin sees it: contracts (signed), price per share, spot."""

    contract: OptionContract
    quantity: float
    mark: float
    spot: float


def naked_requirement(c: OptionContract, mark: float, spot: float) -> float:
    """Per-contract requirement of one uncovered short option (CBOE naked rule)."""
    pct = INDEX_PCT if c.underlying_sec_type == "IND" else STOCK_PCT
    if c.right == "C":
        otm = max(c.strike - spot, 0.0)
        extra = max(pct * spot - otm, MIN_PCT * spot)
    else:
        otm = max(spot - c.strike, 0.0)
        extra = max(pct * spot - otm, MIN_PCT * c.strike)
    return (mark + extra) * c.multiplier


def option_requirement(holdings: Iterable[Holding]) -> float:
    """Initial margin of a book of option positions (see the module docstring)."""
    longs: dict[tuple[str, str, float], list[list[float]]] = {}
    shorts: list[Holding] = []
    total = 0.0
    for h in holdings:
        if h.quantity > 0:
            total += h.quantity * h.mark * h.contract.multiplier  # paid in full
            key = (h.contract.symbol, h.contract.right, h.contract.multiplier)
            longs.setdefault(key, []).append(
                [h.contract.strike, h.contract.expiry.value, h.quantity]
            )
        elif h.quantity < 0:
            shorts.append(h)
    for h in shorts:
        c = h.contract
        left = -h.quantity
        pool = longs.get((c.symbol, c.right, c.multiplier), [])
        # protective side first: the lowest long call strike, the highest long put strike
        pool.sort(key=lambda x: x[0] if c.right == "C" else -x[0])
        for cover in pool:
            if left <= 0:
                break
            strike, expiry, free = cover
            if free <= 0 or expiry < c.expiry.value:
                continue
            n = min(left, free)
            cover[2] -= n
            left -= n
            loss = strike - c.strike if c.right == "C" else c.strike - strike
            total += n * max(loss, 0.0) * c.multiplier
        total += left * naked_requirement(c, h.mark, h.spot)
    return total
