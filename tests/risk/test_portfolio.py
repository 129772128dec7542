"""Portfolio risk rules (toolkit.risk.portfolio): hand-computed cuts, estimates against
numpy, the reduce-only and warm-up conventions."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.risk import RiskLimits
from toolkit.risk.portfolio import (
    build_context,
    cap_book_nb,
    scaled_order_nb,
    split_order_nb,
    window_estimates_nb,
)
from toolkit.risk.rules import (
    G_BETA,
    G_CORR,
    G_CVAR,
    G_NET,
    G_SECTOR,
    G_VAR,
    G_WARMUP,
    guard_names,
)
from toolkit.risk.var import historical_var_nb


def _ctx(n: int = 40, m: int = 2, window: int = 20, seed: int = 0, sectors=None):
    rng = np.random.default_rng(seed)
    rb = rng.normal(0.0, 0.01, size=n)  # the benchmark; symbol k has beta ~ 0.6 + 0.4 k
    loads = 0.6 + 0.4 * np.arange(m)
    r = rb[:, None] * loads + rng.normal(0.0, 0.006, size=(n, m))
    close = 100.0 * np.cumprod(1.0 + r, axis=0)
    bench = 100.0 * np.cumprod(1.0 + rb)
    ids = None if sectors is None else np.asarray(sectors, dtype=np.int64)
    return build_context(close, window, bench, ids), close


def _cap(ctx, j, delta, pos, price, value, w, risk, b=None, ready=True, fractional=True):
    """One order of ``delta`` shares of symbol ``j`` (holding ``pos``) on a book of weights
    ``w`` (all symbols at ``price``): (the order after the book-level cut, its bits)."""
    m = len(w)
    cov = np.empty((m, m))
    beta = np.empty(m)
    b = ctx.returns.shape[0] - 1 if b is None else b
    ok = window_estimates_nb(ctx, b, cov, beta)
    held = np.asarray(w, float) * value / price
    held[j] = pos
    cover = np.zeros(m)
    opening = np.zeros(m)
    cover[j], opening[j] = split_order_nb(float(pos), float(delta))
    scale, bits = _book(ctx, held, cover, opening, price, value, cov, beta, ok and ready, b, risk)
    out = scaled_order_nb(float(pos), float(delta), scale[j], fractional)
    return out, (int(bits[j]) if out != delta else 0)


def _book(ctx, held, cover, opening, price, value, cov, beta, ready, b, risk):
    """cap_book_nb's per-symbol (scale, bits)."""
    m = len(held)
    scale, bits = np.empty(m), np.empty(m, dtype=np.int64)
    cap_book_nb(
        np.asarray(held, float), np.asarray(cover, float), np.asarray(opening, float),
        np.full(m, float(price)), float(value), cov, beta, ready, ctx, b, risk.vector(), scale,
        bits,
    )  # fmt: skip
    return scale, bits


def test_estimates_equal_numpy_covariance_and_beta() -> None:
    ctx, _ = _ctx(n=60, m=3, window=25)
    b = 50
    cov = np.empty((3, 3))
    beta = np.empty(3)
    assert window_estimates_nb(ctx, b, cov, beta)
    r = ctx.returns[b - 24 : b + 1]
    x = ctx.bench[b - 24 : b + 1]
    np.testing.assert_allclose(cov, np.cov(r, rowvar=False, ddof=1), rtol=1e-12, atol=1e-18)
    for k in range(3):  # OLS slope of r_k on the benchmark with an intercept
        slope = np.polyfit(x, r[:, k], 1)[0]
        assert beta[k] == pytest.approx(slope, rel=1e-10)
    assert not window_estimates_nb(ctx, 24, cov, beta)  # 24 returns < a window of 25


def test_estimates_are_causal() -> None:
    """The estimate at bar b is the same whatever comes after b."""
    _, close = _ctx(n=80, m=2, window=20)
    short = build_context(close[:51], 20, None, None)
    long_ = build_context(close, 20, None, None)
    a, b_ = np.empty((2, 2)), np.empty((2, 2))
    beta = np.empty(2)
    window_estimates_nb(short, 50, a, beta)
    window_estimates_nb(long_, 50, b_, beta)
    assert np.array_equal(a, b_)


