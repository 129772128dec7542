"""``python -m toolkit.gateway --port 4002 [--data DIR] [--speed N] [--start DATE]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.gateway.server import Gateway


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m toolkit.gateway", description=__doc__)
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
    args = p.parse_args(argv)
    try:
        gw = Gateway(
            args.port,
            host=args.host,
            data_dir=args.data,
            start=args.start,
            speed=args.speed,
            participation=args.participation,
        )
        print(f"gateway simulator on {args.host}:{args.port} (Ctrl+C to stop)", flush=True)
        asyncio.run(gw.serve_forever())
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
