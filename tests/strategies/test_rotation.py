"""Sector rotation and asset-class dual momentum (research/strategies/): hand-computed
weights on small panels, an independent pandas ranking on the shipped ETFs, causality, and
the sweep / walk-forward doors every strategy goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from research.strategies.dual_momentum import dual_momentum
from research.strategies.sector_rotation import sector_rotation
from toolkit.engine.backtest import strategy_targets

REPO = Path(__file__).resolve().parents[2]
NINE = ["XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY"]  # the 1998 sectors


def _weights(fn: Any, close: list[list[float]], **params: int) -> np.ndarray:
    """The decorated function's signal on a (bars x symbols) close panel."""
    c = np.array(close, dtype=np.float64).T
    vec = fn.vector(fn.resolve(params))
    return fn.signal(c, c, c, c, np.ones_like(c), vec)


def test_sector_rotation_hand_case() -> None:
    """A, B and the T-bill column C; lookback 2, re-ranked at bars 2, 5, 8.
    bar 2: A +10%, B +5%, C +1%: top 1 is A (beats C). bar 5: A +10%, B +20%: B.
    bar 8: A -18%, B -21%, C +1%: A ranks first but trails T-bills, so its slot goes to C."""
    a = [100, 100, 110, 110, 110, 121, 121, 121, 99]
    b = [100, 100, 105, 105, 105, 126, 126, 126, 100]
    c = [100, 100, 101, 101, 101, 102, 102, 102, 103]
    w = _weights(sector_rotation, [a, b, c], lookback=2, top=1, rebalance=3, absolute=1)
    flat, on_a, on_b, on_c = [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]
    expected = [flat, flat, on_a, on_a, on_a, on_b, on_b, on_b, on_c]
    np.testing.assert_array_equal(w, expected)
    # no filter: A stays the pick at bar 8 (the least bad)
    w = _weights(sector_rotation, [a, b, c], lookback=2, top=1, rebalance=3, absolute=0)
    np.testing.assert_array_equal(w[8], on_a)
    # top 2: both at bar 2 (B +5% beats C +1%); at bar 8 both slots sit in T-bills
    w = _weights(sector_rotation, [a, b, c], lookback=2, top=2, rebalance=3, absolute=1)
    np.testing.assert_array_equal(w[[2, 5, 8]], [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]])


def test_dual_momentum_hand_case() -> None:
    """US, INTL, BOND, BILL; lookback 2, decided at bars 2, 4, 6.
    bar 2: US +10%, INTL +5%, BILL +1%: US. bar 4: US -9.1%, INTL +14.3%: INTL.
    bar 6: US +0.2% leads (INTL -16.7%) but trails BILL's +0.49%: GEM goes to BOND; with
    bond_filter, BOND (-0.50%) also trails BILL, so BILL."""
    us = [100, 100, 110, 110, 100, 100, 100.2]
    intl = [100, 100, 105, 105, 120, 120, 100]
    bond = [100, 100, 100, 100, 101, 101, 100.5]
    bill = [100, 100, 101, 101, 101.5, 101.5, 102]
    panel = [us, intl, bond, bill]
    w = _weights(dual_momentum, panel, lookback=2, top=1, rebalance=2, bond_filter=0)
    flat, on_us, on_intl = [0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]
    np.testing.assert_array_equal(w, [flat, flat, on_us, on_us, on_intl, on_intl, [0, 0, 1, 0]])
    w = _weights(dual_momentum, panel, lookback=2, top=1, rebalance=2, bond_filter=1)
    np.testing.assert_array_equal(w[6], [0, 0, 0, 1])
    # top 2 at bar 2: US and INTL both beat BILL, half each
    w = _weights(dual_momentum, panel, lookback=2, top=2, rebalance=2, bond_filter=0)
    np.testing.assert_array_equal(w[2], [0.5, 0.5, 0, 0])
    np.testing.assert_array_equal(w[6], [0, 0, 1, 0])  # both slots fail: bonds


