"""Oracle: with matching conventions the engine equals vectorbt to 1e-9 relative.

Matching conventions: same-bar close fills, proportional fees, fractional sizes, cash-only
account (max_leverage 1), every-bar resizing for ``from_orders(size_type="targetpercent")``
and on-change trading for ``from_signals``. Random strategies, parameters, symbols, fees and
slippage; every registered strategy appears.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

vbt = pytest.importorskip("vectorbt")

from tests.strategies.test_causality import _random_params  # noqa: E402
from toolkit import strategies  # noqa: E402
from toolkit.data import load  # noqa: E402
from toolkit.engine import EngineSettings, proportional, simulate, strategy_targets  # noqa: E402

# vectorbt compiles its numba functions on first use (and a fresh venv has none cached): one
# pytest-xdist worker runs every vectorbt comparison, so it compiles them once, not per worker
pytestmark = pytest.mark.xdist_group("vectorbt")

SYMBOLS = ["SPY", "QQQ", "IWM", "TLT", "GLD", "AAPL", "MSFT", "JPM", "XOM", "NVDA", "EEM"]
CASES = 24


def _cases() -> list[tuple[str, str, int]]:
    # the built-ins only: other test modules register example strategies (cross-sectional
    # ones among them) as they are imported, which would change the cases with the order
    # the modules are collected in
    names = [n for n in strategies.names() if strategies.is_builtin(n)]
    rng = np.random.default_rng(20261126)
    return [
        (names[i % len(names)], str(rng.choice(SYMBOLS)), int(rng.integers(1 << 30)))
        for i in range(CASES)
    ]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a / b - 1.0)))


@pytest.mark.parametrize(("name", "symbol", "seed"), _cases())
def test_targetpercent_equity_matches_vectorbt(name: str, symbol: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    strat = strategies.get(name)
    params = _random_params(strat, rng)
    start = str(2006 + int(rng.integers(0, 10)))
    bars = load(symbol, start=f"{start}-01-01")
    fees = float(rng.choice([0.0, 0.0005, 0.001, 0.002]))
    slippage = float(rng.choice([0.0, 0.0002, 0.001]))
    tgt = strategy_targets(bars, strat, params).clip(-1.0, 1.0)
    ours = simulate(
        bars,
        tgt,
        EngineSettings(
            init_cash=10_000.0,
            fill="close",
            commission=proportional(fees),
            slippage_bps=slippage * 1e4,
            fractional=True,
            rebalance="every_bar",
            max_leverage=1.0,
        ),
    )
    pf = vbt.Portfolio.from_orders(
        bars["close"],
        size=tgt.iloc[:, 0],
        size_type="targetpercent",
        fees=fees,
        slippage=slippage,
        init_cash=10_000.0,
        freq="1D",
    )
    assert _rel(ours.equity.to_numpy(), pf.value().to_numpy()) < 1e-9, (name, symbol, params)
    assert ours.equity.iloc[-1] == pytest.approx(float(pf.final_value()), rel=1e-9)


@pytest.mark.parametrize(("name", "symbol", "seed"), _cases()[:12])
def test_from_signals_equity_and_trades_match_vectorbt(name: str, symbol: str, seed: int) -> None:
    rng = np.random.default_rng(seed + 1)
    strat = strategies.get(name)
    params = {**_random_params(strat, rng), "allow_short": 0}
    bars = load(symbol, start="2010-01-01")
    tgt = (strategy_targets(bars, strat, params) > 0).astype(float)  # all-in long / flat
    e = tgt.iloc[:, 0]
    prev = e.shift(1, fill_value=0.0)
    entries, exits = (e > 0) & (prev <= 0), (e <= 0) & (prev > 0)
    ours = simulate(
        bars,
        tgt,
        EngineSettings(
            init_cash=100.0, fill="close", commission=proportional(0.001), fractional=True
        ),
    )
    pf = vbt.Portfolio.from_signals(
        bars["close"], entries, exits, fees=0.001, init_cash=100.0, freq="1D"
    )
    assert _rel(ours.equity.to_numpy(), pf.value().to_numpy()) < 1e-9
    vt = pf.trades.records_readable
    closed_v = vt[vt["Status"] == "Closed"]
    closed_o = ours.closed_trades
    assert len(closed_o) == len(closed_v)
    np.testing.assert_allclose(
        closed_o["pnl"].to_numpy(), closed_v["PnL"].to_numpy(), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        closed_o["entry_price"].to_numpy(), closed_v["Avg Entry Price"].to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        closed_o["commission"].to_numpy(),
        (closed_v["Entry Fees"] + closed_v["Exit Fees"]).to_numpy(),
        rtol=1e-9,
    )
    assert pd.Index(ours.orders["time"]).equals(pd.Index(pf.orders.records_readable["Timestamp"]))
