"""Driving a live session in tests: a bridge child process (``toolkit.live run``) or an
embedded :class:`LiveSession` on a thread, a gateway whose clock only the test moves, and
read-only looks at the journal the session is writing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live.conftest import REPO, write_live_config
from toolkit.engine.backtest import book_weights, simulate, strategy_targets
from toolkit.engine.commissions import ibkr_fixed
from toolkit.engine.result import BacktestResult
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession
from toolkit.live.config import LiveConfig

FRIDAY_CLOSE = "2023-03-10 21:30"  # Friday after the close: the next bar is Monday's
# How long a child bridge or a poll may take before a test calls it hung. Generous: on a fresh
# clone every bridge process compiles its numba kernels, and the suite runs on two pytest-xdist
# workers beside other jobs (at load 8-12 a start-up took over a minute); a passing test
# never waits for it, so it costs nothing when things work.
PATIENCE = 240.0


# long the whole sleeve after an up day, flat after a down day: SPY fell on 2023-03-09, 03-10
# and 03-13 and rose on 03-14, so from FRIDAY_CLOSE the first order is the decision on 03-14's bar
UP_DAY = """
import numpy as np

import toolkit as tk


@tk.strategy(params=[])
def up_day(close: np.ndarray) -> np.ndarray:
    out = np.zeros(close.shape[0])
    out[1:] = np.where(close[1:] > close[:-1], 1.0, 0.0)
    return out
"""


def up_day_config(
    tmp: Path,
    port: int,
    *,
    module: str,
    client_id: int,
    session_id: str,
    risk: dict[str, Any] | None = None,
    research_extra: str = "",
) -> Path:
    """The live config (``tmp/live.toml``) of a bridge trading :data:`UP_DAY` on SPY through
    the gateway on ``port``: the strategy is written as ``tmp/<module>.py`` and its research
    config as ``tmp/up_day.toml``, ``research_extra`` (TOML) at its end. Returns the live
    config's path; calling it again rewrites the files (a new ``risk``, say)."""
    (tmp / f"{module}.py").write_text(UP_DAY)
    research = tmp / "up_day.toml"
    research.write_text(
        f"""name = "up_day"
[data]
symbols = ["SPY"]
start = "2018-01-01"
adjust = "none"
[strategy]
module = "{module}"
name = "up_day"
[engine]
init_cash = 100_000
order_type = "market"
{research_extra}"""
    )
    return write_live_config(
        tmp,
        connection={"host": "127.0.0.1", "port": port, "client_id": client_id},
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
        risk=risk,
        session={"id": session_id, "cancel_on_exit": False},
    ).source


def held_gateway(start: str = FRIDAY_CLOSE, **extra: Any) -> Gateway:
    """A gateway (not started) whose clock barely moves and whose orders fill in full at the
    open: the test moves it with ``advance``."""
    return Gateway(
        port=0, start=start, speed=1.0, participation=0.0, commission=ibkr_fixed(), **extra
    )


def journal_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the journal another thread or process is writing; none while the
    file or its schema does not exist yet."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # schema not created yet
    finally:
        db.close()


def wait_for(cond: Callable[[], Any], timeout: float = PATIENCE, what: str = "") -> Any:
    """Poll ``cond`` until it is truthy and return its value; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_rows(
    path: Path, sql: str, timeout: float = PATIENCE, what: str = ""
) -> list[tuple[Any, ...]]:
    """Wait until ``sql`` finds rows in the journal (e.g. an order the broker acknowledged)."""
    rows: list[tuple[Any, ...]] = wait_for(lambda: journal_rows(path, sql), timeout, what)
    return rows


def start_bridge(
    config: Path,
    log: Path,
    *,
    session: str | None = None,
    fault: str | None = None,
    env_extra: dict[str, str] | None = None,
    terminal: int | None = None,
    extra: tuple[str, ...] = ("--no-dashboard",),
) -> subprocess.Popen[bytes]:
    """``python -m toolkit.live run`` as a child process, its output appended to ``log``
    (or, with ``terminal``, written to that descriptor -- a pty's slave -- as its stdin,
    stdout and stderr); ``fault`` arms the kill hook of ``toolkit.live._fault`` (none is
    inherited otherwise); ``extra`` arguments follow."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    env.pop("TOOLKIT_LIVE_FAULT", None)
    if fault:
        env["TOOLKIT_LIVE_FAULT"] = fault
    cmd = [sys.executable, "-m", "toolkit.live", "run", "--config", str(config)]
    if session is not None:
        cmd += ["--session", session]
    return subprocess.Popen(
        [*cmd, *extra],
        cwd=REPO,
        env=env,
        stdin=terminal,
        stdout=log.open("ab") if terminal is None else terminal,
        stderr=subprocess.STDOUT,
    )


