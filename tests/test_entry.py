"""Every command ends in one line and an exit status: user errors (2), interrupts (130) and
even our own bugs (1) never dump a traceback unless --debug asks for it."""

from __future__ import annotations

import pytest

from toolkit._entry import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USER_ERROR, run_command
from toolkit.errors import ConfigError


def _raise(exc: BaseException):
    def command() -> int:
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (ConfigError("run.toml: [engine] fill = 'x' is not allowed"), EXIT_USER_ERROR, "run.toml"),
        (PermissionError(13, "Permission denied", "journal.sqlite"), EXIT_USER_ERROR, "journal"),
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
        (ZeroDivisionError("float division by zero"), EXIT_BUG, "this is a bug"),
    ],
)
def test_one_line_and_exit_code(capsys, exc: BaseException, code: int, text: str) -> None:
    assert run_command(_raise(exc), debug=False) == code
    err = capsys.readouterr().err
    assert text in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_debug_shows_the_real_exception() -> None:
    with pytest.raises(ZeroDivisionError):
        run_command(_raise(ZeroDivisionError("x")), debug=True)


def test_success_passes_the_status_through() -> None:
    assert run_command(lambda: 0, debug=False) == 0
