"""Real money needs ``--live``: the connected account's type decides (IB's paper account ids
start with "D"), the port is only a hint."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from tests.live.conftest import REPO
from toolkit.errors import ConfigError
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession

LIVE_ACCOUNT = "U7654321"


def _cli_run(config: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit.live", "run", "--config", config, "--no-dashboard"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it is trading: stop it, then look at the broker
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_live_account_is_refused_without_live_on_any_port(live_config) -> None:
    with Gateway(port=0, start="2023-03-10 21:30", speed=1.0, account=LIVE_ACCOUNT) as gw:
        # a paper-looking setup: no --live, no account named, a port that is not 4001/7496
        cfg = live_config(connection={"host": "127.0.0.1", "port": gw.port, "client_id": 61})
        out = _cli_run(str(cfg.source))
        assert gw.state.book.orders == {}, "an order reached the live account without --live"
        assert out.returncode == 2, out.stdout + out.stderr
        err = [x for x in out.stderr.splitlines() if x.strip()]
        assert len(err) == 1 and "Traceback" not in out.stderr
        assert err[0].startswith(
            f"error: {LIVE_ACCOUNT} is a live (real-money) account on 127.0.0.1:{gw.port}; "
            "refusing to trade without --live."
        )
        assert "sent " not in out.stdout


def test_with_live_and_the_account_named_it_trades(live_config) -> None:
    with Gateway(port=0, start="2023-03-10 21:30", speed=1.0, account=LIVE_ACCOUNT) as gw:
        cfg = live_config(
            connection={
                "host": "127.0.0.1",
                "port": gw.port,
                "client_id": 62,
                "account": LIVE_ACCOUNT,
            },
        )
        lines: list[str] = []
        session = LiveSession(cfg, live=True, echo=lines.append, install_signals=False)
        result: list[object] = []
        t = threading.Thread(target=lambda: result.append(asyncio.run(session.run())))
        t.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not gw.state.book.orders:
                time.sleep(0.05)
        finally:
            session.stop()
            t.join(30)
        assert result, "\n".join(lines)
        assert [o.account for o in gw.state.book.orders.values()] == [LIVE_ACCOUNT]
        assert session.mode == "live"


def test_a_live_port_with_a_paper_setup_is_refused_without_live(live_config) -> None:
    cfg = live_config(connection={"host": "127.0.0.1", "port": 7496})
    with pytest.raises(ConfigError, match="pass --live"):
        LiveSession(cfg, echo=None, install_signals=False)
