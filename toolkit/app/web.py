"""``toolkit web`` (also ``python -m toolkit.web``): serve the local web app -- report folders
and live sessions from their journals -- on 127.0.0.1 with a token, read-only unless
``--actions`` allows the kill switch and cancel-all (each confirmed in the page)."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import secrets
import socket
import sys
import webbrowser
from pathlib import Path

from toolkit._entry import run_command
from toolkit.errors import ToolkitError

DEFAULT_PORT = 8765


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toolkit web", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default loopback only)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: any free one)",
    )
    p.add_argument(
        "--journal",
        action="append",
        type=Path,
        help="a journal file or a folder of *.sqlite journals (repeatable; default live/state)",
    )
    p.add_argument("--reports", type=Path, default=Path("reports"), help="reports folder")
    p.add_argument(
        "--token",
        default=os.environ.get("TOOLKIT_WEB_TOKEN"),
        help="access token (default: $TOOLKIT_WEB_TOKEN, else a new random one)",
    )
    p.add_argument(
        "--no-token", action="store_true", help="no token (refused unless on a loopback address)"
    )
    p.add_argument(
        "--actions",
        action="store_true",
        help="allow the kill switch and cancel-all on running sessions (confirmed in the page)",
    )
    p.add_argument("--poll", type=float, default=1.0, help="seconds between journal looks (live)")
    p.add_argument("--open", action="store_true", help="open the app in a browser")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run_command(lambda: _serve(args), debug=args.debug, interrupted="stopped")


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from toolkit.web import WebSettings, create_app
    except ImportError as exc:
        raise ToolkitError(
            f"the web app needs the 'web' extra ({exc.name} is missing): "
            "pip install 'ibkr-toolkit[web]'"
        ) from None
    if args.no_token and not _loopback(args.host):
        raise ToolkitError(f"--no-token on {args.host} would open the app to the network; drop it")
    token = None if args.no_token else (args.token or secrets.token_urlsafe(24))
    settings = WebSettings(
        journals=tuple(args.journal or [Path("live/state")]),
        reports=args.reports,
        token=token,
        actions=args.actions,
        poll=args.poll,
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: a keep-alive response is not held back by Nagle until
    # the browser's delayed ACK (40 ms a request)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise ToolkitError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}; give --port"
        ) from None
    sock.listen(128)  # connections wait in the backlog until the server takes them
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    if not _loopback(args.host):
        print(f"warning: listening on {args.host}, reachable from the network", file=sys.stderr)
    mode = "kill switch and cancel-all allowed" if args.actions else "read-only"
    print(f"toolkit web ({mode}) on {url}  (Ctrl+C to stop)", flush=True)
    if args.open:
        webbrowser.open(url)
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how it is meant to stop
        uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
