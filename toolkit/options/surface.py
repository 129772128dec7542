"""Implied-volatility smile, term structure and surface of one quote date, fitted with SVI.

Per expiry (one OCC root and expiry: one slice) the smile is the Black implied vol of each
strike's out-of-the-money mid (puts below the forward, calls at and above it), from
:func:`toolkit.options.implied.chain_implied_vols` (forward and discount factor from put-call
parity, no external rate), against log-moneyness ``k = ln(K / F)``.

Each slice is fitted with Gatheral's raw SVI (Gatheral 2004, "A parsimonious arbitrage-free
implied volatility parameterization"; Gatheral and Jacquier 2014, "Arbitrage-free SVI
volatility surfaces", Quantitative Finance 14(1), eq. 3.1) for the total implied variance
``w(k) = sigma_BS(k)^2 T``::

    w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))

by weighted least squares in volatility (weight 1 / the quote's bid-ask half-spread in vol,
floored at 0.25 vol points), with ``b >= 0``, ``|rho| < 1``, ``sigma > 0``, a non-negative
minimum ``a + b sigma sqrt(1 - rho^2) >= 0`` and Lee's wing bound ``b (1 + |rho|) <= 2``.
A slice is free of butterfly arbitrage where the density function of Gatheral-Jacquier (eq. 2.1)

    g(k) = (1 - k w'/(2w))^2 - (w'^2 / 4) (1/w + 1/4) + w''/2

is non-negative. It is checked on a grid of :data:`GRID_POINTS` log-moneyness points spanning
the slice's quotes; a fit with negative g anywhere on it is refitted with a penalty on the
negative part (growing until none is left), and both the violations of the first fit and of the
final one are reported. The fit error is reported per slice as RMSE and max error in vol points
(1 vol point = 0.01) against the market mids' implied vols, and the share of quotes whose fitted
vol lies within their bid-ask vol spread.

Across expiries the surface is free of calendar arbitrage where total variance does not
decrease with maturity at fixed forward moneyness (Gatheral-Jacquier, Lemma 2.1: ``dw/dT >= 0``);
consecutive slices are compared on the log-moneyness range both cover, and every crossing is
reported (not repaired: which slice is wrong is a trading judgement).

The 30-day constant-maturity IV interpolates total variance linearly in time between the two
expiries bracketing 30 days, as Cboe's VIX does with its near- and next-term variances (Cboe,
"Cboe Volatility Index" white paper, 2019, "Step 3": sigma^2 = [T1 s1^2 (N2 - N30)/(N2 - N1) +
T2 s2^2 (N30 - N1)/(N2 - N1)] x N365/N30), here applied to each slice's at-the-forward SVI vol
(``k = 0``). Times are calendar days / 365 from the quote date's close (``T`` of
chain_implied_vols; Cboe counts minutes to the settlement time).

scipy.optimize.least_squares does the fits (scipy is a runtime dependency for this module).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq, least_squares, minimize
from scipy.special import erfc

from toolkit.errors import ConfigError, DataError
from toolkit.options.american import american_implied_vol
from toolkit.options.implied import DAYS_PER_YEAR, IVReason, chain_implied_vols, implied_vol

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

Array = NDArray[np.float64]
GRID_POINTS = 201
MIN_QUOTES = 5  # fewer out-of-the-money quotes with an implied vol: the slice is not fitted
VOL_POINT = 0.01
_SPREAD_FLOOR = 0.0025  # weights use at least a quarter vol point of half-spread
_G_TARGET = 1e-6  # the repair pushes g above this, so rounding cannot leave it below 0
_MAX_REPAIRS = 8
# Standard (monthly) SPX options settle at the opening print of their expiry day (SOQ), 6.5
# hours before the close the T of chain_implied_vols counts to; Cboe's VIX counts minutes to
# the settlement time (white paper, "Step 1"). SPXW and SPXPM settle at the close.
AM_SETTLED = frozenset({"SPX"})
AM_SETTLEMENT_EARLY = 6.5 / 24.0 / DAYS_PER_YEAR


@dataclass(frozen=True)
class SVI:
    """Raw SVI parameters of one slice: total variance ``w(k)`` at log-moneyness ``k``."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def total_variance(self, k: ArrayLike) -> Array:
        """``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))``."""
        x = np.asarray(k, dtype=np.float64) - self.m
        return np.asarray(
            self.a + self.b * (self.rho * x + np.sqrt(x * x + self.sigma**2)), dtype=np.float64
        )

    def implied_vol(self, k: ArrayLike, T: float) -> Array:
        """Black implied vol ``sqrt(w(k) / T)`` (NaN where w < 0)."""
        w = self.total_variance(k)
        with np.errstate(invalid="ignore"):
            return np.asarray(np.sqrt(w / T), dtype=np.float64)

    def g(self, k: ArrayLike) -> Array:
        """Gatheral-Jacquier's density function g(k) (eq. 2.1); >= 0 means no butterfly
        arbitrage at k."""
        kk = np.asarray(k, dtype=np.float64)
        x = kk - self.m
        root = np.sqrt(x * x + self.sigma**2)
        w = self.a + self.b * (self.rho * x + root)
        w1 = self.b * (self.rho + x / root)
        w2 = self.b * self.sigma**2 / root**3
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (1.0 - kk * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
        return np.asarray(np.where(w > 0, out, -np.inf), dtype=np.float64)

    def min_variance(self) -> float:
        """The smallest total variance over all k: ``a + b sigma sqrt(1 - rho^2)``."""
        return float(self.a + self.b * self.sigma * np.sqrt(1.0 - self.rho**2))


def delta_k(params: SVI, delta: float, lo: float, hi: float) -> float:
    """Log-moneyness where the forward delta N(d1) of a call (``delta`` > 0) or N(d1) - 1 of a
    put (``delta`` < 0) equals ``delta`` on the SVI smile, with d1 = (-k + w/2) / sqrt(w)
    (Black-76 without discounting: the "forward delta" of FX and vol-surface quoting). NaN
    when it lies outside ``[lo, hi]`` (the quotes' range: no extrapolation)."""
    target = delta if delta > 0 else 1.0 + delta
    k = np.linspace(lo, hi, 2001)
    w = params.total_variance(k)
    with np.errstate(invalid="ignore", divide="ignore"):
        d1 = (-k + 0.5 * w) / np.sqrt(w)
    nd1 = 0.5 * erfc(-d1 / np.sqrt(2.0))
    diff = nd1 - target
    cross = np.flatnonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) <= 0)
    if not len(cross):
        return float("nan")
    i = int(cross[0])
    return float(brentq(lambda x: _nd1(params, x) - target, k[i], k[i + 1], xtol=1e-12))


