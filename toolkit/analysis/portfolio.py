"""A book's portfolio view from a backtest: weights by symbol and sector, gross/net exposure,
beta, VaR/CVaR, risk contributions, correlations, P&L by symbol, and pair hedge ratios.

Everything is computed from a :class:`~toolkit.engine.result.BacktestResult` and the close
panel it ran on, with the estimators of the portfolio risk rules (:mod:`toolkit.risk.portfolio`)
so the view shows what the rules saw: close-to-close simple returns (row 0 and gaps count as no
move), the sample covariance (ddof 1) and beta = cov / var over the last ``window`` returns up
to and including the bar, VaR/CVaR of today's weights applied to those returns (historical:
:mod:`toolkit.risk.var`'s order statistic; parametric: zero mean, z x sigma, as the rules).

Weights are signed exposures as fractions of equity at each bar's close, after that bar's
fills (``positions x close / equity``): the book that carries into the next bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from toolkit.engine.result import BacktestResult
from toolkit.errors import ConfigError, DataError
from toolkit.risk.portfolio import build_context, window_estimates_nb
from toolkit.risk.var import (
    book_pnl_nb,
    gaussian_cvar,
    gaussian_var,
    sorted_cvar_nb,
    sorted_var_nb,
)
from toolkit.stats import kalman_hedge, rolling_beta

OTHER = "Other"  # sector bucket of symbols the sector map lacks (bond, gold, broad ETFs)


def close_of(bars: pd.DataFrame, result: BacktestResult | None = None) -> pd.DataFrame:
    """The (bars x symbols) closes of a (field, symbol) panel -- or a closes frame as given --
    checked against ``result``'s positions (same dates, same symbols in the same order)."""
    close = bars["close"] if isinstance(bars.columns, pd.MultiIndex) else bars
    if isinstance(close, pd.Series):
        close = close.to_frame()
    close = close.astype(np.float64)
    if result is not None:
        pos = result.positions
        if not close.index.equals(pos.index):
            raise DataError(
                f"the closes cover {len(close)} bars, the result {len(pos)}: pass the panel "
                "the backtest ran on."
            )
        if [str(c) for c in close.columns] != [str(c) for c in pos.columns]:
            raise DataError(
                f"the closes' symbols {list(close.columns)} are not the result's "
                f"{list(pos.columns)}: pass the panel the backtest ran on."
            )
        close = close.set_axis(pos.columns, axis=1)
    return close


def returns_of(close: pd.DataFrame) -> pd.DataFrame:
    """Close-to-close simple returns as the risk rules estimate from (row 0 and a gap: 0)."""
    return pd.DataFrame(_returns(close), index=close.index, columns=close.columns)


def _returns(close: pd.DataFrame) -> np.ndarray:
    """:func:`returns_of` as the C-ordered array the risk context holds (rows slice cheaply)."""
    return build_context(close.to_numpy(dtype=np.float64), 2).returns


