"""toolkit.analysis.portfolio: a book's weights, exposures, beta, VaR/CVaR, risk
contributions, correlations and P&L by symbol, against hand-computed small books, numpy,
Riskfolio-Lib / quantstats where they overlap, and the risk rules' own estimates."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.analysis import portfolio as pf
from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
from toolkit.risk.portfolio import build_context, window_estimates_nb

# the module's two engine runs on ETFs compile the same kernels (~25 s cold): one pytest-xdist
# worker runs the module, so a fresh clone compiles them once, not once per worker at once
pytestmark = pytest.mark.xdist_group("analysis_portfolio")

AV = Path(__file__).resolve().parents[2] / "data" / "daily" / "alphavantage"
NO_COSTS_CLOSE = tk.EngineSettings(
    init_cash=1_000.0, fill="close", fractional=True, commission=tk.no_costs()
)


def _panel(close: dict[str, list[float]]) -> pd.DataFrame:
    """A (field, symbol) panel whose open/high/low equal the close."""
    idx = pd.date_range("2024-01-02", periods=len(next(iter(close.values()))), freq="B", tz="UTC")
    c = pd.DataFrame(close, index=idx, dtype=float)
    fields = {f: c for f in ("open", "high", "low", "close")}
    fields["volume"] = c * 0 + 1e6
    return pd.concat(fields, axis=1)


@pytest.fixture(scope="module")
def hand() -> tuple[pd.DataFrame, tk.BacktestResult]:
    """Two symbols, close fills, no costs, 1,000 cash: 50 % long A and 25 % short B from
    bar 0, then A goes to 0 on bar 2."""
    bars = _panel({"A": [10.0, 11.0, 12.0, 9.0], "B": [20.0, 18.0, 19.0, 21.0]})
    targets = pd.DataFrame({"A": [0.5, 0.5, 0.0, 0.0], "B": [-0.25] * 4}, index=bars.index)
    return bars, tk.simulate(bars, targets, NO_COSTS_CLOSE, weights=[1.0, 1.0])


def test_weights_exposures_and_sectors_by_hand(
    hand: tuple[pd.DataFrame, tk.BacktestResult],
) -> None:
    bars, r = hand
    # bar 0: 50 A (500), -12.5 B (-250), cash 1,000 - 500 + 250 = 750, equity 1,000
    # bar 1: A 11, B 18: equity 750 + 550 - 225 = 1,075; A 550/1075, B -225/1075
    assert r.positions.iloc[0].tolist() == [50.0, -12.5]
    w = pf.weights(r, bars)
    np.testing.assert_allclose(w.iloc[0], [0.5, -0.25], rtol=1e-15)
    np.testing.assert_allclose(w.iloc[1], [550 / 1075, -225 / 1075], rtol=1e-14)
    assert w.iloc[2, 0] == 0.0
    e = pf.exposures(w)
    np.testing.assert_allclose(e.iloc[1], [550 / 1075, -225 / 1075, 775 / 1075, 325 / 1075])
    s = pf.sector_weights(w, {"A": "Energy"})  # B is in no sector: Other, listed last
    assert list(s.columns) == ["Energy", pf.OTHER]
    np.testing.assert_allclose(s.to_numpy(), w.to_numpy())
    g = pf.sector_weights(w, {"A": "Energy", "B": "Energy"}, gross=True)
    np.testing.assert_allclose(g["Energy"], e["gross"])


def test_pnl_by_symbol_by_hand(hand: tuple[pd.DataFrame, tk.BacktestResult]) -> None:
    bars, r = hand
    parts = pf.pnl_by_symbol(r, bars)
    # A: +50 on bar 1, +50 on bar 2 (held from bar 1's close, sold at bar 2's close), 0 after
    # B: -12.5 x (-2, +1, +2)
    np.testing.assert_allclose(parts["net"]["A"], [0.0, 50.0, 50.0, 0.0])
    np.testing.assert_allclose(parts["net"]["B"], [0.0, 25.0, -12.5, -25.0])
    assert not parts["trading"].to_numpy().any() and not parts["commission"].to_numpy().any()
    table = pf.pnl_table(r, bars)
    assert list(table.index) == ["A", "B"] and table["net"].tolist() == [100.0, -12.5]
    assert table["net"].sum() == pytest.approx(r.equity.iloc[-1] - 1_000.0, abs=1e-12)


def _equity_change(r: tk.BacktestResult) -> np.ndarray:
    eq = r.equity.to_numpy()
    return np.diff(eq, prepend=r.settings.init_cash)


@pytest.fixture(scope="module")
def etfs() -> pd.DataFrame:
    return tk.load_many(["SPY", "TLT", "GLD"], "2015-01-01", "2018-12-31")


def _monthly_targets(close: pd.DataFrame, seed: int, low: float, high: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    month = close.index.year * 12 + close.index.month
    first = np.r_[True, month[1:] != month[:-1]]
    t = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    t.loc[first] = rng.uniform(low, high, size=(int(first.sum()), close.shape[1]))
    return t.ffill()


def test_symbol_pnl_adds_up_to_the_equity_change_minus_commissions(etfs: pd.DataFrame) -> None:
    """Close fills without slippage: sum of position_{t-1} x price change - commissions is the
    equity change of every bar; with next-open fills and slippage the trading part closes
    the gap. A long/short book with IBKR's fixed commissions."""
    targets = _monthly_targets(etfs["close"], 1, -0.6, 0.6)
    s = tk.EngineSettings(fill="close", commission=tk.ibkr_fixed())
    r = tk.simulate(etfs, targets, s, weights=[1.0] * 3)
    parts = pf.pnl_by_symbol(r, etfs)
    assert r.orders["commission"].sum() > 0 and (r.positions < 0).any().any()
    assert not parts["trading"].to_numpy().any()
    got = (parts["holding"] - parts["commission"]).sum(axis=1).to_numpy()
    np.testing.assert_allclose(got, _equity_change(r), rtol=0, atol=1e-8)
    s2 = tk.EngineSettings(fill="next_open", slippage_bps=5.0, commission=tk.ibkr_fixed())
    r2 = tk.simulate(etfs, targets, s2, weights=[1.0] * 3)
    parts2 = pf.pnl_by_symbol(r2, etfs)
    assert np.abs(parts2["trading"].to_numpy()).sum() > 0
    np.testing.assert_allclose(parts2["net"].sum(axis=1), _equity_change(r2), rtol=0, atol=1e-8)
    table = pf.pnl_table(r2, etfs)
    assert table["net"].sum() == pytest.approx(r2.equity.iloc[-1] - s2.init_cash, abs=1e-7)
    assert table["commission"].sum() == pytest.approx(r2.orders["commission"].sum(), rel=1e-12)