def stop_bridge(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, as a service manager stops the bridge: it must exit 0 (the log on failure)."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(PATIENCE) == 0, log.read_text()


def run_in_thread(session: LiveSession) -> tuple[threading.Thread, list[Any]]:
    """Run ``session`` on its own thread and event loop; the list receives its summary, or
    the exception it ended with."""
    result: list[Any] = []

    def work() -> None:
        try:
            result.append(asyncio.run(session.run()))
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=work)
    t.start()
    return t, result


def backtest_like(
    cfg: LiveConfig, bars: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp
) -> tuple[pd.DataFrame, BacktestResult]:
    """The backtest a session's trades must equal: its (first) strategy on ``bars`` through
    ``last`` after a year of warm-up, with no target before ``first``, the first bar the
    session decided. Returns the targets and the result."""
    run = cfg.strategies[0].run
    bars = bars[(bars.index > first - pd.DateOffset(years=1)) & (bars.index <= last)]
    strat = tk.strategies.get(run.strategy)
    targets = strategy_targets(bars, strat, run.params)
    targets[targets.index < first] = np.nan
    weights = book_weights(strat, run.weights, targets.shape[1])
    return targets, simulate(bars, targets, run.engine, weights, cfg.strategies[0].risk)


def rehearse(
    live_config: Callable[..., LiveConfig], research: Path, text: str, end: str
) -> tuple[LiveConfig, pd.DataFrame, pd.DataFrame]:
    """``text`` as the research config of a daily rehearsal on the simulator from 2023-01-03
    to ``end`` (a year of history): the live config, the session's fills and decisions."""
    from toolkit.live.bridge import run_session
    from toolkit.live.journal import Journal

    research.write_text(text)
    cfg = live_config(
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
        simulator={"start": "2023-01-03 21:30", "end": end, "speed": 8_640_000.0},
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        decisions = pd.DataFrame(j.rows("decisions", summary.session_id))
    return cfg, fills, decisions


def assert_decisions_are_targets(decisions: pd.DataFrame, targets: pd.DataFrame) -> None:
    """Every journaled decision's signal is the backtest's target for its bar and symbol."""
    when = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    expected = [targets.at[t, s] for t, s in zip(when, decisions["symbol"], strict=True)]
    np.testing.assert_array_equal(decisions["signal"].to_numpy(), expected)


def assert_fills_are_orders(fills: pd.DataFrame, result: BacktestResult) -> pd.DataFrame:
    """The session's fills, in time and symbol order, are the backtest's orders: symbols,
    signed quantities and prices. Returns the backtest's orders in that order."""
    live = fills.assign(q=np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"])
    live = live.assign(time=pd.to_datetime(live["ts"])).sort_values(["time", "symbol"])
    orders = result.orders.sort_values(["time", "symbol"])
    assert len(live) == len(orders)
    np.testing.assert_array_equal(live["symbol"].to_numpy(), orders["symbol"].to_numpy())
    np.testing.assert_array_equal(live["q"].to_numpy(), orders["quantity"].to_numpy())
    np.testing.assert_allclose(live["price"].to_numpy(), orders["price"].to_numpy(), atol=1e-6)
    return orders
