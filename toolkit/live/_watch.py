"""``python -m toolkit.live run --watch``: a strategy developer's loop. The rehearsal runs as a
child process (``toolkit.live run`` without ``--watch``) and starts again from scratch whenever
a watched file changes: the live config, the research configs it names, and the source file of
each strategy's signal function (its module, as the config resolves it).

A child process, not an in-process reload: a strategy module reloaded into a running
interpreter keeps its old objects alive in whatever imported them (and numba's dispatchers),
so "restarted" would not mean "as a fresh run"; a new process is exactly the run a user
would start by hand. Changes are found by polling modification times (every ``poll`` seconds,
a change counted once the files stay still for one more poll, as editors write in steps): no
file-watching library is installed here, inotify is Linux-only, and a handful of files polled
twice a second costs nothing. A rehearsal that ends (or fails on a bad edit: its one-line error
is shown) waits for the next change; Ctrl+C, SIGTERM or SIGHUP stops the child and the watcher.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from toolkit.errors import ToolkitError

Stamp = dict[Path, tuple[int, int]]  # path -> (mtime_ns, size); missing files are absent


def watched_files(config: Path) -> list[Path]:
    """The files whose change restarts the rehearsal; the config alone while it does not load
    (the child reports why; the next edit is watched all the same)."""
    files = [config.resolve()]
    try:
        from toolkit import strategies
        from toolkit.live.config import load_live_config

        cfg = load_live_config(config)
    except ToolkitError:
        return files
    for slot in cfg.strategies:
        if slot.run.source is not None:
            files.append(Path(slot.run.source).resolve())
        strat = strategies.get(slot.run.strategy)
        module = sys.modules.get(strat.module) if strat.module else None
        source = getattr(module, "__file__", None)
        if source is None:  # a built-in: the file of its signal function
            with contextlib.suppress(TypeError):
                source = inspect.getsourcefile(inspect.unwrap(strat.signal))
        if source:
            files.append(Path(source).resolve())
    return sorted(set(files))


def stamp(files: Sequence[Path]) -> Stamp:
    out: Stamp = {}
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        out[f] = (st.st_mtime_ns, st.st_size)
    return out


def changed(before: Stamp, after: Stamp) -> list[Path]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def watch(
    child_args: Sequence[str],
    config: Path,
    *,
    poll: float = 0.5,
    echo: Callable[[str], None] = print,
    restarts: int | None = None,
) -> int:
    """Run ``python -m toolkit.live <child_args>`` and restart it on every change of the
    watched files; returns 0 on Ctrl+C / SIGTERM (``restarts``: after that many restarts,
    return the exit status of the run that follows once it ends; for tests)."""
    cmd = [sys.executable, "-m", "toolkit.live", *child_args]
    files = watched_files(config)
    seen = stamp(files)
    done = 0
    child: subprocess.Popen[bytes] | None = None
    # SIGTERM (a service manager) and SIGHUP (the terminal closed) stop the child in order
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        echo(f"watching {len(files)} file(s): {', '.join(f.name for f in files)} (Ctrl+C stops)")
        child = subprocess.Popen(cmd)
        ended = False
        while True:
            time.sleep(poll)
            if child is not None and not ended and child.poll() is not None:
                ended = True
                if restarts is not None and done >= restarts:
                    return child.returncode
                echo(f"rehearsal ended (exit {child.returncode}); waiting for a change")
            now = stamp(files)
            diff = changed(seen, now)
            if not diff:
                continue
            while True:  # settle: editors write in steps
                time.sleep(poll)
                later = stamp(files)
                if later == now:
                    break
                now = later
            echo(f"changed: {', '.join(p.name for p in diff)}; restarting the rehearsal")
            _stop(child)
            done += 1
            files = watched_files(config)  # the config may name other files now
            seen = stamp(files)
            child, ended = subprocess.Popen(cmd), False
    except KeyboardInterrupt:
        echo("watch stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(child)


def child_args(args: argparse.Namespace) -> list[str]:
    """The ``run`` command line of the rehearsal, from the watcher's parsed arguments. Flags a
    watched rehearsal cannot honour are refused with one line, never dropped: ``--live``,
    ``--session`` (each restart is a new rehearsal) and ``--json`` (the watcher's output is a
    stream of runs, not one summary)."""
    for flag, why in (
        ("live", "rehearses on the simulator or a paper account"),
        ("session", "starts a new session at each restart (resume one with run --session)"),
        ("json", "streams every run's lines (run without --watch for one JSON summary)"),
    ):
        if getattr(args, flag, None):
            raise ToolkitError(f"--watch {why}: drop --{flag}")
    out = ["run", "--config", str(args.config), "--no-dashboard"]
    for flag in ("host", "port", "log_dir", "log_max_bytes", "log_backups"):
        value = getattr(args, flag, None)
        if value is not None:
            out += ["--" + flag.replace("_", "-"), str(value)]
    if getattr(args, "log_json", None):
        out.append("--log-json")
    if getattr(args, "endpoints", None):
        out += ["--endpoints", str(args.endpoints)]  # the old child is stopped before: free
    if getattr(args, "profile", False):
        out.append("--profile")
    return out


def _stop(child: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (the session stops in order), then SIGKILL if it hangs."""
    if child is None or child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
