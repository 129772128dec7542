"""Manual order management of a running session: one command channel for the dashboard's
keys and the CLI (``python -m toolkit.live cancel|modify|pause|resume|kill``).

A command is a row of the session's journal (table ``commands``): any process queues it
(:func:`submit`), the running session claims it (``pending`` -> ``running``) and executes it
once on its event loop between bars, through the same guards as any order, then journals the
outcome and its reason (``done`` / ``rejected``); the CLI waits for that and exits 0 or 1.
Claiming and expiring are both conditional updates of the row, so a command runs at most
once: a command still queued when the session died, or one it was executing, is expired with
the reason when the session starts again -- never executed twice, never half-silently.

Actions:

* ``cancel`` an order (orderRef, broker order id or a unique part of the ref) or a schedule
  parent (no more children, its working ones cancelled: ``ParentOrder.cancel``);
* ``cancel_all``: every working order of the session; every schedule is cancelled first so
  none sends a new child;
* ``modify`` a working limit order's limit price and/or total quantity: refused with the
  reason when a pre-send guard (halted symbol, trading hours, order rate) or an order-level
  risk rule (``max_position``, ``max_order``, ``max_gross``: :func:`toolkit.risk.rules.
  check_order`, the rulebook the engine's step applies) would not let the modified order out
  as a new one; the journal's order row changes before the broker is asked;
* ``pause`` / ``resume`` a schedule parent (``LiveSession.parents``);
* ``kill``: the kill switch by hand for one strategy or all (``manual_kill`` guard event):
  working orders and schedules cancelled, no new trades; the strategy's next bar
  flattens it through the engine's step, as when the automatic switch fires. It survives a
  restart (the guard event is journaled).

A cancelled order of a strategy is an order that ended unfilled: the strategy decides again
at its next bar (targets, not deltas); pause its schedule or use the kill switch to stop it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError
from toolkit.live._lock import is_held, lock_path
from toolkit.live.journal import Journal, JournalOrder

# the session side (CommandDesk) imports pandas and numba where it needs them: the CLI's
# parser (add_parsers) and its commands (run_cli) answer without them

if TYPE_CHECKING:
    from toolkit.live._parent import ParentOrder
    from toolkit.live.bridge import LiveSession

ACTIONS = ("cancel", "cancel_all", "modify", "pause", "resume", "kill", "reload")
MANUAL_KILL = "manual_kill"  # the guard event of a kill switch triggered by hand


@dataclass(frozen=True)
class Outcome:
    """What became of one command."""

    command_id: int
    action: str
    target: str
    status: str  # done | rejected | expired
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def line(self) -> str:
        what = self.action + (f" {self.target}" if self.target else "")
        return f"command #{self.command_id} {what}: {self.status}: {self.message}"


def session_running(journal: Path, session_id: str) -> bool:
    """Whether a process holds the session's lock (:mod:`toolkit.live._lock`) right now."""
    return is_held(lock_path(journal, session_id))


def submit(
    journal: Journal,
    session_id: str,
    action: str,
    target: str = "",
    args: Mapping[str, Any] | None = None,
    source: str = "cli",
) -> int:
    """Queue a command for the session; returns its id."""
    if action not in ACTIONS:
        raise ToolkitError(f"unknown command {action!r}; one of {', '.join(ACTIONS)}")
    from toolkit.live._ledger import queue_command  # pandas: not on the --help path

    return queue_command(journal, session_id, source, action, target, args or {})


