"""``python -m toolkit.report run|schedule|export|alert-test``: reports without opening Jupyter."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit import _logfiles
from toolkit._entry import run_command


def _parser(prog: str = "python -m toolkit.report") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a notebook into reports/<date>/ with HTML")
    run.add_argument("notebook", help="a notebook in notebooks/ (name or path)")
    run.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="notebook parameter (JSON values parsed)",
    )
    run.add_argument("--reports", type=Path, default=Path("reports"))
    run.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    run.add_argument("--json", action="store_true", help="the files as JSON for machines")
    sched = sub.add_parser("schedule", help="run due reports from a schedule file")
    sched.add_argument("--file", type=Path, default=Path("research/schedule.toml"))
    sched.add_argument("--reports", type=Path, default=Path("reports"))
    sched.add_argument("--state", type=Path, default=Path("reports/.schedule"))
    sched.add_argument("--loop", action="store_true", help="stay in the foreground")
    sched.add_argument("--now", help="pretend it is this UTC time (ISO 8601), for catch-up runs")
    sched.add_argument("--json", action="store_true", help="the outcomes as JSON for machines")
    _logfiles.add_arguments(sched)  # rotated log files beside the terminal (toolkit._logfiles)
    exp = sub.add_parser(
        "export",
        help="tax lots (FIFO) at the prices paid, realised P&L, dividends, equity, positions",
    )
    src = exp.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", type=Path, help="a research config: its backtest's fills")
    src.add_argument("--session", help="a live/paper session id: its journaled fills")
    exp.add_argument(
        "--journal",
        type=Path,
        default=Path("live/state/journal.sqlite"),
        help="the session's journal (with --session)",
    )
    exp.add_argument("--out", type=Path, default=None, help="default reports/<name>-tax-<time>/")
    exp.add_argument("--json", action="store_true", help="the files as JSON for machines")
    sub.add_parser("alert-test", help="send a test alert with the TOOLKIT_SMTP_* settings")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m toolkit.report") -> int:
    args = _parser(prog).parse_args(argv)
    handler = {"run": _run, "schedule": _schedule, "export": _export, "alert-test": _alert_test}[
        args.command
    ]
    return run_command(lambda: handler(args), debug=args.debug)


def _run(args: argparse.Namespace) -> int:
    from toolkit.app.progress import stderr_progress
    from toolkit.report.notebook_runner import parse_value, run_report

    params = {k: parse_value(v) for k, v in args.param}
    files = run_report(
        args.notebook,
        params,
        reports_root=args.reports,
        hide_code=not args.show_code,
        progress=stderr_progress(),
    )
    if args.json:
        return _print_json(
            {"notebook": files.notebook, "html": files.html, "tearsheet": files.tearsheet}
        )
    print(f"notebook   {files.notebook}\nhtml       {files.html}")
    print(f"tearsheet  {files.tearsheet or '(the notebook wrote no returns.csv)'}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from toolkit.app.progress import stderr_progress
    from toolkit.report.schedule import Scheduler, load_schedule, settings_from

    scheduler = Scheduler(
        load_schedule(args.file),
        reports_root=args.reports,
        state_dir=args.state,
        smtp=settings_from(os.environ),
        progress=stderr_progress(),
    )
    log = _logfiles.open_log("report-schedule", _logfiles.settings_from(args), ["toolkit.report"])
    say = log.tee(print) if log is not None else print
    try:
        return _run_schedule(args, scheduler, say)
    finally:
        if log is not None:
            log.close()


def _run_schedule(args: argparse.Namespace, scheduler: Any, say: Callable[[str], None]) -> int:
    if args.loop:

        def flushed(line: str) -> None:
            say(line)
            sys.stdout.flush()

        scheduler.loop(flushed)
        return 0
    now = datetime.fromisoformat(args.now).astimezone(UTC) if args.now else None
    outcomes = scheduler.run_due(now)
    if args.json:
        from dataclasses import asdict

        _print_json([asdict(o) for o in outcomes])
        return 1 if any(o.status == "failed" for o in outcomes) else 0
    for o in outcomes:
        say(f"{o.job} @ {o.scheduled.isoformat()}: {o.status} {o.detail}")
    if not outcomes:
        say("nothing due")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _export(args: argparse.Namespace) -> int:
    from toolkit.app.run_config import read_run_config

    # a config is read before the engine, data and report modules load
    cfg = None if args.config is None else read_run_config(args.config)
    from toolkit.app.progress import stderr_progress
    from toolkit.app.tax_inputs import backtest_tax_inputs, session_tax_inputs
    from toolkit.report.exports import export_tax_files

    say = stderr_progress()  # stages on stderr, as backtest/sweep/report print theirs
    if cfg is None:
        name = f"session-{args.session}"
        inputs = session_tax_inputs(args.journal, args.session, progress=say)
    else:
        name = cfg.name
        inputs = backtest_tax_inputs(cfg, progress=say)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = args.out or Path("reports") / f"{name}-tax-{stamp}"
    say(f"writing tax lots (FIFO), realised P&L and dividends to {folder}")
    paths = export_tax_files(
        inputs.orders,
        inputs.equity,
        inputs.positions,
        folder,
        dividends=inputs.dividends,
        notes=inputs.notes,
    )
    say(f"done: {len(paths)} files")
    for note in inputs.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        return _print_json({"folder": folder, "files": paths, "notes": list(inputs.notes)})
    for kind, path in sorted(paths.items()):
        print(f"{kind:<10} {path}")
    return 0


def _print_json(value: object) -> int:
    import json

    from toolkit.app.tables import plain

    print(json.dumps(plain(value), indent=2))
    return 0


def _alert_test(args: argparse.Namespace) -> int:
    from toolkit.notify import SmtpSettings, send_email

    settings = SmtpSettings.from_env(os.environ)
    if settings is None:
        print("error: TOOLKIT_SMTP_HOST is not set; see toolkit/notify.py.", file=sys.stderr)
        return 2
    send_email(settings, "[ibkr-toolkit] test alert", "Alerts from ibkr-toolkit reach you.\n")
    print(f"sent to {', '.join(settings.recipients)} via {settings.host}:{settings.port}")
    return 0
