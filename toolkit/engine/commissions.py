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


@njit(cache=True)
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


@njit(cache=True)
def max_buy_qty_nb(c: np.ndarray, price: float, budget: float, month_volume: float) -> float:
    """The largest real quantity whose value plus fees a buy at ``price`` can pay from
    ``budget`` (>= 0; buys carry no sale fees), in closed form.

    Every schedule's buy fee is piecewise linear in the quantity q: ``fixed + rate x value``
    (proportional) or ``g x min(max(per_share x q, minimum), cap x value) + e x q`` (IBKR,
    ``g`` = 1 + pass-through, ``e`` = clearing + exchange per share, both 0 on Fixed). The
    set of q with ``q x price + fee(q) <= budget`` is then the union of the sets where each
    branch of the min fits, each an interval from 0: the answer is the larger end.
    """
    kind = int(c[I_KIND])
    if kind == NO_COSTS:
        return budget / price
    if kind == PROPORTIONAL:
        return float(max((budget - c[I_FIXED]) / (price * (1.0 + c[I_RATE])), 0.0))
    per_share = float(c[I_RATE]) if kind == IBKR_FIXED else tier_rate_nb(month_volume)
    g = 1.0
    a = price
    if kind == IBKR_TIERED:
        g += c[I_PASS]
        a += c[I_CLEAR] + c[I_EXCH]
    # the per-share branch: q x (a + g x per_share) <= budget and q x a + g x minimum <= budget
    q_share = min(budget / (a + g * per_share), (budget - g * c[I_MIN]) / a)
    q_cap = budget / (a + g * c[I_CAP] * price)  # the 1% cap's branch
    return float(max(q_share, q_cap, 0.0))


# --- Options -------------------------------------------------------------------------------
# IBKR Pro, US options, Smart routed (interactivebrokers.com/en/pricing/commissions-options.php,
# read 2026-11 through its .ca mirror): per contract by premium (the option's price per share)
# and month-to-date contracts -- <= 10,000: USD 0.25 (premium < 0.05), 0.50 (0.05 <= premium
# < 0.10), 0.65 (>= 0.10); 10,001-50,000: 0.25 / 0.50 (>= 0.05); 50,001-100,000: 0.25;
# above: 0.15 -- minimum USD 1.00 per order, no maximum. IBKR's worked examples: 1 contract at
# USD 2 = 1.00 (the minimum), 2 at 5 = 1.30, 3 at 0.075 = 1.50, 5 at 0.03 = 1.25. "Fixed" is the
# first tier's schedule whatever the volume. Third-party fees, passed through on both plans:
# Options Regulatory Fee USD 0.01915 and FINRA CAT USD 0.0048 per contract, OCC clearing
# USD 0.02 per contract, on sales the SEC fee (0.0000278 x premium value) and FINRA TAF
# (USD 0.00279 per contract sold). Exchange fees / index surcharges (e.g. Cboe SPXW, which
# IBKR lists at USD 0.49-0.58 a contract) depend on the product: ``exchange_per_contract``.
# Exercise and assignment of US stock and index options carry no IBKR commission
# (ibkr.info/node/186), so settlement books no fee.
OPT_NONE, OPT_FIXED, OPT_TIERED = range(3)
OptionCommissionKind = Literal["none", "ibkr_option_fixed", "ibkr_option_tiered"]
OPTION_KIND_IDS: dict[str, int] = {
    "none": OPT_NONE,
    "ibkr_option_fixed": OPT_FIXED,
    "ibkr_option_tiered": OPT_TIERED,
}
# Month-to-date contract tiers (upper bounds, inclusive) of the tiered plan.
_OPT_TIER_1, _OPT_TIER_2, _OPT_TIER_3 = 10_000.0, 50_000.0, 100_000.0
# Layout of OptionCommission.vector().
(O_KIND, O_RATE, O_MID, O_LOW, O_MIN, O_PER_CONTRACT, O_SEC, O_TAF) = range(8)
OPTION_VECTOR_SIZE = 8


