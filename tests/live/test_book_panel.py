"""The dashboard's order book panel (issue 18.5): bids/asks with sizes, spread and imbalance,
collapsing to fewer levels then hidden on a short terminal, fed by ib_async's depth -- checked
against LOBSTER's book replayed through the simulator, and from a live session that subscribes
depth with ``[session] depth_levels``."""

from __future__ import annotations

import asyncio
import math
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, Stock

import toolkit as tk
from tests.gateway._client import wait_for
from tests.live._sessions import held_gateway
from toolkit.errors import ConfigError
from toolkit.gateway import Gateway
from toolkit.gateway.depth_replay import DepthReplay, ReplayTape, load_tape
from toolkit.live._book_panel import BookView, book_view
from toolkit.live.dashboard import render_text
from toolkit.live.session_view import SessionView

SAMPLE = (
    tk.data.default_data_dir()
    / "orderbook"
    / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"
)
BOOK = BookView(
    "SPY",
    ((470.00, 300.0), (469.99, 200.0), (469.98, 500.0)),
    ((470.02, 100.0), (470.03, 400.0), (470.05, 100.0)),
)


def _view(**kw: Any) -> SessionView:
    return SessionView(
        "s1", "paper", "DU1", "127.0.0.1:4002", True, pd.Timestamp("2024-01-02 15:40", tz="UTC"),
        **kw,
    )  # fmt: skip


def test_spread_and_imbalance_by_hand() -> None:
    assert BOOK.spread == pytest.approx(0.02)
    assert BOOK.mid == pytest.approx(470.01)
    # (300 + 200 + 500 - 100 - 400 - 100) / 1600 over 3 levels; (300 - 100) / 400 at the touch
    assert BOOK.imbalance() == pytest.approx(400 / 1600)
    assert BOOK.imbalance(1) == pytest.approx(0.5)
    empty = BookView("X", (), ((1.0, 5.0),))
    assert math.isnan(empty.spread) and empty.imbalance() == -1.0
    assert math.isnan(BookView("X", (), ()).imbalance())


def test_the_panel_shows_levels_spread_and_imbalance() -> None:
    text = render_text(_view(books=[BOOK]), width=80)
    assert "Book SPY  spread 0.02 (0.4 bp)  imbalance +0.25" in text
    rows = [x.replace("│", " ").split() for x in text.splitlines()]
    assert ["300", "470.00", "470.02", "100"] in rows
    assert ["500", "469.98", "470.05", "100"] in rows
    bar = next(x for x in text.splitlines() if x.strip().startswith("bid █"))
    assert bar.count("█") == 20  # the bids' 62.5% of the size against the asks' 37.5%
    # no book subscribed: no panel
    assert "Book" not in render_text(_view(), width=80)


def test_at_80x24_the_book_gives_up_levels_before_it_is_hidden() -> None:
    deep = BookView(
        "SPY",
        tuple((470.0 - k / 100, 100.0 * (k + 1)) for k in range(10)),
        tuple((470.02 + k / 100, 100.0 * (k + 1)) for k in range(10)),
    )
    events = [f"[2024-01-02 14:{m:02d}] fill s1/a/SPY/{m}: BOT 1 SPY @ 470" for m in range(6)]
    positions = [{"strategy": "a", "symbol": "SPY", "quantity": 100.0, "avg_cost": 470.1,
                  "last": 468.0, "unrealized": -210.0}]  # fmt: skip
    orders = [{"ref": f"s1/a/SPY/20240102T15{m:02d}", "symbol": "SPY", "action": "BUY",
               "quantity": 10.0, "type": "LMT", "status": "Submitted", "limit": 467.0}
              for m in range(3)]  # fmt: skip
    view = _view(books=[deep], positions=positions, orders=orders, events=events)
    tall = render_text(view, width=80, height=80)
    assert "470.11" in tall and "hidden" not in tall  # all 10 levels
    text = render_text(view, width=80, height=24)
    lines = text.splitlines()
    assert len(lines) <= 24 and all(len(x) <= 80 for x in lines), text
    assert "Book SPY" in text and "470.02" in text  # the touch stays ...
    assert "470.11" not in text  # ... the deep levels went first
    assert "Working orders" in text and "BOT 1 SPY" in text  # higher priority: kept
    assert "book" not in lines[-1]
    # shorter still: the book goes, named in the footer, before events
    short = render_text(view, width=80, height=16)
    assert "Book SPY" not in short and "book" in short.splitlines()[-1]
    assert "Working orders" in short


def _ours(text: str) -> list[list[str]]:
    """The book panel's level rows: bid size, bid, ask, ask size (sizes may be blank)."""
    lines = text.splitlines()
    start = next((i for i, x in enumerate(lines) if x.startswith("Book ")), None)
    out: list[list[str]] = []
    if start is None:
        return out
    for line in lines[start + 3 :]:  # after the title, the column names and the rule
        cells = line.replace("│", " ").split()
        if not (2 <= len(cells) <= 4 and all(re.fullmatch(r"[\d,.\-]+", c) for c in cells)):
            break
        out.append(cells)
    return out