def test_risk_contributions_by_hand_and_against_riskfolio() -> None:
    """w = (0.5, 0.5), vols 10 % and 20 %, correlation 0.5: Sigma w = (0.01, 0.025),
    sigma_p = sqrt(0.0175); contributions 0.005 / sigma_p and 0.0125 / sigma_p."""
    cov = pd.DataFrame([[0.01, 0.01], [0.01, 0.04]], index=["A", "B"], columns=["A", "B"])
    rc = pf.risk_contributions(pd.Series({"A": 0.5, "B": 0.5}), cov)
    sp = math.sqrt(0.0175)
    np.testing.assert_allclose(rc["contribution"], [0.005 / sp, 0.0125 / sp], rtol=1e-15)
    np.testing.assert_allclose(rc["marginal"], [0.01 / sp, 0.025 / sp], rtol=1e-15)
    assert rc["contribution"].sum() == pytest.approx(sp, rel=1e-15)
    assert rc["share"].sum() == pytest.approx(1.0, rel=1e-15)
    flat = pf.risk_contributions(pd.Series({"A": 0.0, "B": 0.0}), cov)
    assert not flat.to_numpy()[:, 1:].any()

    import riskfolio as rp

    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(0, 0.01, (300, 5)) @ rng.normal(0, 1, (5, 5)))
    w = pd.Series([0.3, -0.2, 0.5, 0.1, 0.4])
    ours = pf.risk_contributions(w, x.cov())
    theirs = np.asarray(rp.Risk_Contribution(w.to_frame(), x, x.cov(), rm="MV")).ravel()
    np.testing.assert_allclose(ours["contribution"], theirs, rtol=1e-6, atol=1e-12)
    sigma = math.sqrt(w @ x.cov() @ w)
    assert ours["contribution"].sum() == pytest.approx(sigma, rel=1e-12)


