"""Portfolio risk rules rehearsed live on the gateway simulator: each rule fires on the same
bar, for the same symbols, in the session's journal as in the backtest's result.guards, and
the session's fills are the backtest's orders (the rules run in the one close-of-bar step,
the live sleeve estimating from the bars the session holds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import toolkit as tk
from tests.live._sessions import assert_fills_are_orders, backtest_like, rehearse
from toolkit.errors import ConfigError

SYMBOLS = ["SPY", "TLT", "GLD", "EEM"]
# weekly top-2 momentum on four ETFs under portfolio rules (60-return estimates); RULES are
# three sets of limits that bind in the spring of 2023, with the rules each set makes fire
# (between them every portfolio rule except historical VaR/CVaR, whose cut the tests of
# toolkit.risk.portfolio and the engine check)
BOOK = f"""
name = "guarded_book"
[data]
symbols = {SYMBOLS!r}
start = "2018-01-01"
adjust = "none"
[strategy]
module = "research.strategies.xs_momentum"
name = "xs_momentum"
[strategy.params]
lookback = 42
top = 2
rebalance = 5
[engine]
max_leverage = 1.1
[risk]
risk_window = 60
"""
RULES = {
    "var_beta": ("max_var = 0.009\nmax_beta = 0.6\n", {"max_var"}),
    "cvar_sector_net_corr": (
        "max_cvar = 0.014\nmax_sector = 0.45\nmax_net = 0.9\nmax_corr_exposure = 0.8\n"
        '[risk.sectors]\nSPY = "Equity"\nEEM = "Equity"\nTLT = "Bonds"\nGLD = "Gold"\n',
        {"max_cvar", "max_sector"},
    ),
    "net_corr_beta": (
        "max_beta = 0.4\nmax_net = 0.8\nmax_corr_exposure = 0.68\n",
        {"max_net", "max_corr_exposure", "max_beta"},
    ),
}


@pytest.mark.parametrize("rules_set", sorted(RULES))
def test_portfolio_guards_fire_on_the_backtests_bars(
    live_config, tmp_path: Path, rules_set: str
) -> None:
    limits, fired = RULES[rules_set]
    research = tmp_path / "guarded_book.toml"
    cfg, fills, decisions = rehearse(live_config, research, BOOK + limits, "2023-05-31")
    first = pd.Timestamp(decisions["bar_time"].min())
    last = pd.Timestamp(decisions["bar_time"].max())
    _, bt = backtest_like(cfg, tk.load_many(SYMBOLS, adjust="none"), first, last)

    def rules(text: object) -> frozenset[str]:
        return frozenset(str(text).split(",")) if text else frozenset()

    live = {
        (pd.Timestamp(t), s): rules(g)
        for t, s, g in zip(
            decisions["bar_time"], decisions["symbol"], decisions["guards"], strict=True
        )
        if g
    }
    expected = {
        (pd.Timestamp(t), s): frozenset(r.split("+"))
        for t, s, r in zip(bt.guards["time"], bt.guards["symbol"], bt.guards["rules"], strict=True)
        if t >= first
    }
    assert len(expected) >= 3  # the rules bind on several bars of the rehearsal
    assert {r for rs in expected.values() for r in rs} >= fired
    assert live == expected
    assert len(assert_fills_are_orders(fills, bt)) >= 4


def test_live_beta_limit_needs_its_benchmark_in_the_book(live_config, tmp_path: Path) -> None:
    research = tmp_path / "no_spy.toml"
    research.write_text(BOOK.replace(repr(SYMBOLS), repr(SYMBOLS[1:])) + RULES["var_beta"][0])
    with pytest.raises(ConfigError, match=r"max_beta measures beta to SPY"):
        live_config(strategies=[{"config": str(research), "capital": 100_000}])
