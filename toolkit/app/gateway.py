"""``python -m toolkit.gateway --port 4002 [--data DIR] [--speed N] [--start DATE]``: serve the
TWS-protocol gateway simulator until Ctrl+C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from toolkit import _logfiles
from toolkit._entry import run_command


def main(argv: list[str] | None = None, prog: str = "python -m toolkit.gateway") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--port", type=int, default=4002)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default loopback only)")
    p.add_argument("--data", type=Path, default=None, help="data folder (default ./data)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument("--start", default=None, help="simulated start time (default: end of data)")
    p.add_argument(
        "--participation",
        type=float,
        default=0.1,
        help="largest share of a bar's volume one order fills per bar (0 = no limit)",
    )
    p.add_argument(
        "--pacing",
        action="store_true",
        help="refuse history requests that break IB's pacing rules (error 162), as IB does",
    )
    p.add_argument(
        "--depth-replay",
        type=Path,
        default=None,
        metavar="LOBSTER",
        help="serve a LOBSTER day's book as its symbol's depth and ticks, and fill its orders "
        "against it, at --speed",
    )
    p.add_argument("--depth-symbol", metavar="SYM", help="serve the replay as this symbol")
    p.add_argument("--depth-fast", action="store_true", help="replay as fast as the clients read")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    _logfiles.add_arguments(p)  # rotated log files beside the terminal (toolkit._logfiles)
    p.add_argument("--healthz-port", type=int, help="serve GET /healthz on this port (--host)")
    p.add_argument(
        "--daily-restart",
        metavar="HH:MM",
        help="close every connection and refuse new ones daily at this New York time, as IB "
        "Gateway's auto-restart does (simulated time)",
    )
    p.add_argument("--restart-window", default="5min", help="how long it refuses (default 5min)")
    args = p.parse_args(argv)

    def serve() -> int:
        from toolkit.data._pacing import PacingRules
        from toolkit.gateway._restart import DailyRestart
        from toolkit.gateway.depth_replay import DepthReplay, load_tape
        from toolkit.gateway.limits import Limits
        from toolkit.gateway.probes import ProbeServer, json_reply
        from toolkit.gateway.server import Gateway

        replay = None
        if args.depth_replay is not None:
            tape = load_tape(args.depth_replay, args.depth_symbol)
            replay = DepthReplay(tape, fast=args.depth_fast)
        gw = Gateway(
            args.port,
            host=args.host,
            data_dir=args.data,
            start=args.start,
            speed=args.speed,
            participation=args.participation,
            limits=Limits(history_pacing=PacingRules() if args.pacing else None),
            depth_replay=replay,
            daily_restart=None
            if args.daily_restart is None
            else DailyRestart.parse(args.daily_restart, args.restart_window),
        )
        probes = None
        if args.healthz_port is not None:  # alive while the matcher runs, restarts included
            health = gw.health
            probes = ProbeServer(
                {"/healthz": lambda: json_reply(200 if (h := health())["alive"] else 503, h)},
                args.host,
                args.healthz_port,
            ).start()

        log = _logfiles.open_log(
            "gateway", _logfiles.settings_from(args), ["toolkit.gateway"], sys.stderr
        )
        say = log.tee(print) if log is not None else print

        def listening(port: int) -> None:
            from toolkit.live._sdnotify import Notifier  # systemd Type=notify: listening now

            Notifier.from_env().ready(f"listening on {args.host}:{port}")
            say(f"gateway simulator on {args.host}:{port} (Ctrl+C to stop)")
            if probes is not None:
                say(f"healthz on {probes.url}/healthz")
            sys.stdout.flush()

        # SIGTERM (a service manager's stop) ends it like Ctrl+C: in order, logged, exit 0
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how it is meant to stop
                asyncio.run(gw.serve_forever(ready=listening))
        finally:
            signal.signal(signal.SIGTERM, previous)
            if probes is not None:
                probes.stop()
            if log is not None:
                log.write("gateway simulator stopped")
                log.close()
        return 0

    return run_command(serve, debug=args.debug, interrupted="stopped")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