def test_net_cut_to_the_limit_by_hand() -> None:
    ctx, _ = _ctx()
    # book 50 % long symbol 0; buying 500 shares at 100 on 100,000 adds 0.5: net 1.0 > 0.8
    delta, bits = _cap(ctx, 1, 500, 0, 100.0, 100_000.0, [0.5, 0.0], RiskLimits(max_net=0.8))
    assert delta == pytest.approx(300.0)  # (0.8 - 0.5) / 0.5 of the order
    assert bits == G_NET
    assert guard_names(bits) == ["max_net"]


def test_beta_cut_by_hand_and_whole_shares() -> None:
    ctx, _ = _ctx()
    m = 2
    cov, beta = np.empty((m, m)), np.empty(m)
    window_estimates_nb(ctx, ctx.returns.shape[0] - 1, cov, beta)
    risk = RiskLimits(max_beta=0.05)
    w = [0.0, 0.0]
    delta, bits = _cap(ctx, 0, 1000, 0, 100.0, 100_000.0, w, risk, fractional=False)
    # |y x 1.0 x beta0| <= 0.05 -> y = 0.05 / |beta0|, 1000 y shares truncated
    want = math.trunc(1000 * min(1.0, 0.05 / abs(beta[0])))
    assert delta == want
    assert bits == G_BETA


def test_reduction_always_passes_even_in_breach() -> None:
    ctx, _ = _ctx()
    risk = RiskLimits(max_net=0.1, max_beta=0.01, max_var=1e-6)
    # 90 % long symbol 0 (far beyond every limit): selling 400 of 900 shares passes in full
    assert _cap(ctx, 0, -400, 900, 100.0, 100_000.0, [0.9, 0.0], risk) == (-400.0, 0)


def test_flip_cover_passes_and_only_the_opening_part_is_cut() -> None:
    ctx, _ = _ctx()
    # long 300 of symbol 1 (w 0.3), sell 800: the 300 cover passes; the 500 short that
    # opens makes net -0.5 -> cut to the limit 0.2: 200 shares
    delta, bits = _cap(ctx, 1, -800, 300, 100.0, 100_000.0, [0.0, 0.3], RiskLimits(max_net=0.2))
    assert delta == pytest.approx(-500.0)
    assert bits == G_NET


def test_in_breach_an_order_that_does_not_worsen_passes() -> None:
    ctx, _ = _ctx()
    # net already 1.2 long with limit 0.8; a short of symbol 1 lowers it: passes in full
    delta, bits = _cap(ctx, 1, -300, 0, 100.0, 100_000.0, [1.2, 0.0], RiskLimits(max_net=0.8))
    assert (delta, bits) == (-300.0, 0)
    # a buy would worsen it: cut to nothing
    delta, bits = _cap(ctx, 1, 300, 0, 100.0, 100_000.0, [1.2, 0.0], RiskLimits(max_net=0.8))
    assert (delta, bits) == (0.0, G_NET)


def test_sector_limit_counts_only_the_same_sector() -> None:
    ctx, _ = _ctx(m=3, sectors=[0, 0, 1])
    risk = RiskLimits(max_sector=0.4)
    w = [0.3, 0.0, 0.5]  # sector 0 holds 0.3; sector 1 holds 0.5 (already above 0.4)
    delta, bits = _cap(ctx, 1, 500, 0, 100.0, 100_000.0, w, risk)
    assert delta == pytest.approx(100.0)  # room 0.1 of equity = 100 shares at 100
    assert bits == G_SECTOR


