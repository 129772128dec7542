"""Portfolio risk rules in the engine (toolkit.risk.portfolio through the close-of-bar step):
after every rebalance the book meets each limit (or is no worse than before it), volatility
targeting sizes exactly, nothing opens before a full estimation window, and a sweep row
under the rules equals the backtest."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.risk import RiskLimits
from toolkit.sweep import make_grid, sweep

SYMBOLS = ["SPY", "TLT", "XLE", "GLD"]
WINDOW = 60
# leverage room so that cash never trims a buy: the buying-power trim comes after the
# portfolio rules and may move the book again (result.guards then says "buying_power")
CLOSE_FILLS = tk.EngineSettings(
    fill="close", fractional=True, commission=tk.no_costs(), max_leverage=4.0
)


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return tk.load_many(SYMBOLS, "2016-01-01", "2019-12-31")


def _monthly_targets(bars: pd.DataFrame, seed: int, low: float, high: float) -> pd.DataFrame:
    """Random target weights, changed on the first bar of every month."""
    close = bars["close"]
    rng = np.random.default_rng(seed)
    month = close.index.year * 12 + close.index.month
    first = np.r_[True, month[1:] != month[:-1]]
    t = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    t.loc[first] = rng.uniform(low, high, size=(int(first.sum()), close.shape[1]))
    return t.ffill()


def _window(close: pd.DataFrame, i: int) -> np.ndarray:
    r = (close / close.shift(1) - 1.0).fillna(0.0).to_numpy()
    return r[i - WINDOW + 1 : i + 1]


def _checked_rebalances(
    result: tk.BacktestResult, close: pd.DataFrame, measure, limit: float
) -> int:
    """At every rebalance the book after the close's orders meets the limit, or is no worse
    than the book after its reductions and covers alone (those always pass). Returns the
    number of rebalances that opened exposure."""
    pos = result.positions.to_numpy()
    px = close.to_numpy()
    checked = 0
    for i in range(1, len(pos)):
        old, new = pos[i - 1], pos[i]
        if np.array_equal(old, new):
            continue
        value = float(result.equity.iloc[i])  # no costs, close fills: unchanged by the orders
        reduced = old.copy()
        opened = False
        for j in range(len(old)):
            if old[j] != 0.0 and new[j] * old[j] >= 0.0 and abs(new[j]) <= abs(old[j]):
                reduced[j] = new[j]  # a reduction
            else:
                reduced[j] = 0.0 if old[j] != 0.0 and new[j] * old[j] < 0.0 else old[j]
                opened = opened or new[j] != old[j]
        if not opened:
            continue
        after = measure(i, new * px[i] / value)
        before = measure(i, reduced * px[i] / value)
        assert after <= max(limit, before) * (1 + 1e-9) + 1e-12, (close.index[i], after, before)
        checked += 1
    return checked


def test_beta_limit_holds_after_every_rebalance(book: pd.DataFrame) -> None:
    limit = 0.05
    risk = RiskLimits(max_beta=limit, risk_window=WINDOW)
    targets = _monthly_targets(book, 1, -0.6, 0.6)
    r = tk.simulate(book, targets, CLOSE_FILLS, weights=[1.0] * 4, risk=risk)
    close = book["close"]
    spy = list(close.columns).index("SPY")

    def beta(i: int, w: np.ndarray) -> float:
        win = _window(close, i)
        x = win[:, spy]
        b = [np.cov(win[:, k], x, ddof=1)[0, 1] / np.var(x, ddof=1) for k in range(4)]
        return abs(float(w @ np.array(b)))

    assert _checked_rebalances(r, close, beta, limit) > 20
    # without the rule the same targets breach it: the rule is what holds it
    free = tk.simulate(book, targets, CLOSE_FILLS, weights=[1.0] * 4)
    assert not np.array_equal(free.positions.to_numpy(), r.positions.to_numpy())


def test_parametric_var_limit_holds_after_every_rebalance(book: pd.DataFrame) -> None:
    limit, level = 0.008, 0.99
    risk = RiskLimits(max_var=limit, var_level=level, risk_window=WINDOW)
    targets = _monthly_targets(book, 2, 0.0, 0.7)
    r = tk.simulate(book, targets, CLOSE_FILLS, weights=[1.0] * 4, risk=risk)
    close = book["close"]
    z = NormalDist().inv_cdf(level)

    def var(i: int, w: np.ndarray) -> float:
        return z * math.sqrt(float(w @ np.cov(_window(close, i), rowvar=False, ddof=1) @ w))

    assert _checked_rebalances(r, close, var, limit) > 20
    free = tk.simulate(book, targets, CLOSE_FILLS, weights=[1.0] * 4)
    assert not np.array_equal(free.positions.to_numpy(), r.positions.to_numpy())


def test_vol_target_sizes_each_entry_exactly(book: pd.DataFrame) -> None:
    one = tk.load("SPY").loc["2016":"2017"]
    vt = 0.08
    targets = pd.Series(1.0, index=one.index)
    s = tk.EngineSettings(fill="close", fractional=True, commission=tk.no_costs(), max_leverage=3.0)
    r = tk.simulate(one, targets, s, risk=RiskLimits(vol_target=vt, risk_window=WINDOW))
    pos = r.positions.to_numpy()[:, 0]
    first = int(np.flatnonzero(pos != 0.0)[0])
    assert first == WINDOW  # no estimate before a full window: the entry waited
    close = one["close"]
    win = _window(close.to_frame(), first)[:, 0]
    sigma = np.std(win, ddof=1) * math.sqrt(252.0)
    weight = pos[first] * close.iloc[first] / r.equity.iloc[first]
    assert weight == pytest.approx(vt / sigma, rel=1e-12)


def test_nothing_opens_before_a_full_window(book: pd.DataFrame) -> None:
    targets = _monthly_targets(book, 3, 0.1, 0.3)
    r = tk.simulate(book, targets, CLOSE_FILLS, risk=RiskLimits(max_net=2.0, risk_window=WINDOW))
    pos = r.positions.to_numpy()
    assert not pos[:WINDOW].any()
    assert pos[WINDOW].any()  # the waiting orders go on the first bar with an estimate


def test_sweep_rows_equal_backtests_under_portfolio_rules() -> None:
    bars = tk.load("SPY").loc["2014":"2016"]
    risk = RiskLimits(max_var=0.01, vol_target=0.15, risk_window=WINDOW)
    grid = make_grid("sma_cross", {"fast": [5, 20], "slow": [50, 100]})
    rows = sweep(bars, "sma_cross", grid, risk=risk, progress=False)
    for _, row in rows.iterrows():
        params = {"fast": int(row["fast"]), "slow": int(row["slow"])}
        m = tk.backtest(bars, "sma_cross", params, risk=risk).metrics()
        for key in ("final_equity", "sharpe", "max_drawdown", "trades"):
            assert row[key] == pytest.approx(m[key], rel=1e-9, nan_ok=True), key


def test_benchmark_outside_the_book_is_loaded_and_a_missing_one_named() -> None:
    bars = tk.load_many(["TLT", "GLD"], "2016-01-01", "2017-12-31")
    targets = _monthly_targets(bars, 4, 0.2, 0.5)
    r = tk.simulate(bars, targets, CLOSE_FILLS, risk=RiskLimits(max_beta=0.02, risk_window=WINDOW))
    assert np.isfinite(r.metrics()["final_equity"])
    with pytest.raises(tk.ConfigError, match=r"benchmark = 'NOPE'"):
        tk.simulate(bars, targets, CLOSE_FILLS, risk=RiskLimits(max_beta=0.1, benchmark="NOPE"))


def test_result_guards_name_every_firing(book: pd.DataFrame) -> None:
    """Every cut or hold-back is a row of result.guards naming its rule, on the decision
    bar: the orders that went out there are the cut sizes."""
    risk = RiskLimits(max_beta=0.05, risk_window=WINDOW)
    targets = _monthly_targets(book, 1, -0.6, 0.6)
    r = tk.simulate(book, targets, CLOSE_FILLS, weights=[1.0] * 4, risk=risk)
    g = r.guards
    assert set(g["rules"]) == {"max_beta", "risk_warmup"}
    warm = g[g["rules"] == "risk_warmup"]
    assert (warm["bar"] < WINDOW).all() and (warm["sent"] == 0.0).all()
    cut = g[(g["rules"] == "max_beta") & (g["sent"] != 0.0)]
    assert len(cut) > 5
    assert (cut["sent"].abs() < cut["target_position"].abs() + r.positions.abs().max().max()).all()
    orders = r.orders.set_index(["bar", "symbol"])["quantity"]
    for _, row in cut.iterrows():
        assert orders.loc[(row["bar"], row["symbol"])] == pytest.approx(row["sent"])
    free = tk.simulate(book, targets, CLOSE_FILLS, weights=[1.0] * 4).guards
    assert set(free["rules"]) <= {"buying_power"}  # cash still trims buys; no portfolio rule
