"""Web app benchmark (issue 18.3: the session list under 100 ms at p95 with 100 sessions).

One real session (a year of SPY daily bars rehearsed on the simulator: decisions, orders,
fills, equity marks, guard events) is journaled, then copied under new ids until two journals
hold 50 sessions each; ``python -m toolkit.web`` serves them on 127.0.0.1 and is timed over
real HTTP (one keep-alive connection, as a browser's) with the token: the session list as
served from the app's cache of unchanged journals and with every journal changed before each
request, its JSON, and a session's page (summary, TCA of every order, fills, equity).
Latencies are wall times per request; the machine's load average is printed beside them (the
numbers are noisy on a busy machine)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from toolkit.live import load_live_config, run_session

REPO = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"
SESSIONS = 100
JOURNALS = 2


def _copy_session(db: sqlite3.Connection, sid: str, new: str) -> None:
    """Every row of ``sid`` again under session ``new`` (order refs and exec ids suffixed)."""
    sfx = f"#{new}"
    db.execute(
        "INSERT INTO sessions (session_id, started_at, ended_at, mode, account, config_json) "
        "SELECT ?, started_at, ended_at, mode, account, config_json FROM sessions "
        "WHERE session_id = ?",
        (new, sid),
    )
    dmap = {}
    for (did,) in db.execute("SELECT decision_id FROM decisions WHERE session_id = ?", (sid,)):
        cols = [r[1] for r in db.execute("PRAGMA table_info(decisions)") if r[1] != "decision_id"]
        sel = ", ".join("?" if c == "session_id" else c for c in cols)
        cur = db.execute(
            f"INSERT INTO decisions ({', '.join(cols)}) SELECT {sel} FROM decisions "
            "WHERE decision_id = ?",
            (new, did),
        )
        dmap[did] = cur.lastrowid
    ocols = [r[1] for r in db.execute("PRAGMA table_info(orders)")]
    for row in db.execute("SELECT * FROM orders WHERE session_id = ?", (sid,)).fetchall():
        values = dict(zip(ocols, row, strict=True))
        values.update(
            order_ref=values["order_ref"] + sfx,
            session_id=new,
            decision_id=dmap.get(values["decision_id"]),
            parent_ref=None if values["parent_ref"] is None else values["parent_ref"] + sfx,
        )
        db.execute(
            f"INSERT INTO orders ({', '.join(ocols)}) VALUES ({', '.join('?' * len(ocols))})",
            tuple(values.values()),
        )
    for table in ("order_events", "fills"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        keep = [c for c in cols if c not in ("event_id", "fill_id")]
        sel = ", ".join(
            "order_ref || ?" if c == "order_ref" else "exec_id || ?" if c == "exec_id" else c
            for c in keep
        )
        args = (sfx, sfx) if "exec_id" in keep else (sfx,)
        db.execute(
            f"INSERT INTO {table} ({', '.join(keep)}) SELECT {sel} FROM {table} WHERE order_ref "
            "IN (SELECT order_ref FROM orders WHERE session_id = ?)",
            (*args, sid),
        )
    for table, key in (
        ("equity", "snapshot_id"),
        ("guard_events", "event_id"),
        ("positions", "snapshot_id"),
        ("bars", None),
    ):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] != key]
        sel = ", ".join("?" if c == "session_id" else c for c in cols)
        db.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {sel} FROM {table} "
            "WHERE session_id = ?",
            (new, sid),
        )


def _journals(work: Path) -> tuple[list[Path], str]:
    (work / "live.toml").write_text(
        f"""
name = "bench-web"
[simulator]
start = "2022-06-01 21:30"
end = "2023-06-01"
speed = 1e8
[risk]
max_order = 150000.0
[[strategies]]
config = "{REPO / "research/configs/spy_sma_paper.toml"}"
capital = 100000
history = "1 Y"
[session]
journal = "state/journal.sqlite"
"""
    )
    cfg = load_live_config(work / "live.toml")
    summary = run_session(cfg, echo=None)
    first = cfg.session.journal
    paths = [first] + [first.with_name(f"journal{k}.sqlite") for k in range(1, JOURNALS)]
    for p in paths[1:]:
        shutil.copy(first, p)
    per = SESSIONS // JOURNALS
    for k, p in enumerate(paths):
        db = sqlite3.connect(p, isolation_level=None)
        db.execute("BEGIN")
        if k > 0:  # the copy's original session gets an id of its own
            _copy_session(db, summary.session_id, f"copy-{k}-0")
            for t in ("order_events", "fills"):
                db.execute(
                    f"DELETE FROM {t} WHERE order_ref IN "
                    "(SELECT order_ref FROM orders WHERE session_id = ?)",
                    (summary.session_id,),
                )
            for t in ("decisions", "orders", "equity", "guard_events", "positions", "bars"):
                db.execute(f"DELETE FROM {t} WHERE session_id = ?", (summary.session_id,))
            db.execute("DELETE FROM sessions WHERE session_id = ?", (summary.session_id,))
        for i in range(1, per):
            _copy_session(db, summary.session_id if k == 0 else f"copy-{k}-0", f"copy-{k}-{i}")
        db.execute("COMMIT")
        db.close()
    return paths, summary.session_id


def _timed(client: httpx.Client, path: str, n: int, touch: list[Path] | None = None) -> np.ndarray:
    out = []
    for _ in range(n):
        for p in touch or []:
            os.utime(p)
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:300]
    return np.array(out) * 1e3


def _line(name: str, ms: np.ndarray) -> str:
    return (
        f"  {name:<36} p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms"
        f"  max {ms.max():7.1f} ms  (n={len(ms)})"
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    t0 = time.perf_counter()
    paths, sid = _journals(work)
    made = time.perf_counter() - t0
    # the real command, in a process of its own
    args = ["--port", "0", "--token", TOKEN, "--reports", str(work / "reports")]
    args += [a for p in paths for a in ("--journal", str(p))]
    server = subprocess.Popen(
        [sys.executable, "-m", "toolkit.web", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" on ", 1)[1].split("?", 1)[0]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=auth, timeout=60) as c:
            listing = c.get("/sessions")
            n = listing.text.count("<tr data-session=")
            assert n == SESSIONS, n
            fills = c.get("/api/sessions").json()[0]["fills"]
            _timed(c, "/sessions", 5)  # warm: imports, template compile
            lst = _timed(c, "/sessions", 200)
            # every journal changed before every request (as when sessions are running): no
            # part of the list comes from the app's cache
            busy = _timed(c, "/sessions", 100, touch=paths)
            api = _timed(c, "/api/sessions", 100)
            page = _timed(c, f"/sessions/journal/{sid}", 20)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    print(
        f"web app: {SESSIONS} sessions in {JOURNALS} journals ({fills} fills each; made in "
        f"{made:.1f} s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(_line("session list (HTML, /sessions)", lst))
    print(_line("  ... every journal changed before", busy))
    print(_line("session list (JSON, /api/sessions)", api))
    print(_line("one session's page (a year, TCA)", page))
    for name, ms in (("unchanged journals", lst), ("changed journals", busy)):
        met = "met" if np.percentile(ms, 95) < 100 else "NOT met"
        print(f"  target list p95 < 100 ms, {name}: {met}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
