"""The terminal dashboard, rendered to text from a real session against the gateway."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from toolkit.live.bridge import LiveSession, SessionView
from toolkit.live.dashboard import render_text


def test_dashboard_shows_connection_positions_pnl_orders_signals_and_risk(live_config) -> None:
    cfg = live_config(
        simulator={"start": "2023-03-10 21:30", "end": "2023-05-31", "speed": 8_640_000.0}
    )
    session = LiveSession(cfg, echo=None, install_signals=False)
    screens: list[str] = []

    def tick(s: LiveSession) -> None:
        if any(p["quantity"] for p in s.view().positions):
            screens.append(render_text(s.view()))

    asyncio.run(session.run(on_tick=tick))
    assert screens, "never saw a position"
    text = screens[-1]
    for part in (
        "ibkr-toolkit live",
        "CONNECTED",
        "mode SIMULATED",
        "account DU1234567",
        "P&L",
        "Positions",
        "Working orders",
        "Last signals",
        "Risk",
        "armed",
        "Events",
        "spy_sma_paper",
        "SPY",
    ):
        assert part in text, part
    # the position line shows the sleeve's quantity with its sign
    qty = next(p["quantity"] for p in session.view().positions)
    assert f"{qty:+,.0f}" in text


def test_dashboard_shows_a_lost_connection_and_a_fired_kill_switch() -> None:
    view = SessionView(
        "s1",
        "paper",
        "DU1",
        "127.0.0.1:4002",
        False,
        pd.Timestamp("2024-01-02 15:00", tz="UTC"),
        sleeves=[
            {
                "strategy": "a",
                "equity": 90_000.0,
                "pnl": -10_000.0,
                "realized": -9_000.0,
                "commissions": 12.0,
            }
        ],
        risk=[
            {
                "strategy": "a",
                "kill_switch": "max_drawdown",
                "drawdown": -0.1,
                "day_pnl": -2_000.0,
                "gross": 0.0,
            }
        ],
        events=["[2024-01-02 15:00] GUARD max_drawdown: a: equity 90,000.00"],
    )
    text = render_text(view)
    assert "DISCONNECTED - reconnecting" in text
    assert "max_drawdown" in text and "-10.00%" in text and "-10,000.00" in text
    assert "flat" in text and "none" in text


def test_dashboard_shows_the_book_as_the_portfolio_rules_see_it() -> None:
    """Net exposure, beta and one-day VaR from the sleeve's last estimation window: the
    numbers the max_beta / max_var rules judged the book by."""
    from statistics import NormalDist

    from toolkit.engine.settings import EngineSettings
    from toolkit.live.session_view import add_books
    from toolkit.live.sleeve import Sleeve
    from toolkit.risk import RiskLimits
    from toolkit.risk.portfolio import build_context

    rng = np.random.default_rng(7)
    rb = rng.normal(0.0, 0.01, 80)
    r = np.column_stack([rb * 1.2 + rng.normal(0, 0.004, 80), rng.normal(0, 0.006, 80)])
    close = 100.0 * np.cumprod(1.0 + r, axis=0)
    risk = RiskLimits(
        max_beta=0.5,
        max_var=0.02,
        risk_window=60,
        sectors=(("AAA", "Energy"), ("BBB", "Utilities")),
    )
    s = Sleeve("book", ("AAA", "BBB"), 100_000.0, np.ones(2), EngineSettings(), risk)
    s.positions.update(AAA=300.0, BBB=-200.0)
    s.closes.update(AAA=float(close[-1, 0]), BBB=float(close[-1, 1]))
    s.cash = 100_000.0 - 300.0 * close[-1, 0] + 200.0 * close[-1, 1]
    s.context = build_context(close, 60, 100.0 * np.cumprod(1.0 + rb), None)
    got = s.book_risk()
    w = np.array([300.0 * close[-1, 0], -200.0 * close[-1, 1]]) / s.equity()
    ret = s.context.returns[-60:]
    beta = [
        np.cov(ret[:, k], s.context.bench[-60:], ddof=1)[0, 1]
        / np.var(s.context.bench[-60:], ddof=1)
        for k in range(2)
    ]
    assert got["net"] == pytest.approx(w.sum(), rel=1e-12)
    assert got["beta"] == pytest.approx(w @ np.array(beta), rel=1e-9)
    cov = np.cov(ret, rowvar=False, ddof=1)
    sigma = np.sqrt(w @ cov @ w)
    z = NormalDist().inv_cdf(0.99)
    assert got["var"] == pytest.approx(z * sigma, rel=1e-9)
    assert got["cvar"] == pytest.approx(NormalDist().pdf(z) / 0.01 * sigma, rel=1e-9)
    share = w * (cov @ w) / (w @ cov @ w)  # Euler risk contributions, summing to 1
    assert [got["risk_share"][k] for k in ("AAA", "BBB")] == pytest.approx(share, rel=1e-9)
    assert got["sectors"] == pytest.approx({"Energy": abs(w[0]), "Utilities": abs(w[1])})
    view = add_books(
        SessionView("s1", "paper", "DU1", "127.0.0.1:4002", True, None), {"book": s}, {}, []
    )
    text = render_text(view)
    assert "VaR 1d" in text and f"{got['beta']:+.2f}" in text and f"{got['var']:+.1%}" in text
    assert f"{got['cvar']:+.1%}" in text and f"{share[0]:+.1%}" in text
    top = "Energy" if abs(w[0]) >= abs(w[1]) else "Utilities"
    assert f"{top} {max(abs(w[0]), abs(w[1])):.0%}" in text


def test_dashboard_at_80x24_keeps_fills_and_guards_above_routine_lines_in_colour() -> None:
    """Issue 18.5: a busy session on an 80x24 terminal -- one signal line per bar must not
    push the fills and guard events out of view; panels that do not fit are named; P&L and
    states are coloured."""
    import io
    import re

    from rich.console import Console

    from toolkit.live.dashboard import render

    routine = [f"[2024-01-02 15:{m:02d}] a @ 2024-01-02 15:{m:02d}: signals SPY +1.00; equity "
               "99,000.00" for m in range(40)]  # fmt: skip
    events = [
        "[2024-01-02 14:31] fill s1/a/SPY/20240102T1430: BOT 100 SPY @ 470.10",
        "[2024-01-02 14:32] GUARD max_order: a SPY: order trimmed from +300 to +200 shares",
        *routine,
    ]
    view = SessionView(
        "s1", "paper", "DU1", "127.0.0.1:4002", True, pd.Timestamp("2024-01-02 15:40", tz="UTC"),
        sleeves=[{"strategy": "a", "equity": 99_000.0, "pnl": -1_000.0, "realized": 250.0,
                  "commissions": 2.0}],
        positions=[{"strategy": "a", "symbol": "SPY", "quantity": 100.0, "avg_cost": 470.1,
                    "last": 468.0, "unrealized": -210.0}],
        orders=[{"ref": f"s1/a/SPY/20240102T15{m:02d}", "symbol": "SPY", "action": "BUY",
                 "quantity": 10.0, "type": "LMT", "status": "Submitted", "limit": 467.0}
                for m in range(4)],
        signals=[{"strategy": "a", "symbol": "SPY", "signal": 1.0,
                  "bar": pd.Timestamp("2024-01-02 15:40", tz="UTC")}],
        risk=[{"strategy": "a", "kill_switch": "armed", "drawdown": -0.01, "day_pnl": -1_000.0,
               "gross": 46_800.0}],
        events=events,
    )  # fmt: skip
    text = render_text(view, width=80, height=24)
    lines = text.splitlines()
    assert len(lines) <= 24 and all(len(x) <= 80 for x in lines), text
    assert "BOT 100 SPY @ 470.10" in text and "GUARD max_order" in text
    assert sum(": signals " in x for x in lines) == 1  # only the newest routine line
    assert "15:39: signals" in text
    assert "Working orders" in text and "20240102T1503" in text
    assert "hidden (small terminal):" in text and "signals" in lines[-1]
    # everything shows on a tall terminal
    tall = render_text(view, width=80, height=80)
    assert "hidden" not in tall and "Last signals" in tall and "Risk" in tall
    # colour: a loss red, a fill green, a guard bold red
    console = Console(file=io.StringIO(), width=120, record=True, color_system="standard")
    console.print(render(view))
    styled = console.export_text(styles=True)
    assert re.search(r"\x1b\[31m *-1,000\.00", styled) and re.search(r"\x1b\[32m *250\.00", styled)
    assert "\x1b[32m[2024-01-02 14:31] fill" in styled
    assert "\x1b[1;31m[2024-01-02 14:32] GUARD" in styled