@dataclass(frozen=True)
class OptionCommission:
    """An option commission schedule (per contract; see the module notes for the source).

    ``rate``/``rate_mid``/``rate_low``: USD per contract for premiums >= 0.10, in
    [0.05, 0.10) and < 0.05 (the first tier's; the tiered plan lowers them by month volume);
    ``per_contract``: third-party fees per contract (regulatory, clearing, exchange);
    ``sec_fee_rate`` x premium value and ``taf_per_contract`` on sales.
    """

    kind: OptionCommissionKind = "ibkr_option_fixed"
    rate: float = 0.65
    rate_mid: float = 0.50
    rate_low: float = 0.25
    minimum: float = 1.0
    per_contract: float = 0.0
    sec_fee_rate: float = 0.0
    taf_per_contract: float = 0.0

    def vector(self) -> np.ndarray:
        v = np.zeros(OPTION_VECTOR_SIZE)
        v[O_KIND] = OPTION_KIND_IDS[self.kind]
        v[O_RATE], v[O_MID], v[O_LOW], v[O_MIN] = (
            self.rate, self.rate_mid, self.rate_low, self.minimum,
        )  # fmt: skip
        v[O_PER_CONTRACT], v[O_SEC], v[O_TAF] = (
            self.per_contract, self.sec_fee_rate, self.taf_per_contract,
        )  # fmt: skip
        return v

    def cost(
        self,
        contracts: float,
        premium: float,
        multiplier: float = 100.0,
        month_contracts: float = 0.0,
    ) -> float:
        """Fees in USD for one order of signed ``contracts`` at ``premium`` per share."""
        return float(
            option_commission_nb(self.vector(), contracts, premium, multiplier, month_contracts)
        )


# Third-party fees per contract (ORF + FINRA CAT + OCC clearing) and on sales, as read above.
_ORF, _CAT, _OCC = 0.01915, 0.0048, 0.02
_OPT_SEC, _OPT_TAF = 0.0000278, 0.00279


def ibkr_option_fixed(
    regulatory_fees: bool = True, exchange_per_contract: float = 0.0
) -> OptionCommission:
    """IBKR Pro fixed-rate US options: 0.65 / 0.50 / 0.25 per contract by premium, min 1.00."""
    return _option_schedule("ibkr_option_fixed", regulatory_fees, exchange_per_contract)


def ibkr_option_tiered(
    regulatory_fees: bool = True, exchange_per_contract: float = 0.0
) -> OptionCommission:
    """IBKR Pro tiered US options: the fixed rates lowered by month-to-date contracts."""
    return _option_schedule("ibkr_option_tiered", regulatory_fees, exchange_per_contract)


def no_option_costs() -> OptionCommission:
    return OptionCommission(kind="none", rate=0.0, rate_mid=0.0, rate_low=0.0, minimum=0.0)


def _option_schedule(
    kind: OptionCommissionKind, regulatory_fees: bool, exchange_per_contract: float
) -> OptionCommission:
    fees = regulatory_fees
    return OptionCommission(
        kind=kind,
        per_contract=(_ORF + _CAT + _OCC if fees else 0.0) + exchange_per_contract,
        sec_fee_rate=_OPT_SEC if fees else 0.0,
        taf_per_contract=_OPT_TAF if fees else 0.0,
    )


@njit(cache=True)
def option_rate_nb(c: np.ndarray, premium: float, month_contracts: float) -> float:
    """IBKR's commission per contract for ``premium`` (price per share) after
    ``month_contracts`` contracts this month (the tiered plan; the fixed plan ignores it)."""
    tiered = int(c[O_KIND]) == OPT_TIERED
    if tiered and month_contracts >= _OPT_TIER_3:
        return 0.15
    if tiered and month_contracts >= _OPT_TIER_2:
        return 0.25
    if premium < 0.05:
        return float(c[O_LOW])
    if premium < 0.10 or (tiered and month_contracts >= _OPT_TIER_1):
        return float(c[O_MID])
    return float(c[O_RATE])


@njit(cache=True)
def option_commission_nb(
    c: np.ndarray, contracts: float, premium: float, multiplier: float, month_contracts: float
) -> float:
    """Total fees in USD for an option order of signed ``contracts`` at ``premium`` (USD per
    share; the contract's value is premium x ``multiplier``): IBKR's per-contract rate with
    the per-order minimum, plus third-party fees; a sale adds the SEC fee on its value and the
    FINRA TAF per contract. ``c`` is an OptionCommission.vector(). Zero contracts cost nothing.
    """
    qty = abs(contracts)
    if qty == 0.0 or int(c[O_KIND]) == OPT_NONE:
        return 0.0
    fee = max(option_rate_nb(c, premium, month_contracts) * qty, c[O_MIN])
    fee += c[O_PER_CONTRACT] * qty
    if contracts < 0.0:
        fee += c[O_SEC] * qty * premium * multiplier + c[O_TAF] * qty
    return float(fee)
