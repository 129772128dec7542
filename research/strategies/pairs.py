"""Pairs trading / statistical arbitrage with pair selection on past data only.

Design (Gatev, Goetzmann & Rouwenhorst 2006, "Pairs Trading: Performance of a Relative-Value
Arbitrage Rule", Rev. Financial Studies 19(3): a formation period chooses the pairs, the
following trading period trades them, and the two alternate): every ``trade`` bars, from
bar ``formation - 1`` on, the **trailing** ``formation`` bars of log closes are screened for
cointegration, every pair of the panel's columns, with the Engle-Granger two-step test
(Engle & Granger 1987, Econometrica 55(2); MacKinnon p-values, :func:`toolkit.stats.
coint_screen`). The p-values of all the pairs screened in that window get Benjamini-Hochberg
q-values (Benjamini & Hochberg 1995, JRSS B 57(1)); the pairs with q <= ``fdr`` -- at most
``max_pairs``, the smallest p-values first -- trade for the next ``trade`` bars, then the
screen is re-run and positions of pairs not chosen again are closed. The selection at bar s
reads bars s - formation + 1 .. s only, so the signal is causal by construction
(``tk.check_causal`` passes): no full-sample screen, and a walk-forward fold's test window
trades pairs chosen before each of its bars. Because every pair screened was a candidate,
count each one as a trial when deflating the Sharpe ratio (:func:`pair_trials`).

Spread and hedge ratio, in log prices (so the hedge ratio is a ratio of dollar exposures):

* ``kalman = 0`` (Engle-Granger): y - beta x - alpha with the formation window's OLS
  (beta, alpha); z = spread / the formation residuals' standard deviation (ddof 1).
* ``kalman = 1`` (Chan 2013, "Algorithmic Trading", ch. 3, the Kalman filter as a dynamic
  linear regression): :func:`toolkit.stats.kalman_hedge` filters (beta_t, alpha_t) as a
  random walk from the formation window's first bar, prior mean the window's OLS fit, prior
  covariance the identity, observation variance R = the OLS residual variance and state
  noise Q = delta / (1 - delta) R I; z_t = the one-step forecast error of y over its
  standard deviation, v_t / sqrt(F_t).

Rules, per chosen pair (y, x) and bar t of its trading period: flat, z >= ``entry`` shorts
the spread (y short, x long), z <= -``entry`` buys it; a long spread is closed when z >=
-``exit``, a short one when z <= ``exit`` (``exit = 0``: when the spread crosses its mean).
A position's weights are fixed when it opens: ``1 / max_pairs`` of equity in gross, split
as y : x = 1 : -beta (dollars), so the share counts are in the hedge ratio at the entry
close; they are held unchanged (the engine's ``on_change`` trades nothing) until the exit.
Pairs sharing a symbol add their weights. There is no stop-loss: a spread that does not
revert is held to the end of the trading period (Gatev et al.'s rule).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit.analysis.overfitting import DeflatedSharpe, deflated_sharpe
from toolkit.stats import coint_screen, kalman_hedge

# screens already run, by window content: a sweep over entry/exit/kalman re-screens the same
# windows; the result depends on the window only, so reusing it keeps the signal pure
Screen = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_SCREENS: dict[tuple[bytes, tuple[int, ...]], Screen] = {}
_SCREENS_MAX = 1024
COLUMNS = ["i", "j", "p_value", "q_value", "beta", "alpha", "resid_sd"]
Pair = tuple[int, int, float, float, float, float, float]


def _screen(window: np.ndarray) -> Screen:
    """coint_screen of ``window`` (bars x columns) as arrays (y index, x index, p, q, beta)
    sorted by p-value (stable), from the cache when already run."""
    key = (hashlib.blake2b(window.tobytes(), digest_size=20).digest(), window.shape)
    hit = _SCREENS.get(key)
    if hit is None:
        frame = coint_screen(pd.DataFrame(window, columns=range(window.shape[1])))
        order = np.argsort(frame["p_value"].to_numpy(), kind="stable")
        hit = (
            frame["y"].to_numpy(dtype=np.int64)[order],
            frame["x"].to_numpy(dtype=np.int64)[order],
            frame["p_value"].to_numpy(dtype=np.float64)[order],
            frame["q_value"].to_numpy(dtype=np.float64)[order],
            frame["beta"].to_numpy(dtype=np.float64)[order],
        )
        if len(_SCREENS) >= _SCREENS_MAX:
            _SCREENS.pop(next(iter(_SCREENS)))
        _SCREENS[key] = hit
    return hit


def _choose(log_window: np.ndarray, fdr: float, max_pairs: int) -> tuple[list[Pair], int]:
    """:func:`select_pairs` as plain tuples, and the number of pairs screened."""
    ok = np.flatnonzero(np.isfinite(log_window).all(axis=0) & (np.ptp(log_window, axis=0) > 0))
    if ok.size < 2:
        return [], 0
    window = np.ascontiguousarray(log_window[:, ok])
    yi, xi, p, q, beta = _screen(window)
    rows: list[Pair] = []
    for k in np.flatnonzero(q <= fdr)[:max_pairs]:  # already in p-value order
        yy, xx, b = window[:, yi[k]], window[:, xi[k]], float(beta[k])
        alpha = float(yy.mean() - b * xx.mean())  # OLS with a constant: ybar - beta xbar
        sd = float((yy - b * xx - alpha).std(ddof=1))
        rows.append((int(ok[yi[k]]), int(ok[xi[k]]), float(p[k]), float(q[k]), b, alpha, sd))
    return rows, len(p)


def select_pairs(log_window: np.ndarray, fdr: float, max_pairs: int) -> pd.DataFrame:
    """The pairs chosen from one formation window of log closes (bars x symbols): the
    Engle-Granger screen over every pair of the columns that are finite and move in the
    window, BH q-values over all of them, the rejected ones (q <= fdr) with the smallest
    p-values first, at most ``max_pairs``. Columns ``i``, ``j`` (y, x: panel column indices),
    p_value, q_value, beta, alpha, resid_sd; ``attrs["screened"]`` = pairs screened."""
    rows, screened = _choose(log_window, fdr, max_pairs)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["screened"] = screened
    return out


def _zscores(
    logp: np.ndarray,
    pair: tuple[int, int, float, float, float],
    lo: int,
    s: int,
    end: int,
    kalman: int,
    delta: float,
) -> tuple[np.ndarray, np.ndarray]:
    """z-score and hedge ratio of pair (i, j, beta, alpha, sd) on bars s .. end - 1, from a
    formation window starting at ``lo``."""
    i, j, beta, alpha, sd = pair
    y, x = logp[:, i], logp[:, j]
    if not kalman:
        z = (y[s:end] - beta * x[s:end] - alpha) / sd
        return z, np.full(end - s, beta)
    r = sd * sd
    kf = kalman_hedge(
        y[lo:end],
        x[lo:end],
        transition_cov=delta / (1.0 - delta) * r,
        observation_cov=r,
        initial_mean=(beta, alpha),
        initial_cov=1.0,
    )
    return kf.zscore[s - lo :], kf.beta[s - lo :]


def periods(n: int, formation: int, trade: int) -> range:
    """The selection bars: formation - 1, then every ``trade`` bars."""
    return range(formation - 1, n, trade)


@tk.strategy(
    kind="cross_sectional",
    params=[
        tk.Param("formation", int, 252, 40, 2520, "bars screened before each trading period"),
        tk.Param("trade", int, 126, 1, 1260, "bars the chosen pairs trade, then re-screen"),
        tk.Param("fdr", float, 0.05, 0.001, 1.0, "Benjamini-Hochberg level (1: every pair)"),
        tk.Param("max_pairs", int, 5, 1, 100, "pairs held at most, 1/max_pairs gross each"),
        tk.Param("entry", float, 2.0, 0.1, 10.0, "open when |z| reaches this"),
        tk.Param("exit", float, 0.5, -5.0, 5.0, "close when z is back within +/- this"),
        tk.Param("kalman", int, 0, 0, 1, "1: Kalman-filter hedge ratio and z-score"),
        tk.Param("delta", float, 1e-4, 1e-9, 0.5, "Kalman state noise Q = delta/(1-delta) R"),
    ],
    valid=lambda p: p["exit"] < p["entry"],
    valid_doc="exit < entry",
)
def pairs_trading(
    close: np.ndarray,
    formation: int,
    trade: int,
    fdr: float,
    max_pairs: int,
    entry: float,
    exit: float,
    kalman: int,
    delta: float,
) -> np.ndarray:
    """Weights (bars x symbols) of the pairs chosen on each trailing formation window and
    traded on their spread z-score (module docstring); 0 before bar ``formation - 1``."""
    n, m = close.shape
    if m < 2:
        raise tk.ConfigError("pairs_trading needs at least two symbols (one pair) in the panel.")
    if exit >= entry:
        raise tk.ConfigError(f"pairs_trading: exit = {exit} must be below entry = {entry}.")
    logp = np.log(close)
    out = np.zeros((n, m))
    gross = 1.0 / max_pairs
    for s in periods(n, formation, trade):
        lo, end = s - formation + 1, min(s + trade, n)
        chosen, _ = _choose(logp[lo : s + 1], fdr, max_pairs)
        for i, j, _p, _q, beta, alpha, sd in chosen:
            if not sd > 0:
                continue
            z, hedge = _zscores(logp, (i, j, beta, alpha, sd), lo, s, end, kalman, delta)
            side, wy, wx = 0, 0.0, 0.0
            for k, t in enumerate(range(s, end)):
                if side == 0 and abs(z[k]) >= entry:
                    side = -1 if z[k] > 0 else 1
                    b = hedge[k]
                    wy = side * gross / (1.0 + abs(b))
                    wx = -side * gross * b / (1.0 + abs(b))
                elif (side == 1 and z[k] >= -exit) or (side == -1 and z[k] <= exit):
                    side, wy, wx = 0, 0.0, 0.0
                out[t, i] += wy
                out[t, j] += wx
    return out


def spreads(close: pd.DataFrame, params: Mapping[str, float]) -> pd.DataFrame:
    """What the strategy traded on, bar by bar (long format, for reports): for every pair
    chosen at each selection, its trading bars' ``z`` (the signal's z-score) and ``hedge``
    (its hedge ratio), with the selection date, the pair (``y``, ``x``) and its p- and
    q-values. Uses ``params`` as the signal does (defaults for keys left out)."""
    p = pairs_trading.resolve(dict(params))
    formation, trade = int(p["formation"]), int(p["trade"])
    logp = np.log(close.to_numpy(dtype=np.float64))
    names = list(close.columns)
    parts = []
    for s in periods(len(close), formation, trade):
        lo, end = s - formation + 1, min(s + trade, len(close))
        chosen, _ = _choose(logp[lo : s + 1], float(p["fdr"]), int(p["max_pairs"]))
        for i, j, pv, qv, beta, alpha, sd in chosen:
            if not sd > 0:
                continue
            pair = (i, j, beta, alpha, sd)
            z, hedge = _zscores(logp, pair, lo, s, end, int(p["kalman"]), float(p["delta"]))
            parts.append(
                pd.DataFrame(
                    {
                        "date": close.index[s:end],
                        "selected": close.index[s],
                        "y": names[i],
                        "x": names[j],
                        "z": z,
                        "hedge": hedge,
                        "p_value": pv,
                        "q_value": qv,
                    }
                )
            )
    columns = ["date", "selected", "y", "x", "z", "hedge", "p_value", "q_value"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def selections(
    close: pd.DataFrame, formation: int, trade: int, fdr: float, max_pairs: int
) -> pd.DataFrame:
    """Every formation window's screen summary: selection date, pairs screened, raw
    p < 0.05 count, BH rejections at ``fdr`` and the pairs chosen (``"Y/X"``)."""
    logp = np.log(close.to_numpy(dtype=np.float64))
    names = list(close.columns)
    rows = []
    for s in periods(len(close), formation, trade):
        window = logp[s - formation + 1 : s + 1]
        chosen = select_pairs(window, 1.0, 10**6)  # the whole screen, ordered by p
        rejected = chosen[chosen["q_value"] <= fdr].iloc[:max_pairs]
        rows.append(
            {
                "date": close.index[s],
                "screened": chosen.attrs["screened"],
                "raw_p05": int((chosen["p_value"] < 0.05).sum()),
                "bh": int((chosen["q_value"] <= fdr).sum()),
                "chosen": ", ".join(
                    f"{names[i]}/{names[j]}"
                    for i, j in rejected[["i", "j"]].itertuples(index=False)
                ),
            }
        )
    return pd.DataFrame(rows)


def pair_trials(
    panel: pd.DataFrame,
    params: Mapping[str, float] | Sequence[Mapping[str, float]],
    settings: tk.EngineSettings | None = None,
) -> pd.DataFrame:
    """The trials a screen picks from: each pair of the panel traded alone (fdr = 1: in every
    period, chosen or not) with each parameter set in ``params`` (one set or a list, e.g.
    the swept grid). One row per pair x set: the pair, the set's index and the daily
    returns' Sharpe ratio (not annualised); their variance feeds the deflated Sharpe ratio."""
    sets = [params] if isinstance(params, Mapping) else list(params)
    symbols = list(panel["close"].columns)
    rows = []
    for k, p in enumerate(sets):
        for y, x in combinations(symbols, 2):
            sub = panel.loc[:, (slice(None), [y, x])]
            res = tk.backtest(sub, pairs_trading, {**p, "fdr": 1.0, "max_pairs": 1}, settings)
            r = res.returns.to_numpy()
            sd = r.std(ddof=1)
            rows.append(
                {"pair": f"{y}/{x}", "set": k, "sharpe_daily": r.mean() / sd if sd > 0 else 0.0}
            )
    return pd.DataFrame(rows)


def pairs_dsr(
    returns: pd.Series, trials: pd.DataFrame, n_trials: int | None = None
) -> DeflatedSharpe:
    """Deflated Sharpe ratio (Bailey & Lopez de Prado 2014) of the pairs book's daily
    ``returns``, every row of :func:`pair_trials` (screened pair x parameter set) counted as
    a trial (or ``n_trials``, e.g. also x the formation windows) and the trials' Sharpe
    variance (ddof 1) as the variance of the skill-less maximum."""
    count = len(trials) if n_trials is None else n_trials
    variance = float(np.var(trials["sharpe_daily"], ddof=1)) if len(trials) > 1 else 0.0
    return deflated_sharpe(returns, max(1, count), variance if math.isfinite(variance) else 0.0)
