"""Kill -9 campaign against the live bridge (issue 12): a bridge process trading a two-symbol
strategy through the gateway simulator over TCP is killed again and again -- at chosen points
(through the fault hook, ``toolkit.live._fault``: after a decision is journaled, between the
journal commit and the send, right after the send, after a fill is journaled, during resume)
and at random moments (SIGKILL from outside) -- and restarted each time on the same session.
A control run trades the same bars without kills.

Reported: kills, duplicate orders (an orderRef sent twice), lost orders (sent in the control
run, never in the campaign), extra orders (the reverse), lost fills (at the broker, not in the
journal), wrong positions (the broker's final position differs from the control run's, or the
journal's from the broker's). All must be zero. The clock moves only when the bridge has
settled a bar, so the run with kills must end exactly where the control run ends.

``python research/benchmarks/kill9.py [--bars N] [--seed S]``; bounded to a few minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import toolkit as tk  # noqa: E402
from toolkit.engine.commissions import ibkr_fixed  # noqa: E402
from toolkit.gateway import Gateway  # noqa: E402

SESSION = "kill9"
SYMBOLS = ("SPY", "QQQ")
POINTS = ("after-decision", "after-journal", "after-send", "after-fill", "resume")
FIRST = "2023-01-06"  # a Friday: the first bar decided, then one bar per trading day


@dataclass
class Outcome:
    """What one run left at the broker and in the journal."""

    refs: list[str]
    positions: dict[str, float]
    journal_positions: dict[str, float]
    broker_fills: int
    journal_fills: int
    kills: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    stuck: int = 0
    seconds: float = 0.0


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def _config(work: Path, port: int) -> Path:
    research = work / "fast.toml"
    text = (REPO / "research/configs/spy_sma_paper.toml").read_text()
    text = text.replace('symbols = ["SPY"]', 'symbols = ["SPY", "QQQ"]')
    text = text.replace("weights = [0.95]", "weights = [0.45, 0.45]")
    text = text.replace("fast = 5", "fast = 2").replace("slow = 20", "slow = 5")  # trades often
    research.write_text(text)
    live = work / "live.toml"
    live.write_text(
        f"""name = "kill9"
[connection]
host = "127.0.0.1"
port = {port}
client_id = 41
[[strategies]]
config = "{research}"
capital = 100000
history = "1 Y"
[session]
id = "{SESSION}"
journal = "state/journal.sqlite"
cancel_on_exit = false
"""
    )
    return live


class Bridge:
    """The bridge as a child process that may die at any moment."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.armed: str | None = None  # the fault point this process dies at

    def start(self, fault: str | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TOOLKIT_LIVE_FAULT", None)
        if fault:
            env["TOOLKIT_LIVE_FAULT"] = fault
        cmd = [sys.executable, "-m", "toolkit.live", "run", "--config", str(self.config)]
        self.proc = subprocess.Popen(
            [*cmd, "--no-dashboard"],
            cwd=REPO,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        self.armed = fault

    def dead(self) -> int | None:
        """Exit status once the process has ended (None while it runs)."""
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        return True

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def _settled(journal: Path, day: pd.Timestamp) -> bool:
    """The bar of ``day`` is decided for every symbol, and the broker has acknowledged every
    journaled order (or the bridge has settled it as ended or dropped)."""
    stamp = day.strftime("%Y-%m-%d")
    decided = _query(
        journal, f"SELECT DISTINCT symbol FROM decisions WHERE bar_time LIKE '{stamp}%'"
    )
    if len(decided) < len(SYMBOLS):
        return False
    return not _query(journal, "SELECT 1 FROM orders WHERE status = 'PendingSubmit'")


def run(days: list[pd.Timestamp], kills: bool, seed: int, budget: float) -> Outcome:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="bench-kill9-"))
    t0 = time.perf_counter()
    kinds: dict[str, int] = {}
    killed = stuck = 0
    with Gateway(
        port=0,
        start=f"{days[0]:%Y-%m-%d} 21:30",
        speed=1.0,
        participation=0.0,
        commission=ibkr_fixed(),
        slippage_bps=1.0,
    ) as gw:
        config = _config(work, gw.port)
        journal = work / "state" / "journal.sqlite"
        bridge = Bridge(config, work / "bridge.log")
        points = iter(POINTS * 100)  # the chosen kill points, in turn

        def restart() -> None:
            active = kills and time.perf_counter() - t0 < budget
            bridge.start(fault=next(points) if active else None)

        def count(kind: str) -> None:
            nonlocal killed
            killed += 1
            kinds[kind] = kinds.get(kind, 0) + 1

        restart()
        for i, day in enumerate(days):
            if bridge.dead() is not None:
                restart()  # killed after it had settled the last bar
            if i > 0:
                gw.advance(pd.Timestamp(f"{day:%Y-%m-%d} 21:30", tz="UTC") - gw.state.clock.now())
            # every other bar or so, a kill at a random moment too (deciding, sending, idle)
            if kills and time.perf_counter() - t0 < budget and rng.random() < 0.5:
                time.sleep(rng.uniform(0.0, 1.5))
                armed = bridge.armed
                if bridge.kill():
                    count("random")
                    bridge.start(fault=armed)  # the chosen point stays armed
            deadline = time.monotonic() + 45
            while not _settled(journal, day):
                status = bridge.dead()
                if status is not None:
                    if status != 137:  # 137: died at its fault point
                        raise RuntimeError(
                            f"bridge exited with {status}; see {work / 'bridge.log'}"
                        )
                    count(bridge.armed or "?")
                    restart()
                if time.monotonic() > deadline:
                    stuck += 1  # never decided on every symbol, or an order never acknowledged
                    break
                time.sleep(0.05)
            if bridge.dead() == 137:
                count(bridge.armed or "?")
        if bridge.dead() is not None:
            bridge.start()
            _wait_resumed(bridge)
        _wait_fills(journal, gw)  # the last bar's orders still work (they fill at the next open)
        status = bridge.stop()
        if status != 0:
            raise RuntimeError(f"bridge stop exited with {status}; see {work / 'bridge.log'}")
        book = gw.state.book
        refs = [o.order_ref for o in book.orders.values() if o.order_ref.startswith(SESSION)]
        positions = {s: p.quantity for s, p in book.positions.items() if p.quantity}
        broker_fills = sum(1 for f in book.fills if f.order.order_ref.startswith(SESSION))
    held: dict[str, float] = {}
    for sym, side, shares in _query(journal, "SELECT symbol, side, shares FROM fills"):
        sign = 1.0 if side == "BOT" else -1.0
        held[str(sym)] = held.get(str(sym), 0.0) + sign * float(shares)  # type: ignore[arg-type]
    return Outcome(
        refs=refs,
        positions=positions,
        journal_positions={s: q for s, q in held.items() if q},
        broker_fills=broker_fills,
        journal_fills=len(_query(journal, "SELECT 1 FROM fills")),
        kills=killed,
        kinds=kinds,
        restarts=bridge.starts - 1,
        stuck=stuck,
        seconds=time.perf_counter() - t0,
    )


