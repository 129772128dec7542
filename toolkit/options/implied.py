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
from toolkit.options.parity import implied_forward, two_sided


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


DAYS_PER_YEAR = 365.0
CHAIN_COLUMNS = (
    "implied_vol", "iv_reason", "forward", "discount_factor", "parity_pairs", "parity_residual",
    "T",
)


def chain_implied_vols(quotes: pd.DataFrame, *, max_pairs: int = 20) -> pd.DataFrame:
    """Add our implied vols to a canonical quote frame (``toolkit.data.options``).

    Per ``quote_date`` x ``expiry``: forward and discount factor from put-call parity on the
    two-sided pairs (:func:`~toolkit.options.parity.implied_forward`), then the Black implied
    vol of each quote's mid. Returns a copy with columns ``implied_vol`` (NaN unless
    ``iv_reason == IVReason.OK``; the vendor's ``iv`` is left as it is), ``iv_reason`` (int8),
    ``forward``, ``discount_factor``, ``parity_pairs``, ``parity_residual`` and ``T`` (years,
    calendar days between quote date and expiry / 365).
    """
    out = quotes.copy()
    n = len(out)
    fwd = np.full(n, np.nan)
    dfs = np.full(n, np.nan)
    pairs = np.zeros(n, dtype=np.int64)
    resid = np.full(n, np.nan)
    groups = out.groupby(["quote_date", "expiry"], sort=False).indices
    for rows in groups.values():
        grp = out.iloc[rows]
        calls = grp[grp["right"] == "C"].groupby("strike")[["bid", "ask"]].first()
        puts = grp[grp["right"] == "P"].groupby("strike")[["bid", "ask"]].first()
        both = calls.join(puts, how="inner", lsuffix="_c", rsuffix="_p")
        fit = implied_forward(
            both.index.to_numpy(dtype=np.float64),
            both["bid_c"], both["ask_c"], both["bid_p"], both["ask_p"],
            max_pairs=max_pairs,
        )
        fwd[rows] = fit.forward
        dfs[rows] = fit.discount_factor
        pairs[rows] = fit.n_pairs
        resid[rows] = fit.residual
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
    expired = t <= 0.0
    reason = reason.copy()
    reason[no_fwd] = IVReason.NO_FORWARD
    reason[one_sided] = IVReason.NO_TWO_SIDED_QUOTE
    reason[crossed] = IVReason.CROSSED_MARKET
    reason[expired] = IVReason.EXPIRED
    iv = np.where(reason == IVReason.OK, iv, np.nan)
    out["implied_vol"] = iv
    out["iv_reason"] = reason
    out["forward"] = fwd
    out["discount_factor"] = dfs
    out["parity_pairs"] = pairs
    out["parity_residual"] = resid
    out["T"] = t
    return out