def test_covariance_correlation_and_betas_are_the_rules_estimates(etfs: pd.DataFrame) -> None:
    close = etfs["close"]
    window = 60
    r = (close / close.shift(1) - 1.0).fillna(0.0).to_numpy()
    spy = close["SPY"]
    betas = pf.symbol_betas(close, spy, window)
    assert betas.iloc[:window].isna().all().all() and betas.iloc[window:].notna().all().all()
    ctx = build_context(close.to_numpy(), window, spy.to_numpy())
    for b in (window, 200, len(close) - 1):
        cov = np.zeros((3, 3))
        beta = np.zeros(3)
        assert window_estimates_nb(ctx, b, cov, beta)
        np.testing.assert_allclose(betas.iloc[b], beta, rtol=1e-10)
        sample = r[b - window + 1 : b + 1]
        np.testing.assert_allclose(pf.covariance(close, b, window), cov, rtol=1e-12)
        np.testing.assert_allclose(pf.covariance(close, b, window), np.cov(sample.T), rtol=1e-10)
        corr = pf.correlation(close, b, window)
        np.testing.assert_allclose(corr, np.corrcoef(sample.T), rtol=1e-10)
        np.testing.assert_allclose(betas.loc[close.index[b], "SPY"], 1.0, rtol=1e-12)
    with pytest.raises(DataError, match="fewer than the window"):
        pf.covariance(close, window - 1, window)


def test_book_var_is_the_windows_book_pnl_quantile(etfs: pd.DataFrame) -> None:
    close = etfs["close"]
    window, level = 50, 0.95
    targets = _monthly_targets(close, 2, -0.5, 0.8)
    res = tk.simulate(etfs, targets, NO_COSTS_CLOSE, weights=[1.0] * 3)
    w = pf.weights(res, etfs)
    v = pf.book_var(w, close, window, level)
    assert v.iloc[:window].isna().all().all()
    r = (close / close.shift(1) - 1.0).fillna(0.0).to_numpy()
    z = NormalDist().inv_cdf(level)
    k = math.ceil((1 - level) * window)  # 2.5: the 3rd worst day, lower order statistic
    for t in (window, 300, len(close) - 1):
        pnl = r[t - window + 1 : t + 1] @ w.iloc[t].to_numpy()
        assert v["historical_var"].iloc[t] == pytest.approx(-np.sort(pnl)[k - 1], rel=1e-12)
        assert v["historical_var"].iloc[t] == pytest.approx(tk.historical_var(pnl, level))
        assert v["historical_cvar"].iloc[t] == pytest.approx(tk.historical_cvar(pnl, level))
        assert v["parametric_var"].iloc[t] == pytest.approx(z * pnl.std(ddof=1), rel=1e-12)


def test_a_var_limited_book_sits_at_its_limit_after_each_cut(etfs: pd.DataFrame) -> None:
    """The view measures what the max_var rule measured: after a cut (close fills, no costs,
    fractional shares) the book's parametric VaR is the limit to 1e-9 on most cut bars and
    never above the limit or the VaR of the book held into the bar (prices drift between
    rebalances: an opening order may go as far as it does not make a breached limit worse)."""
    targets = _monthly_targets(etfs["close"], 4, 0.05, 0.3)  # cash never binds
    risk = RiskLimits(max_var=0.005, var_level=0.99, risk_window=60)
    res = tk.simulate(etfs, targets, NO_COSTS_CLOSE, weights=[1.0] * 3, risk=risk)
    cut = res.guards[(res.guards["rules"] == "max_var") & (res.guards["sent"] != 0.0)]
    assert len(cut) > 3
    close = etfs["close"]
    bars = cut["bar"].unique()
    after = pf.book_var(pf.weights(res, etfs), close, 60, 0.99)["parametric_var"].iloc[bars]
    held = res.positions.shift(1).fillna(0.0) * close / res.equity.to_numpy()[:, None]
    before = pf.book_var(held, close, 60, 0.99)["parametric_var"].iloc[bars]
    # never above the limit or the book held into the bar; a cut order leaves the book at
    # the limit unless a later order of the bar (a diversifier) lowers it
    assert (after <= np.maximum(before, 0.005) * (1 + 1e-9)).all()
    assert (np.abs(after / 0.005 - 1.0) < 1e-9).sum() > len(bars) / 2