def test_parametric_var_cut_lands_on_the_limit() -> None:
    ctx, _ = _ctx(m=2)
    level, limit = 0.99, 0.004
    risk = RiskLimits(max_var=limit, var_level=level)
    w = np.array([0.2, 0.0])
    delta, bits = _cap(ctx, 1, 1000, 0, 100.0, 100_000.0, w, risk)
    assert bits == G_VAR
    cov, beta = np.empty((2, 2)), np.empty(2)
    window_estimates_nb(ctx, ctx.returns.shape[0] - 1, cov, beta)
    after = w + np.array([0.0, delta * 100.0 / 100_000.0])
    z = NormalDist().inv_cdf(level)
    assert z * math.sqrt(after @ cov @ after) == pytest.approx(limit, rel=1e-12)


def test_parametric_cvar_uses_the_gaussian_expected_shortfall() -> None:
    ctx, _ = _ctx(m=2)
    level, limit = 0.975, 0.004
    risk = RiskLimits(max_cvar=limit, var_level=level)
    delta, bits = _cap(ctx, 0, 1000, 0, 100.0, 100_000.0, [0.0, 0.0], risk)
    assert bits == G_CVAR
    cov, beta = np.empty((2, 2)), np.empty(2)
    window_estimates_nb(ctx, ctx.returns.shape[0] - 1, cov, beta)
    z = NormalDist().inv_cdf(level)
    es = NormalDist().pdf(z) / (1 - level)  # Acerbi & Tasche 2002, Gaussian
    assert es * math.sqrt(cov[0, 0]) * delta * 100.0 / 100_000.0 == pytest.approx(limit, rel=1e-12)


def test_correlation_weighted_exposure_by_hand() -> None:
    ctx, _ = _ctx(m=2)
    cov, beta = np.empty((2, 2)), np.empty(2)
    window_estimates_nb(ctx, ctx.returns.shape[0] - 1, cov, beta)
    rho = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])
    risk = RiskLimits(max_corr_exposure=0.6)
    delta, bits = _cap(ctx, 1, 1000, 0, 100.0, 100_000.0, [0.5, 0.0], risk)
    y = delta * 100.0 / 100_000.0
    assert bits == G_CORR
    assert math.sqrt(0.25 + 2 * rho * 0.5 * y + y * y) == pytest.approx(0.6, rel=1e-12)


def test_historical_var_cut_is_the_largest_compliant_size() -> None:
    ctx, _ = _ctx(m=2, n=60, window=40)
    risk = RiskLimits(max_var=0.005, var_level=0.95, var_method="historical", risk_window=40)
    w = np.array([0.3, 0.0])
    delta, bits = _cap(ctx, 1, 1000, 0, 100.0, 100_000.0, w, risk)
    assert bits == G_VAR
    b = ctx.returns.shape[0] - 1
    r = ctx.returns[b - 39 : b + 1]

    def var(shares: float) -> float:
        after = w + np.array([0.0, shares * 100.0 / 100_000.0])
        return historical_var_nb(r @ after, 0.05, False)

    assert var(delta) <= 0.005 + 1e-15
    assert var(delta * 1.0001) > 0.005


def test_warmup_holds_the_opening_part() -> None:
    ctx, _ = _ctx(n=40, window=20)
    risk = RiskLimits(max_net=5.0)
    # bar 10 < a window of 20 returns: the opening part waits, a cover still goes
    assert _cap(ctx, 0, 100, 0, 100.0, 1e5, [0.0, 0.0], risk, b=10) == (0.0, G_WARMUP)
    assert _cap(ctx, 0, 100, -40, 100.0, 1e5, [-0.04, 0.0], risk, b=10) == (40.0, G_WARMUP)


def test_every_binding_rule_is_named() -> None:
    """The sector cap cuts first, then the book-wide rule cuts what is left: both named."""
    ctx3, _ = _ctx(sectors=[0, 0])
    risk = RiskLimits(max_net=0.25, max_sector=0.3)
    delta, bits = _cap(ctx3, 1, 1000, 0, 100.0, 100_000.0, [0.1, 0.0], risk)
    # sector: 0.1 + 1.0 y <= 0.3 -> 0.2 of the order; net: 0.1 + 0.2 y <= 0.25 -> y = 0.75
    assert delta == pytest.approx(150.0)
    assert bits == G_NET | G_SECTOR
    assert guard_names(bits) == ["max_net", "max_sector"]


