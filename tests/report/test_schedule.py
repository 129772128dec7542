"""Scheduled reports: due times and catch-up, locks, failure alerts over SMTP, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

from tests._smtp import tls_smtp
from toolkit.errors import ConfigError
from toolkit.report.schedule import Job, Scheduler, due_times, load_schedule

REPO = Path(__file__).resolve().parents[2]


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        "fail = False\nreport_time = None", metadata={"tags": ["parameters"]}
    )
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "if fail:\n    raise RuntimeError('data feed missing')\nprint('report for', report_time)"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _schedule(tmp: Path, body: str) -> Path:
    f = tmp / "schedule.toml"
    f.write_text(body)
    return f


def test_shipped_schedule_is_valid() -> None:
    jobs = load_schedule(REPO / "research" / "schedule.toml")
    assert {j.name for j in jobs} >= {"daily-performance", "monthly-tearsheet"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[job]]\nname = "a"\ncron = "61 * * * *"\nnotebook = "11_performance_report"\n',
            "not a valid 5-field cron",
        ),
        (
            '[[job]]\nname = "a"\ncron = "0 * * * *"\nnotebook = "nope"\n',
            "notebook 'nope' not found; notebooks: 01_quickstart",
        ),
        (
            '[[job]]\nname = "a"\ncron = "0 * * * *"\nnotebook = "11_performance_report"\nwhen = 1\n',
            "unknown key",
        ),
        (
            '[[job]]\nname = "a"\ncron = "0 * * * *"\nnotebook = "11_performance_report"\n' * 2,
            "appear more than once",
        ),
        ('[[job]]\ncron = "0 * * * *"\nnotebook = "11_performance_report"\n', "name is missing"),
    ],
)
def test_invalid_schedule_files(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_schedule(_schedule(tmp_path, body))


def test_due_times_catch_up_and_first_run() -> None:
    job = Job("daily", "30 21 * * 1-5", "x", catch_up=3)
    now = datetime(2024, 3, 11, 9, 0, tzinfo=UTC)  # a Monday morning
    assert due_times(job, None, now) == [datetime(2024, 3, 8, 21, 30, tzinfo=UTC)]
    last = datetime(2024, 3, 4, 21, 30, tzinfo=UTC)  # missed Tue..Fri: the latest three run
    assert due_times(job, last, now) == [
        datetime(2024, 3, d, 21, 30, tzinfo=UTC) for d in (6, 7, 8)
    ]
    assert due_times(job, datetime(2024, 3, 8, 21, 30, tzinfo=UTC), now) == []


def test_run_due_runs_once_records_state_and_catches_up(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "tiny.ipynb")
    job = Job("tiny", "0 12 * * *", str(nb), catch_up=2)
    s = Scheduler([job], reports_root=tmp_path / "reports", state_dir=tmp_path / "state")
    first = s.run_due(datetime(2024, 5, 1, 13, 0, tzinfo=UTC))
    assert [(o.status, o.scheduled.day) for o in first] == [("ok", 1)]
    assert s.run_due(datetime(2024, 5, 1, 14, 0, tzinfo=UTC)) == []  # nothing new: no rerun
    later = s.run_due(datetime(2024, 5, 4, 13, 0, tzinfo=UTC))  # three missed days, catch_up 2
    assert [(o.status, o.scheduled.day) for o in later] == [("ok", 3), ("ok", 4)]
    assert json.loads((tmp_path / "state" / "state.json").read_text())["tiny"].startswith(
        "2024-05-04"
    )
    html = sorted((tmp_path / "reports").rglob("tiny.html"))
    assert len(html) == 3 and "report for 2024-05-04T12:00:00+00:00" in html[-1].read_text()


def test_a_running_job_is_not_started_twice(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "tiny.ipynb")
    s = Scheduler(
        [Job("tiny", "0 12 * * *", str(nb))],
        reports_root=tmp_path / "r",
        state_dir=tmp_path / "state",
    )
    with FileLock(str(tmp_path / "state" / "tiny.lock")):
        outcomes = s.run_due(datetime(2024, 5, 1, 13, 0, tzinfo=UTC))
    assert [o.status for o in outcomes] == ["locked"]
    assert not (tmp_path / "r").exists()
    assert [o.status for o in s.run_due(datetime(2024, 5, 1, 13, 0, tzinfo=UTC))] == ["ok"]


def test_failure_is_alerted_over_smtp(tmp_path: Path, smtp_server) -> None:
    _, box, _ = smtp_server
    nb = _notebook(tmp_path / "tiny.ipynb")
    smtp = tls_smtp(smtp_server, "toolkit@example.test", "ops@example.test")
    s = Scheduler(
        [Job("broken", "0 12 * * *", str(nb), params={"fail": True})],
        reports_root=tmp_path / "r",
        state_dir=tmp_path / "state",
        smtp=smtp,
    )
    (outcome,) = s.run_due(datetime(2024, 5, 1, 13, 0, tzinfo=UTC))
    assert outcome.status == "failed" and "data feed missing" in outcome.detail
    assert (
        box.messages[0]["Subject"]
        == "[ibkr-toolkit] report failed: broken (2024-05-01T12:00:00+00:00)"
    )
    assert "RuntimeError: data feed missing" in box.messages[0].get_payload()


def test_schedule_cli_once(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "tiny.ipynb")
    f = _schedule(tmp_path, f'[[job]]\nname = "tiny"\ncron = "0 12 * * *"\nnotebook = "{nb}"\n')
    cmd = [
        sys.executable,
        "-m",
        "toolkit.report",
        "schedule",
        "--file",
        str(f),
        "--reports",
        str(tmp_path / "r"),
        "--state",
        str(tmp_path / "s"),
        "--now",
        "2024-05-01T13:00:00+00:00",
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "tiny @ 2024-05-01T12:00:00+00:00: ok" in done.stdout
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert "nothing due" in again.stdout


def test_foreground_loop_runs_due_jobs_then_sleeps_until_the_next(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "tiny.ipynb")
    s = Scheduler(
        [Job("tiny", "*/5 * * * *", str(nb))],
        reports_root=tmp_path / "r",
        state_dir=tmp_path / "state",
    )
    slept: list[float] = []
    logs: list[str] = []
    # a pinned clock: under load the notebook run can cross a 5-minute mark, which makes the
    # next occurrence due on the second pass (a real second run, not a defect of the loop)
    now = datetime(2024, 5, 1, 12, 3, 20, tzinfo=UTC)
    s.loop(logs.append, sleep=slept.append, stop=lambda: len(slept) >= 2, clock=lambda: now)
    assert sum(": ok" in line for line in logs) == 1  # the due run, once, then nothing new
    assert len(slept) == 2 and all(1.0 <= w <= 300.0 for w in slept)  # until the next 5 minutes
    assert any(line.startswith("next run ") for line in logs)