def _nd1(params: SVI, k: float) -> float:
    w = float(params.total_variance(k))
    return float(0.5 * erfc(-((-k + 0.5 * w) / np.sqrt(w)) / np.sqrt(2.0)))


@dataclass(frozen=True)
class SliceFit:
    """One expiry's SVI fit and its report.

    ``rmse``/``max_error`` are in vol points over the ``n_quotes`` quotes fitted;
    ``within_spread`` the share of them whose fitted vol lies inside their bid-ask vol range;
    ``min_g`` the smallest g on the grid (>= 0: no butterfly arbitrage);
    ``butterfly_violations`` the grid points with g < 0 after the fit (0 unless the repair
    failed) and ``violations_before_repair`` those of the unpenalised fit.
    """

    expiry: pd.Timestamp
    root: str
    T: float
    forward: float
    discount_factor: float
    params: SVI
    n_quotes: int
    k_min: float
    k_max: float
    rmse: float
    max_error: float
    within_spread: float
    atm_iv: float
    min_g: float
    butterfly_violations: int
    violations_before_repair: int

    @property
    def days(self) -> float:
        return self.T * DAYS_PER_YEAR

    def grid(self, points: int = GRID_POINTS) -> Array:
        return np.linspace(self.k_min, self.k_max, points)

    def skew(self) -> dict[str, float]:
        """25-delta put and call vols of the fitted smile (forward delta, see :func:`delta_k`),
        the risk reversal ``rr25 = call - put`` and butterfly ``bf25 = (call + put)/2 - ATM``;
        NaN where a 25-delta strike lies outside the quotes."""
        k_put = delta_k(self.params, -0.25, self.k_min, self.k_max)
        k_call = delta_k(self.params, 0.25, self.k_min, self.k_max)
        put = float(self.params.implied_vol(k_put, self.T)) if np.isfinite(k_put) else np.nan
        call = float(self.params.implied_vol(k_call, self.T)) if np.isfinite(k_call) else np.nan
        return {
            "put25_iv": put,
            "call25_iv": call,
            "rr25": call - put,
            "bf25": 0.5 * (call + put) - self.atm_iv,
        }


