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

* a short put spread and a short call spread of the same underlying and expiry (an iron
  condor or iron butterfly) cannot both lose at expiry: the pair requires the greater of the
  two spreads' requirements, not their sum (CBOE Margin Manual, "Short Iron Butterfly / Iron
  Condor").

Shorts are paired with longs greedily, nearest strike first on the protective side (the
pairing IBKR's Reg T engine also looks for), contract by contract; then put spreads are
paired with call spreads of the same expiry, largest requirement first. Nothing here knows about
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
    # spread requirements per (underlying, expiry, right): [contracts, loss per contract]
    spreads: dict[tuple[str, object, str], list[list[float]]] = {}
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
            spreads.setdefault((c.symbol, c.expiry.value, c.right), []).append(
                [n, max(loss, 0.0) * c.multiplier]
            )
        total += left * naked_requirement(c, h.mark, h.spot)
    paired: set[tuple[str, object, str]] = set()
    for (symbol, when, right), calls in spreads.items():
        if right == "C":
            total += _condor_requirement(calls, spreads.get((symbol, when, "P"), []))
            paired.add((symbol, when, "P"))
    for side, rest in spreads.items():
        if side[2] == "P" and side not in paired:
            total += sum(n * req for n, req in rest)
    return total


def _condor_requirement(calls: list[list[float]], puts: list[list[float]]) -> float:
    """Call and put spreads of one expiry: each put spread paired with a call spread needs the
    greater of the two requirements, largest first; the unpaired ones need their own."""
    calls = sorted(([n, r] for n, r in calls), key=lambda x: -x[1])
    puts = sorted(([n, r] for n, r in puts), key=lambda x: -x[1])
    total, i, j = 0.0, 0, 0
    while i < len(calls) and j < len(puts):
        n = min(calls[i][0], puts[j][0])
        total += n * max(calls[i][1], puts[j][1])
        calls[i][0] -= n
        puts[j][0] -= n
        i += calls[i][0] <= 0
        j += puts[j][0] <= 0
    total += sum(n * r for n, r in calls[i:]) + sum(n * r for n, r in puts[j:])
    return total
