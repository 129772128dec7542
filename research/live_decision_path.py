"""Which toolkit functions one live decision passes through (issue 14, item 1).

A paper session (the real ib_async client over TCP) against the gateway simulator held at
Friday 2023-03-10 after the close, trading research/configs/spy_sma_paper.toml: its first
decision (Friday's bar) journals and sends a market-on-open order, which fills at Monday's
open. The session's thread is profiled (``sys.setprofile``) and two call trees are printed:
``_process_bars`` -- the bar's decision, up to ``placeOrder`` -- and the handler of the
fill's execution. Each line is one call of a toolkit function (module:function, indented by
depth; ib_async's placeOrder marked), followed by the counts: calls, distinct modules, and
the module switches along the path in execution order.

    .venv/bin/python research/live_decision_path.py            # this checkout
    PYTHONPATH=/tmp/old .venv/bin/python research/live_decision_path.py   # another tree
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import toolkit
from toolkit.engine.commissions import ibkr_fixed
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession
from toolkit.live.config import load_live_config

CONFIG = Path(__file__).resolve().parent / "configs" / "spy_sma_paper.toml"
ROOT = str(Path(toolkit.__file__).resolve().parent)


@dataclass
class Call:
    name: str  # module:function
    children: list[Call] = field(default_factory=list)


class Recorder:
    """Call trees of the toolkit functions (and ib_async's placeOrder) of one thread."""

    def __init__(self) -> None:
        self.root = Call("<thread>")
        self._stack: list[tuple[FrameType, Call]] = []

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = _name(frame)
            if name is None:
                return
            node = Call(name)
            parent = self._stack[-1][1] if self._stack else self.root
            parent.children.append(node)
            self._stack.append((frame, node))
        elif event == "return" and self._stack and self._stack[-1][0] is frame:
            self._stack.pop()


def _name(frame: FrameType) -> str | None:
    path, func = frame.f_code.co_filename, frame.f_code.co_qualname
    if path.startswith(ROOT) and "/gateway/" not in path:
        rel = path[len(ROOT) + 1 :].removesuffix(".py").replace("/", ".")
        return f"{rel}:{func}"
    if "ib_async" in path and func.endswith("IB.placeOrder"):
        return "ib_async:IB.placeOrder"
    return None


def find(node: Call, want: str, inside: str | None = None) -> Call | None:
    """The first call named ``want`` (whose callees hold ``inside``), depth first."""
    holds = inside is None or any(find(c, inside) is not None for c in node.children)
    if node.name.endswith(want) and holds:
        return node
    for c in node.children:
        got = find(c, want, inside)
        if got is not None:
            return got
    return None


def size(node: Call) -> int:
    return 1 + sum(size(c) for c in node.children)


def tidy(node: Call) -> Call:
    """Comprehensions folded into their function; a call outside toolkit.live shown as its
    entry only (with the number of toolkit calls made inside it)."""
    kids: list[Call] = []
    for c in node.children:
        if "<locals>" in c.name:
            kids += tidy(c).children
        elif not c.name.startswith("live.") and c.children:
            kids.append(Call(f"{c.name} (+{size(c) - 1} inside)"))
        else:
            kids.append(tidy(c))
    return Call(node.name, kids)


def show(node: Call, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """The tree, one call a line; a run of the same childless call as one line (xN)."""
    out = [] if out is None else out
    out.append("  " * depth + node.name)
    i = 0
    while i < len(node.children):
        c, n = node.children[i], 1
        while i + n < len(node.children) and node.children[i + n].name == c.name:
            n += 1
        if n > 1 and not any(x.children for x in node.children[i : i + n]):
            out.append("  " * (depth + 1) + f"{c.name} x{n}")
        else:
            for k in range(n):
                show(node.children[i + k], depth + 1, out)
        i += n
    return out


def _module(name: str) -> str:
    return name.split(":")[0]


def counts(node: Call, classes: set[tuple[str, str]]) -> str:
    """Calls of toolkit.live functions; how the path moves between the modules that hold the
    session's own code (switches, and returns up into the first of them); calls made from a
    part of the session into the session object's methods. ``classes``: (module, name) of
    LiveSession and its base classes."""
    session = {m for m, _ in classes}
    calls: list[tuple[str | None, str]] = []  # (caller module, callee name)
    order: list[str] = []  # modules in execution order, returns included

    def visit(n: Call, parent: str | None) -> None:
        here = _module(n.name)
        calls.append((parent, n.name))
        order.append(here)
        for c in n.children:
            visit(c, here)
            order.append(here)

    visit(node, None)
    live = [name for _, name in calls if name.startswith("live.")]
    own = [m for m in order if m in session]
    own = [m for i, m in enumerate(own) if i == 0 or own[i - 1] != m]
    top = own[0] if own else ""
    back = sum(1 for a, b in itertools.pairwise(own) if b == top)
    # calls of the session object's methods (LiveSession and its base classes) from outside
    # its modules: a part calling back up into the session
    methods = {f"{m}:{c}." for m, c in classes}
    into = sum(
        1
        for a, b in calls
        if a is not None and a not in session and any(b.startswith(x) for x in methods)
    )
    return (
        f"{len(live)} calls of toolkit.live functions ({len(set(live))} distinct) in "
        f"{len({_module(x) for x in live})} toolkit.live modules; the session's code in "
        f"{len(session)} module(s) ({', '.join(sorted(session))}): the path switches "
        f"between them {max(len(own) - 1, 0)} times, {back} of them back up into {top}; "
        f"{into} call(s) of the session's methods from outside its modules"
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    gw = Gateway(
        port=0, start="2023-03-10 21:30", speed=1.0, participation=0.0, commission=ibkr_fixed()
    ).start()
    try:
        (tmp / "live.toml").write_text(
            'name = "path"\n[connection]\nhost = "127.0.0.1"\n'
            f"port = {gw.port}\nclient_id = 77\n"
            '[session]\nid = "path"\njournal = "state/journal.sqlite"\ncancel_on_exit = false\n'
            f'[[strategies]]\nconfig = "{CONFIG}"\ncapital = 100000\nhistory = "1 Y"\n'
        )
        session = LiveSession(load_live_config(tmp / "live.toml"), echo=None, install_signals=False)
        rec = Recorder()
        lines: list[str] = []

        def run() -> None:
            sys.setprofile(rec)
            try:
                asyncio.run(session.run())
            finally:
                sys.setprofile(None)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(": Submitted" in x for x in session.events):
            time.sleep(0.1)
        gw.advance("3D")  # Monday's open: the market-on-open order fills
        while time.monotonic() < deadline and not any("] fill " in x for x in session.events):
            time.sleep(0.1)
        time.sleep(1.0)
        session.stop()
        t.join(60)
        lines = list(session.events)
    finally:
        gw.stop()
    classes = {
        (c.__module__.removeprefix("toolkit."), c.__qualname__)
        for c in LiveSession.__mro__
        if c is not object
    }
    decision = find(rec.root, "._process_bars", "ib_async:IB.placeOrder")
    fill = find(rec.root, "._on_exec")
    for title, node in (("bar -> decision -> order", decision), ("its fill", fill)):
        print(f"== {title}")
        if node is None:
            print("   (not seen)\n" + "\n".join(lines[-20:]))
            continue
        print("\n".join(show(tidy(node))))
        print(counts(node, classes) + "\n")


if __name__ == "__main__":
    main()