@dataclass(frozen=True)
class Surface:
    """The fitted slices of one quote date (by maturity), the calendar-arbitrage report, the
    smile they were fitted to and the slices left out (with the reason)."""

    quote_date: pd.Timestamp
    underlying: str
    underlying_price: float
    slices: tuple[SliceFit, ...]
    calendar: pd.DataFrame
    smile: pd.DataFrame
    skipped: tuple[tuple[str, str], ...] = field(default=())

    def __iter__(self) -> Iterator[SliceFit]:
        return iter(self.slices)

    def term_structure(self) -> pd.DataFrame:
        """One row per fitted expiry: days, T, forward, ATM (k = 0) vol, 25-delta skew (put and
        call vols, risk reversal, butterfly), fit errors, g and the SVI parameters."""
        return pd.DataFrame(
            [
                {
                    "expiry": s.expiry,
                    "root": s.root,
                    "days": s.days,
                    "T": s.T,
                    "forward": s.forward,
                    "atm_iv": s.atm_iv,
                    "atm_total_variance": s.atm_iv**2 * s.T,
                    **s.skew(),
                    "n_quotes": s.n_quotes,
                    "rmse_vol_points": s.rmse,
                    "max_error_vol_points": s.max_error,
                    "within_spread": s.within_spread,
                    "min_g": s.min_g,
                    "butterfly_violations": s.butterfly_violations,
                    "violations_before_repair": s.violations_before_repair,
                    **{f"svi_{n}": getattr(s.params, n) for n in ("a", "b", "rho", "m", "sigma")},
                }
                for s in self.slices
            ]
        )

    def vol_grid(self, points: int = 41) -> pd.DataFrame:
        """The fitted surface for plotting: ``points`` log-moneyness values across each slice's
        quotes, with columns expiry, days, k, strike (= F e^k), iv and w (total variance)."""
        parts = []
        for s in self.slices:
            k = s.grid(points)
            parts.append(
                pd.DataFrame(
                    {
                        "expiry": s.expiry,
                        "days": s.days,
                        "k": k,
                        "strike": s.forward * np.exp(k),
                        "iv": s.params.implied_vol(k, s.T),
                        "w": s.params.total_variance(k),
                    }
                )
            )
        columns = ["expiry", "days", "k", "strike", "iv", "w"]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

    def implied_vol(self, strike: ArrayLike, expiry: str | pd.Timestamp) -> Array:
        """The fitted vol of strikes at one expiry (a fitted slice's)."""
        when = pd.Timestamp(expiry)
        for s in self.slices:
            if s.expiry == when:
                k = np.log(np.asarray(strike, dtype=np.float64) / s.forward)
                return s.params.implied_vol(k, s.T)
        raise DataError(
            f"no fitted slice expires {when.date()}; fitted: "
            + ", ".join(str(s.expiry.date()) for s in self.slices)
        )

    def plot(self, kind: str = "smile", **options: Any) -> Figure:
        """Interactive figure of the fit: ``"smile"`` (fitted and market vols by strike per
        expiry, :func:`toolkit.charts.smile_figure`) or ``"surface"`` (3D,
        :func:`toolkit.charts.surface_figure`)."""
        from toolkit.charts import smile_figure, surface_figure

        if kind == "surface":
            return surface_figure(self, **options)
        if kind != "smile":
            raise ConfigError(f"kind must be 'smile' or 'surface', not {kind!r}.")
        return smile_figure(self, **options)

    def constant_maturity_iv(self, days: float = 30.0, *, extrapolate: bool = False) -> CMIV:
        """The ``days`` constant-maturity ATM vol (see the module docstring)."""
        return constant_maturity_iv(
            [s.T for s in self.slices], [s.atm_iv for s in self.slices], days, extrapolate
        )


@dataclass(frozen=True)
class CMIV:
    """A constant-maturity implied vol and how it was obtained: 'interpolated' (between the
    bracketing expiries ``days_before`` and ``days_after``), 'exact' (an expiry at ``days``),
    'extrapolated' (flat vol from the nearest expiry, only when asked) or 'no bracket' (NaN)."""

    iv: float
    method: str
    days_before: float
    days_after: float


def interpolate_total_variance(T1: float, var1: float, T2: float, var2: float, T: float) -> float:
    """Annualised variance at ``T`` from annualised variances at ``T1 < T <= T2``, linear in
    total variance ``var T`` over time (Cboe VIX white paper, step 3)."""
    if not T1 < T2:
        raise ValueError(f"need T1 < T2, got {T1} and {T2}")
    w = T1 * var1 * (T2 - T) / (T2 - T1) + T2 * var2 * (T - T1) / (T2 - T1)
    return float(w / T)


