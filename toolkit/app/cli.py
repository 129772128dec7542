"""``toolkit <command>``: the one command line of ibkr-toolkit (also ``python -m toolkit`` and
the ``ibkr-toolkit`` console script).

Research: backtest, sweep, walkforward, montecarlo, sensitivity, check (look-ahead; alias
check-causal), options-backtest, strategies, data (toolkit.app.research and the modules it
names). Reports: report (run|schedule|export|alert-test, toolkit.app.reports) and export (=
``report export``). Trading: live (toolkit.app.live), gateway (the simulator,
toolkit.app.gateway), web (the local web app, toolkit.app.web, when installed).

Every command ends the same way (toolkit._entry): exit status 0 when it did what was asked, 1
when it found something (look-ahead, a failed scheduled report, a refused order command) or
failed by a bug, 2 on bad input (a config, a flag, a file; one line says what to fix), 130
when interrupted (141 when the reader of its output went away, as in ``| head``). Commands
that print results print a table, or JSON with ``--json``. Only
the parser is imported to answer ``--help``: pandas, numba and ib_async load inside a command.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

PROG = "toolkit"

# Command groups with parsers of their own: ``toolkit live ...`` runs toolkit.app.live's
# main on the rest of the line (the old ``python -m toolkit.live`` is the same function).
# name -> (module, arguments put first, help)
DELEGATED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "report": (
        "toolkit.app.reports",
        (),
        "run a report notebook, run due scheduled reports, tax export, test an alert",
    ),
    "export": (
        "toolkit.app.reports",
        ("export",),
        "tax lots (FIFO), realised P&L, dividends of a backtest or a session (report export)",
    ),
    "live": (
        "toolkit.app.live",
        (),
        "paper/live sessions: run, options, status, orders, cancel, modify, pause, resume, kill",
    ),
    "gateway": ("toolkit.app.gateway", (), "serve the TWS-protocol gateway simulator"),
    "ml": ("toolkit.app.ml", (), "machine learning: train walk-forward models, backtest them"),
    "clean": (
        "toolkit.app.clean",
        (),
        "delete old journals, report runs and rotated logs by a retention policy",
    ),
    "web": ("toolkit.app.web", (), "the local web app: reports and live sessions in a browser"),
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def parser() -> argparse.ArgumentParser:
    """The whole command line; delegated groups are listed here, parsed by their own parser."""
    from toolkit.app import research

    p = argparse.ArgumentParser(
        prog=PROG,
        description="ibkr-toolkit: research strategies on real data, stress them, trade the "
        "same signals on IBKR or the simulator. `toolkit <command> --help` for each command.",
        epilog="Exit status: 0 ok, 1 a finding or failure, 2 bad input, 130 interrupted.",
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--version", action=_Version, help="print the installed version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="<command>")
    research.add_parsers(sub)
    for name, (module, _, text) in DELEGATED.items():
        if _available(module):
            sub.add_parser(name, help=text, add_help=False)
    return p


class _Version(argparse.Action):
    """``--version``: importlib.metadata (70 ms) loads only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("ibkr-toolkit")
        except PackageNotFoundError:
            found = "(not installed)"
        print(f"{parser.prog} {found}")
        parser.exit()


def _split(argv: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """Leading global options, the command word, the rest."""
    head: list[str] = []
    for i, word in enumerate(argv):
        if word == "--debug":
            head.append(word)
            continue
        if word.startswith("-"):
            return [*head, *argv[i:]], None, []
        return head, word, list(argv[i + 1 :])
    return head, None, []


def delegate(name: str) -> Callable[[list[str], bool], int]:
    """The ``main(argv, prog=...)`` of a delegated group, bound to ``toolkit <name>``."""
    module, first, _ = DELEGATED[name]
    main = importlib.import_module(module).main

    import inspect

    named = "prog" in inspect.signature(main).parameters

    def run(rest: list[str], debug: bool) -> int:
        argv = [*(["--debug"] if debug else []), *first, *rest]
        if not named:  # a main without ``prog`` names itself
            return int(main(argv))
        return int(main(argv, prog=f"{PROG} {name}" if not first else PROG))

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's) and run the command; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    head, command, rest = _split(words)
    if command in DELEGATED and _available(DELEGATED[command][0]):
        return delegate(command)(rest, bool(head))
    from toolkit.app import research

    args = parser().parse_args(words)
    return research.run(args)


def console() -> None:
    """The console scripts' entry (``toolkit``, ``ibkr-toolkit``)."""
    from toolkit._entry import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, _stdout_to_devnull

    try:
        code = main()
        sys.stdout.flush()  # here, so a reader gone away (`| head`) is seen here
    except KeyboardInterrupt:  # while a command's modules still load
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        _stdout_to_devnull()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)