def _pandas_book(
    close: pd.DataFrame, lookback: int, top: int, rebalance: int, safe: str, gate: bool
) -> pd.DataFrame:
    """Independent oracle: momentum by pct_change, picks by DataFrame.rank (ties: first),
    failed slots to ``safe``; decided every ``rebalance`` rows from ``lookback``, held."""
    risk_cols = [c for c in close.columns if c not in (safe, close.columns[-1])]
    mom = close.pct_change(lookback, fill_method=None)
    bill = mom[close.columns[-1]]
    k = min(top, len(risk_cols))
    chosen = mom[risk_cols].rank(axis=1, ascending=False, method="first") <= k
    passes = mom[risk_cols].gt(bill, axis=0) | (not gate)
    book = pd.DataFrame(0.0, index=close.index, columns=close.columns)
    book[risk_cols] = (chosen & passes).astype(float) / k
    book[safe] += (chosen & ~passes).sum(axis=1) / k
    decided = np.zeros(len(close), dtype=bool)
    decided[lookback::rebalance] = True
    book[~decided] = np.nan
    book.iloc[:lookback] = 0.0
    return book.ffill()


@pytest.mark.parametrize(
    ("lookback", "top", "rebalance", "absolute"),
    [(252, 3, 21, 1), (63, 2, 5, 0), (126, 4, 21, 1)],
)
def test_sector_rotation_equals_a_pandas_ranking_on_the_shipped_sectors(
    lookback: int, top: int, rebalance: int, absolute: int
) -> None:
    panel = tk.load_many([*NINE, "BIL"])
    params = {"lookback": lookback, "top": top, "rebalance": rebalance, "absolute": absolute}
    w = strategy_targets(panel, sector_rotation, sector_rotation.resolve(params))
    expected = _pandas_book(panel["close"], lookback, top, rebalance, "BIL", bool(absolute))
    np.testing.assert_array_equal(w.to_numpy(), expected.to_numpy())
    assert np.allclose(w.sum(axis=1).iloc[lookback:], 1.0)  # always fully invested
    assert w["BIL"].max() > 0 if absolute else w["BIL"].max() == 0


def test_dual_momentum_equals_a_pandas_ranking_on_the_shipped_etfs() -> None:
    panel = tk.load_many(["SPY", "EFA", "HYG", "VNQ", "GLD", "TLT", "AGG", "BIL"])
    for top in (1, 2):
        params = {"lookback": 252, "top": top, "rebalance": 21, "bond_filter": 0}
        w = strategy_targets(panel, dual_momentum, dual_momentum.resolve(params))
        expected = _pandas_book(panel["close"], 252, top, 21, "AGG", True)
        np.testing.assert_array_equal(w.to_numpy(), expected.to_numpy())
        assert w["AGG"].max() > 0 and w["BIL"].max() == 0  # GEM never holds T-bills


@pytest.mark.parametrize("spec", [sector_rotation, dual_momentum], ids=lambda s: s.name)
def test_rotations_are_causal_on_real_data(spec: Any) -> None:
    symbols = [*NINE[:4], "BIL"] if spec is sector_rotation else ["SPY", "EFA", "AGG", "BIL"]
    panel = tk.load_many(symbols, start="2012-01-01", end="2016-12-31")
    report = tk.check_causal(spec, panel, {"lookback": 63}, cuts=6, random_sets=1, seed=5)
    assert report.passed, report
    assert len(report.parameter_sets) == 2


def test_too_few_columns_is_a_config_error() -> None:
    panel = tk.load_many(["SPY", "BIL"], start="2015-01-01", end="2016-12-31")
    with pytest.raises(tk.ConfigError, match=r"risk assets, then a bond ETF .*T-bill ETF"):
        tk.backtest(panel, dual_momentum, {"lookback": 63})