@settings(max_examples=60, deadline=None)
@given(
    w0=st.floats(-1.0, 1.0),
    shares=st.floats(-2000.0, 2000.0),
    limit=st.floats(0.05, 1.5),
)
def test_linear_cuts_never_exceed_the_limit_or_worsen(
    w0: float, shares: float, limit: float
) -> None:
    """Property: after the cut, |net| <= max(limit, |net before|) and the cut keeps the
    order's sign and never grows it."""
    ctx, _ = _ctx()
    delta, _ = _cap(ctx, 1, shares, 0, 100.0, 100_000.0, [w0, 0.0], RiskLimits(max_net=limit))
    after = w0 + delta * 100.0 / 100_000.0
    assert abs(after) <= max(limit, abs(w0)) * (1 + 1e-12) + 1e-15
    assert delta * shares >= 0.0 and abs(delta) <= abs(shares) + 1e-9


def test_limits_vector_and_config_rules() -> None:
    v = RiskLimits(max_var=0.02, var_level=0.95).vector()
    assert v.shape == (16,)
    assert RiskLimits(max_beta=0.05).portfolio and not RiskLimits(max_gross=1.0).portfolio


def test_a_neutral_book_from_flat_passes_as_a_whole() -> None:
    """Long symbol 0 and short symbol 1 in beta-neutral sizes: each leg alone breaches a
    0.02 beta limit, the book after both does not, so neither is cut."""
    ctx, _ = _ctx()
    cov, beta = np.empty((2, 2)), np.empty(2)
    b = ctx.returns.shape[0] - 1
    window_estimates_nb(ctx, b, cov, beta)
    long_w = 0.5
    short_w = -long_w * beta[0] / beta[1]
    opening = np.array([long_w, short_w]) * 1000.0  # shares at 100 on 100,000
    risk = RiskLimits(max_beta=0.02)
    scale, bits = _book(
        ctx, np.zeros(2), np.zeros(2), opening, 100.0, 1e5, cov, beta, True, b, risk
    )
    assert scale.tolist() == [1.0, 1.0] and bits.tolist() == [0, 0]
    # the long leg alone is cut to 0.02 / beta0 of itself
    alone = np.array([opening[0], 0.0])
    scale, bits = _book(ctx, np.zeros(2), np.zeros(2), alone, 100.0, 1e5, cov, beta, True, b, risk)
    assert scale[0] == pytest.approx(0.02 / (long_w * beta[0]), rel=1e-12)
    assert bits[0] == G_BETA


def test_a_sector_over_its_cap_cuts_only_its_own_openings() -> None:
    """Sector 0 holds 0.26 against a 0.25 cap: its new buy is cut to nothing, while the buy
    in sector 1 goes in full (a book-wide fraction would have stopped both)."""
    ctx, _ = _ctx(m=3, sectors=[0, 0, 1])
    cov, beta = np.empty((3, 3)), np.empty(3)
    b = ctx.returns.shape[0] - 1
    window_estimates_nb(ctx, b, cov, beta)
    held = np.array([260.0, 0.0, 0.0])  # 0.26 of 100,000 at 100
    opening = np.array([0.0, 100.0, 200.0])
    risk = RiskLimits(max_sector=0.25)
    scale, bits = _book(ctx, held, np.zeros(3), opening, 100.0, 1e5, cov, beta, True, b, risk)
    assert scale.tolist() == [1.0, 0.0, 1.0]
    assert bits.tolist() == [0, G_SECTOR, 0]
    # and the book-wide rules then cut what the sector cap left, by one fraction
    both = RiskLimits(max_sector=0.25, max_net=0.3)
    scale, bits = _book(ctx, held, np.zeros(3), opening, 100.0, 1e5, cov, beta, True, b, both)
    assert scale[1] == 0.0 and scale[2] == pytest.approx(0.2)  # net 0.26 + 0.2 y <= 0.3
    assert bits[2] == G_NET
