"""The dashboard's keys: a small state machine (select, confirm, type a number) that turns
keystrokes into commands on the session's command channel (:mod:`toolkit.live.commands`),
and the terminal reader that feeds it from stdin on the session's event loop, never blocking
it (cbreak mode, so Ctrl+C still stops the session).

Keys (the footer lists them): up/down or j/k select a working order or schedule parent;
``c`` cancel it; ``A`` cancel all; ``m`` modify a limit order (price, then quantity; Enter
keeps a value); ``p`` pause/resume a schedule; ``K`` kill switch; ``q`` stop the session.
Destructive keys (cancel, cancel all, modify, kill, stop) ask for ``y`` first; any other key
answers no, Esc leaves a prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolkit.live.commands import Outcome
from toolkit.live.orders import short_ref
from toolkit.live.session_view import SessionView

KEYS_HELP = "↑↓ select  c cancel  A cancel all  m modify  p pause/resume  K kill  q stop"

Submit = Callable[[str, str, dict[str, Any]], int]


@dataclass(frozen=True)
class Item:
    """A row the keys act on: a working order (``key``: orderRef) or a schedule parent."""

    kind: str  # "order" | "parent"
    key: str
    text: str
    order_type: str = ""
    limit: float | None = None
    quantity: float = 0.0
    paused: bool = False


def items(view: SessionView) -> list[Item]:
    """The selectable rows, in the dashboard's order: working orders, then parents."""
    out = [
        Item(
            "order",
            o["ref"],
            f"{o['action']} {o['quantity']:g} {o['symbol']} {o['type']}",
            o["type"],
            o.get("limit"),
            float(o["quantity"]),
        )
        for o in view.orders
    ]
    out += [
        Item(
            "parent",
            p["id"],
            f"{p['action']} {p['quantity']:g} {p['symbol']} {p['algo']}",
            paused=p["status"] == "paused",
        )
        for p in view.parents
        if p["status"] in ("working", "paused")
    ]
    return out


