"""``python -m toolkit data ...`` as a user runs it: against the gateway simulator, into a
real folder; tables for people, --json for machines, one-line errors with exit code 2."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ib_async")

from toolkit.app.research import main
from toolkit.data import calendar, default_data_dir
from toolkit.gateway import Gateway

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway():
    with Gateway(port=0, start="2024-05-17 21:00") as gw:
        yield gw


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_update_list_info(tmp_path: Path, gateway, capsys) -> None:
    port = ["--port", str(gateway.port), "--client-id", "501", "--data", str(tmp_path)]
    port += ["--pacing-scale", "0.01"]  # IB's windows / 100: the simulator does not pace
    code, out, err = _run(capsys, "data", "fetch", "SPY", "QQQ", "--since", "2024-03-01", *port)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["symbol", "bar", "what", "action"]
    assert lines[2].split()[:4] == ["SPY", "1", "day", "ADJUSTED_LAST"]  # the daily default
    assert "QQQ: 1/1 requests" in err  # progress on stderr
    code, out, err = _run(capsys, "data", "update", "--json", *port)
    assert code == 0, err
    updated = json.loads(out)
    assert {u["symbol"]: u["action"] for u in updated} == {"SPY": "up to date", "QQQ": "up to date"}
    code, out, err = _run(
        capsys, "data", "fetch", "spy", "--bar", "5min", "--what", "MIDPOINT", "--since",
        "2024-05-15", "--json", *port,
    )  # fmt: skip
    assert code == 0, err
    [five] = json.loads(out)
    assert (five["file"].endswith("intraday/SPY_5min_MIDPOINT.csv"), five["rows"]) == (True, 234)
    code, out, _ = _run(capsys, "data", "list", "--data", str(tmp_path), "--json")
    listed = {f["file"]: f for f in json.loads(out)}
    assert set(listed) == {"daily/QQQ.csv", "daily/SPY.csv", "intraday/SPY_5min_MIDPOINT.csv"}
    assert all(f["origin"] == "fetched" and f["status"] == "ok" for f in listed.values())
    code, out, _ = _run(capsys, "data", "list", "--data", str(tmp_path))
    assert "3 files (3 fetched from IBKR)" in out
    code, out, _ = _run(capsys, "data", "info", "SPY", "--data", str(tmp_path), "--json")
    info = {e["file"]: e for e in json.loads(out)}
    daily = info["daily/SPY.csv"]
    assert daily["loader"]["rows"] == daily["provenance"]["rows"] == daily["rows"]
    assert daily["loader"]["sha256"] == daily["provenance"]["sha256"]
    assert daily["provenance"]["what_to_show"] == "ADJUSTED_LAST"
    code, out, _ = _run(capsys, "data", "info", "SPY", "--data", str(tmp_path))
    assert "loader:" in out and "source: IBKR TWS API via ib_async" in out
    # a file edited after the fetch is flagged
    path = tmp_path / "daily" / "QQQ.csv"
    path.write_text(path.read_text().replace("\n2024-03-01,", "\n2024-03-01,1", 1))
    code, out, _ = _run(capsys, "data", "list", "--data", str(tmp_path), "--json")
    flags = {f["file"]: f["status"] for f in json.loads(out)}
    assert flags["daily/QQQ.csv"] == "changed since fetched" and flags["daily/SPY.csv"] == "ok"


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path, gateway, capsys) -> None:
    port = ["--port", str(gateway.port), "--client-id", "502", "--data", str(tmp_path)]
    code, out, err = _run(capsys, "data", "fetch", "NOPE", "--since", "2024-01-01", *port)
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("error: NOPE: unknown symbol 'NOPE'")
    assert not (tmp_path / "daily" / "NOPE.csv").exists()
    code, _, err = _run(capsys, "data", "update", *port)
    assert code == 2 and "nothing fetched" in err
    # one refused symbol among others: the others are fetched, the command still exits 2
    code, out, err = _run(
        capsys, "data", "fetch", "NOPE", "IWM", "--since", "2024-05-01", "--pacing-scale",
        "0.01", *port,
    )  # fmt: skip
    assert code == 2 and out.splitlines()[2].startswith("IWM ")
    assert err.splitlines()[-1].startswith("error: 1 of 2 series failed -- NOPE: unknown symbol")
    assert (tmp_path / "daily" / "IWM.csv").is_file()
    code, _, err = _run(capsys, "data", "fetch", "SPY", "--bar", "7min", *port)
    assert code == 2 and "not one IB serves" in err
    closed = ["--port", "1", "--data", str(tmp_path)]
    code, _, err = _run(capsys, "data", "fetch", "SPY", "--since", "2024-01-01", *closed)
    assert code == 2 and "cannot reach TWS/IB Gateway at 127.0.0.1:1" in err
    code, _, err = _run(capsys, "data", "info", "ZZZ", "--data", str(tmp_path))
    assert code == 2 and "no bar files for 'ZZZ'" in err


def test_the_data_folder_comes_from_toolkit_data(tmp_path: Path, monkeypatch, capsys) -> None:
    assert default_data_dir() == REPO / "data"  # a checkout: the shipped sample
    monkeypatch.setenv("TOOLKIT_DATA", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
    code, _, err = _run(capsys, "data", "list")
    assert code == 2 and f"The data folder {tmp_path / 'mine'} does not exist" in err
    assert "TOOLKIT_DATA" in err and "data fetch SYMBOL" in err
    (tmp_path / "mine" / "daily").mkdir(parents=True)
    (REPO / "data" / "daily" / "GLD.csv").read_bytes()
    (tmp_path / "mine" / "daily" / "GLD.csv").write_bytes(
        (REPO / "data" / "daily" / "GLD.csv").read_bytes()
    )
    code, out, _ = _run(capsys, "data", "list", "--json")
    [gld] = json.loads(out)
    assert (gld["symbol"], gld["origin"], gld["rows"]) == ("GLD", "unrecorded", 5247)


def test_an_installed_toolkit_outside_a_checkout_says_where_data_goes(tmp_path: Path) -> None:
    """A wheel has no data/ beside the package (and here no sample either, as a wheel built
    without toolkit/_sample): the loader names the folder it looked in and the ways to fill it
    (the checkout's toolkit runs from a folder without data; tests/test_wheel.py: the sample)."""
    code = (
        "import toolkit.data._paths as p, pathlib\n"
        "p.__file__ = '/nowhere/site-packages/toolkit/data/_paths.py'\n"
        "p.SAMPLE_DIR = pathlib.Path('/nowhere/site-packages/toolkit/_sample')\n"
        "import toolkit as tk\n"
        "try:\n    tk.load('SPY')\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.startswith("DataError unknown symbol 'SPY': The data folder "), done
    assert f"{tmp_path}/data does not exist" in done.stdout and "TOOLKIT_DATA" in done.stdout


def test_an_interrupted_fetch_resumes_where_it_stopped(tmp_path: Path, gateway) -> None:
    """Ctrl+C in the middle of a paced fetch (IB's own windows: it would take minutes): one
    line, exit 130, the target untouched; the same command then resumes from the kept bars."""
    argv = [sys.executable, "-m", "toolkit", "data", "fetch", "SPY", "--bar", "1min"]
    argv += ["--since", "2024-04-01", "--port", str(gateway.port), "--data", str(tmp_path)]
    state = tmp_path / ".fetch" / "intraday__SPY_1min_TRADES.json"
    proc = subprocess.Popen(
        [*argv, "--client-id", "503"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not state.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # a few more chunks, then the 2-second rule makes it wait
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err and err.splitlines()[-1] == "interrupted"
    assert not (tmp_path / "intraday" / "SPY_1min_TRADES.csv").exists()
    kept = json.loads(state.read_text())["done_until"]
    done = subprocess.run(
        [*argv, "--client-id", "504", "--pacing-scale", "0.01", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [out] = json.loads(done.stdout)
    assert out["action"] == "resumed" and "resuming" in done.stderr and kept[:10] in done.stderr
    sessions = calendar.trading_days(dt.date(2024, 4, 1), dt.date(2024, 5, 17))
    assert out["rows"] == len(sessions) * 390 == 35 * 390  # every regular minute, once