def test_a_beta_limited_book_sits_at_its_limit_after_each_cut(etfs: pd.DataFrame) -> None:
    """The holdings beta is what the max_beta rule measured: after a cut (close fills, no
    costs, fractional shares) |sum of weight x beta| is never above the limit or the book
    held into the bar, and sits at the limit to 1e-9 where the cut order was the bar's last
    to move it (a different beta estimate would not meet it to 1e-9)."""
    targets = _monthly_targets(etfs["close"], 6, 0.05, 0.3)  # cash never binds
    risk = RiskLimits(max_beta=0.15, risk_window=60)
    res = tk.simulate(etfs, targets, NO_COSTS_CLOSE, weights=[1.0] * 3, risk=risk)
    cut = res.guards[(res.guards["rules"] == "max_beta") & (res.guards["sent"] != 0.0)]
    assert len(cut) > 3
    close = etfs["close"]
    betas = pf.symbol_betas(close, close["SPY"], 60)
    bars = cut["bar"].unique()
    after = pf.holdings_beta(pf.weights(res, etfs), betas).abs().iloc[bars]
    held = res.positions.shift(1).fillna(0.0) * close / res.equity.to_numpy()[:, None]
    before = pf.holdings_beta(held, betas).abs().iloc[bars]
    # an order cut to the limit may be followed by one that lowers the beta (TLT's is < 0)
    assert (after <= np.maximum(before, 0.15) * (1 + 1e-9)).all()
    assert (np.abs(after / 0.15 - 1.0) < 1e-9).sum() >= len(bars) / 3


def test_realised_beta_against_quantstats(etfs: pd.DataFrame) -> None:
    import quantstats as qs

    targets = _monthly_targets(etfs["close"], 5, 0.0, 0.6)
    res = tk.simulate(etfs, targets, NO_COSTS_CLOSE, weights=[1.0] * 3)
    spy = etfs["close"]["SPY"]
    n = len(spy)
    rb = pf.realised_beta(res.returns, etfs["close"], spy, n)
    bench = spy.pct_change().fillna(0.0).tz_localize(None)
    greeks = qs.stats.greeks(res.returns.tz_localize(None), bench, periods=252)
    assert rb.iloc[-1] == pytest.approx(float(greeks["beta"]), rel=1e-10)


def test_holdings_beta_is_weight_times_beta() -> None:
    w = pd.DataFrame({"A": [0.5, 0.5], "B": [-0.2, 0.0]})
    b = pd.DataFrame({"A": [np.nan, 1.2], "B": [np.nan, 0.4]})
    hb = pf.holdings_beta(w, b)
    assert math.isnan(hb.iloc[0]) and hb.iloc[1] == pytest.approx(0.6)


def test_pair_hedge_is_causal_and_matches_ols() -> None:
    files = [AV / "GLD.csv", AV / "GDX.csv"]  # Alpha Vantage: the classic pair
    gold = tk.load_many(files, "2012-01-01", "2014-12-31")["close"]
    y, x = gold["GDX"], gold["GLD"]
    roll = pf.pair_hedge(y, x, "rolling", window=60)
    t = 200
    b, a = np.polyfit(np.log(x.iloc[t - 59 : t + 1]), np.log(y.iloc[t - 59 : t + 1]), 1)
    assert roll["beta"].iloc[t] == pytest.approx(b, rel=1e-9)
    assert roll["alpha"].iloc[t] == pytest.approx(a, rel=1e-9)
    kal = pf.pair_hedge(y, x, "kalman", window=60)
    short = pf.pair_hedge(y.iloc[:400], x.iloc[:400], "kalman", window=60)
    pd.testing.assert_frame_equal(kal.iloc[:400], short)  # appending bars changes nothing
    assert kal["zscore"].iloc[60:].abs().median() < 2.0
    with pytest.raises(ConfigError, match="not 'kalman' or 'rolling'"):
        pf.pair_hedge(y, x, "ols")


def test_closes_of_another_panel_are_refused(hand: tuple[pd.DataFrame, tk.BacktestResult]) -> None:
    bars, r = hand
    with pytest.raises(DataError, match="pass the panel the backtest ran on"):
        pf.weights(r, bars["close"].iloc[:-1])
    with pytest.raises(DataError, match="symbols"):
        pf.weights(r, bars["close"][["B", "A"]])
