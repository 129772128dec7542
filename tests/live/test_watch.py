"""``python -m toolkit.live run --watch`` (toolkit.live._watch): an edit of the strategy's
module restarts the rehearsal, and the new run trades the edited signal."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.live._sessions import PATIENCE, journal_rows, wait_for
from tests.live.conftest import write_live_config
from toolkit.errors import ToolkitError
from toolkit.live import _watch

STRATEGY = '''
import numpy as np

import toolkit as tk

LEVEL = {level}


@tk.strategy(params=[])
def watched_level(close: np.ndarray) -> np.ndarray:
    """Hold LEVEL of the sleeve, whatever the bars say."""
    return np.full(close.shape[0], LEVEL)
'''

RESEARCH = """
name = "watched"
[data]
symbols = ["SPY"]
start = "2018-01-01"
adjust = "none"
[strategy]
module = "watched_strategy"
name = "watched_level"
[engine]
init_cash = 100_000
"""


def test_an_edit_of_the_strategy_module_restarts_the_rehearsal(tmp_path: Path) -> None:
    module = tmp_path / "watched_strategy.py"
    module.write_text(STRATEGY.format(level=0.5))
    research = tmp_path / "watched.toml"
    research.write_text(RESEARCH)
    cfg = write_live_config(
        tmp_path,
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
        simulator={"start": "2023-01-03 21:30", "end": "2023-01-06", "speed": 8_640_000.0},
    )
    files = _watch.watched_files(cfg.source)
    assert {module.resolve(), research.resolve(), cfg.source.resolve()} <= set(files)

    lines: list[str] = []

    def edit_after_the_first_run() -> None:
        wait_for(lambda: any("rehearsal ended" in ln for ln in lines), PATIENCE, "first run")
        module.write_text(STRATEGY.format(level=1.0))
        later = time.time() + 2  # a coarse-mtime filesystem still sees the change
        os.utime(module, (later, later))

    editor = threading.Thread(target=edit_after_the_first_run, daemon=True)
    editor.start()
    status = _watch.watch(
        ["run", "--config", str(cfg.source), "--no-dashboard", "--log-dir", str(tmp_path / "logs")],
        cfg.source,
        poll=0.2,
        echo=lines.append,
        restarts=1,
    )
    editor.join(5)
    assert status == 0
    assert any("changed: watched_strategy.py; restarting the rehearsal" in ln for ln in lines)
    journal = cfg.session.journal
    sessions = journal_rows(journal, "SELECT session_id FROM sessions ORDER BY started_at")
    assert len(sessions) == 2  # the first run, then the one the edit started
    sql = "SELECT signal FROM decisions WHERE session_id = '{}'"
    signals = [{s for (s,) in journal_rows(journal, sql.format(sid))} for (sid,) in sessions]
    assert signals == [{0.5}, {1.0}]  # the second run trades the edited module
    # both runs logged their lines to the one rotated file as well as the terminal
    log = (tmp_path / "logs" / "live-live.log").read_text()
    for (sid,) in sessions:
        assert f"session {sid} (simulated)" in log
    assert "simulation reached its end" in log and "INFO toolkit.log.live-live:" in log


def test_the_watch_passes_on_or_refuses_every_run_flag() -> None:
    """A flag the watcher cannot honour is a one-line error, not dropped in silence: before,
    ``run --watch --json`` printed text summaries and ``--session``/``--endpoints``/
    ``--profile`` vanished."""
    from toolkit.app.live import _parser

    def args(*flags: str) -> list[str]:
        return _watch.child_args(_parser().parse_args(["run", "--watch", *flags]))

    out = args("--endpoints", "127.0.0.1:9109", "--profile", "--log-dir", "logs", "--log-json")
    assert out == ["run", "--config", "live/paper.toml", "--no-dashboard", "--log-dir", "logs",
                   "--log-json", "--endpoints", "127.0.0.1:9109", "--profile"]  # fmt: skip
    for flags, name in ((["--json"], "--json"), (["--session", "s1"], "--session"),
                        (["--live"], "--live")):  # fmt: skip
        with pytest.raises(ToolkitError, match=f"{name}.*--watch|--watch.*{name}"):
            args(*flags)


def test_a_hangup_stops_the_watcher_and_its_rehearsal_in_order(tmp_path: Path) -> None:
    """A closed terminal sends SIGHUP: the watcher died of it at once, leaving its rehearsal
    running as an orphan (which takes SIGHUP for a [risk] reload). Now it stops as on
    SIGTERM: the child in order, then itself, exit 0."""
    import signal
    import subprocess
    import sys

    config = tmp_path / "watched.toml"
    config.write_text("not a live config\n")
    code = (
        "import sys; from pathlib import Path; from toolkit.live import _watch; "
        f"sys.exit(_watch.watch(['--help'], Path({str(config)!r}), poll=0.1))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the child (--help) ends: the watcher waits for an edit
            if line.startswith("rehearsal ended"):
                break
        proc.send_signal(signal.SIGHUP)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "watch stopped" in out, (proc.returncode, out)