@pytest.mark.parametrize(
    ("spec", "symbols", "grid"),
    [
        (sector_rotation, [*NINE[:5], "BIL"], {"top": [1, 2], "absolute": [0, 1]}),
        (dual_momentum, ["SPY", "EFA", "GLD", "AGG", "BIL"], {"top": [1, 2]}),
    ],
    ids=["sector_rotation", "dual_momentum"],
)
def test_sweep_rows_are_backtests_and_walk_forward_trades_the_book(
    spec: Any, symbols: list[str], grid: dict[str, list[int]]
) -> None:
    panel = tk.load_many(symbols, start="2010-01-01", end="2017-12-31")
    base = {"lookback": 126}
    rows = tk.sweep(panel, spec, {**grid, "lookback": [126]}, progress=False)
    assert len(rows) == np.prod([len(v) for v in grid.values()])
    for _, row in rows.iterrows():
        params = {**base, **{k: int(row[k]) for k in grid}}
        m = tk.backtest(panel, spec, params).metrics()
        assert row["total_return"] == pytest.approx(m["total_return"], rel=1e-9, abs=1e-12)
        assert row["sharpe"] == pytest.approx(m["sharpe"], rel=1e-9, abs=1e-12)
    wf = tk.walk_forward(panel, spec, {"lookback": [63, 126]}, n_folds=2)
    fold = wf.folds.iloc[-1]
    params = spec.resolve({"lookback": int(fold["lookback"])})
    start = panel.index.get_loc(fold["test_start"])
    stop = panel.index.get_loc(fold["test_end"]) + 1
    target = strategy_targets(panel.iloc[:stop], spec, params).iloc[start:]
    oos = tk.simulate(panel.iloc[start:stop], target, weights=[1.0] * len(symbols))
    np.testing.assert_allclose(
        wf.oos_returns.loc[fold["test_start"] :].to_numpy(), oos.returns.to_numpy(), rtol=1e-12
    )
    assert oos.orders["quantity"].abs().sum() > 0  # the fold traded


def _adjusted_closes(symbol: str, start: str, end: str) -> dict[str, float]:
    """date -> adj_close straight from the shipped CSV (no loader), for the hand check."""
    import csv

    path = REPO / "data" / "daily" / f"{symbol}.csv"
    with path.open(newline="") as fh:
        return {
            r["date"]: float(r["adj_close"])
            for r in csv.DictReader(fh)
            if start <= r["date"] <= end
        }


def test_a_few_months_of_three_etfs_by_hand() -> None:
    """XLK, XLE and BIL, Jan-Jun 2019, lookback 21, decided every 21 bars, top 1: at each
    decision the pick is the better of XLK and XLE if it beats BIL's 21-bar return, else BIL
    (read from the CSVs); filled at the close without costs, the equity is the product of
    the held asset's close-to-close ratios."""
    start, end = "2019-01-02", "2019-06-28"
    raw = {s: _adjusted_closes(s, start, end) for s in ("XLK", "XLE", "BIL")}
    days = sorted(raw["XLK"])
    panel = tk.load_many(["XLK", "XLE", "BIL"], start=start, end=end)
    assert [d.strftime("%Y-%m-%d") for d in panel.index] == days
    params = {"lookback": 21, "top": 1, "rebalance": 21, "absolute": 1}
    w = strategy_targets(panel, sector_rotation, sector_rotation.resolve(params))
    held, segments = None, []
    for t in range(21, len(days), 21):
        mom = {s: raw[s][days[t]] / raw[s][days[t - 21]] - 1.0 for s in raw}
        best = "XLK" if mom["XLK"] >= mom["XLE"] else "XLE"
        pick = best if mom[best] > mom["BIL"] else "BIL"
        assert w.iloc[t][pick] == 1.0 and w.iloc[t].sum() == 1.0, (days[t], mom)
        if pick != held:
            segments.append((t, pick))
            held = pick
    assert len({p for _, p in segments}) >= 2  # the book switched at least once
    settings = tk.EngineSettings(fill="close", fractional=True, commission=tk.no_costs())
    result = tk.backtest(panel, sector_rotation, params, settings)
    equity = 100_000.0
    bounds = [t for t, _ in segments] + [len(days) - 1]
    for (t0, pick), t1 in zip(segments, bounds[1:], strict=True):
        equity *= raw[pick][days[t1]] / raw[pick][days[t0]]
    assert result.equity.iloc[-1] == pytest.approx(equity, rel=1e-12)
