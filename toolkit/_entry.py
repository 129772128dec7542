"""How every ``python -m toolkit...`` command ends: one line on stderr and an exit status,
never a traceback unless ``--debug`` asks for it (errors.py explains the message rules)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from toolkit.errors import ToolkitError

EXIT_USER_ERROR = 2  # bad input, config or broker answer: the message says what to fix
EXIT_BUG = 1  # not the user's doing: the message says how to report it
EXIT_INTERRUPTED = 130  # Ctrl+C / SIGTERM (128 + SIGINT, the shell's convention)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`... | head`): 128 + SIGPIPE


def run_command(
    command: Callable[[], int], *, debug: bool, interrupted: str = "interrupted"
) -> int:
    """Run ``command`` and turn whatever escapes it into a one-line message and exit code."""
    try:
        return command()
    except ToolkitError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if debug:
            raise
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # nobody reads on: no message, and none at exit either
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # a file or port the command was pointed at: the OS names it
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} -- this is a bug in ibkr-toolkit; "
            "rerun with --debug for the traceback and report it.",
            file=sys.stderr,
        )
        return EXIT_BUG


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout with no descriptor (captured)
        pass