@dataclass
class KeyPad:
    """What the keys have done so far; :meth:`feed` takes keystrokes."""

    submit: Submit
    stop: Callable[[], None]
    selected: str | None = None  # the key of the selected item
    mode: str = "normal"  # normal | confirm | input
    prompt: str = ""
    buffer: str = ""
    message: str = ""
    _ask: tuple[str, str, dict[str, Any]] | None = None  # the command a "y" sends
    _fields: list[tuple[str, str]] = field(default_factory=list)  # (name, default) to type
    _typed: dict[str, Any] = field(default_factory=dict)
    _mine: set[int] = field(default_factory=set)  # commands sent from these keys

    def selection(self, view: SessionView) -> Item | None:
        rows = items(view)
        found = next((x for x in rows if x.key == self.selected), None)
        if found is None and rows:
            found = rows[0]
            self.selected = found.key
        return found

    def feed(self, text: str, view: SessionView) -> None:
        """Act on the keystrokes ``text`` (escape sequences for the arrows)."""
        i = 0
        while i < len(text):
            if text.startswith("\x1b[", i) and i + 2 < len(text):
                key, i = {"A": "up", "B": "down"}.get(text[i + 2], ""), i + 3
            elif text[i] == "\x1b":
                key, i = "esc", i + 1
            else:
                key, i = text[i], i + 1
            if key:
                self._key(key, view)

    def _key(self, key: str, view: SessionView) -> None:
        if self.mode == "confirm":
            ask, self._ask, self.mode, self.prompt = self._ask, None, "normal", ""
            if key in ("y", "Y") and ask is not None:
                self._send(*ask)
            else:
                self.message = "not sent"
            return
        if self.mode == "input":
            self._input(key)
            return
        sel = self.selection(view)
        rows = items(view)
        if key in ("down", "j", "up", "k") and rows:
            at = next((n for n, x in enumerate(rows) if x.key == self.selected), 0)
            at = (at + (1 if key in ("down", "j") else -1)) % len(rows)
            self.selected = rows[at].key
        elif key == "c":
            if sel is None:
                self.message = "nothing to cancel"
            elif sel.kind == "parent":
                self._confirm(f"cancel schedule {short_ref(sel.key)} and its working children?",
                              ("cancel", sel.key, {}))  # fmt: skip
            else:
                self._confirm(f"cancel {short_ref(sel.key)} ({sel.text})?", ("cancel", sel.key, {}))
        elif key == "A":
            n = len(view.orders)
            self._confirm(f"cancel ALL {n} working order(s) and every schedule?",
                          ("cancel_all", "", {}))  # fmt: skip
        elif key == "m":
            if sel is None or sel.kind != "order" or sel.order_type != "LMT":
                self.message = "select a working limit (LMT) order to modify"
            else:
                self.mode = "input"
                self._ask = ("modify", sel.key, {})
                self._typed = {}
                px = "" if sel.limit is None else f"{sel.limit:g}"
                self._fields = [("price", px), ("quantity", f"{sel.quantity:g}")]
                self._next_field()
        elif key == "p":
            if sel is None or sel.kind != "parent":
                self.message = "select a schedule parent to pause or resume"
            else:
                self._send("resume" if sel.paused else "pause", sel.key, {})
        elif key == "K":
            self._confirm("KILL SWITCH: cancel every order and schedule, flatten, no new "
                          "trades (all strategies)?", ("kill", "", {}))  # fmt: skip
        elif key == "q":
            self._confirm("stop the session?", ("stop", "", {}))

    def _input(self, key: str) -> None:
        if key == "esc":
            self.mode, self.prompt, self._ask = "normal", "", None
            self.message = "modify abandoned"
        elif key in ("\r", "\n"):
            name, default = self._fields.pop(0)
            value = self.buffer.strip() or default
            try:
                number = float(value)
            except ValueError:
                self.message = f"{name} {value!r} is not a number; modify abandoned"
                self.mode, self.prompt, self._ask = "normal", "", None
                return
            if value != default:
                self._typed[name] = number
            if self._fields:
                self._next_field()
                return
            assert self._ask is not None
            action, target, _ = self._ask
            if not self._typed:
                self.mode, self.prompt, self._ask = "normal", "", None
                self.message = "nothing changed; modify not sent"
                return
            what = ", ".join(f"{k} {v:g}" for k, v in self._typed.items())
            self._confirm(f"modify {short_ref(target)}: {what}?", (action, target, self._typed))
        elif key in ("\x7f", "\b"):
            self.buffer = self.buffer[:-1]
        elif key in "0123456789.":
            self.buffer += key

    def _next_field(self) -> None:
        name, default = self._fields[0]
        self.prompt, self.buffer = f"new {name} [{default}]: ", ""

    def _confirm(self, question: str, ask: tuple[str, str, dict[str, Any]]) -> None:
        self.mode, self.prompt, self._ask, self.buffer = "confirm", f"{question} [y/N] ", ask, ""

    def _send(self, action: str, target: str, args: dict[str, Any]) -> None:
        self.mode, self.prompt = "normal", ""
        if action == "stop":
            self.message = "stopping the session"
            self.stop()
            return
        cid = self.submit(action, target, args)
        self._mine.add(cid)
        self.message = f"command #{cid} {action} sent"

    def outcome(self, out: Outcome) -> None:
        """A command settled (the desk's listener): shown when these keys sent it."""
        if out.command_id in self._mine:
            self.message = out.line()

    def footer(self) -> tuple[str, str]:
        """(the keys line, the prompt or the last message)."""
        return KEYS_HELP, (self.prompt + self.buffer) if self.mode != "normal" else self.message


class TerminalKeys:
    """Keystrokes from a terminal's stdin to a callback on the event loop (cbreak mode, so
    the terminal's Ctrl+C still interrupts); nothing when stdin is not a terminal."""

    def __init__(self, on_text: Callable[[str], None], fd: int = 0) -> None:
        self._on_text = on_text
        self._fd = fd
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> bool:
        if self._loop is not None or not os.isatty(self._fd):
            return False
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        loop.add_reader(self._fd, self._read)
        self._loop = loop
        return True

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 1024)
        except OSError:  # EIO: the terminal hung up (toolkit.live._terminal)
            data = b""
        if not data:  # gone or at its end: stop reading, else the loop spins on the fd
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._fd)
            return
        self._on_text(data.decode(errors="ignore"))

    def stop(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
            self._loop = None
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
