"""American option pricer (numba): the QD+ initial exercise boundary refined by fixed-point
iteration, after Andersen, Lake and Offengenden (2016), "High-performance American option
pricing", J. Computational Finance 20(1) (ALO below) -- the method of QuantLib's
``QdFpAmericanEngine``.

Everything is solved for a put; a call is the put with spot and strike, and rate and dividend
yield, swapped (McDonald and Schroder 1998, put-call symmetry):
``C(S, K, r, q) = P(K, S, q, r)``.

For a put with ``r > 0`` the early-exercise boundary ``B(tau)`` (tau = time to expiry) starts at
``X = K min(1, r/q)`` and falls with tau. ALO represent it on Chebyshev nodes in ``sqrt(tau)``
through ``H = ln(B/X)^2``, which is smooth there. It is the fixed point of

    B(tau) = K exp(-(r-q) tau) N(tau, B) / D(tau, B),

where, with ``d+-(t, z) = (ln z + (r-q) t)/(sigma sqrt t) +- sigma sqrt(t)/2`` and
``v = sigma sqrt(tau)``, the smooth-pasting form (ALO's "FP-B"; QuantLib's
``DqFpEquation_A``) is

    N = phi(d-(tau, B(tau)/K))/v
        + r int_0^tau e^{ru} phi(d-(tau-u, B(tau)/B(u)))/(sigma sqrt(tau-u)) du
    D = phi(d+(tau, B(tau)/K))/v + Phi(d+(tau, B(tau)/K))
        + q int_0^tau e^{qu} [Phi(d+(tau-u, .)) + phi(d+(tau-u, .))/(sigma sqrt(tau-u))] du.

We use it for every (r, q): QuantLib's ``Auto`` setting uses Kim's value-matching form (ALO's
"FP-A") unless |r - q| < 0.001, but measured on the SPY chains that form contracts by only
~0.6-0.9 per sweep when r > q, this one by ~10x, so a few sweeps reach 1e-10. The first sweep is
a Jacobi-Newton step (ALO; derivative through the terms outside the integrals), the
next ones plain sweeps until sqrt(H) moves less than ``FP_TOL`` at every node.

Quadrature: ALO integrate in y with tau - u = tau (1+y)^2/4, smooth at u = tau; but B(u),
smooth only in sqrt(u), then leaves a square-root end at u = 0, and Gauss-Legendre needed ~96
points for 1e-5 on low-vol long-dated puts. We integrate over u = tau sin^2(pi w/2) instead:
sqrt(u) and sqrt(tau - u) are both smooth in w, and 16 points give 1e-6. Same for the premium.

The price is the European put plus the early-exercise premium (Kim 1990)

    int_0^T [r K e^{-r t} Phi(-d-(t, S/B(T-t))) - q S e^{-q t} Phi(-d+(t, S/B(T-t)))] dt.

A spot at or below today's boundary ``B(T)`` is exercised now: the price is the intrinsic value.

Scheme (ours, checked against QuantLib's high-precision scheme on the shipped SPY chains and a
(r, q, vol) grid, research/oracles/american_reference.py): ``N_CHEB`` Chebyshev intervals,
``L_FP`` Legendre points per fixed-point integral, at most ``M_FP`` sweeps, ``P_PRICE``
Legendre points for the premium.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from toolkit.options._implied import (
    R_ABOVE_BOUND,
    R_AT_INTRINSIC,
    R_BAD_INPUT,
    R_BELOW_INTRINSIC,
    R_EXPIRED,
    R_NO_CONVERGENCE,
    R_OK,
    implied_vol_nb,
)

N_CHEB = 12
L_FP = 16
M_FP = 12
M_KIM = 40
FP_TOL = 1e-8
P_PRICE = 128

_GL_FP_X, _GL_FP_W = np.polynomial.legendre.leggauss(L_FP)
_GL_PR_X, _GL_PR_W = np.polynomial.legendre.leggauss(P_PRICE)
# Chebyshev extrema z_i = -cos(i pi / n), i = 0..n (tau = 0 first).
_CHEB_Z = -np.cos(np.pi * np.arange(N_CHEB + 1) / N_CHEB)


def _lagrange_rows(z: np.ndarray) -> np.ndarray:
    """Rows of the Lagrange basis through _CHEB_Z at the points ``z`` (shape (len(z), n+1)),
    by the barycentric formula for Chebyshev extrema (Berrut and Trefethen 2004, eq. 5.4)."""
    w = np.array([(-1.0) ** i for i in range(N_CHEB + 1)])
    w[0] *= 0.5
    w[-1] *= 0.5
    out = np.zeros((len(z), N_CHEB + 1))
    for a, za in enumerate(z):
        d = za - _CHEB_Z
        hit = np.flatnonzero(d == 0.0)
        if hit.size:
            out[a, hit[0]] = 1.0
        else:
            c = w / d
            out[a] = c / c.sum()
    return out


# Quadrature variable: ALO integrate in y with tau - u = tau (1+y)^2/4, which is smooth at
# u = tau but leaves B(u), smooth only in sqrt(u), with a square-root end at u = 0. We use
# u = tau sin^2(pi w / 2), w in [0, 1], instead: sqrt(u) = sqrt(tau) sin(pi w/2) and
# sqrt(tau - u) = sqrt(tau) cos(pi w/2) are both smooth in w, so Gauss-Legendre in w converges
# fast at both ends (same for the premium's t in [0, T]). The points never move in the
# normalised variable z = 2 sqrt(tau/T) - 1: at node i, B(u_j) sits at
# z = (1 + z_i) sin(pi w_j/2) - 1, and the premium's B(T - t_j) at 2 cos(pi w_j/2) - 1, so B at
# every quadrature point is a fixed linear map of the node values, built once here.
_FP_W = 0.5 * (1.0 + _GL_FP_X)
_FP_SIN = np.sin(0.5 * np.pi * _FP_W)
_FP_COS = np.cos(0.5 * np.pi * _FP_W)
_FP_MAP = np.zeros((N_CHEB + 1, L_FP, N_CHEB + 1))
for _i in range(1, N_CHEB + 1):
    _FP_MAP[_i] = _lagrange_rows((1.0 + _CHEB_Z[_i]) * _FP_SIN - 1.0)
_PR_W = 0.5 * (1.0 + _GL_PR_X)
_PR_SIN = np.sin(0.5 * np.pi * _PR_W)
_PR_COS = np.cos(0.5 * np.pi * _PR_W)
_PR_MAP = _lagrange_rows(2.0 * _PR_COS - 1.0)

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TINY_T = 1e-12


@njit(cache=True, error_model="numpy")
def ncdf(x: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


@njit(cache=True, error_model="numpy")
def npdf(x: float) -> float:
    """Standard normal density."""
    return _INV_SQRT2PI * math.exp(-0.5 * x * x)


@njit(cache=True, error_model="numpy")
def _european_put(s, k, r, q, sigma, t):  # type: ignore[no-untyped-def]
    """Black-Scholes-Merton put (no floor)."""
    if t <= 0.0:
        return max(k - s, 0.0)
    v = sigma * math.sqrt(t)
    dr = math.exp(-r * t)
    dq = math.exp(-q * t)
    if v < 1e-300:
        return max(k * dr - s * dq, 0.0)
    dp = (math.log(s / k) + (r - q) * t) / v + 0.5 * v
    return k * dr * ncdf(-(dp - v)) - s * dq * ncdf(-dp)


@njit(cache=True, error_model="numpy")
def _sqrt_h(row, h):  # type: ignore[no-untyped-def]
    """sqrt(H) at a fixed point whose Lagrange row is ``row`` (= -ln(B/X), >= 0)."""
    acc = 0.0
    for a in range(N_CHEB + 1):
        acc += row[a] * h[a]
    return math.sqrt(max(acc, 0.0))


@njit(cache=True, error_model="numpy")
def _qdplus_boundary(k, r, q, sigma, tau, xmax):  # type: ignore[no-untyped-def]
    """QD+ approximation of the put's exercise boundary at ``tau`` (Li 2005, "Analytical
    approximations for the critical stock prices of American options"; as ALO seed their
    iteration): the root of g(S) = (1 - e^{-q tau} Phi(-d+)) S + (lambda + c0)(K - S - p(S)), where
    (lambda + c0)(K - S - p) = -beta (K - S - p) + alpha theta / (r e^{-r tau}), by Newton
    steps from X. It only seeds the fixed-point iteration, so 1e-9 K is plenty."""
    s2 = sigma * sigma
    v = sigma * math.sqrt(tau)
    dr = math.exp(-r * tau)
    dq = math.exp(-q * tau)
    hh = 1.0 - dr
    omega = 2.0 * (r - q) / s2
    root = math.sqrt((omega - 1.0) ** 2 + 8.0 * r / (s2 * hh))
    lam = 0.5 * (-(omega - 1.0) - root)
    lam_prime = 2.0 * r / (s2 * hh * hh * root)
    den = 2.0 * lam + omega - 1.0
    alpha = 2.0 * dr * r / (s2 * den)
    beta = alpha * (1.0 / hh + lam_prime / den) - lam
    xmin = 1e-10 * xmax
    x = xmax
    for _ in range(60):
        dp = math.log(x * dq / (k * dr)) / v + 0.5 * v
        dm = dp - v
        cdf_mdp = ncdf(-dp)
        pdf_dp = npdf(dp)
        npv = dr * k * ncdf(-dm) - x * dq * cdf_mdp
        theta = r * k * dr * ncdf(-dm) - q * x * dq * cdf_mdp - s2 * x / (2.0 * v) * dq * pdf_dp
        # d theta / dS (the charm of the put, per unit of time to expiry)
        charm = -dq * (pdf_dp * ((r - q) / v - dm / (2.0 * tau)) + q * cdf_mdp)
        g = (1.0 - dq * cdf_mdp) * x - beta * (k - x - npv) + alpha * theta / (r * dr)
        gp = (
            1.0
            - dq * cdf_mdp
            + dq * pdf_dp / v
            + beta * (1.0 - dq * cdf_mdp)
            + alpha / (r * dr) * charm
        )
        if gp == 0.0 or not math.isfinite(gp):
            break
        x_new = x - g / gp
        if x_new < xmin:
            x_new = 0.5 * (x + xmin)
        if x_new > xmax:
            x_new = xmax
        done = abs(x_new - x) < 1e-9 * k
        x = x_new
        if done:
            break
    return x


@njit(cache=True, error_model="numpy")
def _fp_sweep(h, h_new, k, ln_xk, r, q, sigma, big_t, newton, fp_b, er, eq):  # type: ignore[no-untyped-def]
    """One sweep of the fixed point over the Chebyshev nodes: h_new[i] = H(f(B)(tau_i));
    False when f(B) is not a positive number at some node (the iteration has blown up).

    ``fp_b``: the smooth-pasting equations (ALO's FP-B), else Kim's value matching (FP-A).
    ``h`` holds H = ln(B/X)^2 at the nodes, so ln(B(tau)/B(u)) = sqrt(H(u)) - sqrt(H(tau)) and
    no logarithm is needed inside the integrals. ``er[i, j]``, ``eq[i, j]`` are
    exp(r (tau_i - m_ij)), exp(q (tau_i - m_ij)), fixed for the option."""
    h_new[0] = 0.0
    drift = r - q
    alpha0 = k
    for i in range(1, N_CHEB + 1):
        xi = 0.5 * math.sqrt(big_t) * (1.0 + _CHEB_Z[i])
        tau = xi * xi
        sh_b = math.sqrt(max(h[i], 0.0))
        sq = xi
        v = sigma * sq
        # b = X exp(-sh_b); ln(b/K) = ln(X/K) - sh_b, with X/K = min(1, r/q)
        lnb_k = ln_xk - sh_b
        dp0 = (lnb_k + drift * tau) / v + 0.5 * v
        dm0 = dp0 - v
        # both integrals over u = tau sin^2(pi w/2): du = tau pi/2 sin(pi w) dw, and
        # du / sqrt(tau - u) = sqrt(tau) pi sin(pi w/2) dw
        i1 = 0.0
        i2 = 0.0
        rows = _FP_MAP[i]
        for j in range(L_FP):
            sn = _FP_SIN[j]
            cs = _FP_COS[j]
            m = tau * cs * cs
            vm = v * cs
            dp = (_sqrt_h(rows[j], h) - sh_b + drift * m) / vm + 0.5 * vm
            wj = 0.5 * _GL_FP_W[j]
            if fp_b:
                # N, D of ALO's FP-B (QuantLib's DqFpEquation_A)
                ws = wj * sq * np.pi * sn / sigma
                i1 += eq[i, j] * (wj * tau * np.pi * sn * cs * ncdf(dp) + ws * npdf(dp))
                i2 += er[i, j] * ws * npdf(dp - vm)
            else:
                w = wj * tau * np.pi * sn * cs
                i1 += w * eq[i, j] * ncdf(dp)
                i2 += w * er[i, j] * ncdf(dp - vm)
        if fp_b:
            nn = npdf(dm0) / v + r * i2
            dd = npdf(dp0) / v + ncdf(dp0) + q * i1
        else:
            nn = ncdf(dm0) + r * i2
            dd = ncdf(dp0) + q * i1
        alpha = alpha0 * math.exp(-drift * tau)
        b = alpha0 * math.exp(lnb_k)
        fv = alpha * nn / dd
        if newton:
            # Jacobi-Newton (ALO): derivative of f w.r.t. B(tau) through the terms
            # outside the integrals only.
            if fp_b:
                nd = -npdf(dm0) * dm0 / (b * v * v)
                ddd = -npdf(dp0) * dp0 / (b * v * v) + npdf(dp0) / (b * v)
            else:
                nd = npdf(dm0) / (b * v)
                ddd = npdf(dp0) / (b * v)
            fd = alpha * (nd / dd - ddd * nn / (dd * dd))
            fv = b - (fv - b) / (fd - 1.0)
        if not (fv > 0.0) or not math.isfinite(fv):
            return False
        lg = math.log(fv / k) - ln_xk
        h_new[i] = lg * lg
    return True


@njit(cache=True, error_model="numpy")
def _iterate(h, h_new, k, ln_xk, r, q, sigma, big_t, fp_b, sweeps, er, eq):  # type: ignore[no-untyped-def]
    """Jacobi-Newton then plain sweeps until sqrt(H) moves less than FP_TOL at every node
    (True) or ``sweeps`` are spent or the iteration blows up (False)."""
    for it in range(sweeps):
        if not _fp_sweep(h, h_new, k, ln_xk, r, q, sigma, big_t, it == 0, fp_b, er, eq):
            return False
        change = 0.0
        for i in range(1, N_CHEB + 1):
            change = max(change, abs(math.sqrt(h_new[i]) - math.sqrt(max(h[i], 0.0))))
            h[i] = h_new[i]
        if change < FP_TOL:
            return True
        if not change < 1.0:
            return False
    return False


@njit(cache=True, error_model="numpy")
def put_boundary_nb(k, r, q, sigma, big_t, h):  # type: ignore[no-untyped-def]
    """Fill ``h`` (length N_CHEB + 1) with H = ln(B/X)^2 at the Chebyshev nodes of the put's
    exercise boundary on [0, big_t] (r > 0, sigma > 0, big_t > 0); returns X = K min(1, r/q)."""
    xmax = k * min(1.0, r / q) if q > 0.0 else k
    ln_xk = math.log(xmax / k)
    h[0] = 0.0
    for i in range(1, N_CHEB + 1):
        xi = 0.5 * math.sqrt(big_t) * (1.0 + _CHEB_Z[i])
        bq = _qdplus_boundary(k, r, q, sigma, xi * xi, xmax)
        lg = math.log(bq / xmax)
        h[i] = lg * lg
    er = np.empty((N_CHEB + 1, L_FP))
    eq = np.empty((N_CHEB + 1, L_FP))
    for i in range(1, N_CHEB + 1):
        xi = 0.5 * math.sqrt(big_t) * (1.0 + _CHEB_Z[i])
        tau = xi * xi
        for j in range(L_FP):
            u = tau * _FP_SIN[j] * _FP_SIN[j]
            er[i, j] = math.exp(r * u)
            eq[i, j] = math.exp(q * u)
    seed = h.copy()
    h_new = np.empty(N_CHEB + 1)
    if _iterate(h, h_new, k, ln_xk, r, q, sigma, big_t, True, M_FP, er, eq):
        return xmax
    # FP-B diverges when the vol is small against the carry (e.g. sigma = 1 %, r - q = 7 %,
    # T = 2): start again from the QD+ seed with Kim's form, slower but contracting there.
    h[:] = seed
    _iterate(h, h_new, k, ln_xk, r, q, sigma, big_t, False, M_KIM, er, eq)
    return xmax


@njit(cache=True, error_model="numpy")
def put_premium_nb(s, k, r, q, sigma, big_t, h, xmax):  # type: ignore[no-untyped-def]
    """Early-exercise premium of the put at spot ``s`` given its boundary (Kim 1990), in
    z = sqrt(t) on [0, sqrt(T)] by Gauss-Legendre."""
    zmax = math.sqrt(big_t)
    ln_sx = math.log(s / xmax)
    total = 0.0
    for j in range(P_PRICE):
        # t = T sin^2(pi w/2): dt = T pi/2 sin(pi w) dw, sqrt(T - t) = sqrt(T) cos(pi w/2)
        z = zmax * _PR_SIN[j]
        t = z * z
        v = sigma * z
        dr = math.exp(-r * t)
        dq = math.exp(-q * t)
        # ln(S/B(T-t)) = ln(S/X) + sqrt(H)
        dp = (ln_sx + _sqrt_h(_PR_MAP[j], h) + (r - q) * t) / v + 0.5 * v
        wt = 0.5 * _GL_PR_W[j] * big_t * np.pi * _PR_SIN[j] * _PR_COS[j]
        total += wt * (r * k * dr * ncdf(v - dp) - q * s * dq * ncdf(-dp))
    return max(total, 0.0)


@njit(cache=True, error_model="numpy")
def _put_deterministic(s, k, r, q, t):  # type: ignore[no-untyped-def]
    """Zero-volatility put: the best of exercising now, at expiry, or at the time where
    d/dt (K e^{-rt} - S e^{-qt}) = 0 (QuantLib's edge case, discounted intrinsic values)."""
    best = max(k - s, 0.0, k * math.exp(-r * t) - s * math.exp(-q * t))
    if r != q and r > 0.0 and q > 0.0 and s > 0.0:
        te = math.log(r * k / (q * s)) / (r - q)
        if 0.0 < te < t:
            best = max(best, k * math.exp(-r * te) - s * math.exp(-q * te))
    return best


@njit(cache=True, error_model="numpy")
def put_price_nb(s, k, t, r, q, sigma):  # type: ignore[no-untyped-def]
    """American put price with the edge cases of QuantLib's QdPutCallParityEngine.

    Returns NaN for the double-boundary case (r < 0 and q < r, Andersen and Lake 2021) that
    this pricer does not handle, and for invalid inputs (negative spot/strike/vol, NaN)."""
    if not (s >= 0.0 and k >= 0.0 and sigma >= 0.0 and t >= 0.0):
        return math.nan
    if not (math.isfinite(r) and math.isfinite(q)):
        return math.nan
    if k == 0.0:
        return 0.0
    if t < _TINY_T:
        return max(k - s, 0.0)
    if s == 0.0:
        return k
    if r <= 0.0 and r <= q:
        # early exercise is never optimal: the European put (a put with
        # non-positive rate gains nothing by receiving K early)
        return _european_put(s, k, r, q, sigma, t)
    if r < 0.0:
        return math.nan
    if sigma < 1e-8:
        return _put_deterministic(s, k, r, q, t)
    h = np.empty(N_CHEB + 1)
    xmax = put_boundary_nb(k, r, q, sigma, t, h)
    if s <= xmax * math.exp(-math.sqrt(max(h[N_CHEB], 0.0))):
        return k - s
    euro = _european_put(s, k, r, q, sigma, t)
    return max(euro + put_premium_nb(s, k, r, q, sigma, t, h, xmax), k - s)


@njit(cache=True, error_model="numpy")
def american_nb(is_call, s, k, t, r, q, sigma):  # type: ignore[no-untyped-def]
    """American call or put price; a call is the put with (S, K) and (r, q) swapped."""
    if is_call:
        return put_price_nb(k, s, t, q, r, sigma)
    return put_price_nb(s, k, t, r, q, sigma)


@njit(cache=True, error_model="numpy")
def _general(s, k, t, r, q, sigma):  # type: ignore[no-untyped-def]
    """True when the put (s, k, r, q) goes through the boundary iteration (not an edge case)."""
    return (
        s > 0.0 and k > 0.0 and t >= _TINY_T and r > 0.0 and sigma >= 1e-8
        and math.isfinite(s + k + t + r + q + sigma)
    )


@njit(cache=True, error_model="numpy")
def _spot_value(is_call, general, s, k, t, r, q, sigma, h, c):  # type: ignore[no-untyped-def]
    """Price at spot ``s`` with the exercise boundary held fixed (``h``, X = c * strike of the
    put); the boundary does not depend on the spot, and H = ln(B/X)^2 does not depend on the
    put's strike either (B scales with it), so a call's spot bump keeps ``h`` too."""
    if not general:
        return american_nb(is_call, s, k, t, r, q, sigma)
    ps, pk, pr, pq = (k, s, q, r) if is_call else (s, k, r, q)
    xmax = c * pk
    if ps <= xmax * math.exp(-math.sqrt(max(h[N_CHEB], 0.0))):
        return pk - ps
    euro = _european_put(ps, pk, pr, pq, sigma, t)
    return max(euro + put_premium_nb(ps, pk, pr, pq, sigma, t, h, xmax), pk - ps)


@njit(cache=True, error_model="numpy")
def american_many_nb(is_call, s, k, t, r, q, sigma, out):  # type: ignore[no-untyped-def]
    """``out[i] = american_nb(...)`` over 1-d arrays of equal length (bool, then float64).

    The exercise boundary depends on neither spot nor strike (H = ln(B/X)^2 is scale-free),
    only on the put-side (r, q), sigma and T: consecutive rows sharing them (a strike ladder
    at one vol, a scenario grid over spots) reuse it: one solve, the same prices to rounding
    (1e-13; the boundary solved at another strike differs in its last bits)."""
    h = np.zeros(N_CHEB + 1)
    c = 1.0
    key_r = key_q = key_v = key_t = math.nan
    for i in range(out.shape[0]):
        call = is_call[i]
        ps, pk, pr, pq = (k[i], s[i], q[i], r[i]) if call else (s[i], k[i], r[i], q[i])
        if not _general(ps, pk, t[i], pr, pq, sigma[i]):
            out[i] = american_nb(call, s[i], k[i], t[i], r[i], q[i], sigma[i])
            continue
        if not (pr == key_r and pq == key_q and sigma[i] == key_v and t[i] == key_t):
            c = put_boundary_nb(pk, pr, pq, sigma[i], t[i], h) / pk
            key_r, key_q, key_v, key_t = pr, pq, sigma[i], t[i]
        out[i] = _spot_value(call, True, s[i], k[i], t[i], r[i], q[i], sigma[i], h, c)


@njit(cache=True, error_model="numpy")
def _greek_sets(t, r, q, sigma, ts, rs, qs, vs):  # type: ignore[no-untyped-def]
    """The nine (T, r, q, sigma) the Greeks price at: base, sigma +- dv, T +- dt, r +- 1e-4,
    q +- 1e-4 (dv = min(1e-4, sigma/2), dt = min(1e-4, T/2); at sigma = 0 the vol pair is
    (1e-4, 0), a forward difference)."""
    dv = min(1e-4, 0.5 * sigma)
    dt = min(1e-4, 0.5 * t)
    for j in range(9):
        ts[j], rs[j], qs[j], vs[j] = t, r, q, sigma
    if dv > 0.0:
        vs[1], vs[2] = sigma + dv, sigma - dv
    else:
        vs[1] = 1e-4
    ts[3], ts[4] = t + dt, t - dt
    rs[5], rs[6] = r + 1e-4, r - 1e-4
    qs[7], qs[8] = q + 1e-4, q - 1e-4


@njit(cache=True, error_model="numpy")
def _greek_boundaries(is_call, ts, rs, qs, vs, hs, cs, gs):  # type: ignore[no-untyped-def]
    """Exercise boundary of each of the nine parameter sets (for a unit strike: H is
    scale-free), ``gs[j]`` False where the set is an edge case priced without one."""
    for j in range(9):
        pr, pq = (qs[j], rs[j]) if is_call else (rs[j], qs[j])
        gs[j] = _general(1.0, 1.0, ts[j], pr, pq, vs[j])
        cs[j] = 1.0
        if gs[j]:
            cs[j] = put_boundary_nb(1.0, pr, pq, vs[j], ts[j], hs[j])


@njit(cache=True, error_model="numpy")
def american_greeks_nb(is_call, s, k, t, r, q, sigma, out, hs, cs, gs, solve):  # type: ignore[no-untyped-def]
    """out[:7] = price, delta, gamma, vega, theta, rho, dividend rho (QuantLib's units: theta
    = -dV/dT per year, vega and rhos per 1.00).

    Delta and gamma are central differences in the spot with the exercise boundary fixed
    (exact derivatives of the same quadrature, step 1e-4 S or less for short, low-vol
    options; one-sided where a central stencil would straddle today's exercise boundary, where
    gamma jumps); vega, rho, dividend rho and theta are central differences of the pricer at
    the parameter sets of ``_greek_sets``, each with its own boundary. Theta is not taken from
    the Black-Scholes equation (r V - (r-q) S delta - sigma^2 S^2 gamma / 2): near the
    boundary that amplifies the quadrature's small gamma error ~180x (7 % off on a deep ITM
    put). ``hs`` (9, N_CHEB + 1), ``cs`` (9,), ``gs`` (9,) hold the nine boundaries; with
    ``solve`` False they are those of the previous call, which had the same (right, T, r, q,
    sigma) -- they depend on neither spot nor strike."""
    ts = np.empty(9)
    rs = np.empty(9)
    qs = np.empty(9)
    vs = np.empty(9)
    _greek_sets(t, r, q, sigma, ts, rs, qs, vs)
    if solve:
        _greek_boundaries(is_call, ts, rs, qs, vs, hs, cs, gs)
    row_ok = s > 0.0 and k > 0.0 and math.isfinite(s + k)
    val = np.empty(9)
    for j in range(9):
        val[j] = _spot_value(is_call, gs[j] and row_ok, s, k, ts[j], rs[j], qs[j], vs[j],
                             hs[j], cs[j])
    general = gs[0] and row_ok
    h = hs[0]
    c = cs[0]
    price = val[0]
    out[0] = price
    width = sigma * math.sqrt(max(t, 0.0))
    ds = s * max(min(1e-4, 0.01 * width), 1e-6)
    # Gamma jumps at the exercise boundary (0 beyond it): a stencil must not straddle it.
    # Spot side of today's boundary: a put is exercised at S <= B, a call at S >= K e^{sqrt H}/c.
    side = 0
    if general:
        root_h = math.sqrt(max(h[N_CHEB], 0.0))
        if is_call:
            edge = k * math.exp(root_h) / c
            if s < edge <= s + ds:
                side = -1  # held, exercise region just above: look down
        else:
            edge = c * k * math.exp(-root_h)
            if s - ds <= edge < s:
                side = 1  # held, exercise region just below: look up
    if side == 0:
        up = _spot_value(is_call, general, s + ds, k, t, r, q, sigma, h, c)
        dn = _spot_value(is_call, general, s - ds, k, t, r, q, sigma, h, c)
        out[1] = (up - dn) / (2.0 * ds)
        out[2] = (up - 2.0 * price + dn) / (ds * ds)
    else:
        step = side * ds
        f1 = _spot_value(is_call, general, s + step, k, t, r, q, sigma, h, c)
        f2 = _spot_value(is_call, general, s + 2.0 * step, k, t, r, q, sigma, h, c)
        out[1] = (-3.0 * price + 4.0 * f1 - f2) / (2.0 * step)
        out[2] = (price - 2.0 * f1 + f2) / (ds * ds)
    if sigma > 0.0:
        out[3] = (val[1] - val[2]) / (vs[1] - vs[2])
    else:
        out[3] = (val[1] - price) / vs[1]
    out[4] = -(val[3] - val[4]) / (ts[3] - ts[4]) if ts[3] > ts[4] else 0.0
    out[5] = (val[5] - val[6]) / 2e-4
    out[6] = (val[7] - val[8]) / 2e-4


@njit(cache=True, error_model="numpy")
def american_greeks_many_nb(is_call, s, k, t, r, q, sigma, out):  # type: ignore[no-untyped-def]
    """``american_greeks_nb`` over 1-d arrays; ``out`` has shape (7, n). Consecutive rows
    with the same (right, T, r, q, sigma) share the nine boundary solves."""
    row = np.empty(7)
    hs = np.zeros((9, N_CHEB + 1))
    cs = np.ones(9)
    gs = np.zeros(9, dtype=np.bool_)
    for i in range(s.shape[0]):
        solve = i == 0 or not (
            is_call[i] == is_call[i - 1] and t[i] == t[i - 1] and r[i] == r[i - 1]
            and q[i] == q[i - 1] and sigma[i] == sigma[i - 1]
        )
        american_greeks_nb(is_call[i], s[i], k[i], t[i], r[i], q[i], sigma[i], row, hs, cs, gs,
                           solve)
        for j in range(7):
            out[j, i] = row[j]


IV_MAX = 10.0  # 1,000% vol: a price above this vol's is ABOVE_BOUND


@njit(cache=True, error_model="numpy")
def american_iv_nb(price, is_call, s, k, t, r, q):  # type: ignore[no-untyped-def]
    """(implied vol, reason) of one American price: the root in sigma of V(sigma) = price,
    bracketed between the zero-vol value and V(IV_MAX) (V rises with sigma), solved by the
    Illinois variant of regula falsi (Dowell and Jarratt 1971) from the European implied vol of
    the same price, an upper bracket (American >= European at equal vol), and one Newton step
    from it on the European vega."""
    if not (s > 0.0 and k > 0.0 and math.isfinite(price + s + k + t + r + q)):
        return math.nan, R_BAD_INPUT
    if t <= 0.0:
        return math.nan, R_EXPIRED
    bound = s if is_call else k
    if price >= bound:
        return math.nan, R_ABOVE_BOUND
    noise = 16.0 * 2.220446049250313e-16 * max(s, k)
    lo_val = american_nb(is_call, s, k, t, r, q, 0.0)
    if price < lo_val - noise:
        return math.nan, R_BELOW_INTRINSIC
    if price <= lo_val + noise:
        return math.nan, R_AT_INTRINSIC
    a = 0.0
    fa = lo_val - price
    b = IV_MAX
    fb = math.nan  # V(IV_MAX) only when the European guess gives no upper end
    fwd = s * math.exp((r - q) * t)
    guess, why = implied_vol_nb(price, is_call, fwd, k, t, math.exp(-r * t))
    if why == R_OK and 0.0 < guess < IV_MAX:
        fg = american_nb(is_call, s, k, t, r, q, guess) - price
        if fg == 0.0:
            return guess, R_OK
        if fg > 0.0:
            b, fb = guess, fg
        else:
            a, fa = guess, fg
        # one Newton step on the European vega (the American one is close to it away from
        # the boundary): usually lands just across the root, a tight bracket for the secant
        sq = math.sqrt(t)
        d1 = (math.log(fwd / k) + 0.5 * guess * guess * t) / (guess * sq)
        vega = s * math.exp(-q * t) * npdf(d1) * sq
        if vega > 0.0:
            c = guess - fg / vega
            if a < c < b:
                fc = american_nb(is_call, s, k, t, r, q, c) - price
                if fc == 0.0:
                    return c, R_OK
                if fc > 0.0:
                    b, fb = c, fc
                else:
                    a, fa = c, fc
    if math.isnan(fb):
        fb = american_nb(is_call, s, k, t, r, q, b) - price
        if fb < 0.0:
            return math.nan, R_ABOVE_BOUND
    tol_f = 1e-13 * max(price, 1e-3)
    side = 0
    width = b - a
    for it in range(200):
        c = (a * fb - b * fa) / (fb - fa)
        stalled = False
        if it >= 6 and it % 2 == 0:
            # past the usual few secant steps, bisect when two of them did not halve the
            # bracket (a flat stretch: below some vol a deep in-the-money option is worth
            # exactly its intrinsic value, and regula falsi crawls along it)
            stalled = it > 6 and b - a > 0.5 * width
            width = b - a
        if stalled or not (a < c < b):
            c = 0.5 * (a + b)
        fc = american_nb(is_call, s, k, t, r, q, c) - price
        if abs(fc) <= tol_f or b - a <= 1e-14 * max(c, 1e-3):
            return c, R_OK
        if fc > 0.0:
            b, fb = c, fc
            if side == 1:
                fa *= 0.5
            side = 1
        else:
            a, fa = c, fc
            if side == -1:
                fb *= 0.5
            side = -1
    return math.nan, R_NO_CONVERGENCE


@njit(cache=True, error_model="numpy")
def american_iv_many_nb(price, is_call, s, k, t, r, q, iv, why):  # type: ignore[no-untyped-def]
    """``american_iv_nb`` over 1-d arrays into ``iv`` (float64) and ``why`` (int8)."""
    for i in range(s.shape[0]):
        v, w = american_iv_nb(price[i], is_call[i], s[i], k[i], t[i], r[i], q[i])
        iv[i] = v
        why[i] = w
