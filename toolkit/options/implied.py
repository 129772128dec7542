"""Implied volatility you can trust: never a silent 0, a reason code for every NaN.

:func:`implied_vol` inverts Black-76 (``price`` discounted, forward ``F``, discount factor
``df``) on the out-of-the-money side -- an in-the-money quote is mapped through put-call
parity first -- with the normalised Householder solver of :mod:`toolkit.options._implied`
(after Jäckel, "Let's Be Rational", Wilmott 2015). :func:`chain_implied_vols` does a whole
quote frame: per quote date x expiry the carry (forward, discount factor, rate, dividend yield:
:func:`chain_carry`, the one rule for it) and the implied vol of each mid -- Black-76 on the
parity forward for European chains, the American pricer for American ones (``style == 'A'``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from toolkit.options import _implied as k
from toolkit.options.american import american_implied_vol
from toolkit.options.black import right_is_call
from toolkit.options.parity import (
    NO_FIT,
    american_forward,
    american_parity_rate,
    implied_forward,
    two_sided,
)


class IVReason(IntEnum):
    """Why an implied volatility is (or is not) there; ``OK`` is the only one with a number."""

    OK = k.R_OK
    BELOW_INTRINSIC = k.R_BELOW_INTRINSIC  # price below the discounted intrinsic value
    AT_INTRINSIC = k.R_AT_INTRINSIC  # no time value left: any small vol fits, none is implied
    ABOVE_BOUND = k.R_ABOVE_BOUND  # call >= DF F or put >= DF K: no volatility reaches it
    NO_TWO_SIDED_QUOTE = k.R_NO_TWO_SIDED_QUOTE  # bid or ask missing / zero
    CROSSED_MARKET = k.R_CROSSED_MARKET  # bid > ask
    EXPIRED = k.R_EXPIRED  # no time left (T <= 0)
    BAD_INPUT = k.R_BAD_INPUT  # NaN price, non-positive F, K or DF
    NO_FORWARD = k.R_NO_FORWARD  # parity gave no forward for this expiry (too few pairs)
    NO_CONVERGENCE = k.R_NO_CONVERGENCE  # solver did not converge (never seen; a defect)


def implied_vol(
    price: ArrayLike, right: Any, F: ArrayLike, K: ArrayLike, T: ArrayLike, df: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Black implied volatility and reason code (int8 values of :class:`IVReason`).

    Arguments broadcast; ``price`` is the option's (discounted) premium, ``T`` in years.
    """
    call = right_is_call(right)
    shaped = np.broadcast_arrays(
        call, *(np.asarray(a, dtype=np.float64) for a in (price, F, K, T, df))
    )
    shape = shaped[0].shape
    if not shape:
        # One option (the gateway prices each quote as it is asked for): the per-option
        # kernel itself, not a launch of the parallel one (~0.3 ms of thread wake-ups a call).
        c0, p0, f0, k0, t0, d0 = (a.item() for a in shaped)
        v, why = k.implied_vol_nb(float(p0), bool(c0), float(f0), float(k0), float(t0), float(d0))
        return np.asarray(v, dtype=np.float64), np.asarray(why, dtype=np.int8)
    c, p, f, kk, t, d = (np.ascontiguousarray(a).ravel() for a in shaped)
    iv = np.empty(p.shape[0])
    reason = np.empty(p.shape[0], dtype=np.int8)
    k.implied_vol_arr_nb(p, c.astype(np.bool_), f, kk, t, d, iv, reason)
    return iv.reshape(shape), reason.reshape(shape)


