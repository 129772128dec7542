"""``python -m toolkit.live run|options|status|orders|cancel-all``: trade, inspect (``orders``:
parent orders with their transaction-cost analysis), or stop a session.

Errors a user can cause (config, connection, account, journal) print one message naming
what to fix and exit with status 2; ``--debug`` shows the traceback. Ctrl+C or SIGTERM stops a
running session in order (exit 0); before it has started they end it with one line too.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import _logfiles
from toolkit._entry import run_command
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.live._terminal import Terminal


def _parser(prog: str = "python -m toolkit.live") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a paper (default) or live session")
    run.add_argument("--config", default="live/paper.toml", help="live config (TOML)")
    run.add_argument("--host", help="IB Gateway/TWS host (default: the embedded simulator)")
    run.add_argument("--port", type=int, help="API port: 4002/7497 paper, 4001/7496 live")
    run.add_argument("--live", action="store_true", help="allow a live-trading account/port")
    run.add_argument("--session", help="session id (resume one after a restart)")
    run.add_argument("--no-dashboard", action="store_true", help="plain log lines instead")
    run.add_argument("--profile", action="store_true", help="pyinstrument HTML under reports/")
    run.add_argument("--watch", action="store_true", help="rehearse again on each strategy edit")
    run.add_argument("--json", action="store_true", help="final summary as JSON; log on stderr")
    _logfiles.add_arguments(run)  # rotated log files beside the terminal (toolkit._logfiles)
    run.add_argument(
        "--endpoints",
        metavar="[HOST:]PORT",
        help="serve /healthz /readyz /metrics there (default: [endpoints] of the config; off)",
    )
    opt = sub.add_parser("options", help="trade an option template as combo orders (paper)")
    opt.add_argument("--config", default="live/options_paper.toml", help="option config (TOML)")
    opt.add_argument("--host", help="IB Gateway/TWS host (default: the embedded simulator)")
    opt.add_argument("--port", type=int, help="API port: 4002/7497 paper, 4001/7496 live")
    opt.add_argument("--live", action="store_true", help="allow a live-trading account/port")
    opt.add_argument("--session", help="session id (resume one after a restart)")
    opt.add_argument("--profile", action="store_true", help="pyinstrument HTML under reports/")
    _logfiles.add_arguments(opt)  # rotated log files beside the terminal (toolkit._logfiles)
    opt.add_argument(
        "--endpoints",
        metavar="[HOST:]PORT",
        help="serve /healthz /readyz /metrics there (default: [endpoints] of the config; off)",
    )
    status = sub.add_parser("status", help="summary of a running or past session")
    status.add_argument("session", nargs="?", help="session id (default: the newest)")
    status.add_argument("--config", default="live/paper.toml", help="live config (for its journal)")
    status.add_argument("--journal", help="journal file (overrides the config's)")
    status.add_argument("--list", action="store_true", help="list the journal's sessions")
    status.add_argument("--json", action="store_true", help="JSON for machines instead of text")
    orders = sub.add_parser("orders", help="a session's parent orders with their TCA")
    orders.add_argument("--session", help="session id (default: the newest)")
    orders.add_argument("--config", default="live/paper.toml", help="live config (for its journal)")
    orders.add_argument("--journal", help="journal file (overrides the config's)")
    orders.add_argument("--json", action="store_true", help="JSON records instead of a table")
    cancel = sub.add_parser("cancel-all", help="cancel every working order at the broker")
    cancel.add_argument("--config", default="live/paper.toml")
    cancel.add_argument("--host", help="IB Gateway/TWS host (default: the config's)")
    cancel.add_argument("--port", type=int, help="API port (default: the config's)")
    cancel.add_argument("--client-id", type=int, default=0, help="0 also sees TWS's own orders")
    from toolkit.live.commands import add_parsers

    add_parsers(sub)  # cancel, modify, pause, resume, kill: commands to a running session
    from toolkit.live._reload import add_parser

    add_parser(sub)  # reload: the [risk] limits of a running session (as SIGHUP)
    return p


def _run(args: argparse.Namespace) -> int:
    if args.watch:  # the rehearsal as a child, restarted on every edit (toolkit.live._watch)
        from toolkit.live._watch import child_args, watch

        return watch(child_args(args), Path(args.config))
    from toolkit.live.bridge import LiveSession, StopRequested, smtp_from_env
    from toolkit.live.config import load_live_config

    cfg = load_live_config(args.config)
    use_dashboard = (
        not args.no_dashboard
        and not args.json  # stdout is the summary's JSON, for machines
        and cfg.session.dashboard is not False
        and sys.stdout.isatty()
    )
    session = LiveSession(
        cfg,
        live=args.live,
        host=args.host,
        port=args.port,
        session_id=args.session,
        alerts=smtp_from_env(),
        echo=None if use_dashboard else (_to_stderr if args.json else print),
        endpoints=args.endpoints,
    )
    _profiled(session, args.profile)
    terminal = _guarded(session.log, session)
    log = _logfiles.open_log(
        f"live-{cfg.source.stem}",
        _logfiles.settings_from(args, table=cfg.logs),
        ["toolkit.live", "toolkit.gateway"],
        sys.stderr,
    )
    if log is not None:  # the session's lines (dashboard or not) into the file too
        session.log.echo = log.tee(session.log.echo)
    try:
        if not use_dashboard:
            summary = asyncio.run(session.run())
            if args.json:  # the final summary as `status --json` gives it, with the TCA
                from toolkit.app.summaries import session_json
                from toolkit.live.journal import Journal
                from toolkit.live.tca_history import order_history

                with Journal(cfg.session.journal) as j:
                    tca = None if summary.tca_error else order_history(j, summary.session_id)
                print(session_json(summary, tca))
        else:
            from toolkit.live.dashboard import Dashboard
            from toolkit.live.summary import format_summary

            with Dashboard(keys=sys.stdin.isatty()) as dash:
                summary = asyncio.run(session.run(on_tick=dash.update))
            print("\n".join(list(session.events)[-20:]))
            print(format_summary(summary))
    except StopRequested as exc:
        print(f"stopped: {exc}", file=sys.stderr)
    finally:
        if log is not None:
            log.close()
        terminal.restore()
    return 0


def _profiled(session: Any, profile: bool) -> None:
    """``--profile``: the session's run (either kind), profiled to reports/
    (toolkit.live._profile)."""
    if profile:
        from toolkit.live._profile import profiling

        session.run = profiling(session.run, Path("reports"), session.sid)


def _guarded(say: Callable[[str], None], session: Any) -> Terminal:
    """The terminal's output guarded while ``session`` (either kind) runs: when the terminal
    goes away it is silenced, the session says so (log file, events) and journals it, and
    trades on (toolkit.live._terminal)."""
    from toolkit.live._terminal import Terminal, noting

    def record(why: str) -> None:
        ledger = getattr(session, "ledger", None)  # None until the session has started
        if ledger is not None and session.journal is not None:
            ledger.journal_guard("terminal_lost", why, symbol=None)

    terminal = Terminal().install()
    terminal.on_lost(noting(say, record, lambda: session._loop))
    return terminal


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _options(args: argparse.Namespace) -> int:
    from toolkit.live._startup import StopRequested
    from toolkit.live.bridge import smtp_from_env
    from toolkit.live.option_session import OptionSession
    from toolkit.live.options_config import load_option_config

    cfg = load_option_config(args.config)
    session = OptionSession(
        cfg,
        live=args.live,
        host=args.host,
        port=args.port,
        session_id=args.session,
        alerts=smtp_from_env(),
        echo=lambda line: print(line, flush=True),  # a log file follows the session
        endpoints=args.endpoints,
    )
    _profiled(session, args.profile)
    terminal = _guarded(session._log, session)
    log = _logfiles.open_log(
        f"options-{cfg.source.stem}",
        _logfiles.settings_from(args),
        ["toolkit.live", "toolkit.gateway"],
        sys.stderr,
    )
    if log is not None:
        session.echo = log.tee(session.echo)
    try:
        asyncio.run(session.run())
    except StopRequested as exc:  # as the stock session's: one line, exit 0
        print(f"stopped: {exc}", file=sys.stderr)
    finally:
        if log is not None:
            log.close()
        terminal.restore()
    return 0


def _journal_path(args: argparse.Namespace) -> Path:
    if args.journal:
        path = Path(args.journal)
    else:
        from toolkit.live.config import load_live_config

        path = load_live_config(args.config).session.journal
    if not path.is_file():
        raise ToolkitError(
            f"{path}: no journal yet; run a session first (python -m toolkit.live run)."
        )
    return path


def _orders(args: argparse.Namespace) -> int:
    from toolkit.live.journal import Journal
    from toolkit.live.tca_history import format_history, order_history

    with Journal(_journal_path(args)) as j:
        history = order_history(j, args.session)
    if args.json:
        print(history.reset_index().to_json(orient="records", date_format="iso", indent=1))
    else:
        print(format_history(history))
    return 0


def _status(args: argparse.Namespace) -> int:
    from toolkit.live.journal import Journal
    from toolkit.live.summary import format_summary, summarize
    from toolkit.live.tca_history import format_history, order_history

    path = _journal_path(args)
    with Journal(path) as j:
        if args.list and args.json:
            import json

            print(json.dumps([dict(s) for s in j.sessions()], indent=2, default=str))
            return 0
        if args.list:
            for s in j.sessions():
                state = "running" if s["ended_at"] is None else f"ended {s['ended_at']}"
                print(
                    f"{s['session_id']}  {s['mode']}  {s['account']}  "
                    f"started {s['started_at']}  {state}"
                )
            return 0
        summary = summarize(j, args.session)
        if args.json:
            from toolkit.app.summaries import session_json

            history = None if summary.tca_error else order_history(j, summary.session_id)
            print(session_json(summary, history))
            return 0
        print(format_summary(summary))
        if summary.tca_error is None:  # else the summary said why there is no TCA
            print("parent orders (TCA; costs > 0 hurt; the newest 20: `orders` lists all)")
            print(format_history(order_history(j, summary.session_id), last=20))
        from toolkit.live.commands import format_commands

        if manual := format_commands(j.commands(summary.session_id)):
            print(manual)  # the dashboard's keys and the CLI's commands, with their outcomes
        from toolkit.live._reload import format_reloads

        if reloads := format_reloads(j.rows("risk_changes", summary.session_id)):
            print(reloads)  # SIGHUP / `reload`: applied, unchanged or refused, with the values
    return 0


def _cancel_all(args: argparse.Namespace) -> int:
    from ib_async import IB

    from toolkit.live.config import load_live_config

    cfg = load_live_config(args.config)
    host = args.host or cfg.connection.host
    port = args.port or cfg.connection.port
    if host is None:
        raise ToolkitError(
            f"{args.config} has no [connection] host (it runs the embedded simulator, which "
            "stops with its session); give --host/--port of a running gateway."
        )
    ib = IB()
    try:
        ib.connect(host, port, clientId=args.client_id, timeout=cfg.connection.timeout)
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise ToolkitError(
            f"cannot connect to {host}:{port}: {exc or type(exc).__name__}"
        ) from None
    try:
        working = ib.reqAllOpenOrders()
        ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
        ib.sleep(1.0)
        print(f"global cancel sent to {host}:{port}: {len(working)} working order(s) before")
    finally:
        ib.disconnect()
    return 0


def _reload(args: argparse.Namespace) -> int:
    from toolkit.live._reload import run_cli

    return run_cli(args)


def _session_command(args: argparse.Namespace) -> int:
    from toolkit.live.commands import run_cli

    return run_cli(args)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM outside the session's own handlers: as Ctrl+C


def main(argv: Sequence[str] | None = None, prog: str = "python -m toolkit.live") -> int:
    args = _parser(prog).parse_args(argv)
    handler = {
        "run": _run,
        "options": _options,
        "status": _status,
        "orders": _orders,
        "cancel-all": _cancel_all,
        "reload": _reload,
    }.get(args.command, _session_command)
    previous = signal.signal(signal.SIGTERM, _terminate)
    # a Ctrl+C while the session's modules load is never lost (toolkit.live._signals)
    from toolkit.live._signals import watch_start_up

    try:
        with watch_start_up():
            return run_command(
                lambda: handler(args), debug=args.debug, interrupted="stopped (Ctrl+C / SIGTERM)"
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
