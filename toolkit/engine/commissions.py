"""Commission schedules shared by the engine, the sweep kernels and the gateway simulator.

IBKR Pro rates are from interactivebrokers.com/en/pricing/commissions-stocks.php (US stocks,
read 2026-11): Fixed USD 0.005/share, minimum USD 1.00, maximum 1% of trade value; Tiered
USD 0.0035/0.0020/0.0015/0.0010/0.0005 per share by monthly volume (<=300k, <=3M, <=20M,
<=100M, above), minimum USD 0.35, maximum 1%, plus clearing USD 0.0002/share and NYSE/FINRA
pass-through fees (0.000175 and 0.000565 of the commission). On sales both plans pass on the
SEC transaction fee (0.0000278 x value) and the FINRA TAF (0.000166/share, at most USD 8.30).
Exchange fees depend on venue and liquidity flag; ``exchange_per_share`` models them as one
flat rate (default 0.0030, a typical remove-liquidity fee). IBKR's examples show the 1% cap
wins over the minimum (1,000 shares at USD 0.25 cost USD 2.50), so the order is
``min(max(per_share * qty, minimum), cap * value)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numba import njit

CommissionKind = Literal["none", "proportional", "ibkr_fixed", "ibkr_tiered"]
# The schedule's id in the vector (I_KIND), by kind.
NO_COSTS, PROPORTIONAL, IBKR_FIXED, IBKR_TIERED = range(4)
KIND_IDS: dict[str, int] = {
    "none": NO_COSTS,
    "proportional": PROPORTIONAL,
    "ibkr_fixed": IBKR_FIXED,
    "ibkr_tiered": IBKR_TIERED,
}

# Tiered schedule: month-to-date shares before the order (upper bounds) -> USD per share.
# Scalars, not arrays: numba rebuilds global arrays on every call of a function using them.
_TIER_1, _TIER_2, _TIER_3, _TIER_4 = 300_000.0, 3_000_000.0, 20_000_000.0, 100_000_000.0
_RATE_1, _RATE_2, _RATE_3, _RATE_4, _RATE_5 = 0.0035, 0.0020, 0.0015, 0.0010, 0.0005

# Layout of the float64 vector the kernels take (see Commission.vector).
I_KIND, I_RATE, I_MIN, I_CAP, I_SEC, I_TAF, I_TAF_MAX, I_CLEAR, I_EXCH, I_PASS, I_FIXED = range(11)
VECTOR_SIZE = 11


@dataclass(frozen=True)
class Commission:
    """A commission schedule. Use the constructors below rather than filling fields by hand.

    ``rate`` is per share for the IBKR plans and a fraction of trade value for proportional.
    """

    kind: CommissionKind = "ibkr_fixed"
    rate: float = 0.005
    minimum: float = 1.0
    max_pct: float = 0.01
    sec_fee_rate: float = 0.0000278
    taf_per_share: float = 0.000166
    taf_max: float = 8.30
    clearing_per_share: float = 0.0
    exchange_per_share: float = 0.0
    pass_through_rate: float = 0.0
    per_order: float = 0.0

    def vector(self) -> np.ndarray:
        v = np.zeros(VECTOR_SIZE)
        v[I_KIND] = KIND_IDS[self.kind]
        v[I_RATE], v[I_MIN], v[I_CAP] = self.rate, self.minimum, self.max_pct
        v[I_SEC], v[I_TAF], v[I_TAF_MAX] = self.sec_fee_rate, self.taf_per_share, self.taf_max
        v[I_CLEAR], v[I_EXCH] = self.clearing_per_share, self.exchange_per_share
        v[I_PASS], v[I_FIXED] = self.pass_through_rate, self.per_order
        return v

    def scaled(self, factor: float) -> Commission:
        """The same schedule with every fee (rates, minimum, fixed and third-party) x ``factor``."""
        return replace(
            self,
            rate=self.rate * factor,
            minimum=self.minimum * factor,
            sec_fee_rate=self.sec_fee_rate * factor,
            taf_per_share=self.taf_per_share * factor,
            taf_max=self.taf_max * factor,
            clearing_per_share=self.clearing_per_share * factor,
            exchange_per_share=self.exchange_per_share * factor,
            per_order=self.per_order * factor,
            max_pct=self.max_pct * factor,
        )

    def cost(self, quantity: float, price: float, month_volume: float = 0.0) -> float:
        """Commission in USD for one order of signed ``quantity`` filled at ``price``."""
        return float(commission_nb(self.vector(), quantity, price, month_volume))


def no_costs() -> Commission:
    return Commission(
        kind="none",
        rate=0.0,
        minimum=0.0,
        max_pct=0.0,
        sec_fee_rate=0.0,
        taf_per_share=0.0,
        taf_max=0.0,
    )


def proportional(rate: float, per_order: float = 0.0) -> Commission:
    """Fee = ``rate`` x trade value (+ ``per_order``), e.g. 0.001 for 10 bps."""
    return Commission(
        kind="proportional",
        rate=rate,
        minimum=0.0,
        max_pct=0.0,
        sec_fee_rate=0.0,
        taf_per_share=0.0,
        taf_max=0.0,
        per_order=per_order,
    )


def ibkr_fixed(regulatory_fees: bool = True) -> Commission:
    """IBKR Pro Fixed: USD 0.005/share, min USD 1.00, max 1% of value (+ sale fees)."""
    c = Commission(kind="ibkr_fixed", rate=0.005, minimum=1.0, max_pct=0.01)
    return c if regulatory_fees else _without_sale_fees(c)


def ibkr_tiered(exchange_per_share: float = 0.0030, regulatory_fees: bool = True) -> Commission:
    """IBKR Pro Tiered: per-share rate by monthly volume, min USD 0.35, max 1%, plus fees."""
    c = Commission(
        kind="ibkr_tiered",
        rate=0.0035,
        minimum=0.35,
        max_pct=0.01,
        clearing_per_share=0.0002,
        exchange_per_share=exchange_per_share,
        pass_through_rate=0.000175 + 0.000565,
    )
    return c if regulatory_fees else _without_sale_fees(c)


def _without_sale_fees(c: Commission) -> Commission:
    return replace(c, sec_fee_rate=0.0, taf_per_share=0.0, taf_max=0.0)


@njit(cache=True)
def tier_rate_nb(month_volume: float) -> float:
    """IBKR tiered per-share rate for an order given the month's shares traded before it."""
    if month_volume < _TIER_1:
        return _RATE_1
    if month_volume < _TIER_2:
        return _RATE_2
    if month_volume < _TIER_3:
        return _RATE_3
    if month_volume < _TIER_4:
        return _RATE_4
    return _RATE_5


@njit(cache=True, inline="always")
def commission_nb(c: np.ndarray, quantity: float, price: float, month_volume: float) -> float:
    """Total fees in USD for an order of signed ``quantity`` at ``price``.

    ``c`` is a Commission.vector(); ``month_volume`` (shares already traded this calendar
    month) selects the tier for ``ibkr_tiered``. Zero quantity costs nothing.
    """
    qty = abs(quantity)
    if qty == 0.0:
        return 0.0
    value = qty * price
    kind = int(c[I_KIND])
    if kind == NO_COSTS:
        return 0.0
    if kind == PROPORTIONAL:
        return float(c[I_RATE] * value + c[I_FIXED])
    per_share = float(c[I_RATE]) if kind == IBKR_FIXED else tier_rate_nb(month_volume)
    fee = max(per_share * qty, c[I_MIN])
    fee = min(fee, c[I_CAP] * value)
    if kind == IBKR_TIERED:
        fee += fee * c[I_PASS] + (c[I_CLEAR] + c[I_EXCH]) * qty
    if quantity < 0.0:  # sale: SEC fee on value, FINRA TAF on shares (capped)
        fee += c[I_SEC] * value + min(c[I_TAF] * qty, c[I_TAF_MAX])
    return float(fee)
