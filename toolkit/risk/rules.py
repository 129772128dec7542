"""The risk rules as numba functions on scalars: one copy, called by the bar's step
(toolkit.engine._step, which the engine, the sweep and the live sleeve all run) and by the
live bridge's kill switch (:func:`kill_switch`), so a backtest and a live session size and
limit orders identically. :func:`check_order` is :func:`cap_order_nb` from Python.

Risk vector layout (see :meth:`toolkit.risk.RiskLimits.vector`); ``inf`` switches a rule off.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MAX_POSITION, MAX_ORDER, MAX_GROSS, DAILY_LOSS, MAX_DRAWDOWN = range(5)
# The portfolio rules (toolkit.risk.portfolio), then the parameters they need: the
# volatility target (annualised), the VaR level's tail probability alpha, the parametric
# VaR and CVaR multipliers z and phi(z) / alpha, historical (1) or parametric (0) VaR.
MAX_NET, MAX_BETA, MAX_SECTOR, MAX_CORR, MAX_VAR, MAX_CVAR, VOL_TARGET = range(5, 12)
VAR_ALPHA, VAR_Z, CVAR_K, VAR_HISTORICAL = range(12, 16)
RISK_SIZE = 16
# Bits of the "which guard trimmed this order" code (G_BUYING_POWER: set by the close-of-bar
# plan, toolkit.engine._step.plan_close_nb, when cash trims a buy; G_WARMUP: a portfolio
# rule had no full estimation window yet, so the order's opening part waits).
G_POSITION, G_ORDER, G_GROSS, G_BUYING_POWER = 1, 2, 4, 8
G_NET, G_BETA, G_SECTOR, G_CORR, G_VAR, G_CVAR, G_WARMUP = 16, 32, 64, 128, 256, 512, 1024
# Kill-switch codes.
K_NONE, K_DAILY_LOSS, K_DRAWDOWN, K_WIPED_OUT = 0, 1, 2, 3


@njit(cache=True)
def desired_shares_nb(
    target: float, weight: float, equity: float, price: float, fractional: bool
) -> float:
    """Shares that make the position ``target x weight`` of ``equity`` at ``price``
    (truncated toward zero for whole shares)."""
    want = target * weight * equity / price
    if not fractional:
        want = np.trunc(want)
    return want


@njit(cache=True)
def cap_order_nb(
    delta: float,
    pos: float,
    price: float,
    equity: float,
    gross_other: float,
    risk: np.ndarray,
    fractional: bool,
) -> tuple[float, int]:
    """Trim an order of ``delta`` shares to the limits; return (delta, bits of the rules
    that trimmed it). ``gross_other`` is the gross notional of every other position.
    A pure reduction passes untouched; the part that adds exposure is cut to what the
    position, gross and order-notional limits leave room for."""
    new = pos + delta
    if delta == 0.0 or (pos != 0.0 and new * pos >= 0.0 and abs(new) <= abs(pos)):
        return delta, 0
    code = 0
    room = risk[MAX_POSITION] / price
    gross_room = (risk[MAX_GROSS] * equity - gross_other) / price
    if gross_room < room:
        room = gross_room
    room = max(room, 0.0)
    if new * pos > 0.0:  # adding in the same direction: never forced below the current size
        room = max(room, abs(pos))
    if abs(new) > room:
        if risk[MAX_POSITION] / price <= max(gross_room, 0.0):
            code |= G_POSITION
        else:
            code |= G_GROSS
        if not fractional:
            room = math.floor(room)
        new = room if new > 0 else -room
    # the order-notional limit caps only the part that opens exposure: a flip's cover of
    # the old side always goes out in full, as a pure reduction does
    cover = -pos if pos != 0.0 and new * pos <= 0.0 else 0.0
    opening = new - pos - cover
    max_q = risk[MAX_ORDER] / price
    if abs(opening) > max_q:
        code |= G_ORDER
        if not fractional:
            max_q = math.floor(max_q)
        opening = max_q if opening > 0 else -max_q
    return cover + opening, code


@njit(cache=True)
def kill_switch_nb(equity: float, peak: float, day_start: float, risk: np.ndarray) -> int:
    """K_WIPED_OUT when equity is <= 0 (always on: a wiped-out account is flattened and
    never trades again), K_DAILY_LOSS when equity is more than ``daily_loss`` below the
    day's start, K_DRAWDOWN when more than ``max_drawdown`` below its peak, else K_NONE."""
    day_floor, peak_floor = kill_floors_nb(peak, day_start, risk)
    return kill_code_nb(equity, day_floor, peak_floor)


@njit(cache=True, inline="always")
def kill_floors_nb(peak: float, day_start: float, risk: np.ndarray) -> tuple[float, float]:
    """The equities below which the daily-loss and the drawdown limits trip, for a day that
    started at ``day_start`` and a running ``peak`` (-inf: that limit cannot trip -- no day
    start or peak yet). A driver whose day start and peak never move (the sweep's
    change-point driver, which runs only without those limits) works them out once."""
    day_floor = day_start * (1.0 - risk[DAILY_LOSS]) if day_start > 0.0 else -np.inf
    peak_floor = peak * (1.0 - risk[MAX_DRAWDOWN]) if peak > 0.0 else -np.inf
    return day_floor, peak_floor


@njit(cache=True, inline="always")
def kill_code_nb(equity: float, day_floor: float, peak_floor: float) -> int:
    """:func:`kill_switch_nb` against the floors of :func:`kill_floors_nb`."""
    if equity <= 0.0:
        return K_WIPED_OUT
    if equity < day_floor:
        return K_DAILY_LOSS
    if equity < peak_floor:
        return K_DRAWDOWN
    return K_NONE


# The one table of guard names (journal guard events, decision notes, the dashboard).
GUARD_NAMES = {
    G_POSITION: "max_position",
    G_ORDER: "max_order",
    G_GROSS: "max_gross",
    G_BUYING_POWER: "buying_power",
    G_NET: "max_net",
    G_BETA: "max_beta",
    G_SECTOR: "max_sector",
    G_CORR: "max_corr_exposure",
    G_VAR: "max_var",
    G_CVAR: "max_cvar",
    G_WARMUP: "risk_warmup",
}
KILL_NAMES = {
    K_DAILY_LOSS: "daily_loss",
    K_DRAWDOWN: "max_drawdown",
    K_WIPED_OUT: "equity_wiped_out",
}


def guard_names(code: int) -> list[str]:
    """Names of the rules set in an order-trim code."""
    return [name for bit, name in GUARD_NAMES.items() if code & bit]


def check_order(
    delta: float,
    pos: float,
    price: float,
    equity: float,
    gross_other: float,
    risk: np.ndarray,
    fractional: bool,
) -> tuple[float, list[str]]:
    """:func:`cap_order_nb` from Python: (allowed delta, names of the rules that trimmed)."""
    d, code = cap_order_nb(
        float(delta), float(pos), float(price), float(equity), float(gross_other), risk, fractional
    )
    return float(d), guard_names(int(code))


def kill_switch(equity: float, peak: float, day_start: float, risk: np.ndarray) -> str | None:
    """:func:`kill_switch_nb` from Python: the name of the rule that fired, or None."""
    return KILL_NAMES.get(int(kill_switch_nb(float(equity), float(peak), float(day_start), risk)))
