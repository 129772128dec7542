"""Scheduled reports: a TOML schedule of cron expressions -> notebooks and parameters.

``python -m toolkit.report schedule`` runs what is due once (for cron or a systemd timer) or,
with ``--loop``, stays in the foreground. Missed occurrences since the last run are caught up
(at most ``catch_up`` per job, oldest first); a job whose lock is held (still running
elsewhere) is skipped, so the same report never runs twice at once; a failure is recorded
and, when SMTP is configured, mailed. Cron times are UTC.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import croniter
from filelock import FileLock, Timeout

from toolkit._toml import read_toml
from toolkit.errors import ConfigError
from toolkit.notify import AlertError, SmtpSettings, report_failed
from toolkit.report.notebook_runner import resolve_notebook, run_report


@dataclass(frozen=True)
class Refresh:
    """``[refresh]``: where a job with ``refresh_data = true`` updates its fetched bars from
    (TWS / IB Gateway) before it runs, so a report never shows stale data under today's
    date. The data folder is the reports' own (``$TOOLKIT_DATA``, else the checkout's)."""

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 74
    symbols: tuple[str, ...] = ()  # none: every series fetch_manifest.csv records
    timeout: float = 120.0
    pacing_scale: float = 1.0  # IB's pacing windows x this (below 1 only for a simulator)

    def run(self) -> str:
        """Update the fetched series; a summary line (raises when IB cannot be asked)."""
        from toolkit.data import default_data_dir
        from toolkit.data._pacing import PacingRules
        from toolkit.data.ibkr_history import update_folder

        done = update_folder(
            default_data_dir(), host=self.host, port=self.port, client_id=self.client_id,
            symbols=self.symbols, timeout=self.timeout,
            rules=PacingRules().scaled(self.pacing_scale),
        )  # fmt: skip
        return "data " + ", ".join(f"{o.symbol} {o.action} +{o.added}" for o in done)


@dataclass(frozen=True)
class Job:
    """One scheduled report (``refresh``: update the fetched data first)."""

    name: str
    cron: str
    notebook: str
    params: dict[str, Any] = field(default_factory=dict)
    catch_up: int = 3
    refresh: Refresh | None = None


def _refresh_table(raw: Any, path: Path) -> Refresh:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [refresh] must be a table.")
    extra = set(raw) - {"host", "port", "client_id", "symbols", "timeout", "pacing_scale"}
    if extra:
        raise ConfigError(
            f"{path}: [refresh] unknown key(s) {', '.join(sorted(extra))}; "
            "allowed: host, port, client_id, symbols, timeout, pacing_scale."
        )
    kinds: dict[str, type | tuple[type, ...]] = {
        "host": str,
        "port": int,
        "client_id": int,
        "timeout": (int, float),
        "pacing_scale": (int, float),
    }
    for key, kind in kinds.items():
        if key in raw and (not isinstance(raw[key], kind) or isinstance(raw[key], bool)):
            raise ConfigError(f"{path}: [refresh] {key} = {raw[key]!r} has the wrong type.")
    symbols = raw.get("symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(x, str) for x in symbols):
        raise ConfigError(f"{path}: [refresh] symbols must be a list of tickers.")
    return Refresh(
        raw.get("host", "127.0.0.1"), raw.get("port", 4002), raw.get("client_id", 74),
        tuple(symbols), float(raw.get("timeout", 120.0)), float(raw.get("pacing_scale", 1.0)),
    )  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What happened to one job occurrence."""

    job: str
    scheduled: datetime
    status: str  # "ok", "failed", "locked"
    detail: str = ""