def constant_maturity_iv(
    T: ArrayLike, iv: ArrayLike, days: float = 30.0, extrapolate: bool = False
) -> CMIV:
    """Constant-maturity vol at ``days`` calendar days from per-expiry vols (any order)."""
    t = np.asarray(T, dtype=np.float64)
    v = np.asarray(iv, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(v) & (t > 0)
    t, v = t[ok], v[ok]
    order = np.argsort(t)
    t, v = t[order], v[order]
    target = days / DAYS_PER_YEAR
    if not len(t):
        return CMIV(np.nan, "no bracket", np.nan, np.nan)
    d = t * DAYS_PER_YEAR
    exact = np.isclose(t, target, rtol=0, atol=1e-12)
    if exact.any():
        i = int(np.flatnonzero(exact)[0])
        return CMIV(float(v[i]), "exact", float(d[i]), float(d[i]))
    below, above = np.flatnonzero(t < target), np.flatnonzero(t > target)
    if len(below) and len(above):
        i, j = int(below[-1]), int(above[0])
        var = interpolate_total_variance(t[i], v[i] ** 2, t[j], v[j] ** 2, target)
        return CMIV(float(np.sqrt(var)), "interpolated", float(d[i]), float(d[j]))
    nearest = int(below[-1]) if len(below) else int(above[0])
    if extrapolate:
        return CMIV(float(v[nearest]), "extrapolated", float(d[nearest]), float(d[nearest]))
    return CMIV(np.nan, "no bracket", float(d[nearest]), float(d[nearest]))


def _no_call_above(calls: dict[float, tuple[float, float]], F: float) -> bool:
    """No call strike above the forward: the strip cannot be built."""
    return not calls or max(calls) <= F


def cboe_variance(chain: pd.DataFrame) -> float:
    """One expiry's model-free variance by the Cboe VIX formula (white paper, "Step 2")::

        sigma^2 = 2/T sum_i dK_i / K_i^2 e^{RT} Q(K_i) - 1/T (F / K0 - 1)^2

    ``chain``: one expiry's rows of :func:`~toolkit.options.implied.chain_implied_vols`
    (forward ``F``, discount factor ``e^{-RT}``, ``T``). ``K0`` is the first strike at or below
    the forward; ``Q`` the mid of the out-of-the-money option (the average of put and call at
    ``K0``); strikes are taken outwards from ``K0`` while bids are non-zero, stopping after two
    consecutive zero bids, as Cboe does; ``dK_i`` is half the distance between the neighbouring
    strikes (the one neighbour's distance at the ends). NaN without a forward or quotes.
    """
    F = float(chain["forward"].iloc[0])
    T = float(chain["T"].iloc[0])
    df = float(chain["discount_factor"].iloc[0])
    if not (np.isfinite(F) and np.isfinite(df) and T > 0):
        return float("nan")

    def book(right: str) -> dict[float, tuple[float, float]]:
        side = chain[chain["right"] == right]
        strikes = side["strike"].to_numpy(dtype=np.float64)
        bids = side["bid"].to_numpy(dtype=np.float64)
        asks = side["ask"].to_numpy(dtype=np.float64)
        return {float(k): (float(b), float(a)) for k, b, a in zip(strikes, bids, asks, strict=True)}

    calls, puts = book("C"), book("P")
    below = [k for k in puts if k <= F]
    if not below or _no_call_above(calls, F):
        return float("nan")
    k0 = max(below)
    if k0 not in calls:
        return float("nan")

    def walk(
        quotes: dict[float, tuple[float, float]], strikes: list[float]
    ) -> list[tuple[float, float]]:
        taken, zeros = [], 0
        for K in strikes:
            bid, ask = quotes[K]
            if not bid > 0:
                zeros += 1
                if zeros == 2:
                    break
                continue
            zeros = 0
            taken.append((K, 0.5 * (bid + ask)))
        return taken

    put_side = walk(puts, sorted((k for k in puts if k < k0), reverse=True))
    call_side = walk(calls, sorted(k for k in calls if k > k0))
    centre = 0.5 * (0.5 * sum(puts[k0]) + 0.5 * sum(calls[k0]))
    strikes_q = sorted([*put_side, (k0, centre), *call_side])
    K = np.array([x[0] for x in strikes_q])
    Q = np.array([x[1] for x in strikes_q])
    if len(K) < 3:
        return float("nan")
    dK = np.empty_like(K)
    dK[1:-1] = 0.5 * (K[2:] - K[:-2])
    dK[0], dK[-1] = K[1] - K[0], K[-1] - K[-2]
    total = float(np.sum(dK / K**2 * Q)) / df
    return 2.0 / T * total - (F / k0 - 1.0) ** 2 / T


def cboe_index(quotes: pd.DataFrame, days: float = 30.0) -> CMIV:
    """A VIX-style index of one quote date's chain: :func:`cboe_variance` of the two
    expiries bracketing ``days``, interpolated in total variance (Cboe "Step 3"), as a vol
    (0.1761 for a VIX of 17.61). For the SPX chain this is our recomputation of the VIX; for
    other underlyings, the same model-free 30-day vol."""
    dates = quotes["quote_date"].unique()
    if len(dates) != 1:
        raise DataError(f"cboe_index() needs the quotes of one quote date; got {len(dates)}.")
    parts = [chain_implied_vols(chain) for _, chain in quotes.groupby("root", sort=True)]
    c = pd.concat(parts, ignore_index=True)
    T, var = [], []
    for (_, root), sl in c.groupby(["expiry", "root"], sort=True):
        t = float(sl["T"].iloc[0]) - (AM_SETTLEMENT_EARLY if root in AM_SETTLED else 0.0)
        if t > 0:
            T.append(t)
            var.append(cboe_variance(sl.assign(T=t)))
    vols = np.sqrt(np.maximum(np.array(var), 0.0))
    return constant_maturity_iv(T, vols, days)


def smile(quotes: pd.DataFrame) -> pd.DataFrame:
    """The out-of-the-money smile of every slice of one quote date's chain.

    Columns: expiry, root, T, forward, discount_factor, strike, k (= ln(K/F)), right, iv (our
    implied vol of the mid), iv_bid, iv_ask (by the same model: American for American chains;
    NaN where the bid is below intrinsic or zero),
    w (= iv^2 T). Only quotes with an implied vol (reason OK) and T > 0. For AM-settled roots
    (:data:`AM_SETTLED`) T ends at the opening settlement, 6.5 hours before the close that
    chain_implied_vols counts to; a Black price depends on sigma sqrt(T) only, so their vols
    are rescaled by sqrt(T_close / T_open) (4-day SPX options: 3.5 % higher).
    """
    dates = quotes["quote_date"].unique()
    if len(dates) != 1:
        raise DataError(
            f"smile() needs the quotes of one quote date; got {len(dates)}. "
            "Select one, e.g. quotes[quotes.quote_date == '2018-02-05']."
        )
    parts = []
    for _, chain in quotes.groupby("root", sort=True):
        parts.append(chain_implied_vols(chain))
    c = pd.concat(parts, ignore_index=True)
    call = (c["right"] == "C").to_numpy()
    otm = np.where(call, c["strike"] >= c["forward"], c["strike"] < c["forward"])
    early = np.where(c["root"].isin(list(AM_SETTLED)).to_numpy(), AM_SETTLEMENT_EARLY, 0.0)
    live = (c["T"].to_numpy(dtype=np.float64) - early) > 0
    keep = otm & (c["iv_reason"] == IVReason.OK).to_numpy() & live
    c = c[keep]
    args = (c["right"].to_numpy(), c["forward"], c["strike"], c["T"], c["discount_factor"])
    iv_bid, _ = implied_vol(c["bid"].to_numpy(dtype=np.float64), *args)
    iv_ask, _ = implied_vol(c["ask"].to_numpy(dtype=np.float64), *args)
    am = (c["iv_model"] == "american").to_numpy()
    if am.any():  # American rows: bid and ask by the model their mid was inverted with
        a = c[am]
        a_args = (a["right"].to_numpy(), a["underlying_price"], a["strike"], a["T"], a["rate"],
                  a["dividend_yield"])
        iv_bid[am] = american_implied_vol(a["bid"].to_numpy(dtype=np.float64), *a_args)[0]
        iv_ask[am] = american_implied_vol(a["ask"].to_numpy(dtype=np.float64), *a_args)[0]
    t_close = c["T"].to_numpy(dtype=np.float64)
    am = c["root"].isin(list(AM_SETTLED)).to_numpy()
    t = np.where(am, t_close - AM_SETTLEMENT_EARLY, t_close)
    scale = np.sqrt(t_close / t)
    out = pd.DataFrame(
        {
            "expiry": c["expiry"].to_numpy(),
            "root": c["root"].to_numpy(),
            "T": t,
            "forward": c["forward"].to_numpy(dtype=np.float64),
            "discount_factor": c["discount_factor"].to_numpy(dtype=np.float64),
            "strike": c["strike"].to_numpy(dtype=np.float64),
            "k": np.log(c["strike"].to_numpy(dtype=np.float64) / c["forward"].to_numpy()),
            "right": c["right"].to_numpy(),
            "iv": c["implied_vol"].to_numpy(dtype=np.float64) * scale,
            "iv_bid": iv_bid * scale,
            "iv_ask": iv_ask * scale,
        }
    )
    out["w"] = out["iv"] ** 2 * out["T"]
    return out.sort_values(["expiry", "root", "k"], ignore_index=True)


def _raw_residuals(
    p: Array, k: Array, iv: Array, sw: Array, T: float, grid: Array, penalty: float
) -> Array:
    params = SVI(*(float(x) for x in p))
    w = params.total_variance(k)
    fit = np.sqrt(np.maximum(w, 1e-12) / T)
    res = [(fit - iv) * sw]
    # constraints as penalties: a non-negative minimum variance, Lee's wing bound
    res.append(np.array([100.0 * max(0.0, -params.min_variance())]))
    res.append(np.array([100.0 * max(0.0, params.b * (1.0 + abs(params.rho)) - 2.0)]))
    if penalty > 0:
        res.append(penalty * np.maximum(0.0, _G_TARGET - params.g(grid)).clip(max=1e3))
    return np.concatenate(res)


def _raw_jacobian(
    p: Array, k: Array, iv: Array, sw: Array, T: float, grid: Array, penalty: float
) -> Array:
    """Analytic Jacobian of :func:`_raw_residuals` without the g penalty (``penalty == 0``):
    dw/da = 1, dw/db = rho x + R, dw/drho = b x, dw/dm = -b (rho + x / R), dw/dsigma =
    b sigma / R with x = k - m, R = sqrt(x^2 + sigma^2); d vol = dw / (2 T vol)."""
    a, b, rho, m, sig = (float(v) for v in p)
    x = k - m
    root = np.sqrt(x * x + sig * sig)
    w = a + b * (rho * x + root)
    vol = np.sqrt(np.maximum(w, 1e-12) / T)
    dw = np.stack([np.ones_like(x), rho * x + root, b * x, -b * (rho + x / root), b * sig / root])
    scale = np.where(w > 1e-12, sw / (2.0 * T * vol), 0.0)
    out = np.zeros((len(k) + 2, 5))
    out[: len(k)] = (dw * scale).T
    s1 = np.sqrt(max(1.0 - rho * rho, 1e-300))
    if a + b * sig * s1 < 0:
        out[len(k)] = -100.0 * np.array([1.0, sig * s1, -b * sig * rho / s1, 0.0, b * s1])
    if b * (1.0 + abs(rho)) > 2.0:
        out[len(k) + 1] = 100.0 * np.array([0.0, 1.0 + abs(rho), b * np.sign(rho), 0.0, 0.0])
    return out


def _inner(m: float, sig: float, k: Array, w: Array, sw: Array) -> tuple[Array, float]:
    """For fixed ``m`` and ``sigma`` raw SVI is linear in ``(a, d, c) = (a, rho b sigma,
    b sigma)`` with ``y = (k - m) / sigma``: ``w = a + d y + c sqrt(y^2 + 1)`` (Zeliade's
    quasi-explicit calibration, De Marco and Martini 2009). Weighted least squares, then the
    parameters are clipped into the admissible set; returns them and the weighted SSE."""
    y = (k - m) / sig
    z = np.sqrt(y * y + 1.0)
    design = np.stack([sw, y * sw, z * sw])  # rows: the weighted columns 1, y, z
    try:
        a, d, c = (float(x) for x in np.linalg.solve(design @ design.T, design @ (w * sw)))
    except np.linalg.LinAlgError:
        return np.array([0.0, 0.0, 0.0, m, sig]), np.inf
    c = min(max(c, 1e-10), 2.0 * sig)
    d = float(np.clip(d, -0.999 * c, 0.999 * c))
    b, rho = c / sig, d / c
    a = max(a, -b * sig * np.sqrt(1.0 - rho * rho))
    p = np.array([a, b, rho, m, sig])
    fit = a + d * y + c * z
    return p, float(np.sum(((fit - w) * sw) ** 2))


def _start(k: Array, iv: Array, sw: Array, T: float) -> Array:
    """A starting point for the fit in vol: the best quasi-explicit fit over (m, sigma)."""
    w = iv * iv * T
    sw_w = sw / (2.0 * iv * T)  # a vol error dv is a total-variance error 2 v T dv
    span = max(float(k.max() - k.min()), 1e-3)
    best: tuple[float, Array] | None = None
    for m0 in (float(k[int(np.argmin(w))]), 0.0):
        for s0 in (0.1 * span,):
            sol = minimize(
                lambda x: _inner(float(x[0]), float(np.exp(x[1])), k, w, sw_w)[1],
                np.array([m0, np.log(s0 + 1e-4)]),
                method="Nelder-Mead",
                options={"xatol": 1e-5, "fatol": 1e-12, "maxiter": 300},
            )
            p, sse = _inner(float(sol.x[0]), float(np.exp(sol.x[1])), k, w, sw_w)
            if best is None or sse < best[0]:
                best = (sse, p)
    assert best is not None
    return best[1]


def fit_svi(
    k: ArrayLike,
    iv: ArrayLike,
    T: float,
    *,
    weights: ArrayLike | None = None,
    grid: ArrayLike | None = None,
) -> tuple[SVI, int, int]:
    """Fit raw SVI to implied vols ``iv`` at log-moneyness ``k`` of one expiry ``T``.

    A quasi-explicit fit in total variance gives the start, a bounded least-squares fit in
    vol (constraints as penalties) the parameters. Returns them, the grid points where that
    fit had g < 0, and those left after the repair (see the module docstring). ``grid``
    defaults to :data:`GRID_POINTS` points spanning ``k``.
    """
    kk = np.asarray(k, dtype=np.float64)
    vv = np.asarray(iv, dtype=np.float64)
    sw = np.sqrt(np.ones_like(kk) if weights is None else np.asarray(weights, dtype=np.float64))
    g_grid = np.linspace(kk.min(), kk.max(), GRID_POINTS) if grid is None else np.asarray(grid)
    span = max(float(kk.max() - kk.min()), 1e-3)
    wmax = float((vv**2 * T).max())
    lower = np.array([-wmax, 0.0, -0.999, float(kk.min()) - span, 1e-4])
    upper = np.array([wmax, 2.0, 0.999, float(kk.max()) + span, 2.0 * span + 0.1])
    x = np.clip(_start(kk, vv, sw, T), lower + 1e-9, upper - 1e-9)
    penalty = 0.0
    before = -1
    for _ in range(_MAX_REPAIRS + 1):
        sol = least_squares(
            _raw_residuals,
            x,
            args=(kk, vv, sw, T, g_grid, penalty),
            jac=_raw_jacobian if penalty == 0 else "2-point",
            bounds=(lower, upper),
            method="trf",
            x_scale="jac",
            max_nfev=1000,
        )
        x = np.clip(sol.x, lower + 1e-9, upper - 1e-9)
        params = SVI(*(float(v) for v in sol.x))
        bad = int((params.g(g_grid) < 0).sum())
        before = bad if before < 0 else before
        if not bad:
            break
        penalty = 10.0 if penalty == 0 else penalty * 10.0
    return params, before, bad


def fit_slice(sm: pd.DataFrame) -> SliceFit:
    """Fit one slice of :func:`smile`'s frame (one expiry and root)."""
    T = float(sm["T"].iloc[0])
    k = sm["k"].to_numpy(dtype=np.float64)
    iv = sm["iv"].to_numpy(dtype=np.float64)
    lo, hi = sm["iv_bid"].to_numpy(dtype=np.float64), sm["iv_ask"].to_numpy(dtype=np.float64)
    half = np.where(np.isfinite(lo) & np.isfinite(hi), 0.5 * (hi - lo), np.nan)
    half = np.where(np.isfinite(half), half, np.nanmax(np.append(half, 0.05)))
    weights = 1.0 / np.maximum(half, _SPREAD_FLOOR) ** 2
    params, before, after = fit_svi(k, iv, T, weights=weights)
    fitted = params.implied_vol(k, T)
    err = (fitted - iv) / VOL_POINT
    inside = (fitted >= np.where(np.isfinite(lo), lo, -np.inf)) & (
        fitted <= np.where(np.isfinite(hi), hi, np.inf)
    )
    grid = np.linspace(k.min(), k.max(), GRID_POINTS)
    return SliceFit(
        expiry=pd.Timestamp(sm["expiry"].iloc[0]),
        root=str(sm["root"].iloc[0]),
        T=T,
        forward=float(sm["forward"].iloc[0]),
        discount_factor=float(sm["discount_factor"].iloc[0]),
        params=params,
        n_quotes=len(k),
        k_min=float(k.min()),
        k_max=float(k.max()),
        rmse=float(np.sqrt(np.mean(err**2))),
        max_error=float(np.max(np.abs(err))),
        within_spread=float(inside.mean()),
        atm_iv=float(params.implied_vol(0.0, T)),
        min_g=float(params.g(grid).min()),
        butterfly_violations=after,
        violations_before_repair=before,
    )


def calendar_arbitrage(slices: tuple[SliceFit, ...], points: int = GRID_POINTS) -> pd.DataFrame:
    """Crossings of total variance between consecutive maturities (``w`` decreasing in T).

    One row per pair of consecutive slices that cross on the log-moneyness range both cover:
    expiries, the number of grid points where the later slice's ``w`` is below the earlier's,
    the worst shortfall (total variance) and where (k). Empty: no calendar arbitrage.
    """
    rows = []
    ordered = sorted(slices, key=lambda s: s.T)
    for early, late in itertools.pairwise(ordered):
        lo, hi = max(early.k_min, late.k_min), min(early.k_max, late.k_max)
        if not lo < hi or late.T <= early.T:
            continue
        k = np.linspace(lo, hi, points)
        short = early.params.total_variance(k) - late.params.total_variance(k)
        bad = short > 1e-12
        if bad.any():
            i = int(np.argmax(short))
            rows.append(
                {
                    "expiry_before": early.expiry,
                    "expiry_after": late.expiry,
                    "points": int(bad.sum()),
                    "of_points": points,
                    "max_shortfall": float(short[i]),
                    "at_k": float(k[i]),
                }
            )
    columns = ["expiry_before", "expiry_after", "points", "of_points", "max_shortfall", "at_k"]
    return pd.DataFrame(rows, columns=columns)


def fit_surface(quotes: pd.DataFrame, quote_date: str | pd.Timestamp | None = None) -> Surface:
    """Smile, SVI slices, term structure and calendar check of one quote date.

    ``quotes`` is a canonical quote frame (:func:`toolkit.data.load_option_quotes`); with
    several quote dates pass ``quote_date``. Slices with fewer than :data:`MIN_QUOTES`
    out-of-the-money implied vols, or already expired, are listed in ``skipped``.
    """
    if quote_date is not None:
        quotes = quotes[quotes["quote_date"] == pd.Timestamp(quote_date)]
    if quotes.empty:
        raise DataError(f"no quotes on {quote_date}; pick a quote date the frame has.")
    sm = smile(quotes)
    slices: list[SliceFit] = []
    skipped: list[tuple[str, str]] = []
    for (expiry, root), sl in sm.groupby(["expiry", "root"], sort=True):
        if len(sl) < MIN_QUOTES:
            skipped.append((f"{root} {pd.Timestamp(str(expiry)).date()}", f"{len(sl)} quotes"))
            continue
        slices.append(fit_slice(sl))
    fitted = {(s.expiry, s.root) for s in slices}
    for (expiry, root), _ in quotes.groupby(["expiry", "root"], sort=True):
        label = f"{root} {pd.Timestamp(str(expiry)).date()}"
        if (expiry, root) not in fitted and label not in {s[0] for s in skipped}:
            skipped.append((label, "no out-of-the-money implied vol (expired or no quotes)"))
    ordered = tuple(sorted(slices, key=lambda s: (s.T, s.root)))
    first = quotes.iloc[0]
    return Surface(
        quote_date=pd.Timestamp(first["quote_date"]),
        underlying=str(first["underlying"]),
        underlying_price=float(first["underlying_price"]),
        slices=ordered,
        calendar=calendar_arbitrage(ordered),
        smile=sm,
        skipped=tuple(skipped),
    )


def atm_iv_history(
    quotes: pd.DataFrame, days: float = 30.0, *, extrapolate: bool = True, min_days: float = 7.0
) -> pd.DataFrame:
    """The ``days`` constant-maturity ATM vol of every quote date of an EOD file.

    Columns: iv, method ('interpolated' between bracketing expiries; 'extrapolated' = flat vol
    of the nearest expiry when none brackets ``days`` -- the SPXW 2018 file has one expiry per
    date; 'no bracket' NaN if ``extrapolate`` is False), days_before, days_after, expiries (the
    expiries listed that day at least ``min_days`` away). Closer expiries are not used (a
    one-day option's vol says little about 30 days; Cboe's VIX drops them too); only the two
    expiries on each side of ``days`` are fitted (the second in case the first has too few
    quotes to fit).
    """
    rows = []
    for when, day in quotes.groupby("quote_date", sort=True):
        listed = np.array(sorted(pd.DatetimeIndex(day["expiry"].unique())), dtype="datetime64[ns]")
        left = (listed - np.datetime64(pd.Timestamp(str(when)))) / np.timedelta64(1, "D")
        usable = left >= max(min_days, np.finfo(float).tiny)
        live, ahead = listed[usable], left[usable]
        near = np.concatenate([live[ahead < days][-2:], live[ahead >= days][:2]])
        cm = CMIV(np.nan, "no bracket", np.nan, np.nan)
        if len(near):
            surface = fit_surface(day[day["expiry"].isin(near)])
            cm = surface.constant_maturity_iv(days, extrapolate=extrapolate)
        rows.append(
            {
                "quote_date": when,
                "iv": cm.iv,
                "method": cm.method,
                "days_before": cm.days_before,
                "days_after": cm.days_after,
                "expiries": len(live),
            }
        )
    return pd.DataFrame(rows).set_index("quote_date")