def bsm_implied_vol(
    price: ArrayLike, right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike,
    q: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """:func:`implied_vol` in spot terms: ``F = S e^{(r - q) T}``, ``df = e^{-r T}``."""
    t = np.asarray(T, dtype=np.float64)
    rr = np.asarray(r, dtype=np.float64)
    fwd = np.asarray(S, dtype=np.float64) * np.exp((rr - np.asarray(q, dtype=np.float64)) * t)
    return implied_vol(price, right, fwd, K, t, np.exp(-rr * t))


DAYS_PER_YEAR = 365.0
CHAIN_COLUMNS = (
    "implied_vol", "iv_reason", "iv_model", "forward", "discount_factor", "rate",
    "dividend_yield", "carry_source", "parity_pairs", "parity_residual", "T",
)
CARRY_COLUMNS = (
    "T", "spot", "forward", "discount_factor", "rate", "dividend_yield", "carry_source",
    "parity_pairs", "parity_residual",
)
RATE_RANGE = (0.0, 0.15)  # a parity rate outside it is not believed (stale or American quotes)
RATE_MIN_DAYS = 180  # expiries at least this long give an American chain's rate ...
RATE_EXPIRIES = 5  # ... at most this many of them, those nearest a year
FALLBACK_RATE = 0.0  # an American chain without a believable parity rate: no carry assumed
CarrySource = str  # 'parity' | 'input' | 'parity_american' | 'fallback' | 'none'


def _chain_groups(quotes: pd.DataFrame) -> tuple[list[str], NDArray[np.int64]]:
    """One chain = one underlying and OCC root (SPX AM and SPXW PM can share an expiry date)
    on one quote date and expiry: the key columns and a group number per row (-1: NaT)."""
    keys = [c for c in ("underlying", "root") if c in quotes.columns] + ["quote_date", "expiry"]
    group = quotes.groupby(keys, sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    return keys, np.asarray(group, dtype=np.int64)


def _carry_arrays(
    quotes: pd.DataFrame, group: NDArray[np.int64], rate: float | None, fallback_rate: float,
    max_pairs: int,
) -> dict[str, NDArray[Any]]:
    """The carry of every group (index = group number; one extra trailing NaN row that a
    NaT key's group -1 picks up); see :func:`chain_carry`."""
    n = int(group.max(initial=-1)) + 2
    side = pd.DataFrame({"g": group, "strike": quotes["strike"].to_numpy(dtype=np.float64),
                         "bid": quotes["bid"].to_numpy(dtype=np.float64),
                         "ask": quotes["ask"].to_numpy(dtype=np.float64)})
    is_call = (quotes["right"] == "C").to_numpy()
    calls = side[is_call].drop_duplicates(["g", "strike"])
    puts = side[~is_call].drop_duplicates(["g", "strike"])
    pairs_df = calls.merge(puts, on=["g", "strike"], suffixes=("_c", "_p")).sort_values(
        ["g", "strike"], kind="stable")
    g_of_pair = pairs_df["g"].to_numpy()
    cols = [pairs_df[c].to_numpy(dtype=np.float64)
            for c in ("strike", "bid_c", "ask_c", "bid_p", "ask_p")]
    cuts = np.flatnonzero(np.diff(g_of_pair)) + 1
    chunks = {int(g_of_pair[c[0]]): c for c in np.split(np.arange(g_of_pair.size), cuts) if c.size}

    first = pd.Series(np.arange(len(quotes))).groupby(group).first()
    first = first[first.index >= 0]
    days = (quotes["expiry"] - quotes["quote_date"]).dt.days.to_numpy(dtype=np.float64)
    t = np.full(n, np.nan)
    t[first.index] = days[first.to_numpy()] / DAYS_PER_YEAR
    spot = np.full(n, np.nan)
    if "underlying_price" in quotes.columns:
        sp = pd.Series(quotes["underlying_price"].to_numpy(dtype=np.float64)).groupby(group)
        med = sp.median()
        med = med[med.index >= 0]
        spot[med.index] = med.to_numpy()
    american = np.zeros(n, dtype=np.bool_)
    if "style" in quotes.columns:
        st = (quotes["style"] == "A").to_numpy()
        american[first.index] = st[first.to_numpy()]
    # the chain-day of each group (underlying x root x quote date) for an American rate
    day_keys = [c for c in ("underlying", "root") if c in quotes.columns] + ["quote_date"]
    day_of_row = quotes.groupby(day_keys, sort=False, dropna=False).ngroup().to_numpy()
    day = np.full(n, -1, dtype=np.int64)
    day[first.index] = day_of_row[first.to_numpy()]

    out: dict[str, NDArray[Any]] = {
        "T": t, "spot": spot, "forward": np.full(n, np.nan), "discount_factor": np.full(n, np.nan),
        "rate": np.full(n, np.nan), "dividend_yield": np.full(n, np.nan),
        "carry_source": np.full(n, "none", dtype=object),
        "parity_pairs": np.zeros(n, dtype=np.int64), "parity_residual": np.full(n, np.nan),
        "american": american,
    }

    def pairs_of(g: int) -> list[NDArray[np.float64]]:
        c = chunks.get(g)
        return [x[c] for x in cols] if c is not None else [np.empty(0)] * 5

    # European chains: parity gives the forward and the discount factor (no external rate)
    for g in np.flatnonzero(~american[:-1]):
        fit = implied_forward(*pairs_of(int(g)), max_pairs=max_pairs) if g in chunks else NO_FIT
        if not np.isfinite(fit.forward):
            continue
        out["forward"][g], out["discount_factor"][g] = fit.forward, fit.discount_factor
        out["parity_pairs"][g], out["parity_residual"][g] = fit.n_pairs, fit.residual
        out["carry_source"][g] = "parity"
        if t[g] > 0.0:
            r = -np.log(fit.discount_factor) / t[g]
            out["rate"][g] = r
            out["dividend_yield"][g] = r - np.log(fit.forward / spot[g]) / t[g]

    # American chains: one rate per chain-day (given, or de-Americanised parity on the long
    # expiries), then each expiry's forward at that rate from its pairs nearest the money
    am_groups = np.flatnonzero(american[:-1] & (t[:-1] > 0.0))
    day_rate: dict[int, tuple[float, str]] = {}
    for d in np.unique(day[am_groups]):
        if rate is not None:
            day_rate[int(d)] = (float(rate), "input")
            continue
        found = []
        long = am_groups[(day[am_groups] == d) & (t[am_groups] >= RATE_MIN_DAYS / DAYS_PER_YEAR)]
        # the RATE_EXPIRIES nearest a year (the longest ones have the widest quotes)
        long = long[np.argsort(np.abs(t[long] - 1.0), kind="stable")[:RATE_EXPIRIES]]
        for g in long:
            fit = american_parity_rate(spot[g], t[g], *pairs_of(int(g)), max_pairs=max_pairs)
            if np.isfinite(fit.discount_factor):
                r = -np.log(fit.discount_factor) / t[g]
                if RATE_RANGE[0] <= r <= RATE_RANGE[1]:
                    found.append(r)
        day_rate[int(d)] = ((float(np.median(found)), "parity_american") if found
                            else (float(fallback_rate), "fallback"))
    for g in am_groups:
        r, source = day_rate[int(day[g])]
        af = american_forward(spot[g], t[g], r, *pairs_of(int(g)))
        out["rate"][g] = r
        out["carry_source"][g] = source
        if not np.isfinite(af.forward):
            continue
        out["forward"][g], out["discount_factor"][g] = af.forward, af.discount_factor
        out["dividend_yield"][g] = af.dividend_yield
        out["parity_pairs"][g], out["parity_residual"][g] = af.n_pairs, af.residual
    return out


def chain_carry(
    quotes: pd.DataFrame, *, rate: float | None = None, fallback_rate: float = FALLBACK_RATE,
    max_pairs: int = 60,
) -> pd.DataFrame:
    """The carry of every chain (underlying x root x quote date x expiry) of a canonical quote
    frame -- the one rule the toolkit prices options with. One row per chain: its keys,
    ``style``, ``T`` (ACT/365), ``spot`` (median ``underlying_price``) and :data:`CARRY_COLUMNS`.

    European chains: forward and discount factor from put-call parity
    (:func:`~toolkit.options.parity.implied_forward`), ``rate = -ln(DF)/T``,
    ``dividend_yield = rate - ln(F/S)/T``, ``carry_source = 'parity'``.

    American chains (``style == 'A'``: parity is an inequality and does not pin ``DF``):

    * the rate is an input: ``rate`` (continuous, ``>= 0``; ``carry_source = 'input'``), else
      per underlying and quote date the median of the de-Americanised parity rates
      (:func:`~toolkit.options.parity.american_parity_rate`) of the expiries at least
      :data:`RATE_MIN_DAYS` out that fall in :data:`RATE_RANGE` (``'parity_american'``), else
      ``fallback_rate`` (``'fallback'``; default 0: no carry assumed -- pass ``rate=``, e.g.
      the T-bill yield of the day);
    * the forward from the pairs nearest the money with ``DF = e^{-rT}`` fixed and the
      early-exercise premia taken off (:func:`~toolkit.options.parity.american_forward`);
    * ``dividend_yield = rate - ln(F/S)/T`` (it absorbs any gap between the spot and the
      quotes' moment: a stale spot shows as a dividend yield, large on short expiries).

    ``carry_source = 'none'`` with NaN forward: too few two-sided pairs (or no time left).
    """
    _check_rate(rate)
    keys, group = _chain_groups(quotes)
    arrays = _carry_arrays(quotes, group, rate, fallback_rate, max_pairs)
    first = pd.Series(np.arange(len(quotes))).groupby(group).first()
    first = first[first.index >= 0]
    frame = quotes.iloc[first.to_numpy()][keys].reset_index(drop=True)
    frame["style"] = np.where(arrays["american"][first.index], "A", "E")
    for c in CARRY_COLUMNS:
        frame[c] = arrays[c][first.index]
    return frame


def _check_rate(rate: float | None) -> None:
    if rate is not None and not (np.isfinite(rate) and 0.0 <= rate < 1.0):
        raise ValueError(
            f"rate={rate}: an American chain's rate must be a continuous annual rate in [0, 1) "
            "(0.04 = 4 %); the American pricer handles one exercise boundary (r >= 0)")


def chain_implied_vols(
    quotes: pd.DataFrame, *, rate: float | None = None, fallback_rate: float = FALLBACK_RATE,
    max_pairs: int = 60,
) -> pd.DataFrame:
    """Add our implied vols to a canonical quote frame (``toolkit.data.options``).

    Per chain (``underlying`` x ``root`` where the frame has them, x ``quote_date`` x
    ``expiry``) the carry of :func:`chain_carry` (``rate`` and ``fallback_rate`` are its
    American-chain arguments), then the implied vol of each quote's mid: European chains by
    Black-76 on the parity forward and discount factor (inverted on the out-of-the-money side,
    :func:`implied_vol`), American chains (``style == 'A'``: SPY, VXX) by the American pricer
    with spot, rate and dividend yield (:func:`~toolkit.options.american.american_implied_vol`;
    out-of-the-money quotes carry the smile, in-the-money ones are inverted as they are).
    Returns a copy with columns ``implied_vol`` (NaN unless ``iv_reason == IVReason.OK``; the
    vendor's ``iv`` is left as it is), ``iv_reason`` (int8), ``iv_model`` ('black76' or
    'american'), ``forward``, ``discount_factor``, ``rate``, ``dividend_yield``,
    ``carry_source``, ``parity_pairs``, ``parity_residual`` and ``T`` (years, calendar days
    between quote date and expiry / 365).
    """
    _check_rate(rate)
    out = quotes.copy()
    _, group = _chain_groups(out)
    carry = _carry_arrays(out, group, rate, fallback_rate, max_pairs)
    fwd = carry["forward"][group]
    dfs = carry["discount_factor"][group]
    t = (out["expiry"] - out["quote_date"]).dt.days.to_numpy(dtype=np.float64) / DAYS_PER_YEAR
    american = carry["american"][group]
    bid = out["bid"].to_numpy(dtype=np.float64)
    ask = out["ask"].to_numpy(dtype=np.float64)
    mid = 0.5 * (bid + ask)
    right = out["right"].to_numpy()
    strike = out["strike"].to_numpy(dtype=np.float64)
    iv, reason = implied_vol(mid, right, fwd, strike, t, dfs)
    reason = reason.copy()
    with np.errstate(invalid="ignore"):
        crossed = np.isfinite(bid) & np.isfinite(ask) & (bid > ask)
        expired = ~(t > 0.0)
    one_sided = ~two_sided(bid, ask) & ~crossed
    no_fwd = ~np.isfinite(fwd)
    am = np.flatnonzero(american & ~no_fwd & ~one_sided & ~crossed & ~expired)
    if am.size:
        spot = carry["spot"][group[am]]
        iv_a, why_a = american_implied_vol(
            mid[am], right[am], spot, strike[am], t[am], carry["rate"][group[am]],
            carry["dividend_yield"][group[am]])
        iv[am], reason[am] = iv_a, why_a
    reason[no_fwd] = IVReason.NO_FORWARD
    reason[one_sided] = IVReason.NO_TWO_SIDED_QUOTE
    reason[crossed] = IVReason.CROSSED_MARKET
    reason[expired] = IVReason.EXPIRED
    reason[np.isnan(t)] = IVReason.BAD_INPUT  # a missing date
    iv = np.where(reason == IVReason.OK, iv, np.nan)
    out["implied_vol"] = iv
    out["iv_reason"] = reason
    out["iv_model"] = np.where(american, "american", "black76")
    out["forward"] = fwd
    out["discount_factor"] = dfs
    out["rate"] = carry["rate"][group]
    out["dividend_yield"] = carry["dividend_yield"][group]
    out["carry_source"] = carry["carry_source"][group]
    out["parity_pairs"] = carry["parity_pairs"][group]
    out["parity_residual"] = carry["parity_residual"][group]
    out["T"] = t
    return out