def _wait_resumed(bridge: Bridge, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and bridge.log.read_text().count("resumed session") < (
        bridge.starts - 1
    ):
        time.sleep(0.1)


def _wait_fills(journal: Path, gw: Gateway, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        broker = sum(1 for f in gw.state.book.fills if f.order.order_ref.startswith(SESSION))
        if len(_query(journal, "SELECT 1 FROM fills")) >= broker:
            return
        time.sleep(0.1)


def main(bars: int = 40, seed: int = 12, budget: float = 150.0) -> dict[str, int]:
    spy = tk.load("SPY", adjust="none")
    days = [
        pd.Timestamp(d.date()) for d in spy.index[spy.index >= pd.Timestamp(FIRST, tz="UTC")][:bars]
    ]
    control = run(days, kills=False, seed=seed, budget=budget)
    campaign = run(days, kills=True, seed=seed, budget=budget)
    dup = len(campaign.refs) - len(set(campaign.refs))
    lost = len(set(control.refs) - set(campaign.refs))
    extra = len(set(campaign.refs) - set(control.refs))
    wrong = sum(
        abs(campaign.positions.get(s, 0.0) - control.positions.get(s, 0.0)) > 1e-9
        or abs(campaign.journal_positions.get(s, 0.0) - campaign.positions.get(s, 0.0)) > 1e-9
        for s in SYMBOLS
    )
    lost_fills = campaign.broker_fills - campaign.journal_fills
    figures = {
        "kills": campaign.kills,
        "restarts": campaign.restarts,
        "duplicate orders": dup,
        "lost orders": lost,
        "extra orders": extra,
        "lost fills": lost_fills,
        "bars left undecided": campaign.stuck + control.stuck,
        "wrong positions": wrong,
    }
    print(f"== kill -9 campaign: {len(days)} daily bars, SPY+QQQ, bridge over TCP ==")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(campaign.kinds.items()))
    print(f"  kills                {campaign.kills:>6}   ({kinds})")
    print(f"  restarts             {campaign.restarts:>6}")
    print(f"  orders (control)     {len(control.refs):>6}   (campaign {len(campaign.refs)})")
    for key in (
        "duplicate orders",
        "lost orders",
        "extra orders",
        "lost fills",
        "bars left undecided",
    ):
        print(f"  {key:<20} {figures[key]:>6}")
    print(
        f"  wrong positions      {wrong:>6}   (control {control.positions}, "
        f"campaign {campaign.positions}, its journal {campaign.journal_positions})"
    )
    print(f"  wall time            {control.seconds:.0f} s control + {campaign.seconds:.0f} s")
    bad = {k: v for k, v in figures.items() if k not in ("kills", "restarts") and v}
    print("  result               " + ("ALL ZERO" if not bad else f"FAILED: {bad}"))
    return figures


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bars", type=int, default=40)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--budget", type=float, default=150.0, help="seconds of kills at most")
    a = p.parse_args()
    figures = main(a.bars, a.seed, a.budget)
    sys.exit(1 if any(v for k, v in figures.items() if k not in ("kills", "restarts")) else 0)
