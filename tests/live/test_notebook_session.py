"""A live session from a notebook (:class:`toolkit.live.notebook.NotebookSession`): the CLI's
session loop as a task on the caller's asyncio loop -- here a real loop driving the real
ib_async client over TCP against the embedded gateway simulator, in lockstep, with a real
SQLite journal. Its status while it runs is the CLI's, its trades are the backtest's, a stop
mid-run loses no journal row, and an error that ends it is raised again, never swallowed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests.live._sessions import (
    assert_decisions_are_targets,
    assert_fills_are_orders,
    backtest_like,
)
from toolkit.app.live import main as live_cli
from toolkit.errors import ConfigError
from toolkit.live import NotebookSession
from toolkit.live.bridge import LiveError
from toolkit.live.commands import session_running
from toolkit.live.journal import Journal

# four crossings of the 5/20-day SMAs in four weeks: trades before and after MIDWAY
WINDOW = {"start": "2023-04-20 21:30", "end": "2023-05-19", "speed": 8_640_000.0}
MIDWAY = "2023-05-04"


def _journal(path: Any, sid: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with Journal(path) as j:
        return (
            pd.DataFrame(j.rows("decisions", sid)),
            pd.DataFrame(j.rows("orders", sid)),
            pd.DataFrame(j.session_fills(sid)),
        )


def test_status_while_running_is_the_clis_and_the_trades_are_the_backtests(
    live_config, capsys
) -> None:
    cfg = live_config(simulator=WINDOW)

    async def drive() -> dict[str, Any]:
        s = NotebookSession(cfg)
        assert s.state == "not started"
        started = s.start()  # returns at once: the session is a task on this loop
        assert s.state == "starting"
        with pytest.raises(LiveError, match="already started"):
            s.start()
        assert await started is s and s.state == "running"
        assert await s.wait_until(MIDWAY)
        got: dict[str, Any] = {"session": s, "mid": s.status()}
        capsys.readouterr()
        code = live_cli(["status", s.session_id, "--journal", str(s.journal_path), "--json"])
        got["cli"] = json.loads(capsys.readouterr().out)
        assert code == 0
        got["positions"], got["fills"] = s.positions(), s.fills()
        got["summary"] = await s.wait()
        with pytest.raises(LiveError, match="already started"):
            s.start()
        return got

    got = asyncio.run(drive())
    s, mid, cli = got["session"], got["mid"], got["cli"]
    # while it ran: the numbers `python -m toolkit.live status` printed at that moment
    assert mid.running and cli["running"] and cli["ended"] is None
    assert mid.fills >= 1
    for key in ("realized", "unrealized", "commissions", "slippage", "pnl", "capital"):
        assert cli[key] == pytest.approx(getattr(mid, key), rel=0, abs=1e-9), key
    for key in ("fills", "orders", "working_orders", "guards", "positions", "session_id"):
        assert cli[key] == getattr(mid, key), key
    held = got["positions"].set_index("symbol")["quantity"]
    assert {k: v for k, v in held.items() if v} == mid.positions
    assert len(got["fills"]) == mid.fills

    # the end of the rehearsal: the journal is the backtest's on the same bars
    summary = got["summary"]
    assert s.state == "ended" and summary is s.summary and summary.ended is not None
    decisions, _, fills = _journal(s.journal_path, s.session_id)
    days = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    assert days[0] == pd.Timestamp("2023-04-20", tz="UTC") and len(days) >= 20
    targets, bt = backtest_like(cfg, tk.load("SPY", adjust="none"), days[0], days[-1])
    assert_decisions_are_targets(decisions, targets)
    assert len(assert_fills_are_orders(fills, bt)) >= 4
    # the fills seen while it ran were not rewritten later
    pd.testing.assert_frame_equal(fills.iloc[: len(got["fills"])], got["fills"])
    # after the end status() is still the CLI's view of the journal, ended now
    after = s.status()
    assert not after.running and after.fills == summary.fills == len(fills)
    assert after.pnl == pytest.approx(summary.pnl, abs=1e-6)
    assert s.journal_path.is_file() and not session_running(s.journal_path, s.session_id)


def test_a_stop_mid_run_is_orderly_and_loses_no_journal_row(live_config, tmp_path) -> None:
    cfg = live_config(simulator=WINDOW)
    # [logs]: the session's lines go to the CLI's rotated log file too
    cfg.source.write_text(cfg.source.read_text() + '[logs]\ndir = "logs"\n')

    async def drive() -> tuple[NotebookSession, Any, Any]:
        s = NotebookSession.from_config(cfg.source)
        await s.start()
        gateway = s.session.gateway  # the embedded simulator: the broker's own record
        assert await s.wait_until(MIDWAY)
        return s, gateway, await s.stop()

    s, gateway, summary = asyncio.run(drive())
    assert s.state == "stopped" and summary is not None and summary.ended is not None
    assert s.session.journal is None and not session_running(s.journal_path, s.session_id)
    assert "stopping: no new orders" in "\n".join(s.log(50))
    assert s.log_file == tmp_path / "logs" / "live-live.log"
    assert "stopping: no new orders" in s.log_file.read_text()
    decisions, orders, fills = _journal(s.journal_path, s.session_id)
    days = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    assert days[-1] < pd.Timestamp("2023-05-10", tz="UTC"), "it ran on after stop()"
    # every execution the broker made for the session is journaled, once, with its order
    ours = [f for f in gateway.state.book.fills if s.session_id in f.order.order_ref]
    assert ours and sorted(f.exec_id for f in ours) == sorted(fills["exec_id"])
    assert set(fills["order_ref"]) <= set(orders["order_ref"])
    # no order left working, at the broker or in the journal (cancel_on_exit)
    working = {o.order_ref for o in gateway.state.book.orders.values() if o.status == "Submitted"}
    assert not {r for r in working if s.session_id in r}
    assert summary.working_orders == 0 and s.orders(working=True).empty
    assert set(orders["status"]) <= {"Filled", "Cancelled"}
    # the bars it decided traded as the backtest of those bars (fills up to the last one)
    targets, bt = backtest_like(cfg, tk.load("SPY", adjust="none"), days[0], days[-1])
    assert_decisions_are_targets(decisions, targets)
    done = fills[pd.to_datetime(fills["ts"]) <= days[-1]]
    assert len(assert_fills_are_orders(done, bt)) >= 2
    assert s.status().fills == summary.fills == len(fills)


_calls = {"n": 0}


@tk.strategy(name="nb_breaks_on_day_four")
def _breaks(close: np.ndarray) -> np.ndarray:
    """Long; its fourth decision fails, once, as a buggy strategy's would. Once: the look
    that raises may be a bar update's own task (not the run loop's, whose next look would
    raise it again) -- the session must end with it there too (LiveSession._look_failed)."""
    _calls["n"] += 1
    if _calls["n"] == 4:
        raise RuntimeError("division by zero in the user's signal (day four)")
    return np.ones(close.shape[0])


def test_an_error_that_ends_the_session_is_raised_again(live_config, tmp_path, capsys) -> None:
    research = tmp_path / "breaks.toml"
    research.write_text(
        'name = "breaks"\n[data]\nsymbols = ["SPY"]\nadjust = "none"\n'
        '[strategy]\nname = "nb_breaks_on_day_four"\n[engine]\nweights = [0.9]\n'
    )
    cfg = live_config(
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
        simulator=WINDOW,
    )
    _calls["n"] = 0

    async def drive() -> NotebookSession:
        s = NotebookSession(cfg)
        await s.start()
        with pytest.raises(RuntimeError, match="day four"):
            await s.wait()
        with pytest.raises(RuntimeError, match="day four"):
            await s.stop()
        return s

    s = asyncio.run(drive())
    assert s.state == "failed" and isinstance(s.error, RuntimeError)
    with pytest.raises(RuntimeError, match="day four"):
        s.status()
    assert "ended with an error: division by zero" in capsys.readouterr().err
    # it shut down as the CLI does on an error: journal closed, lock released
    assert s.session.journal is None and not session_running(s.journal_path, s.session_id)
    decisions, _, _ = _journal(s.journal_path, s.session_id)
    assert len(decisions) == 3  # the three decisions before the failure stay journaled


def test_refusals_are_the_clis_one_line_errors(live_config, tmp_path) -> None:
    cfg = live_config(simulator=WINDOW)
    s = NotebookSession(cfg)
    with pytest.raises(LiveError, match="running asyncio event loop"):
        s.start()  # no loop here: nothing was scheduled, it can still start in one
    with pytest.raises(LiveError, match="has not been started"):
        s.status()
    assert s.state == "not started" and "not started" in s._repr_html_()
    # paper by default: a live-trading port needs live=True, which needs the account
    with pytest.raises(ConfigError, match="pass --live"):
        NotebookSession(cfg, host="127.0.0.1", port=4001)
    with pytest.raises(ConfigError, match="account is required with --live"):
        NotebookSession(cfg, host="127.0.0.1", port=4001, live=True)
    with pytest.raises(ConfigError):
        NotebookSession.from_config(tmp_path / "missing.toml")


def test_a_stop_before_it_trades_ends_it_quietly(live_config, capsys) -> None:
    cfg = live_config(simulator=WINDOW)

    async def drive() -> tuple[NotebookSession, Any]:
        s = NotebookSession(cfg)
        started = s.start()
        summary = await s.stop()  # before its first step: it never connects
        with pytest.raises(LiveError, match="nothing was traded"):
            await started
        return s, summary

    s, summary = asyncio.run(drive())
    assert summary is None and s.state == "stopped"
    assert "nothing was traded" in str(s.error)
    assert capsys.readouterr().err == ""  # a stop asked for is no error to report
    assert s.session.journal is None and not session_running(s.journal_path, s.session_id)
