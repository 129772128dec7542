"""The live dashboard driven in a real terminal (tmux, 80x24) against the simulator (issue 17,
item 5; issue 18, item 5): two resting limit orders are modified (and a modify the max_order
rule refuses), one is cancelled after a declined confirmation, the rest by cancel-all, and
the kill switch ends the session -- keys in, the screen and the journal checked."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live._sessions import PATIENCE, held_gateway, journal_rows, wait_for, wait_for_rows
from tests.live.conftest import REPO
from tests.live.test_commands import limit_research

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Terminal:
    """A command in a detached tmux pane of a given size (a private tmux server)."""

    def __init__(self, command: str, width: int, height: int, socket: Path) -> None:
        self.socket = str(socket)  # its own server, its socket in the test's directory
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def keys(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)

    def enter(self) -> None:
        self._tmux("send-keys", "-t", "t", "Enter")

    def shows(self, text: str, timeout: float = PATIENCE) -> str:
        def seen() -> str:
            s = self.screen()
            return s if text in s else ""

        screen: str = wait_for(seen, timeout, f"{text!r} on screen")
        return screen

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)
        Path(self.socket).unlink(missing_ok=True)


@pytest.fixture()
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for t in opened:
        t.close()


def _command(journal: Path, cid: int) -> tuple[Any, ...]:
    rows = wait_for_rows(
        journal,
        f"SELECT action, status, outcome, source FROM commands WHERE command_id = {cid} "
        "AND status NOT IN ('pending', 'running')",
        what=f"command #{cid} settled",
    )
    return rows[0]


def test_dashboard_keys_modify_cancel_cancel_all_and_kill_at_80x24(
    live_config: Any, tmp_path: Path, terminal: list[Terminal]
) -> None:
    research = limit_research(tmp_path)
    with held_gateway() as gw:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 61},
            strategies=[
                {"config": str(research), "capital": 100_000, "history": "1 Y", "label": x}
                for x in ("a", "b")
            ],
            session={"id": "keys", "cancel_on_exit": False},
        )
        journal = cfg.session.journal
        run = shlex.join([sys.executable, "-m", "toolkit.live", "run", "--config", str(cfg.source)])
        term = Terminal(
            f"cd {shlex.quote(str(REPO))} && {run}; echo EXIT=$?; sleep 60",
            80,
            24,
            tmp_path / "tmux.sock",
        )
        terminal.append(term)
        sql = (
            "SELECT order_ref, quantity, limit_price FROM orders WHERE status = 'Submitted' "
            "ORDER BY order_ref"
        )
        orders = wait_for(
            lambda: [rows for rows in [journal_rows(journal, sql)] if len(rows) == 2][0:1],
            what="both limit orders to rest",
        )[0]
        (ref_a, qty_a, px_a), (ref_b, _, _) = orders
        # the whole dashboard fits 80x24: orders, events and the keys' footer are on screen
        screen = term.shows("b/SPY/20230310")
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(x) <= 80 for x in lines)
        for part in ("ibkr-toolkit live", "Working orders", "Events", "c cancel", "K kill"):
            assert part in screen, (part, screen)
        (row_a,) = [x for x in lines if "│ a/SPY/20230310" in x]
        assert row_a.startswith("▶"), screen  # the first order is selected
        assert "hidden (small terminal): risk, signals" in screen, screen

        # modify: a new price (Enter keeps the quantity), confirmed
        new_px = round(px_a - 1.0, 2)
        term.keys("m")
        term.shows(f"new price [{px_a:g}]")
        term.keys(f"{new_px:g}")
        term.enter()
        term.shows(f"new quantity [{qty_a:g}]")
        term.enter()
        term.shows("? [y/N]")
        term.keys("y")
        assert _command(journal, 1) == (
            "modify",
            "done",
            f"modify sent for {ref_a}: limit {px_a:g} -> {new_px:g}",
            "dashboard",
        )
        term.shows(f"{new_px:,.2f}")  # the order's new limit in the table
        term.shows("#1 modify")  # the outcome in the footer
        # a quantity the max_order rule refuses: a reason on screen, nothing sent
        term.keys("m")
        term.shows("new price [")
        term.enter()
        term.shows("new quantity [")
        term.keys(f"{qty_a * 4:g}")
        term.enter()
        term.keys("y")
        action, status, outcome, _ = _command(journal, 2)
        assert (action, status) == ("modify", "rejected") and outcome.startswith("max_order")
        term.shows("rejected: max_order")

        # cancel: "n" declines (nothing queued), "y" sends
        term.keys("c")
        term.shows("cancel a/SPY/20230310")
        term.keys("n")
        term.shows("not sent")
        assert not journal_rows(journal, "SELECT 1 FROM commands WHERE command_id = 3")
        term.keys("c")
        term.shows("? [y/N]")
        term.keys("y")
        assert _command(journal, 3)[:2] == ("cancel", "done")
        wait_for_rows(
            journal,
            f"SELECT 1 FROM orders WHERE order_ref = '{ref_a}' AND status = 'Cancelled'",
            what="order a cancelled",
        )
        # cancel all: the other one
        term.keys("A")
        term.shows("cancel ALL")
        term.keys("y")
        assert _command(journal, 4)[:3] == (
            "cancel_all",
            "done",
            "cancel sent for 1 working order(s)",
        )
        wait_for_rows(
            journal,
            f"SELECT 1 FROM orders WHERE order_ref = '{ref_b}' AND status = 'Cancelled'",
            what="order b cancelled",
        )
        # the kill switch, confirmed: both strategies halted and flat, so the session ends
        term.keys("K")
        term.shows("KILL SWITCH")
        term.keys("y")
        assert _command(journal, 5)[:2] == ("kill", "done")
        guards = journal_rows(
            journal, "SELECT strategy FROM guard_events WHERE guard = 'manual_kill'"
        )
        assert sorted(g[0] for g in guards) == ["a", "b"]
        term.shows("EXIT=0")