def weights(result: BacktestResult, close: pd.DataFrame) -> pd.DataFrame:
    """Signed exposure of each symbol as a fraction of equity at each bar's close."""
    close = close_of(close, result)
    value = result.positions.to_numpy() * close.to_numpy()
    equity = result.equity.to_numpy()[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(equity > 0.0, value / equity, np.nan)
    return pd.DataFrame(w, index=close.index, columns=close.columns).fillna(0.0)


def sector_map(symbols: list[str], sectors: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each symbol's GICS sector from ``sectors`` or the shipped S&P 500 map (with the sector
    SPDRs); symbols neither knows go to :data:`OTHER`."""
    if sectors is None:
        from toolkit.data.reference import load_sector_map

        sectors = load_sector_map()
    table = {str(k).upper(): v for k, v in sectors.items()}
    return {s: table.get(str(s).upper(), OTHER) for s in symbols}


def sector_weights(
    w: pd.DataFrame, sectors: Mapping[str, str] | None = None, *, gross: bool = False
) -> pd.DataFrame:
    """Weights summed by sector (net; ``gross``: of absolute weights, what ``max_sector``
    limits), sectors in alphabetical order with :data:`OTHER` last."""
    table = sector_map([str(c) for c in w.columns], sectors)
    labels = [table[str(c)] for c in w.columns]
    frame = (w.abs() if gross else w).T.groupby(labels).sum().T
    order = sorted(c for c in frame.columns if c != OTHER) + [c for c in frame if c == OTHER]
    return frame[order]


def exposures(w: pd.DataFrame) -> pd.DataFrame:
    """Long, short (negative), gross and net exposure per bar as fractions of equity."""
    long_ = w.clip(lower=0.0).sum(axis=1)
    short = w.clip(upper=0.0).sum(axis=1)
    return pd.DataFrame(
        {"long": long_, "short": short, "gross": long_ - short, "net": long_ + short}
    )


def symbol_betas(close: pd.DataFrame, benchmark: pd.Series, window: int = 250) -> pd.DataFrame:
    """Each symbol's beta to ``benchmark`` (closes on the same dates) over the last
    ``window`` returns up to each bar, cov / var as the ``max_beta`` rule estimates it; NaN
    before a full window of returns (bar ``window``)."""
    bench = _bench_returns(close, benchmark)
    r = _returns(close)
    out = np.full(r.shape, np.nan)
    for j in range(r.shape[1]):
        out[:, j] = rolling_beta(r[:, j], bench, window).beta  # OLS slope = cov / var
    out[:window] = np.nan  # the rules wait for `window` returns after the first bar
    return pd.DataFrame(out, index=close.index, columns=close.columns)


def holdings_beta(w: pd.DataFrame, betas: pd.DataFrame) -> pd.Series:
    """The book's beta, sum of weight x beta (what ``max_beta`` limits); NaN before betas."""
    beta = (w * betas.fillna(0.0)).sum(axis=1)
    return beta.where(betas.notna().all(axis=1)).rename("holdings_beta")


def realised_beta(
    returns: pd.Series, close: pd.DataFrame, benchmark: pd.Series, window: int = 250
) -> pd.Series:
    """Rolling OLS beta of the book's own returns on the benchmark's over ``window`` bars."""
    bench = _bench_returns(close, benchmark)
    r = np.nan_to_num(returns.to_numpy(dtype=np.float64))
    return pd.Series(rolling_beta(r, bench, window).beta, index=returns.index, name="realised_beta")


def _bench_returns(close: pd.DataFrame, benchmark: pd.Series) -> np.ndarray:
    bench = benchmark.reindex(close.index)
    if bench.isna().any():
        missing = bench.index[bench.isna()]
        raise DataError(
            f"the benchmark {benchmark.name} has no close on {len(missing)} of the book's "
            f"dates (first {missing[0].date()}); pass closes for every bar."
        )
    return returns_of(bench.to_frame()).to_numpy()[:, 0]


_VAR_COLUMNS = ["historical_var", "historical_cvar", "parametric_var", "parametric_cvar"]


def book_var(
    w: pd.DataFrame, close: pd.DataFrame, window: int = 250, level: float = 0.99
) -> pd.DataFrame:
    """One-day VaR and CVaR of each bar's book as fractions of equity: today's weights applied
    to the last ``window`` returns of its symbols (the P&L history :func:`toolkit.risk.var.
    book_pnl_nb` builds), historical (lower order statistic, Acerbi-Tasche CVaR) and
    parametric with a zero mean -- the figures ``max_var`` / ``max_cvar`` check. The value
    at bar t is the forecast for the return of bar t + 1; NaN before a full window."""
    r = _returns(close)
    wv = w.to_numpy(dtype=np.float64)
    n = r.shape[0]
    alpha = 1.0 - level
    out = np.full((n, 4), np.nan)
    if n <= window:
        return pd.DataFrame(out, index=w.index, columns=_VAR_COLUMNS)
    out[window:] = 0.0  # a flat book risks nothing
    held = np.flatnonzero(wv[window:].any(axis=1)) + window
    pnl = np.empty((held.size, window))
    for k, t in enumerate(held):
        pnl[k] = book_pnl_nb(r[t - window + 1 : t + 1], wv[t])
    ordered = np.sort(pnl, axis=1)
    for k, t in enumerate(held):
        out[t, 0] = sorted_var_nb(ordered[k], alpha, False)
        out[t, 1] = sorted_cvar_nb(ordered[k], alpha)
    sd = pnl.std(axis=1, ddof=1) if window > 1 else np.zeros(held.size)
    out[held, 2] = gaussian_var(0.0, 1.0, level) * sd  # zero mean: z x sigma
    out[held, 3] = gaussian_cvar(0.0, 1.0, level) * sd
    return pd.DataFrame(out, index=w.index, columns=_VAR_COLUMNS)


def covariance(close: pd.DataFrame, at: int = -1, window: int = 250) -> pd.DataFrame:
    """Sample covariance (ddof 1) of the ``window`` returns up to bar ``at`` -- the risk
    rules' own estimate (:func:`toolkit.risk.portfolio.window_estimates_nb`)."""
    values = close.to_numpy(dtype=np.float64)
    n, m = values.shape
    b = at % n
    ctx = build_context(values, window)
    cov = np.zeros((m, m))
    if not window_estimates_nb(ctx, b, cov, np.zeros(m)):
        raise DataError(
            f"bar {b} ({close.index[b].date()}) has {b} returns before it, fewer than the "
            f"window of {window}: choose a later bar or a shorter window."
        )
    return pd.DataFrame(cov, index=close.columns, columns=close.columns)


def correlation(close: pd.DataFrame, at: int = -1, window: int = 250) -> pd.DataFrame:
    """Correlation matrix of the ``window`` returns up to bar ``at`` (a symbol that did not
    move has 1 with itself and 0 with the others, as the ``max_corr_exposure`` rule counts)."""
    cov = covariance(close, at, window).to_numpy()
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = cov / np.outer(sd, sd)
    rho[~np.isfinite(rho)] = 0.0
    np.fill_diagonal(rho, 1.0)
    return pd.DataFrame(rho, index=close.columns, columns=close.columns)


def risk_contributions(
    w: pd.Series, cov: pd.DataFrame, periods_per_year: float = 1.0
) -> pd.DataFrame:
    """Euler decomposition of the book's volatility sigma_p = sqrt(w' Sigma w): each symbol's
    contribution w_i (Sigma w)_i / sigma_p, and they sum to sigma_p (sigma_p is homogeneous
    of degree 1 in w, so by Euler's theorem sigma_p = sum_i w_i d sigma_p / d w_i; Litterman
    1996, "Hot Spots and Hedges", Goldman Sachs Risk Management Series; Roncalli 2013,
    "Introduction to Risk Parity and Budgeting", sec. 2.2). Columns: weight, marginal
    (d sigma_p / d w_i), contribution, share (contribution / sigma_p; 0 for a flat book).
    Volatilities are per bar, or annualised with ``periods_per_year``."""
    wv = w.reindex(cov.index).fillna(0.0).to_numpy(dtype=np.float64)
    sigma = cov.to_numpy(dtype=np.float64) * periods_per_year
    sw = sigma @ wv
    vol = math.sqrt(max(float(wv @ sw), 0.0))
    marginal = sw / vol if vol > 0.0 else np.zeros_like(sw)
    contribution = wv * marginal
    share = contribution / vol if vol > 0.0 else np.zeros_like(sw)
    return pd.DataFrame(
        {"weight": wv, "marginal": marginal, "contribution": contribution, "share": share},
        index=cov.index,
    )


def pnl_by_symbol(result: BacktestResult, close: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each bar's P&L per symbol in three parts: ``holding`` = position_{t-1} x (close_t -
    close_{t-1}), ``trading`` = sum over the bar's fills of quantity x (close_t - fill
    price) (slippage, and the open-to-close move of a next-open fill), ``commission``;
    ``net`` = holding + trading - commission. Summed over symbols, net is exactly the bar's
    equity change (equity = cash + positions x close; bar 0 against the initial cash)."""
    close = close_of(close, result)
    c = close.to_numpy()
    pos = result.positions.to_numpy()
    n, m = c.shape
    holding = np.zeros((n, m))
    if n > 1:
        holding[1:] = pos[:-1] * (c[1:] - c[:-1])
    trading = np.zeros((n, m))
    commission = np.zeros((n, m))
    orders = result.orders
    if len(orders):
        col = {str(s): j for j, s in enumerate(close.columns)}
        bar = orders["bar"].to_numpy(dtype=np.int64)
        sym = np.array([col[str(s)] for s in orders["symbol"]], dtype=np.int64)
        qty = orders["quantity"].to_numpy(dtype=np.float64)
        px = orders["price"].to_numpy(dtype=np.float64)
        np.add.at(trading, (bar, sym), qty * (c[bar, sym] - px))
        np.add.at(commission, (bar, sym), orders["commission"].to_numpy(dtype=np.float64))
    parts = {"holding": holding, "trading": trading, "commission": commission}
    parts["net"] = holding + trading - commission
    return {k: pd.DataFrame(v, index=close.index, columns=close.columns) for k, v in parts.items()}


def pnl_table(result: BacktestResult, close: pd.DataFrame) -> pd.DataFrame:
    """Total P&L per symbol (holding, trading, commission, net, share of the net total),
    largest net first; the net column sums to final equity - initial cash."""
    parts = pnl_by_symbol(result, close)
    table = pd.DataFrame({k: v.sum() for k, v in parts.items()})
    total = table["net"].sum()
    table["share"] = table["net"] / total if total != 0.0 else 0.0
    table.index.name = "symbol"
    return table.sort_values("net", ascending=False)


def pair_hedge(
    y: pd.Series,
    x: pd.Series,
    method: str = "kalman",
    *,
    window: int = 60,
    delta: float = 1e-4,
) -> pd.DataFrame:
    """Hedge ratio and spread z-score of log(y) on log(x) (so the ratio is one of dollar
    exposures), causal: ``kalman`` filters (beta, alpha) as a random walk
    (:func:`toolkit.stats.kalman_hedge`, Q = delta / (1 - delta) R I with R the first
    ``window`` bars' OLS residual variance, prior the identity around that fit; z = forecast
    error / its standard deviation, Chan 2013 ch. 3); ``rolling`` is the OLS fit of the last
    ``window`` bars (:func:`toolkit.stats.rolling_beta`; z = residual / residual sd).
    Columns: beta, alpha, spread, zscore."""
    ly = np.log(y.to_numpy(dtype=np.float64))
    lx = np.log(x.to_numpy(dtype=np.float64))
    if method == "kalman":
        b0, a0 = np.polyfit(lx[:window], ly[:window], 1)
        r = float(np.var(ly[:window] - (b0 * lx[:window] + a0), ddof=2))
        fit = kalman_hedge(ly, lx, delta / (1.0 - delta) * r, r, (float(b0), float(a0)), 1.0)
        beta, alpha = fit.beta, fit.alpha
        spread, z = fit.error, fit.zscore
    elif method == "rolling":
        roll = rolling_beta(ly, lx, window)
        beta, alpha = roll.beta, roll.alpha
        spread = ly - (beta * lx + alpha)
        z = spread / roll.resid_std
    else:
        raise ConfigError(f"pair_hedge method {method!r} is not 'kalman' or 'rolling'.")
    return pd.DataFrame(
        {"beta": beta, "alpha": alpha, "spread": spread, "zscore": z}, index=y.index
    )
