"""``python -m toolkit data fetch|update|list|info``: bars from TWS / IB Gateway into the data
folder, and what the folder holds.

The data folder is ``--data DIR``, else ``$TOOLKIT_DATA``, else the checkout's ``data/`` (see
:func:`toolkit.data.default_data_dir`). Fetching is :mod:`toolkit.data.ibkr_history`; listing
is :mod:`toolkit.data.inventory`. Heavy imports (pandas, ib_async) happen inside the commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4002  # IB Gateway, paper account
DEFAULT_CLIENT_ID = 73  # not the live bridge's 17, so both can run at once


def add_parser(sub: Any) -> None:
    """The ``data`` command and its subcommands, on the research CLI's subparsers."""
    p = sub.add_parser(
        "data",
        help="fetch bars from TWS/IB Gateway; list and inspect the data folder",
        description=__doc__,
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    cmds = p.add_subparsers(dest="data_command", required=True)
    for name, text in (
        ("fetch", "download history (paced, resumable) and write it with a provenance record"),
        ("update", "append the bars that are new since the last fetch (all fetched series)"),
    ):
        c = cmds.add_parser(name, help=text, description=text)
        c.add_argument(
            "symbols", nargs="*" if name == "update" else "+", metavar="SYMBOL", help="tickers"
        )
        c.add_argument(
            "--bar",
            default=None if name == "update" else "1d",
            help="1d, 1h, 30min, 5min, 1min, 30s...",
        )
        c.add_argument(
            "--what",
            choices=("ADJUSTED_LAST", "TRADES", "MIDPOINT"),
            default=None,
            help="IB whatToShow (default: ADJUSTED_LAST for 1d, TRADES intraday)",
        )
        c.add_argument("--since", help="first date, YYYY-MM-DD (default: IB's first bar)")
        c.add_argument("--all-hours", action="store_true", help="include extended hours (useRTH=0)")
        c.add_argument("--replace", action="store_true", help="overwrite a file fetched otherwise")
        _connection(c)
    ls = cmds.add_parser("list", help="bar files in the data folder with their provenance")
    info = cmds.add_parser("info", help="one symbol's files, provenance and what the loader reads")
    info.add_argument("symbol", metavar="SYMBOL")
    for c in (ls, info):
        c.add_argument(
            "--data", type=Path, default=None, help="data folder (default: $TOOLKIT_DATA)"
        )
        c.add_argument("--json", action="store_true", help="JSON for machines")
        c.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def _connection(c: argparse.ArgumentParser) -> None:
    c.add_argument("--data", type=Path, default=None, help="data folder (default: $TOOLKIT_DATA)")
    c.add_argument("--host", default="127.0.0.1", help="TWS / IB Gateway host")
    c.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port (paper GW 4002)")
    c.add_argument("--client-id", type=int, default=DEFAULT_CLIENT_ID, help="API client id")
    c.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    c.add_argument(
        "--pacing-scale",
        type=float,
        default=1.0,
        help="multiply IB's pacing windows (15 s, 2 s, 10 min); below 1 only for a simulator",
    )
    c.add_argument("--json", action="store_true", help="JSON for machines")
    c.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def run(args: argparse.Namespace) -> int:
    """Dispatch ``data <subcommand>``."""
    from toolkit.data import default_data_dir

    root: Path = args.data if args.data is not None else default_data_dir()
    if args.data_command == "list":
        return _list(root, args.json)
    if args.data_command == "info":
        return _info(root, args.symbol, args.json)
    return _fetch(root, args)


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _list(root: Path, as_json: bool) -> int:
    from toolkit.data._paths import where_to_put_data
    from toolkit.data.inventory import bar_files
    from toolkit.errors import DataError

    if not root.is_dir():
        raise DataError(where_to_put_data(root))
    files = bar_files(root)
    if as_json:
        print(json.dumps([f.record() for f in files], indent=2))
        return 0
    rows = [
        (
            f.symbol,
            f.bar,
            f.what,
            f.start[:10],
            f.end[:10],
            f"{f.rows:,}",
            f.origin,
            f.status,
            f.file,
        )
        for f in files
    ]
    print(f"Data folder: {root}")
    print(
        _table(rows, ("symbol", "bar", "what", "start", "end", "rows", "origin", "status", "file"))
    )
    fetched = sum(f.origin == "fetched" for f in files)
    print(f"\n{len(files)} files ({fetched} fetched from IBKR)")
    return 0


def _info(root: Path, symbol: str, as_json: bool) -> int:
    from toolkit.data.inventory import describe_symbol

    entries = describe_symbol(root, symbol)
    if as_json:
        print(json.dumps(entries, indent=2))
        return 0
    for e in entries:
        print(f"{e['file']}  ({e['origin']})")
        loader = e["loader"]
        if "error" in loader:
            print(f"  loader: ERROR {loader['error']}")
        else:
            repairs = ", ".join(f"{k} {v}" for k, v in loader["repairs"].items()) or "none"
            print(
                f"  loader: {loader['rows']:,} bars {loader['first']} .. {loader['last']}, "
                f"repairs {repairs}"
            )
            print(f"  sha256: {loader['sha256']}")
        if e["status"]:
            print(f"  status: {e['status']}")
        for key, value in e["provenance"].items():
            if value not in ("", None) and key != "file":
                print(f"  {key}: {value}")
        print()
    return 0


def _series(args: argparse.Namespace, root: Path) -> list[Any]:
    """The series to fetch or update (update without symbols: every fetched one)."""
    from toolkit.data._history_plan import bar_size
    from toolkit.data.ibkr_history import series_for, series_to_update

    symbols = [s.strip().upper() for s in args.symbols]
    if args.data_command == "update" and (not symbols or args.bar is None):
        return series_to_update(root, symbols, None if args.bar is None else bar_size(args.bar))
    return series_for(symbols, args.bar or "1d", args.what, args.since, not args.all_hours)


def _fetch(root: Path, args: argparse.Namespace) -> int:
    import asyncio

    from toolkit.app.progress import stderr_progress
    from toolkit.data._pacing import PacingRules
    from toolkit.data.ibkr_history import failed_error, session_fetch
    from toolkit.errors import DataError

    if not args.pacing_scale > 0:
        raise DataError(f"--pacing-scale {args.pacing_scale} must be above 0.")
    say = stderr_progress()
    series = _series(args, root)
    # IB's answers come back as our one-line errors; ib_async's own log lines would repeat
    # them (and log the 'no data' answers of empty chunks, which are not errors)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    outcomes, failed = asyncio.run(
        session_fetch(
            root,
            series,
            host=args.host,
            port=args.port,
            client_id=args.client_id,
            timeout=args.timeout,
            rules=PacingRules().scaled(args.pacing_scale),
            update=args.data_command == "update",
            replace=args.replace,
            say=say,
        )
    )
    if args.json:
        print(json.dumps([o.record() for o in outcomes], indent=2))
        if failed:
            raise failed_error(failed, len(series))
        return 0
    if not outcomes:
        raise DataError("; ".join(f"{s.symbol}: {text}" for s, text in failed))
    rows = [
        (
            o.symbol, o.bar, o.what, o.action, f"{o.rows:,}", f"{o.added:,}", o.requests,
            "" if o.start is None else f"{o.start:%Y-%m-%d}",
            "" if o.end is None else f"{o.end:%Y-%m-%d %H:%M}", f"{o.seconds:.1f}", o.file,
        )
        for o in outcomes
    ]  # fmt: skip
    print(
        _table(
            rows,
            (
                "symbol",
                "bar",
                "what",
                "action",
                "rows",
                "added",
                "requests",
                "start",
                "end",
                "seconds",
                "file",
            ),
        )
    )
    for o in outcomes:
        if o.note:
            print(f"{o.symbol}: {o.note}", file=sys.stderr)
    if failed:  # the others are written: say which failed, exit 2
        raise failed_error(failed, len(series))
    return 0