def load_schedule(path: Path) -> list[Job]:
    """Validate a schedule file: unique names, valid cron expressions, existing notebooks."""
    raw = read_toml(path, "schedule file not found (see research/schedule.toml).")
    unknown = set(raw) - {"job", "refresh"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; use [[job]] tables."
        )
    refresh = _refresh_table(raw.get("refresh", {}), path)
    jobs: list[Job] = []
    for i, entry in enumerate(raw.get("job", [])):
        where = f"{path}: [[job]] #{i + 1}"
        extra = set(entry) - {"name", "cron", "notebook", "params", "catch_up", "refresh_data"}
        if extra:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(sorted(extra))}; "
                "allowed: name, cron, notebook, params, catch_up, refresh_data."
            )
        if not isinstance(entry.get("refresh_data", False), bool):
            raise ConfigError(f"{where}: refresh_data must be true or false.")
        for key in ("name", "cron", "notebook"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(f"{where}: {key} is missing or not a string.")
        if not croniter.is_valid(entry["cron"]):
            raise ConfigError(
                f"{where} ({entry['name']}): cron {entry['cron']!r} is not a valid "
                "5-field cron expression, e.g. '30 21 * * 1-5'."
            )
        resolve_notebook(entry["notebook"])
        catch_up = entry.get("catch_up", 3)
        if not isinstance(catch_up, int) or isinstance(catch_up, bool) or catch_up < 1:
            raise ConfigError(f"{where}: catch_up must be a positive integer.")
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: params must be a table.")
        jobs.append(
            Job(
                entry["name"],
                entry["cron"],
                entry["notebook"],
                params,
                catch_up,
                refresh if entry.get("refresh_data", False) else None,
            )
        )
    names = [j.name for j in jobs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: job name(s) {', '.join(dupes)} appear more than once.")
    return jobs


def due_times(job: Job, last_run: datetime | None, now: datetime) -> list[datetime]:
    """Occurrences in (last_run, now], oldest first, at most ``job.catch_up`` of the latest.

    A job that never ran starts with its most recent occurrence (history is not replayed).
    """
    it = croniter(job.cron, now + timedelta(seconds=1))
    t: datetime = it.get_prev(datetime)
    if last_run is None:
        return [t]
    times: list[datetime] = []
    while t > last_run and len(times) < job.catch_up:
        times.append(t)
        t = it.get_prev(datetime)
    return sorted(times)


class Scheduler:
    """Runs due jobs with locks and persistent state under ``state_dir``."""

    def __init__(
        self,
        jobs: list[Job],
        *,
        reports_root: Path,
        state_dir: Path,
        smtp: SmtpSettings | None = None,
        runner: Callable[..., Any] = run_report,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.reports_root = reports_root
        self.state_dir = state_dir
        self.smtp = smtp
        self.runner = runner
        self.progress = progress  # told each job as it starts; the runner's stages too
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file = state_dir / "state.json"
        self._refreshed: dict[Refresh, str] = {}  # one data refresh per pass

    def _state(self) -> dict[str, str]:
        if not self.state_file.is_file():
            return {}
        try:
            data = json.loads(self.state_file.read_text())
        except json.JSONDecodeError:
            raise ConfigError(f"{self.state_file} is corrupt; delete it to start afresh.") from None
        return {str(k): str(v) for k, v in data.items()}

    def _record(self, job: str, when: datetime) -> None:
        with FileLock(str(self.state_dir / "state.lock"), timeout=30):
            state = self._state()
            state[job] = when.isoformat()
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
            tmp.replace(self.state_file)

    def last_run(self, job: str) -> datetime | None:
        value = self._state().get(job)
        return datetime.fromisoformat(value) if value else None

    def run_due(self, now: datetime | None = None) -> list[Outcome]:
        """Run every due occurrence once; return what happened."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        outcomes: list[Outcome] = []
        self._refreshed = {}
        for job in self.jobs:
            times = due_times(job, self.last_run(job.name), now)
            if not times:
                continue
            lock = FileLock(str(self.state_dir / f"{job.name}.lock"), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                outcomes.append(Outcome(job.name, times[-1], "locked", "already running"))
                continue
            try:
                for when in times:
                    outcomes.append(self._run(job, when))
                    self._record(job.name, when)
            finally:
                lock.release()
        return outcomes

    def _run(self, job: Job, when: datetime) -> Outcome:
        params = {**job.params, "report_time": when.isoformat()}
        refreshed = ""
        say = self.progress or (lambda _message: None)
        say(f"{job.name} @ {when.isoformat()}: {job.notebook}")
        try:
            if job.refresh is not None:
                if job.refresh not in self._refreshed:
                    say(f"{job.name}: refreshing its data first")
                    self._refreshed[job.refresh] = job.refresh.run()
                refreshed = f" ({self._refreshed[job.refresh]})"
        except Exception as exc:  # stale data under today's date is a failed report
            return self._failed(job, when, f"data refresh failed, report not run: {exc}")
        try:
            more = {"progress": self.progress} if self.progress is not None else {}
            files = self.runner(
                job.notebook, params, reports_root=self.reports_root, when=when, **more
            )
        except Exception as exc:  # any failure of one report must not stop the scheduler
            return self._failed(job, when, f"{type(exc).__name__}: {exc}")
        return Outcome(job.name, when, "ok", str(getattr(files, "html", "")) + refreshed)

    def _failed(self, job: Job, when: datetime, detail: str) -> Outcome:
        if self.smtp is not None:
            try:
                report_failed(self.smtp, f"{job.name} ({when.isoformat()})", detail)
            except AlertError as alert_exc:
                detail += f" (and the alert failed: {alert_exc})"
        return Outcome(job.name, when, "failed", detail)

    def next_time(self, now: datetime) -> datetime:
        """The earliest upcoming occurrence over all jobs."""
        upcoming: list[datetime] = [croniter(j.cron, now).get_next(datetime) for j in self.jobs]
        return min(upcoming)

    def loop(
        self,
        log: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
        stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Run due jobs, sleep until the next occurrence, repeat (Ctrl+C to stop).

        ``clock`` is the time source (tests pin it: a run that crosses an occurrence would
        otherwise make that occurrence due on the next pass)."""
        while not stop():
            for o in self.run_due(clock()):
                log(f"{o.job} @ {o.scheduled.isoformat()}: {o.status} {o.detail}")
            now = clock()
            wait = max(1.0, min(3600.0, (self.next_time(now) - now).total_seconds()))
            log(f"next run {self.next_time(now).isoformat()}; sleeping {wait:.0f} s")
            sleep(wait)


def settings_from(env: Mapping[str, str]) -> SmtpSettings | None:
    """SMTP settings for failure alerts from the process environment (None if not set)."""
    return SmtpSettings.from_env(env)