def wait(journal: Journal, command_id: int, timeout: float) -> Outcome:
    """Wait for the session to settle command ``command_id``; one it has not claimed within
    ``timeout`` seconds, or before it stopped, is expired here (and then never runs)."""
    deadline = time.monotonic() + timeout
    while True:
        row = journal.command(command_id)
        if row is None:
            raise ToolkitError(f"{journal.path}: no command #{command_id}")
        if row["status"] in ("done", "rejected", "expired"):
            return _outcome(row)
        why = None
        if not session_running(journal.path, row["session_id"]):
            why = "the session stopped before executing it"
        elif time.monotonic() >= deadline:
            why = f"the session did not take it within {timeout:g} s"
        if why is not None:
            if row["status"] == "pending" and journal.settle_command(
                command_id, "expired", why, was="pending"
            ):
                return _outcome(journal.command(command_id) or row)
            deadline = time.monotonic() + 5.0  # claimed just now: its outcome is moments away
        time.sleep(0.05)


def _outcome(row: Mapping[str, Any]) -> Outcome:
    return Outcome(
        int(row["command_id"]), row["action"], row["target"], row["status"], row["outcome"]
    )


class Rejected(Exception):
    """A command that cannot be carried out; the message says why."""


@dataclass
class _Modify:
    """A modification sent, until the broker has had time to refuse it (:data:`GRACE`)."""

    command_id: int
    source: str
    sent: str  # the outcome once it stands
    old_limit: float | None
    old_quantity: float
    new_limit: float | None
    new_quantity: float | None
    status: str  # the order's status before
    acted: float  # the strategy's acted-on target before (a refusal puts it back)
    at: float  # time.monotonic() when sent


# IB answers a modification it refuses with an error on the order's id at once; one it takes
# with no message of its own. A modify is settled "done" after this long without a refusal.
GRACE = 1.0


