"""Command line: ``python -m toolkit backtest|walkforward|montecarlo|sensitivity --config F``,
``check-causal`` (look-ahead check of a strategy), ``options-backtest --config F`` (an option
backtest, toolkit.app.options), ``data fetch|update|list|info`` (bars from IBKR,
toolkit.app.data) and ``strategies`` (the registry)."""

# also the ``ibkr-toolkit`` console script (pyproject.toml's [project.scripts])

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit._entry import run_command
from toolkit.app import data as data_command
from toolkit.app import sweep as sweep_command


def _parser(prog: str = "python -m toolkit") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    add_parsers(p.add_subparsers(dest="command", required=True))
    return p


def add_parsers(sub: Any) -> None:
    """The research commands' parsers (also ``toolkit``'s, toolkit.app.cli)."""
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
    bt.add_argument("--json", action="store_true", help="JSON for machines instead of a table")
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
        cmd.add_argument("--json", action="store_true", help="JSON for machines instead of tables")
        cmd.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    sweep_command.add_parser(sub)
    cc = sub.add_parser(
        "check",
        aliases=["check-causal"],
        help="check a strategy for look-ahead (signals on cut and changed data)",
        description="Exit status 0: causal; 1: look-ahead found (the report names the bar and "
        "the parameter set); 2: bad input.",
    )
    src = cc.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", type=Path, help="TOML file: its strategy, params and data")
    src.add_argument("--strategy", help="a registered strategy name (see --module)")
    cc.add_argument("--module", help="module defining --strategy, e.g. research.strategies.x")
    cc.add_argument("--symbols", nargs="+", default=["SPY"], help="symbols (with --strategy)")
    cc.add_argument("--start", help="first date, YYYY-MM-DD (with --strategy)")
    cc.add_argument("--end", help="last date, YYYY-MM-DD (with --strategy)")
    cc.add_argument("--cuts", type=int, default=20, help="random cut points per parameter set")
    cc.add_argument(
        "--random-sets", type=int, default=2, help="random parameter sets beside the base one"
    )
    cc.add_argument("--seed", type=int, default=0, help="seed of the cut points and sets")
    cc.add_argument("--json", action="store_true", help="JSON for machines instead of text")
    cc.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    ob = sub.add_parser(
        "options-backtest", help="run an option backtest from a config (options_*.toml)"
    )
    ob.add_argument("--config", required=True, type=Path, help="TOML file in research/configs/")
    ob.add_argument("--reports", type=Path, default=Path("reports"), help="report root folder")
    ob.add_argument("--no-reports", action="store_true", help="print only, write no files")
    ob.add_argument("--json", action="store_true", help="JSON for machines instead of text")
    ob.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    st = sub.add_parser("strategies", help="list registered strategies and their parameters")
    st.add_argument("--module", action="append", default=[], help="import a module first")
    st.add_argument("--json", action="store_true", help="JSON for machines instead of text")
    data_command.add_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    return run(_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the research command ``args`` names (parsed by :func:`add_parsers`)."""

    def command() -> int:
        if args.command == "backtest":
            return _backtest(args)
        if args.command in ("walkforward", "montecarlo", "sensitivity"):
            return _robustness(args)
        if args.command in ("check", "check-causal"):
            return _check_causal(args)
        if args.command == "sweep":
            return sweep_command.run(args)
        if args.command == "options-backtest":
            return _options_backtest(args)
        if args.command == "data":
            return data_command.run(args)
        return _strategies(args.module, as_json=args.json)

    return run_command(command, debug=args.debug)


def _options_backtest(args: argparse.Namespace) -> int:
    from toolkit.app.run_config import read_option_config

    cfg = read_option_config(args.config)  # told before pandas and the option modules load
    from toolkit.app.options import format_result, run_option_config, write_option_report
    from toolkit.app.progress import stderr_progress

    say = stderr_progress()
    say(f"{cfg.name}: loading the chains and simulating (the first run compiles numba kernels)")
    result = run_option_config(cfg)
    text = format_result(cfg, result)
    report = None if args.no_reports else write_option_report(cfg, result, args.reports, text)
    say("done")
    if args.json:
        from toolkit.app.summaries import options_json

        print(options_json(cfg.name, result, report))
        return 0
    print(text)
    if report is not None:
        print(f"\nReport: {report}/")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    if args.like_session is not None:
        return _like_session(args)
    from toolkit.app.run_config import read_run_config

    cfg = read_run_config(args.config)  # told before the data, engine and report modules load
    from toolkit.app.backtest import format_summary, run_backtest
    from toolkit.app.progress import stderr_progress

    out = run_backtest(
        cfg, reports_root=args.reports, tearsheet=not args.no_tearsheet, progress=stderr_progress()
    )
    if args.json:
        from toolkit.app.summaries import backtest_output

        backtest_output(out).print(as_json=True)
        return 0
    print(format_summary(out))
    if out.report_dir is not None:
        print(f"\nReport: {out.report_dir}/")
        for kind, path in sorted(out.files.items()):
            print(f"  {kind:<10} {path}")
    return 0


def _like_session(args: argparse.Namespace) -> int:
    """Backtest each strategy of a session over exactly what it traded; compare the fills."""
    from toolkit.app.backtest import RunOutput, format_summary
    from toolkit.app.progress import stderr_progress
    from toolkit.live.replay import replay_session, write_replay_report

    say = stderr_progress()
    session = None if args.like_session == "latest" else args.like_session
    say(f"replaying session {args.like_session} from {args.journal}")
    records = []  # --json
    for replay in replay_session(args.journal, session, args.live_config):
        span = replay.span
        out_dir, files = write_replay_report(replay, args.reports, tearsheet=not args.no_tearsheet)
        compared = replay.fills_compared()
        if args.json:
            records.append(_replay_record(replay, compared, out_dir, files))
            continue
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
    if args.json:
        import json

        print(json.dumps(records, indent=2))
    return 0


def _replay_record(replay: Any, compared: Any, out_dir: Path, files: dict[str, Path]) -> Any:
    """One strategy of ``backtest --like-session --json``: the span, the backtest's metrics,
    the fills compared and the final equities."""
    from toolkit.app.tables import plain

    live_end = replay.live_equity.iloc[-1] if len(replay.live_equity) else None
    span = replay.span
    return plain(
        {
            "session": span.session_id,
            "strategy": span.slot.label,
            "decisions": span.decisions,
            "first_bar": span.first_bar,
            "last_bar": span.last_bar,
            "metrics": replay.result.metrics(),
            "fills_session": len(replay.live_fills),
            "fills_backtest": len(replay.result.orders),
            "fills_matching": int(compared["match"].sum()),
            "final_equity_session": live_end,
            "final_equity_backtest": replay.result.equity.iloc[-1],
            "report": out_dir,
            "files": files,
        }
    )


def _robustness(args: argparse.Namespace) -> int:
    from toolkit.app.run_config import read_run_config, require_grid

    cfg = read_run_config(args.config)  # told before the data, engine and report modules load
    if args.command != "montecarlo":  # it resamples the configured backtest: no [grid]
        require_grid(cfg, args.command)
    from toolkit.app import robustness
    from toolkit.app.progress import stderr_progress
    from toolkit.app.summaries import robustness_output

    say = stderr_progress()
    runner = {
        "walkforward": robustness.run_walkforward,
        "montecarlo": robustness.run_montecarlo,
        "sensitivity": robustness.run_sensitivity,
    }[args.command]
    say(
        f"{args.command}: {cfg.strategy} on {', '.join(cfg.data.symbols)} "
        "(the first run compiles numba kernels)"
    )
    summary, out, files = runner(cfg, args.reports, say)
    say("done")
    robustness_output(args.command, summary, out, files, cfg.sensitivity.metric).print(args.json)
    return 0


def _check_causal(args: argparse.Namespace) -> int:
    """Run toolkit.check_causal on a config's strategy and data, or on named ones."""
    from toolkit.app.run_config import read_run_config

    # a config is read before the strategies, data and engine load
    cfg = None if args.config is None else read_run_config(args.config)
    from toolkit import strategies
    from toolkit.app.progress import bar_progress, stderr_progress
    from toolkit.strategies.causality import check_causal

    say = stderr_progress()  # told once the inputs are good: a bad one is the only line
    params: dict[str, object] | None = None
    if cfg is not None:
        from toolkit.app.backtest import load_run_bars

        spec = strategies.get(cfg.strategy)
        bars = load_run_bars(cfg).frame
        params = dict(cfg.params)
    else:
        from toolkit.data import load, load_many

        if args.module is not None:
            spec = strategies.from_module(args.module, args.strategy)
        else:
            spec = strategies.get(args.strategy)
        symbols = [s.upper() for s in args.symbols]
        bars = (
            load_many(symbols, args.start, args.end)
            if len(symbols) > 1
            else load(symbols[0], args.start, args.end)
        )
    say(f"checking {spec.name} at {args.cuts} cut points per parameter set and symbol")
    report = check_causal(
        spec,
        bars,
        params,
        cuts=args.cuts,
        random_sets=args.random_sets,
        seed=args.seed,
        on_set=bar_progress("check", "set"),
    )
    if args.json:
        import json
        from dataclasses import asdict

        from toolkit.app.tables import plain

        print(json.dumps(plain({**asdict(report), "passed": report.passed}), indent=2))
    else:
        print(report)
    return 0 if report.passed else 1


def _strategies(modules: Sequence[str] = (), *, as_json: bool = False) -> int:
    from toolkit import strategies

    for module in modules:
        strategies.import_module(module)
    if as_json:
        from toolkit.app.summaries import strategies_json

        print(strategies_json([strategies.get(n) for n in strategies.names()]))
        return 0
    for name in strategies.names():
        s = strategies.get(name)
        kind = " [cross-sectional]" if s.cross_sectional else ""
        origin = f" (from {s.module})" if s.module else ""
        print(f"{name}{kind}{origin}: {s.summary}")
        for p in s.params:
            print(f"    {p.name:<16} {p.describe()}  {p.doc}")
    return 0
