"""The one error hierarchy as users meet it: in a notebook an error is its one line."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from toolkit.errors import ConfigError


def test_a_toolkit_error_shows_one_line_in_ipython(capsys: pytest.CaptureFixture[str]) -> None:
    shell = InteractiveShell.instance()
    shell.run_cell(
        "from toolkit.errors import ConfigError\n"
        "def load():\n"
        "    raise ConfigError('live/paper.toml: [risk] max_position must be > 0; got -1')\n"
        "load()\n"
    )
    out = capsys.readouterr()
    shown = (out.out + out.err).strip().splitlines()
    assert shown == ["ConfigError: live/paper.toml: [risk] max_position must be > 0; got -1"]
    # a bug is still a full traceback
    shell.run_cell("def f():\n    return 1 / 0\nf()\n")
    out = capsys.readouterr()
    assert "Traceback" in out.out + out.err and "ZeroDivisionError" in out.out + out.err


def test_the_stack_is_still_kept_for_debugging() -> None:
    try:
        raise ConfigError("bad")
    except ConfigError as error:
        assert error.__traceback__ is not None
        assert error._render_traceback_() == ["ConfigError: bad"]
