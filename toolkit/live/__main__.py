"""``python -m toolkit.live``: the live commands live in toolkit.app.live."""

import sys

try:
    from toolkit.app.live import main
except KeyboardInterrupt:  # Ctrl+C while the command still loads (seconds on a busy machine)
    print("stopped (Ctrl+C / SIGTERM)", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # while the parser is built, before the command's own handler
        print("stopped (Ctrl+C / SIGTERM)", file=sys.stderr)
        code = 130
    sys.exit(code)