def _lobster_rows(tape: ReplayTape, k: int, levels: int) -> list[list[str]]:
    bids, asks = tape.side(k, True, levels), tape.side(k, False, levels)
    rows = []
    for i in range(max(len(bids), len(asks))):
        row = [f"{bids[i][1]:,}", f"{bids[i][0]:,.2f}"] if i < len(bids) else ["-"]
        row += [f"{asks[i][0]:,.2f}", f"{asks[i][1]:,}"] if i < len(asks) else ["-"]
        rows.append(row)
    return rows


def test_the_panel_fed_by_ib_async_shows_lobsters_book_through_the_simulator() -> None:
    tape = load_tape(SAMPLE)
    replay = DepthReplay(tape)
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
            ticker = ib.reqMktDepth(aapl, numRows=5)
            offsets = tape.time - tape.time[0]
            for n in (1, 300, 999):
                assert replay.origin is not None
                target = (offsets[n - 1] + offsets[n]) / 2 if n < len(tape) else offsets[-1] + 1
                gw.advance(pd.Timedelta(seconds=target) - (gw.clock.now() - replay.origin))
                wait_for(ib, lambda n=n: replay.cursor == n)
                ib.reqCurrentTime()  # every depth message before it is applied
                k = n - 1
                text = render_text(_view(books=[book_view("AAPL", ticker, 5)]), width=80)
                assert _ours(text) == _lobster_rows(tape, k, 5), text
                bid, ask = tape.side(k, True, 5), tape.side(k, False, 5)
                spread = ask[0][0] - bid[0][0]
                imb = (sum(s for _, s in bid) - sum(s for _, s in ask)) / sum(
                    s for _, s in bid + ask
                )
                assert f"spread {spread:,.2f}" in text and f"imbalance {imb:+.2f}" in text
        finally:
            ib.disconnect()


def test_a_session_with_depth_levels_shows_the_replayed_book(
    live_config: Any, tmp_path: Path
) -> None:
    """A live session on SPY subscribes 5 levels (``[session] depth_levels = 5``); the
    gateway serves LOBSTER's AAPL sample as SPY's depth; the session's dashboard shows it."""
    from toolkit.live.bridge import LiveSession

    tape = load_tape(SAMPLE, "SPY")
    replay = DepthReplay(tape)
    with held_gateway(depth_replay=replay) as gw:
        gw.pause()  # the replay's book holds still (the bars are a weekend's: none move)
        assert replay.origin is not None
        offsets = tape.time - tape.time[0]
        target = pd.Timedelta(seconds=(offsets[599] + offsets[600]) / 2)
        gw.advance(target - (gw.clock.now() - replay.origin))
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 61},
            session={"depth_levels": 5, "cancel_on_exit": False},
        )
        session = LiveSession(cfg, echo=None, install_signals=False)
        want = _lobster_rows(tape, 599, 5)
        screens: list[str] = []
        deadline = time.monotonic() + 60

        def tick(s: LiveSession) -> None:  # on the session's loop, as the dashboard's update
            screens.append(render_text(s.view(), width=100))
            if _ours(screens[-1]) == want or time.monotonic() > deadline:
                s.stop()

        asyncio.run(session.run(on_tick=tick))
        text = screens[-1]
        assert replay.cursor == 600
        assert _ours(text) == want, text
        assert text.startswith("ibkr-toolkit live") and "Book SPY  spread" in text


@pytest.mark.parametrize(
    ("value", "message"),
    [(11, "depth_levels"), (-1, "depth_levels"), ("five", "depth_levels")],
)
def test_depth_levels_is_validated_with_one_line(
    live_config: Any, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        live_config(session={"depth_levels": value})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_option_session_refuses_depth_levels(tmp_path: Path) -> None:
    """The panel is the stock session's: an option config that asks for it is told so rather
    than silently shown nothing."""
    from toolkit.live.options_config import parse_option_config

    raw = {"strategy": {"underlying": "SPX"}, "session": {"depth_levels": 5}}
    with pytest.raises(ConfigError, match=r"\[session\] depth_levels = 5: an option session"):
        parse_option_config(raw, tmp_path / "x.toml")
    raw["session"] = {"depth_levels": 0}
    assert parse_option_config(raw, tmp_path / "x.toml").session.depth_levels == 0


def test_a_zero_priced_or_sizeless_book_renders_without_nan_or_a_crash() -> None:
    """IB can send a level at price 0 (or sizes of 0): the panel shows '-' rather than
    dividing by a zero mid or printing 'nan'."""
    from rich.console import Console

    from toolkit.live._book_panel import book_panel

    console = Console(width=80, record=True, color_system=None)
    console.print(book_panel([BookView("SPY", ((0.0, 0.0),), ((0.0, 0.0),))]))
    text = console.export_text()
    assert "spread 0.00  imbalance -" in text and "nan" not in text.lower()
