"""Option views: the payoff figure's expiry line is the hand-computed payoff, its 'now'
line the model value minus the cost; the smile shows each fitted slice and its quotes."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from toolkit.charts import payoff_figure
from toolkit.data import load_option_quotes
from toolkit.errors import ConfigError
from toolkit.options.surface import fit_surface
from toolkit.options.templates import Leg, Spread

EXP = dt.date(2026, 3, 20)


def _bsm_call(S: float, K: float, T: float, vol: float) -> float:
    """Black-Scholes call, no rate or dividend (Hull, ch. 15)."""
    d1 = (math.log(S / K) + 0.5 * vol * vol * T) / (vol * math.sqrt(T))
    d2 = d1 - vol * math.sqrt(T)
    n = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    return S * n(d1) - K * n(d2)


def test_payoff_at_expiry_and_now() -> None:
    # buy 100 C at 3.00, sell 105 C at 1.00 (tests/options/test_payoff.py's debit spread)
    legs = (
        Leg("XYZ", "C", 1, 100.0, EXP, 100.0, 3.0, "E"),
        Leg("XYZ", "C", -1, 105.0, EXP, 100.0, 1.0, "E"),
    )
    spread = Spread("vertical", legs)
    prices = np.array([90.0, 100.0, 102.0, 104.0, 120.0])
    as_of = EXP - dt.timedelta(days=73)
    fig = payoff_figure(spread, spot=101.0, as_of=as_of, vols=0.25, prices=prices, days=(30,))
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_allclose(by_name["at expiry"].y, [-200, -200, 0, 200, 300])
    T = 73 / 365
    now = [100 * (_bsm_call(p, 100, T, 0.25) - _bsm_call(p, 105, T, 0.25)) - 200 for p in prices]
    np.testing.assert_allclose(by_name["now (model)"].y, now, rtol=1e-9)
    assert "in 30 days (model)" in by_name
    vlines = [s.x0 for s in fig.layout.shapes if s.x0 == s.x1]
    assert 102.0 in vlines and 101.0 in vlines  # the breakeven and the spot
    only_expiry = payoff_figure(spread, spot=101.0)
    assert [t.name for t in only_expiry.data] == ["at expiry"]
    assert only_expiry.data[0].x[0] == pytest.approx(90.9)  # spot - 10 %
    with pytest.raises(ConfigError, match="give both as_of and vols"):
        payoff_figure(spread, spot=101.0, as_of=as_of)


def test_smile_and_surface_of_a_real_chain() -> None:
    spx = load_option_quotes("SPX_eod_2011-01-03_2011-01-07_ivolatility.csv")
    day = spx[(spx["quote_date"] == "2011-01-03") & (spx["expiry"] <= "2011-02-28")]
    surface = fit_surface(day)
    fig = surface.plot(days=[18])
    fit, market = fig.data  # the slice nearest 18 days: its SVI line and its quotes
    s = min(surface.slices, key=lambda f: abs(f.days - 18))
    k = s.grid()
    np.testing.assert_allclose(fit.x, s.forward * np.exp(k))
    np.testing.assert_allclose(fit.y, s.params.implied_vol(k, s.T))
    quotes = surface.smile[surface.smile["expiry"] == s.expiry]
    np.testing.assert_array_equal(market.y, quotes["iv"].to_numpy())
    assert fit.line.color == market.marker.color
    assert len(surface.plot().data) == 2 * len(surface.slices)
    cube = surface.plot("surface", points=11)
    (mesh,) = cube.data
    grid = surface.vol_grid(11)
    np.testing.assert_allclose(np.asarray(mesh.z).ravel(), grid["iv"].to_numpy())
    np.testing.assert_allclose(np.asarray(mesh.y)[:, 0], [f.days for f in surface.slices])
    with pytest.raises(ConfigError, match="kind must be 'smile' or 'surface'"):
        surface.plot("cube")
