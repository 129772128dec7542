"""Command line: ``python -m toolkit backtest --config research/configs/<name>.toml``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from toolkit.errors import ToolkitError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m toolkit", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    bt = sub.add_parser("backtest", help="run a configured backtest and write reports/<run>/")
    bt.add_argument("--config", required=True, type=Path, help="TOML file in research/configs/")
    bt.add_argument("--reports", type=Path, default=Path("reports"), help="report root folder")
    bt.add_argument("--no-tearsheet", action="store_true", help="skip the quantstats HTML")
    bt.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    sub.add_parser("strategies", help="list registered strategies and their parameters")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "backtest":
            return _backtest(args)
        return _strategies()
    except ToolkitError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _backtest(args: argparse.Namespace) -> int:
    from toolkit.config import load_config
    from toolkit.run import format_summary, run_backtest, stderr_progress

    cfg = load_config(args.config)
    out = run_backtest(
        cfg, reports_root=args.reports, tearsheet=not args.no_tearsheet, progress=stderr_progress()
    )
    print(format_summary(out))
    if out.report_dir is not None:
        print(f"\nReport: {out.report_dir}/")
        for kind, path in sorted(out.files.items()):
            print(f"  {kind:<10} {path}")
    return 0


def _strategies() -> int:
    from toolkit import strategies

    for name in strategies.names():
        s = strategies.get(name)
        print(f"{name}: {s.doc.strip().splitlines()[0]}")
        for p in s.params:
            print(f"    {p.name:<16} {p.describe()}  {p.doc}")
    return 0
