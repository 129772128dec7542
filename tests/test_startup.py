"""Commands start light: ``import toolkit`` loads no pandas/numba/ib_async until a name is
used, so ``--help`` answers at once and a Ctrl+C during start-up lands in the command's own
handler (one line, never an import traceback -- issue 12.5's last gap)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_toolkit_loads_nothing_heavy() -> None:
    # the commands' modules too: their --help answers before any heavy import
    code = (
        "import sys, toolkit, toolkit.errors, toolkit.live, toolkit.report, toolkit.notify;"
        "import toolkit.app.research, toolkit.app.reports, toolkit.app.live;"
        "print([m for m in ('pandas', 'numba', 'ib_async', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve_and_are_cached() -> None:
    import toolkit as tk

    for name in tk.__all__:
        assert getattr(tk, name) is getattr(tk, name), name
    assert "backtest" in dir(tk)
    assert tk.engine.strategy_targets is not None  # a submodule resolves too
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        tk.no_such_name  # noqa: B018


def _signal_masks(pid: int) -> str:
    """Each thread's signal lines from /proc (blocked, ignored, caught, pending)."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        fields = [x for x in status.splitlines() if x.startswith(("Name", "Sig", "ShdPnd"))]
        lines.append(f"{task.name}: " + "; ".join(fields))
    return "\n".join(lines)


def _paper_config(tmp_path: Path) -> Path:
    """live/paper.toml in ``tmp_path`` (its journal and state there), strategies from the repo."""
    live = tmp_path / "paper.toml"
    text = (REPO / "live" / "paper.toml").read_text(encoding="utf-8")
    live.write_text(
        text.replace('config = "../research/', f'config = "{REPO.as_posix()}/research/'),
        encoding="utf-8",
    )
    return live


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 3.0])
def test_ctrl_c_during_start_up_is_one_line(tmp_path: Path, delay: float) -> None:
    live = _paper_config(tmp_path)
    command = ["-X", "faulthandler", "-m", "toolkit.live", "run", "--config", str(live)]
    proc = subprocess.Popen(
        [sys.executable, *command, "--no-dashboard"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl+C as a terminal delivers it: a child started from a background job inherits
        # SIGINT ignored, and Python then never raises KeyboardInterrupt for it
        preexec_fn=_default_sigint,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # a hang: its threads' stacks (faulthandler) say where
        masks = _signal_masks(proc.pid)  # a SIGINT blocked or pending shows here
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        pytest.fail(
            f"still running 60 s after SIGINT at {delay} s:\n{masks}\n"
            f"stdout:\n{out[:3000]}\nstderr:\n{err[-12000:]}"
        )
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 1, err
    # 130 = 128 + SIGINT; CPython may also end by re-raising SIGINT on itself (-2), which a
    # shell reports as the same 130
    assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)


def test_ctrl_c_while_the_command_module_loads_is_one_line() -> None:
    """The timing above, made certain: on a busy machine (the suite's parallel workers beside
    other jobs) 0.3 s still lands inside the import of the command's module; an import hook
    raises the KeyboardInterrupt exactly there."""
    code = (
        "import runpy, sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'asyncio':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "sys.argv = ['toolkit.live', 'run']\n"
        "runpy.run_module('toolkit.live', run_name='__main__', alter_sys=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.stderr.strip().splitlines() == ["stopped (Ctrl+C / SIGTERM)"], proc.stderr
    assert proc.returncode == 130


@pytest.mark.parametrize("command", ["run", "options"])
def test_a_ctrl_c_swallowed_during_start_up_still_stops_before_trading(
    tmp_path: Path, command: str
) -> None:
    """The hang CI met once in ~40 runs: a Ctrl+C at 0.3 s raised KeyboardInterrupt inside
    the session's imports, something there swallowed it without a word (native code clearing
    a pending error), and the rehearsal traded on. Here an import hook sends the SIGINT and
    swallows the KeyboardInterrupt itself, as that code did: the interpreter still wrote the
    signal to the start-up wakeup pipe, so the session stops before it connects. Both session
    kinds end alike (the option session said "error: ..." with exit 2 before)."""
    if command == "run":
        live = _paper_config(tmp_path)
        extra = ", '--no-dashboard'"
    else:
        live = tmp_path / "options_paper.toml"
        live.write_bytes((REPO / "live" / "options_paper.toml").read_bytes())
        extra = ""
    code = (
        "import os, runpy, signal, sys\n"
        "class Swallow:\n"
        "    done = False\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ib_async' and not Swallow.done:\n"
        "            Swallow.done = True\n"
        "            try:\n"
        "                os.kill(os.getpid(), signal.SIGINT)\n"
        "                sum(range(1000))  # the handler runs here, at the next bytecode\n"
        "            except KeyboardInterrupt:\n"
        "                print('swallowed', file=sys.stderr, flush=True)\n"
        "sys.meta_path.insert(0, Swallow())\n"
        f"sys.argv = ['toolkit.live', {command!r}, '--config', {str(live)!r}{extra}]\n"
        "runpy.run_module('toolkit.live', run_name='__main__', alter_sys=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_default_sigint,
    )
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "swallowed", proc.stderr
    assert len(lines) == 2 and lines[1].startswith("stopped: stopped while connecting"), lines
    assert "nothing was traded" in lines[1]
    assert " sent " not in proc.stdout and "session " not in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0


def test_gateway_bad_start_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.gateway", "--port", "0", "--start", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: simulator start 'nonsense' is not a date/time; use e.g. '2024-03-14 14:00' (UTC)."
    ]


def test_a_function_named_like_its_subpackage_stays_the_function() -> None:
    # toolkit.sweep is a subpackage and tk.sweep its function: importing the subpackage first
    # (as walk-forward does) must not turn tk.sweep into the module
    code = (
        "import toolkit.analysis, toolkit.sweep, toolkit as tk;"
        "from toolkit import sweep;"
        "print(tk.sweep.__module__, sweep is tk.sweep)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["toolkit.sweep.runner", "True"]
