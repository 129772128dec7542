"""``python -m toolkit.live``: run, status, cancel-all, and the clear errors users get."""

from __future__ import annotations

import json
import time

import pytest
from ib_async import IB, LimitOrder, Stock

from tests._commands import run_command
from toolkit.gateway import Gateway
from toolkit.live.__main__ import main

SHORT = {"start": "2023-03-10 21:30", "end": "2023-03-16", "speed": 8_640_000.0}


def test_run_then_status_and_list(live_config, tmp_path) -> None:
    cfg = live_config(simulator=SHORT)
    out = run_command("toolkit.live", "run", "--config", cfg.source, "--no-dashboard", timeout=180)
    assert out.returncode == 0, out.stderr
    for text in (
        "embedded gateway simulator",
        "sent ",
        "fill ",
        "net P&L",
        "win rate",
        "slippage vs signal price",
        "simulation reached its end",
    ):
        assert text in out.stdout
    status = run_command("toolkit.live", "status", "--config", cfg.source, timeout=60)
    assert status.returncode == 0 and "net P&L" in status.stdout and "ended" in status.stdout
    # the same summary for machines, through the one command line (toolkit live status)
    as_json = run_command("toolkit", "live", "status", "--config", cfg.source, "--json")
    assert as_json.returncode == 0, as_json.stderr
    record = json.loads(as_json.stdout)
    assert f"net P&L          {record['pnl']:>14,.2f}" in status.stdout
    assert f"fills {record['fills']}," in status.stdout and record["running"] is False
    listed = run_command("toolkit", "live", "status", "--config", cfg.source, "--list", "--json")
    assert [s["session_id"] for s in json.loads(listed.stdout)] == [record["session_id"]]
    assert main(["status", "--journal", str(cfg.session.journal), "--list"]) == 0
    assert main(["status", "nope", "--journal", str(cfg.session.journal)]) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"connection": {"host": "127.0.0.1", "port": 4001}}, "pass --live"),
        (
            {"connection": {"host": "127.0.0.1", "port": 1}},
            "cannot connect to IB Gateway/TWS at 127.0.0.1:1",
        ),
        ({"simulator": SHORT, "connection": {"account": "U7654321"}}, "refusing to trade"),
        (
            {
                "simulator": SHORT,
                "strategies": [{"config": "PAPER", "symbols": ["ZZZZ"], "capital": 1000}],
            },
            "unknown symbol(s) at the broker: ZZZZ",
        ),
    ],
)
def test_errors_are_one_clear_message(live_config, capsys, changes, message) -> None:
    from tests.live.conftest import PAPER

    for s in changes.get("strategies", []):
        s["config"] = str(PAPER)
    cfg = live_config(**changes)
    assert main(["run", "--config", str(cfg.source), "--no-dashboard"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_config_errors_name_file_and_key(live_config) -> None:
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"live.toml: \[simulator\] speed = -1.0 is out of range"):
        live_config(simulator={"speed": -1.0})
    from tests.live.conftest import PAPER

    with pytest.raises(ConfigError, match=r"\[strategies #1\] bar_size = '7 mins' is not allowed"):
        live_config(strategies=[{"config": str(PAPER), "bar_size": "7 mins"}])
    with pytest.raises(ConfigError, match=r"x.toml: config file not found"):
        live_config(strategies=[{"config": "x.toml"}])
    with pytest.raises(ConfigError, match=r"\[session\] unknown key jurnal"):
        live_config(session={"jurnal": "x"})


def test_live_needs_an_account_and_missing_config(live_config, capsys) -> None:
    cfg = live_config(connection={"host": "127.0.0.1", "port": 4001})
    assert main(["run", "--config", str(cfg.source), "--live"]) == 2
    assert "[connection] account is required with --live" in capsys.readouterr().err
    assert main(["run", "--config", "nowhere.toml"]) == 2
    assert "live config not found" in capsys.readouterr().err


def test_cancel_all_cancels_every_working_order(live_config) -> None:
    with Gateway(port=0, start="2023-03-10 21:30", speed=1.0) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            trades = [ib.placeOrder(spy, LimitOrder("BUY", 10, 300.0 + k)) for k in range(3)]
            ib.sleep(0.5)
            assert all(t.orderStatus.status == "Submitted" for t in trades)
            cfg = live_config(connection={"host": "127.0.0.1", "port": gw.port})
            assert main(["cancel-all", "--config", str(cfg.source)]) == 0
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(
                t.orderStatus.status != "Cancelled" for t in trades
            ):
                ib.sleep(0.1)
            assert [t.orderStatus.status for t in trades] == ["Cancelled"] * 3
        finally:
            ib.disconnect()
