"""Command line: ``python -m toolkit backtest|walkforward|montecarlo|sensitivity --config F``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from toolkit._entry import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m toolkit", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    bt = sub.add_parser("backtest", help="run a configured backtest and write reports/<run>/")
    what = bt.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="TOML file in research/configs/")
    what.add_argument(
        "--like-session",
        metavar="SESSION",
        help="rerun a live/paper session's span, warm-up, capital and risk ('latest': newest)",
    )
    bt.add_argument(
        "--journal",
        type=Path,
        default=Path("live/state/journal.sqlite"),
        help="the session's journal (with --like-session)",
    )
    bt.add_argument(
        "--live-config",
        type=Path,
        default=None,
        help="the live config the session ran with (default: the one it recorded)",
    )
    bt.add_argument("--reports", type=Path, default=Path("reports"), help="report root folder")
    bt.add_argument("--no-tearsheet", action="store_true", help="skip the quantstats HTML")
    bt.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    for name, text in (
        ("walkforward", "walk-forward optimisation over [grid] ([walkforward] settings)"),
        ("montecarlo", "Monte Carlo of the configured backtest ([montecarlo] settings)"),
        ("sensitivity", "parameter response, plateau, stress, DSR and PBO over [grid]"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "--config", required=True, type=Path, help="TOML file in research/configs/"
        )
        cmd.add_argument("--reports", type=Path, default=Path("reports"), help="report root folder")
        cmd.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    sub.add_parser("strategies", help="list registered strategies and their parameters")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def command() -> int:
        if args.command == "backtest":
            return _backtest(args)
        if args.command in ("walkforward", "montecarlo", "sensitivity"):
            return _robustness(args)
        return _strategies()

    return run_command(command, debug=args.debug)


def _backtest(args: argparse.Namespace) -> int:
    if args.like_session is not None:
        return _like_session(args)
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


def _like_session(args: argparse.Namespace) -> int:
    """Backtest each strategy of a session over exactly what it traded; compare the fills."""
    from toolkit.live.replay import replay_session, write_replay_report
    from toolkit.run import RunOutput, format_summary, stderr_progress

    say = stderr_progress()
    session = None if args.like_session == "latest" else args.like_session
    say(f"replaying session {args.like_session} from {args.journal}")
    for replay in replay_session(args.journal, session, args.live_config):
        span = replay.span
        out_dir, files = write_replay_report(replay, args.reports, tearsheet=not args.no_tearsheet)
        compared = replay.fills_compared()
        print(
            f"Session {span.session_id}, strategy {span.slot.label}: {span.decisions} decided "
            f"bars {span.first_bar.date()} .. {span.last_bar.date()}, warm-up from "
            f"{span.warmup_start:%Y-%m-%d %H:%M} UTC ({span.slot.history}), capital "
            f"{span.slot.capital:,.2f}, unadjusted prices\n"
        )
        print(format_summary(RunOutput(replay.config, replay.result, None, out_dir, files)))
        live_end = replay.live_equity.iloc[-1] if len(replay.live_equity) else float("nan")
        print(
            f"\nFills: session {len(replay.live_fills)}, backtest {len(replay.result.orders)}, "
            f"matching fill for fill (bar, side, quantity, price) {int(compared['match'].sum())}"
            f"/{len(compared)}; final equity session {live_end:,.2f}, "
            f"backtest {replay.result.equity.iloc[-1]:,.2f}"
        )
        print(f"\nReport: {out_dir}/")
        for kind, path in sorted(files.items()):
            print(f"  {kind:<18} {path}")
    say("done")
    return 0


def _robustness(args: argparse.Namespace) -> int:
    import json

    from toolkit.config import load_config
    from toolkit.report import robustness
    from toolkit.report.backtest_report import to_jsonable
    from toolkit.run import stderr_progress

    say = stderr_progress()
    cfg = load_config(args.config)
    runner = {
        "walkforward": robustness.run_walkforward,
        "montecarlo": robustness.run_montecarlo,
        "sensitivity": robustness.run_sensitivity,
    }[args.command]
    say(
        f"{args.command}: {cfg.strategy} on {', '.join(cfg.data.symbols)} "
        "(the first run compiles numba kernels)"
    )
    kernel_limits = (
        cfg.risk.max_position,
        cfg.risk.max_order,
        cfg.risk.max_gross,
        cfg.risk.daily_loss,
        cfg.risk.max_drawdown,
    )
    if args.command != "montecarlo" and any(x is not None for x in kernel_limits):
        say(
            f"note: the [risk] limits of {cfg.source} are not applied by {args.command} "
            "(its sweep kernels do not carry them); backtests and live sessions apply them"
        )
    summary, out, files = runner(cfg, args.reports)
    say("done")
    print(json.dumps(to_jsonable(_headline(args.command, summary)), indent=2))
    print(f"\nReport: {out}/")
    for kind, path in sorted(files.items()):
        print(f"  {kind:<26} {path}")
    return 0


def _headline(command: str, summary: dict[str, object]) -> dict[str, object]:
    """The part of a summary worth printing (the full one is in summary.json)."""
    if command == "sensitivity":
        return {k: summary[k] for k in ("trials", "plateau", "overfitting")}
    if command == "montecarlo":
        methods = summary["methods"]
        assert isinstance(methods, dict)
        return {m: {k: v for k, v in d.items() if k != "percentiles"} for m, d in methods.items()}
    return summary


def _strategies() -> int:
    from toolkit import strategies

    for name in strategies.names():
        s = strategies.get(name)
        print(f"{name}: {s.doc.strip().splitlines()[0]}")
        for p in s.params:
            print(f"    {p.name:<16} {p.describe()}  {p.doc}")
    return 0
