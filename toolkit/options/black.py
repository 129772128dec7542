"""European option prices and Greeks: Black-Scholes-Merton and Black-76, vectorised.

Every argument broadcasts like numpy (scalars, arrays, pandas Series); ``right`` is ``'C'`` /
``'P'`` (case-insensitive, also ``'call'`` / ``'put'``) or ``+1`` / ``-1``. The work happens in
the numba kernels of :mod:`toolkit.options._black`.

Units are QuantLib's (``AnalyticEuropeanEngine``), see :mod:`toolkit.options.conventions` for
the converters to per-day theta, vega per 1 % and IB's ``OptionComputation``:

========  ====================================================================
price     option value in the underlying's currency per unit (x multiplier for a contract)
delta     dV/dS (Black-76: dV/dF)
gamma     d2V/dS2 (Black-76: d2V/dF2)
vega      dV/dsigma per 1.00 of volatility (0.20 -> 1.20)
theta     -dV/dT per year (T in years, Actual/365 if you count days)
rho       dV/dr per 1.00 of rate; Black-76 holds F, so rho = -T V
div. rho  dV/dq per 1.00 of dividend yield (Black-76: 0)
========  ====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from toolkit.options._black import black76_arr_nb, bsm_arr_nb

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Greeks:
    """Price and Greeks of a batch of options (arrays of one broadcast shape, QuantLib units)."""

    price: Array
    delta: Array
    gamma: Array
    vega: Array
    theta: Array
    rho: Array
    dividend_rho: Array


def right_is_call(right: Any) -> NDArray[np.bool_]:
    """``'C'``/``'P'`` (any case, or ``'call'``/``'put'``) or ``+1``/``-1`` -> True for calls.

    Raises ``ValueError`` naming the first value that is neither.
    """
    arr = np.asarray(right)
    if arr.dtype.kind in "iuf":
        ok = (arr == 1) | (arr == -1)
        if not np.all(ok):
            bad = arr[~ok].ravel()[0] if arr.ndim else arr
            raise ValueError(
                f"option right must be +1 (call) or -1 (put), got {np.asarray(bad).item()!r}")
        return np.asarray(arr == 1)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind == "O":
        # Hash lookup: pandas string columns arrive as object arrays (fast for millions).
        mapped = pd.Series(arr.ravel()).map(_SPELLINGS).to_numpy()
        bad_at = np.flatnonzero(pd.isna(mapped))
        if bad_at.size:
            raise ValueError(f"option right must be 'C' or 'P', got {arr.ravel()[bad_at[0]]!r}")
        return mapped.astype(np.bool_).reshape(arr.shape)
    if arr.dtype.kind == "U":
        call = np.zeros(arr.shape, dtype=np.bool_)
        known = np.zeros(arr.shape, dtype=np.bool_)
        for spelling, is_call in _SPELLINGS.items():
            hit = arr == spelling
            call |= hit & is_call
            known |= hit
        if not np.all(known):
            bad = arr[~known].ravel()[0] if arr.ndim else arr
            raise ValueError(f"option right must be 'C' or 'P', got {str(bad)!r}")
        return call
    raise ValueError(f"option right must be 'C'/'P' or +1/-1, got an array of {arr.dtype}")


_SPELLINGS = {s: s[0].upper() == "C" for s in
              ("C", "P", "c", "p", "call", "put", "CALL", "PUT", "Call", "Put")}


def _prepare(right: Any, *args: ArrayLike) -> tuple[tuple[int, ...], list[Array]]:
    """Broadcast ``right`` and the numeric args; return the shape and flat contiguous arrays."""
    call = right_is_call(right)
    nums = [np.asarray(a, dtype=np.float64) for a in args]
    shaped = np.broadcast_arrays(call, *nums)
    shape = shaped[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in shaped]
    return shape, flat


def _non_negative(names: str, arrays: list[Array]) -> None:
    """A negative spot, strike, time, vol, forward or discount factor is a caller's error,
    not a price: ValueError naming the argument and its first negative value (NaN passes
    through as 'unknown' and gives NaN)."""
    for name, a in zip(names.split(), arrays, strict=True):
        bad = a < 0.0
        if bad.any():
            raise ValueError(
                f"option pricing: {name} must be >= 0, got {float(a[np.flatnonzero(bad)[0]])!r}"
            )


def _run_bsm(right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike,
             q: ArrayLike, sigma: ArrayLike, greeks: bool) -> tuple[tuple[int, ...], Array]:
    shape, f = _prepare(right, S, K, T, r, q, sigma)
    _non_negative("S K T sigma", [f[1], f[2], f[3], f[6]])
    out = np.empty((7 if greeks else 1, f[0].shape[0]))
    bsm_arr_nb(f[0].astype(np.bool_), f[1], f[2], f[3], f[4], f[5], f[6], out, greeks)
    return shape, out


def _run_b76(right: Any, F: ArrayLike, K: ArrayLike, T: ArrayLike, df: ArrayLike,
             sigma: ArrayLike, greeks: bool) -> tuple[tuple[int, ...], Array]:
    shape, f = _prepare(right, F, K, T, df, sigma)
    _non_negative("F K T df sigma", [f[1], f[2], f[3], f[4], f[5]])
    out = np.empty((7 if greeks else 1, f[0].shape[0]))
    black76_arr_nb(f[0].astype(np.bool_), f[1], f[2], f[3], f[4], f[5], out, greeks)
    return shape, out


def _greeks(shape: tuple[int, ...], out: Array) -> Greeks:
    rows = [out[i].reshape(shape) for i in range(7)]
    return Greeks(*rows)


def bsm_price(right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike,
              q: ArrayLike, sigma: ArrayLike) -> Array:
    """Black-Scholes-Merton price with continuous dividend yield ``q`` (T in years)."""
    shape, out = _run_bsm(right, S, K, T, r, q, sigma, False)
    return np.asarray(out[0].reshape(shape), dtype=np.float64)


def bsm_greeks(right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike,
               q: ArrayLike, sigma: ArrayLike) -> Greeks:
    """Black-Scholes-Merton price and Greeks (QuantLib units, see the module table)."""
    shape, out = _run_bsm(right, S, K, T, r, q, sigma, True)
    return _greeks(shape, out)


def black76_price(right: Any, F: ArrayLike, K: ArrayLike, T: ArrayLike, df: ArrayLike,
                  sigma: ArrayLike) -> Array:
    """Black-76 price on the forward ``F`` with discount factor ``df`` to expiry."""
    shape, out = _run_b76(right, F, K, T, df, sigma, False)
    return np.asarray(out[0].reshape(shape), dtype=np.float64)


def black76_greeks(right: Any, F: ArrayLike, K: ArrayLike, T: ArrayLike, df: ArrayLike,
                   sigma: ArrayLike) -> Greeks:
    """Black-76 price and Greeks (delta/gamma on F; rho with F held = -T V; dividend rho 0)."""
    shape, out = _run_b76(right, F, K, T, df, sigma, True)
    return _greeks(shape, out)
