"""Implied volatility you can trust: never a silent 0, a reason code for every NaN.

:func:`implied_vol` inverts Black-76 (``price`` discounted, forward ``F``, discount factor
``df``) on the out-of-the-money side -- an in-the-money quote is mapped through put-call
parity first -- with the normalised Householder solver of :mod:`toolkit.options._implied`
(after Jäckel, "Let's Be Rational", Wilmott 2015). :func:`chain_implied_vols` does a whole
quote frame: per quote date x expiry it implies the forward and discount factor from
put-call parity (:func:`toolkit.options.parity.implied_forward`) and inverts the mids.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from toolkit.options import _implied as k
from toolkit.options.black import right_is_call
from toolkit.options.parity import NO_FIT, implied_forward, two_sided


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
    "implied_vol", "iv_reason", "forward", "discount_factor", "parity_pairs", "parity_residual",
    "T",
)


def chain_implied_vols(quotes: pd.DataFrame, *, max_pairs: int = 60) -> pd.DataFrame:
    """Add our implied vols to a canonical quote frame (``toolkit.data.options``).

    Per chain (``underlying`` x ``root`` where the frame has them, x ``quote_date`` x
    ``expiry``): forward and discount factor from put-call parity on the
    two-sided pairs (:func:`~toolkit.options.parity.implied_forward`), then the Black implied
    vol of each quote's mid. Returns a copy with columns ``implied_vol`` (NaN unless
    ``iv_reason == IVReason.OK``; the vendor's ``iv`` is left as it is), ``iv_reason`` (int8),
    ``forward``, ``discount_factor``, ``parity_pairs``, ``parity_residual`` and ``T`` (years,
    calendar days between quote date and expiry / 365). On American chains (``style == 'A'``,
    SPY) these are European-equivalent Black vols off a parity forward that early exercise
    bends; :mod:`toolkit.options.american` inverts the American model itself.
    """
    out = quotes.copy()
    # One chain = one underlying and OCC root (SPX AM and SPXW PM can share an expiry date).
    keys = [c for c in ("underlying", "root") if c in out.columns] + ["quote_date", "expiry"]
    group = out.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    side = pd.DataFrame({"g": group, "strike": out["strike"].to_numpy(dtype=np.float64),
                         "bid": out["bid"].to_numpy(dtype=np.float64),
                         "ask": out["ask"].to_numpy(dtype=np.float64)})
    is_call = (out["right"] == "C").to_numpy()
    calls = side[is_call].drop_duplicates(["g", "strike"])
    puts = side[~is_call].drop_duplicates(["g", "strike"])
    pairs_df = calls.merge(puts, on=["g", "strike"], suffixes=("_c", "_p")).sort_values(
        ["g", "strike"], kind="stable")
    g_of_pair = pairs_df["g"].to_numpy()
    cols = [pairs_df[c].to_numpy(dtype=np.float64)
            for c in ("strike", "bid_c", "ask_c", "bid_p", "ask_p")]
    cuts = np.flatnonzero(np.diff(g_of_pair)) + 1
    # One fit per group, plus a trailing NO_FIT that group -1 (a NaT key) picks up.
    fits = [NO_FIT] * (int(group.max(initial=-1)) + 2)
    for chunk in np.split(np.arange(g_of_pair.size), cuts):
        if chunk.size:
            fits[int(g_of_pair[chunk[0]])] = implied_forward(
                *(c[chunk] for c in cols), max_pairs=max_pairs)
    fwd = np.array([f.forward for f in fits], dtype=np.float64)[group]
    dfs = np.array([f.discount_factor for f in fits], dtype=np.float64)[group]
    pairs = np.array([f.n_pairs for f in fits], dtype=np.int64)[group]
    resid = np.array([f.residual for f in fits], dtype=np.float64)[group]
    days = (out["expiry"] - out["quote_date"]).dt.days.to_numpy(dtype=np.float64)
    t = days / DAYS_PER_YEAR
    bid = out["bid"].to_numpy(dtype=np.float64)
    ask = out["ask"].to_numpy(dtype=np.float64)
    mid = 0.5 * (bid + ask)
    iv, reason = implied_vol(mid, out["right"].to_numpy(), fwd, out["strike"], t, dfs)
    with np.errstate(invalid="ignore"):
        crossed = np.isfinite(bid) & np.isfinite(ask) & (bid > ask)
    one_sided = ~two_sided(bid, ask) & ~crossed
    no_fwd = ~np.isfinite(fwd)
    with np.errstate(invalid="ignore"):
        expired = ~(t > 0.0)
    reason = reason.copy()
    reason[no_fwd] = IVReason.NO_FORWARD
    reason[one_sided] = IVReason.NO_TWO_SIDED_QUOTE
    reason[crossed] = IVReason.CROSSED_MARKET
    reason[expired] = IVReason.EXPIRED
    reason[np.isnan(t)] = IVReason.BAD_INPUT  # a missing date
    iv = np.where(reason == IVReason.OK, iv, np.nan)
    out["implied_vol"] = iv
    out["iv_reason"] = reason
    out["forward"] = fwd
    out["discount_factor"] = dfs
    out["parity_pairs"] = pairs
    out["parity_residual"] = resid
    out["T"] = t
    return out
