"""The terminal dashboard, rendered to text from a real session against the gateway."""

from __future__ import annotations

import asyncio

import pandas as pd

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
