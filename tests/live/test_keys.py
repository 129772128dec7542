"""The dashboard's keys as a state machine, onto a real journal's command queue: selection
with the arrows, a modify typed field by field (backspace, Enter keeps a value, Esc leaves),
confirmations that only "y" passes, keys that do not apply to the selected row say so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.live._keys import KeyPad
from toolkit.live.commands import submit
from toolkit.live.journal import Journal
from toolkit.live.session_view import SessionView

UP, DOWN, ESC, BACKSPACE = "\x1b[A", "\x1b[B", "\x1b", "\x7f"


def _view() -> SessionView:
    order = {"symbol": "SPY", "action": "BUY", "quantity": 100.0, "status": "Submitted"}
    return SessionView(
        "s1", "paper", "DU1", "127.0.0.1:4002", True, pd.Timestamp("2024-01-02", tz="UTC"),
        orders=[
            {**order, "ref": "s1/a/SPY/20240102", "type": "LMT", "limit": 470.5},
            {**order, "ref": "s1/b/SPY/20240102", "type": "MKT", "limit": None},
        ],
        parents=[{"id": "s1/c/SPY/20240102", "symbol": "SPY", "action": "SELL", "algo": "twap",
                  "filled": 10.0, "quantity": 50.0, "status": "working", "working": 1}],
    )  # fmt: skip


def _pad(tmp_path: Path) -> tuple[KeyPad, Journal, list[str]]:
    journal = Journal(tmp_path / "j.sqlite")
    journal.start_session("s1", mode="paper", account="DU1", config={})
    stopped: list[str] = []
    pad = KeyPad(
        lambda a, t, x: submit(journal, "s1", a, t, x, source="dashboard"),
        lambda: stopped.append("stop"),
    )
    return pad, journal, stopped


def _queued(journal: Journal) -> list[tuple[str, str, Any]]:
    return [(c["action"], c["target"], c["args_json"]) for c in journal.rows("commands", "s1")]


def test_keys_select_modify_confirm_and_refuse(tmp_path: Path) -> None:
    pad, journal, stopped = _pad(tmp_path)
    view = _view()
    assert pad.selection(view) is not None and pad.selected == "s1/a/SPY/20240102"
    pad.feed(DOWN + DOWN, view)
    assert pad.selected == "s1/c/SPY/20240102"  # orders, then parents
    pad.feed(DOWN, view)
    assert pad.selected == "s1/a/SPY/20240102"  # wraps around
    pad.feed(UP, view)
    assert pad.selected == "s1/c/SPY/20240102"
    pad.feed("m", view)
    assert pad.mode == "normal" and "limit (LMT) order" in pad.message
    pad.feed("p", view)  # a schedule: pause at once (not destructive)
    assert _queued(journal) == [("pause", "s1/c/SPY/20240102", "{}")]
    pad.feed("k", view)  # up: the market order
    pad.feed("m", view)
    assert "limit (LMT) order" in pad.message
    pad.feed("k", view)
    assert pad.selected == "s1/a/SPY/20240102"
    # modify: a price typed with a slip corrected, the quantity kept, then confirmed
    pad.feed("m", view)
    assert pad.footer()[1] == "new price [470.5]: "
    pad.feed("469.8" + BACKSPACE + "75\r", view)
    assert pad.footer()[1] == "new quantity [100]: "
    pad.feed("\r", view)
    assert pad.footer()[1] == "modify a/SPY/20240102: price 469.75? [y/N] "
    pad.feed("y", view)
    assert _queued(journal)[-1] == ("modify", "s1/a/SPY/20240102", '{"price": 469.75}')
    assert pad.message == "command #2 modify sent"
    # Esc leaves a modify; nothing changed sends nothing; any key but y declines
    pad.feed("m" + ESC, view)
    assert pad.message == "modify abandoned" and pad.mode == "normal"
    pad.feed("m\r\r", view)
    assert pad.message == "nothing changed; modify not sent"
    pad.feed("A", view)
    assert pad.footer()[1].startswith("cancel ALL 2 working order(s)")
    pad.feed("x", view)
    pad.feed("Kn", view)
    pad.feed("cY", view)  # a capital Y is a yes too
    pad.feed("qy", view)
    assert stopped == ["stop"]
    assert [q[0] for q in _queued(journal)] == ["pause", "modify", "cancel"]
    journal.close()