class CommandDesk:
    """The session's side: expires what an earlier run left, then claims and executes each
    queued command once (:meth:`poll`, on the session's loop, between bars)."""

    def __init__(self, session: LiveSession) -> None:
        self.s = session
        self.outcomes: list[Outcome] = []  # this run's, newest last (the dashboard's footer)
        self.listeners: list[Callable[[Outcome], None]] = []
        self._modifies: dict[str, _Modify] = {}  # orderRef -> a modification in flight
        journal = self._journal()
        for row in journal.commands(session.sid):
            if row["status"] == "pending":
                why = "queued while the session was not running; not executed, send it again"
            elif row["status"] == "running":
                why = (
                    "the session stopped while executing it; check the order "
                    "(python -m toolkit.live status) before sending it again"
                )
            else:
                continue
            if journal.settle_command(row["command_id"], "expired", why, was=row["status"]):
                session.log(f"command #{row['command_id']} {row['action']}: expired: {why}")

    def _journal(self) -> Journal:
        journal = self.s.journal
        assert journal is not None, "the session's journal is open while it runs"
        return journal

    def submit(self, action: str, target: str = "", args: Mapping[str, Any] | None = None) -> int:
        """Queue a command from the dashboard (executed at the next :meth:`poll`)."""
        return submit(self._journal(), self.s.sid, action, target, args, source="dashboard")

    def poll(self) -> list[Outcome]:
        """Execute the queued commands, oldest first, and settle the modifications the broker
        did not refuse in time; returns the outcomes settled."""
        journal = self._journal()
        done = []
        for ref, m in list(self._modifies.items()):
            if time.monotonic() - m.at >= GRACE:
                del self._modifies[ref]
                done.append(self._settle(m.command_id, m.source, "modify", ref, "done", m.sent))
        for row in journal.commands(self.s.sid, "pending"):
            cid = int(row["command_id"])
            if not journal.settle_command(cid, "running", "", was="pending"):
                continue  # the CLI expired it a moment ago
            action, target, source = row["action"], row["target"], row["source"]
            try:
                message = self._execute(cid, source, action, target, json.loads(row["args_json"]))
                status = "done"
            except Rejected as exc:
                message, status = str(exc), "rejected"
            if message is not None:
                done.append(self._settle(cid, source, action, target, status, message))
        return done

    def _settle(
        self, cid: int, source: str, action: str, target: str, status: str, message: str
    ) -> Outcome:
        self._journal().settle_command(cid, status, message, was="running")
        out = Outcome(cid, action, target, status, message)
        self.s.log(f"{out.line()} ({source})")
        self.outcomes.append(out)
        for listener in self.listeners:
            listener(out)
        return out

    def refused(self, ref: str, code: int, text: str) -> bool:
        """The broker refused an order message for ``ref``: when it is a modification in
        flight, the order works on unchanged -- the journal's row, the local order and the
        strategy's acted-on target go back to what they were and the command is rejected
        with IB's reason (True); otherwise False (an order's own rejection)."""
        m = self._modifies.pop(ref, None)
        if m is None:
            return False
        why = f"IB refused it ({code}: {text}); the order works unchanged"
        self.s.ledger.modification_refused(
            ref,
            m.old_limit if m.new_limit is not None else None,
            m.old_quantity if m.new_quantity is not None else None,
            m.status,
            m.old_quantity,
            m.acted,
            f"command #{m.command_id}: {why}",
            f"still working: command #{m.command_id}'s modify was refused",
        )
        self.s.broker.restore(ref, m.old_limit, m.old_quantity, m.status)
        self._settle(m.command_id, m.source, "modify", ref, "rejected", why)
        return True

    # -- the actions ---------------------------------------------------------------------
    def _execute(
        self, cid: int, source: str, action: str, target: str, args: dict[str, Any]
    ) -> str | None:
        """Carry a command out: its outcome, or None while the broker may still refuse it
        (a modification; :meth:`poll` or :meth:`refused` settles it)."""
        if action == "cancel":
            parent = self._parents().get(target)
            if parent is not None:
                return self._cancel_parent(target, parent)
            return self._cancel(self._order(target))
        if action == "cancel_all":
            return self._cancel_all()
        if action == "modify":
            self._modify(cid, source, self._order(target), args)
            return None  # settled once the broker has had time to refuse it
        if action in ("pause", "resume"):
            return self._pause(target, action == "pause")
        if action == "kill":
            return self._kill(target)
        if action == "reload":  # the [risk] limits only (toolkit.live._reload)
            from toolkit.live._reload import reload_risk

            ok, message = reload_risk(self.s, args.get("config"), source)
            if not ok:
                raise Rejected(message)
            return message
        raise Rejected(f"unknown command {action!r}")

    def _parents(self) -> dict[str, ParentOrder]:
        parents: dict[str, ParentOrder] = getattr(self.s, "parents", None) or {}
        return parents

    def _order(self, target: str) -> JournalOrder:
        """The session's working order named by ``target``: its orderRef, broker order id, or
        a part of its ref that only it has."""
        working = self.s.ledger.open_orders()
        if not target:
            raise Rejected("no order given")
        exact = [o for o in working if o.order_ref == target or str(o.broker_order_id) == target]
        found = exact or [o for o in working if target in o.order_ref]
        if len(found) == 1:
            return found[0]
        names = ", ".join(o.order_ref for o in working) or "none"
        if not found:
            raise Rejected(f"{target!r} is not a working order of this session (working: {names})")
        raise Rejected(f"{target!r} names {len(found)} working orders; give one of: {names}")

    def _cancel(self, jo: JournalOrder) -> str:
        if not self.s.connected:
            raise Rejected("not connected to the broker; nothing was cancelled")
        if not self.s.broker.cancel([jo.order_ref]):
            raise Rejected(f"{jo.order_ref} is not working at the broker (final, or not sent)")
        return f"cancel sent for {jo.order_ref} ({jo.action} {jo.quantity:g} {jo.symbol})"

    def _cancel_parent(self, pid: str, parent: ParentOrder) -> str:
        if parent.status in ("cancelled", "done"):
            raise Rejected(f"schedule {pid} is already {parent.status}")
        working = parent.working_refs()
        parent.cancel()  # no more children; its desk cancels the working ones, journaled
        filled, total = parent.progress
        return (
            f"schedule {pid} cancelled at {filled:g} of {total:g}; cancel sent for "
            f"{len(working)} working child order(s)"
        )

    def _cancel_all(self) -> str:
        stopped = 0
        for parent in self._parents().values():
            if parent.status not in ("cancelled", "done"):
                parent.cancel()  # first, so no schedule sends a new child
                stopped += 1
        refs = self.s.ledger.open_refs()
        if refs and not self.s.connected:
            raise Rejected(
                f"not connected to the broker; {len(refs)} working order(s) not cancelled"
            )
        sent = self.s.broker.cancel(refs)
        return f"cancel sent for {len(sent)} working order(s)" + (
            f"; {stopped} schedule(s) cancelled" if stopped else ""
        )

    def _pause(self, pid: str, pause: bool) -> str:
        parents = self._parents()
        parent = parents.get(pid)
        if parent is None:
            names = ", ".join(sorted(parents)) or "none"
            raise Rejected(f"{pid!r} is not a schedule parent of this session (parents: {names})")
        if parent.status in ("cancelled", "done"):
            raise Rejected(f"schedule {pid} is {parent.status}")
        if bool(parent.paused) == pause:
            raise Rejected(f"schedule {pid} is already {'paused' if pause else 'working'}")
        parent.pause() if pause else parent.resume()
        filled, total = parent.progress
        return f"schedule {pid} {'paused' if pause else 'resumed'} at {filled:g} of {total:g}"

    def _kill(self, target: str) -> str:
        slots = [x for x in self.s.cfg.strategies if not target or x.label == target]
        if not slots:
            names = ", ".join(x.label for x in self.s.cfg.strategies)
            raise Rejected(f"no strategy {target!r} in this session (strategies: {names})")
        killed = []
        for slot in slots:
            sleeve = self.s.ledger.sleeves[slot.label]
            if sleeve.killed is not None:
                continue
            sleeve.killed = MANUAL_KILL
            # safety first: the cancels go out before the guard is journaled and mailed
            cancelled = self.s.broker.cancel(self.s.ledger.open_refs(strategy=slot.label))
            for parent in self._parents().values():
                if parent.strategy == slot.label and parent.status not in ("cancelled", "done"):
                    parent.cancel()
            self.s.guards.fire(
                MANUAL_KILL,
                f"{slot.label}: kill switch triggered by hand; {len(cancelled)} working "
                "order(s) cancelled, flattening at the next bar, no new trades",
                slot.label,
                None,
            )
            killed.append(slot.label)
        if not killed:
            raise Rejected("the kill switch has already fired for " + (target or "every strategy"))
        return "kill switch fired for " + ", ".join(killed)

    def _modify(self, cid: int, source: str, jo: JournalOrder, args: dict[str, Any]) -> None:
        price = _number(args.get("price"), "price")
        quantity = _number(args.get("quantity"), "quantity")
        if price is None and quantity is None:
            raise Rejected("give a new price and/or quantity")
        if jo.order_type != "LMT":
            raise Rejected(
                f"{jo.order_ref} is a {jo.order_type} order; only a working limit order's "
                "price and quantity can be modified"
            )
        if price is not None and not price > 0.0:
            raise Rejected(f"price {price:g} must be above 0")
        filled = self.s.ledger.executed().get(jo.order_ref, 0.0)
        if quantity is not None and not quantity > filled:
            raise Rejected(
                f"quantity {quantity:g} must be above the {filled:g} share(s) already filled"
            )
        if quantity is not None and jo.parent_ref is not None:
            raise Rejected(f"{jo.order_ref} is a bracket leg; its quantity follows its entry")
        if not self.s.connected or not self.s.broker.working(jo.order_ref):
            raise Rejected(f"{jo.order_ref} is not working at the broker (final, or not sent)")
        if jo.order_ref in self._modifies:
            raise Rejected(f"{jo.order_ref} has a modification in flight; wait for its outcome")
        self._guard(jo, price, quantity, filled)
        old_px = jo.limit_price if jo.limit_price is not None else math.nan
        changes = []
        if price is not None:
            changes.append(f"limit {old_px:g} -> {price:g}")
        if quantity is not None:
            changes.append(f"quantity {jo.quantity:g} -> {quantity:g}")
        what = ", ".join(changes)
        owner = self.s.ledger.owner(jo.order_ref)
        assert owner is not None  # checked by _guard
        self._modifies[jo.order_ref] = _Modify(
            cid,
            source,
            f"modify sent for {jo.order_ref}: {what}",
            jo.limit_price,
            jo.quantity,
            price,
            quantity,
            jo.status,
            self.s.ledger.sleeves[owner[0]].acted.get(owner[1], math.nan),
            time.monotonic(),
        )
        # the journal first (nothing lost), then the broker
        self.s.ledger.journal_modification(
            jo.order_ref, price, quantity, f"modified by command #{cid} ({source}): {what}"
        )
        self.s.broker.modify(jo.order_ref, price, quantity)
        self.s.guards.sent()

    def _guard(
        self, jo: JournalOrder, price: float | None, quantity: float | None, filled: float
    ) -> None:
        """The modified order must pass what a new order would: the pre-send guards and the
        order-level risk rules (which fire their guard events when they refuse)."""
        from toolkit.risk.rules import check_order  # numba: not on the CLI's --help path

        ledger = self.s.ledger
        owner = ledger.owner(jo.order_ref)
        if owner is None:
            raise Rejected(f"{jo.order_ref} has no decision in this session's journal")
        label, symbol = owner
        slot = next(x for x in self.s.cfg.strategies if x.label == label)
        sleeve = ledger.sleeves[label]
        if sleeve.killed is not None:
            raise Rejected(f"{label}'s kill switch has fired ({sleeve.killed}): no changes")
        sign = 1.0 if jo.action == "BUY" else -1.0
        new_left = (jo.quantity if quantity is None else quantity) - filled
        if not self.s.guards.allows(slot, symbol, sign * new_left, self.s.log.now, 0, False):
            raise Rejected(f"refused by a guard: {self._last_guard()}")
        if jo.parent_ref is not None:
            return  # a protective leg only reduces the position: never trimmed
        px = jo.limit_price if price is None else price
        assert px is not None
        old_left = jo.quantity - filled
        pos = sleeve.positions.get(symbol, 0.0) + ledger.working(label).get(symbol, 0.0)
        pos -= sign * old_left  # the position the modified order starts from
        gross_other = sum(
            abs(q) * sleeve.closes.get(s, 0.0) for s, q in sleeve.positions.items() if s != symbol
        )
        allowed, rules = check_order(
            sign * new_left,
            pos,
            px,
            sleeve.equity(),
            gross_other,
            sleeve.risk.vector(),
            sleeve.settings.fractional,
        )
        if rules and abs(allowed - sign * new_left) > 1e-9:
            detail = (
                f"{label} {symbol}: modify of {jo.order_ref} to {new_left:g} shares at "
                f"{px:g} refused; the rules allow {abs(allowed):g}"
            )
            for rule in rules:
                self.s.guards.fire(rule, detail, label, symbol)
            raise Rejected(f"{', '.join(rules)}: {detail}")

    def _last_guard(self) -> str:
        lines = [x for x in self.s.events if "GUARD " in x]
        return lines[-1].split("GUARD ", 1)[1] if lines else "see the session's guard events"


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise Rejected(f"{name} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise Rejected(f"{name} {value!r} is not a finite number")
    return x


# -- the CLI ---------------------------------------------------------------------------------
def add_parsers(sub: Any) -> None:
    """``cancel``, ``modify``, ``pause``, ``resume`` and ``kill`` on ``python -m toolkit.live``."""
    specs = {
        "cancel": "cancel a working order (or --all) of a running session",
        "modify": "change a working limit order's price and/or quantity",
        "pause": "pause a schedule parent of a running session",
        "resume": "resume a paused schedule parent",
        "kill": "trigger the kill switch of a running session (one strategy or all)",
    }
    for name, text in specs.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--config", default="live/paper.toml", help="live config (its journal)")
        p.add_argument("--journal", help="journal file (overrides the config's)")
        p.add_argument("--session", help="session id (default: the newest running one)")
        p.add_argument(
            "--timeout", type=float, default=30.0, help="seconds to wait for the session"
        )
        if name in ("cancel", "modify"):
            p.add_argument("--order", help="orderRef, broker order id, or a unique part of it")
        if name == "cancel":
            p.add_argument("--all", action="store_true", help="every working order")
            p.add_argument("--parent", help="a schedule parent (its working children too)")
        if name == "modify":
            p.add_argument("--price", type=float, help="new limit price")
            p.add_argument("--quantity", type=float, help="new total quantity")
        if name in ("pause", "resume"):
            p.add_argument("--parent", required=True, help="schedule parent id")
        if name == "kill":
            p.add_argument("--strategy", default="", help="one strategy (default: all)")
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run_cli(args: argparse.Namespace) -> int:
    """One command sent to a running session; prints its outcome (exit 0 done, 1 not)."""
    action, target, extra = _request(args)
    if args.journal:
        path = Path(args.journal)
    else:
        from toolkit.live.config import load_live_config

        path = load_live_config(args.config).session.journal
    if not path.is_file():
        raise ToolkitError(f"{path}: no journal; is a session running with this config?")
    with Journal(path) as journal:
        sid = args.session or _newest_running(journal, path)
        if not session_running(path, sid):
            raise ToolkitError(
                f"session {sid!r} is not running on {path}; commands go to a running session "
                "(python -m toolkit.live status --list shows them)"
            )
        if action == "kill" and not args.yes:
            answer = input(f"trigger the kill switch of {target or 'every strategy'} "
                           f"in session {sid}? [y/N] ")  # fmt: skip
            if answer.strip().lower() not in ("y", "yes"):
                print("not sent")
                return 1
        cid = submit(journal, sid, action, target, extra, source="cli")
        out = wait(journal, cid, args.timeout)
    print(out.line())
    return 0 if out.ok else 1


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    cmd = args.command
    if cmd == "cancel":
        if args.all:
            return "cancel_all", "", {}
        if args.parent:
            return "cancel", args.parent, {}
        if not args.order:
            raise ToolkitError("cancel: give --order REF, --parent ID or --all")
        return "cancel", args.order, {}
    if cmd == "modify":
        if not args.order or (args.price is None and args.quantity is None):
            raise ToolkitError("modify: give --order REF and --price and/or --quantity")
        extra = {k: getattr(args, k) for k in ("price", "quantity") if getattr(args, k) is not None}
        return "modify", args.order, extra
    if cmd in ("pause", "resume"):
        return cmd, args.parent, {}
    return "kill", args.strategy, {}


def format_commands(rows: list[dict[str, Any]], last: int = 10) -> str:
    """The newest ``last`` manual commands of a session, one line each ("" when none)."""
    if not rows:
        return ""
    lines = [f"manual commands ({len(rows)}; the newest {min(last, len(rows))})"]
    for c in rows[-last:]:
        what = c["action"] + (f" {c['target']}" if c["target"] else "")
        lines.append(
            f"  #{c['command_id']} {c['ts'][:19]} {c['source']} {what}: "
            f"{c['status']}: {c['outcome']}"
        )
    return "\n".join(lines)


def _newest_running(journal: Journal, path: Path) -> str:
    for s in journal.sessions():
        if s["ended_at"] is None and session_running(path, s["session_id"]):
            return str(s["session_id"])
    raise ToolkitError(f"{path}: no running session; start one (python -m toolkit.live run)")
