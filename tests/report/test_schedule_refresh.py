"""Scheduled reports refresh their fetched data first (issue 18.1): a job with
``refresh_data = true`` updates the data folder from TWS / IB Gateway (here the simulator)
before its notebook runs, once per pass, and fails -- without running -- when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("ib_async")

import toolkit as tk
from toolkit.app.research import main
from toolkit.errors import ConfigError
from toolkit.gateway import Gateway
from toolkit.report.schedule import Refresh, Scheduler, load_schedule

SHIPPED = Path(__file__).resolve().parents[2] / "data"  # what the simulator serves
JOBS = """
[refresh]
port = {port}
client_id = 611
pacing_scale = 0.01

[[job]]
name = "daily"
cron = "30 21 * * 1-5"
notebook = "11_performance_report"
refresh_data = true

[[job]]
name = "weekly"
cron = "0 21 * * 5"
notebook = "11_performance_report"
refresh_data = true

[[job]]
name = "as-is"
cron = "0 21 * * 5"
notebook = "11_performance_report"
"""


def test_a_job_reports_on_refreshed_data(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("TOOLKIT_DATA", str(data))
    with Gateway(port=0, data_dir=SHIPPED, start="2024-05-10 21:00") as gw:
        argv = ["data", "fetch", "SPY", "--what", "TRADES", "--since", "2024-01-01"]
        assert main([*argv, "--port", str(gw.port), "--pacing-scale", "0.01"]) == 0
    capsys.readouterr()
    seen: list[pd.Timestamp] = []

    told: list[str] = []

    def runner(notebook: str, params: dict[str, Any], **kw: Any) -> None:
        seen.append(tk.load("SPY", adjust="none").index[-1])  # what the report would load
        assert kw["progress"] == told.append  # the runner tells its stages on the same line

    with Gateway(port=0, data_dir=SHIPPED, start="2024-05-17 21:30") as gw:
        schedule = tmp_path / "schedule.toml"
        schedule.write_text(JOBS.format(port=gw.port))
        jobs = load_schedule(schedule)
        assert [j.refresh is not None for j in jobs] == [True, True, False]
        assert jobs[0].refresh == Refresh(port=gw.port, client_id=611, pacing_scale=0.01)
        scheduler = Scheduler(
            jobs,
            reports_root=tmp_path / "r",
            state_dir=tmp_path / "s",
            runner=runner,
            progress=told.append,
        )
        outcomes = scheduler.run_due(datetime(2024, 5, 17, 21, 45, tzinfo=UTC))
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert outcomes[0].detail.endswith("(data SPY updated +5)")
    assert outcomes[1].detail.endswith("(data SPY updated +5)")  # the same, single refresh
    assert seen == [pd.Timestamp("2024-05-17", tz="UTC")] * 3
    # a silent first run no more: each job as it starts, the one refresh before the first
    assert [t.split(" @ ")[0] for t in told if " @ " in t] == [j.name for j in jobs]
    assert sum("refreshing its data first" in t for t in told) == 1


def test_a_failed_refresh_fails_the_report_without_running_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLKIT_DATA", str(tmp_path / "empty"))
    ran: list[str] = []
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(JOBS.format(port=1))
    scheduler = Scheduler(
        load_schedule(schedule)[:1],
        reports_root=tmp_path / "r",
        state_dir=tmp_path / "s",
        runner=lambda notebook, params, **kw: ran.append(notebook),
    )
    [out] = scheduler.run_due(datetime(2024, 5, 17, 21, 45, tzinfo=UTC))
    assert out.status == "failed" and not ran
    assert out.detail.startswith("data refresh failed, report not run: nothing fetched under")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[refresh]\nport = "x"\n', "port = 'x' has the wrong type"),
        ("[refresh]\nhots = 1\n", "unknown key(s) hots"),
        ('[refresh]\nsymbols = "SPY"\n', "symbols must be a list"),
        (
            '[[job]]\nname = "a"\ncron = "0 1 * * *"\nnotebook = "11_performance_report"\n'
            'refresh_data = "yes"\n',
            "refresh_data must be true or false",
        ),
    ],
)
def test_refresh_settings_are_checked(tmp_path: Path, table: str, message: str) -> None:
    f = tmp_path / "schedule.toml"
    f.write_text(table)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_schedule(f)
