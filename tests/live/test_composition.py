"""The live session by composition (issue 14, item 1), kept true by reading the source: a
session composed of parts that own their state -- no mixins over a shared state object; the
ledger the only writer of journal rows and books; the broker adapter the only user of
ib_async's client; orderRefs read only through :class:`toolkit.live.orders.OrderRef`; the
parts never import the session, nor does anything reach into the simulator's state."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import toolkit.live
from toolkit.live.journal import Journal

PACKAGE = Path(toolkit.live.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
# the Journal methods that write rows
JOURNAL_WRITES = {
    name
    for name in vars(Journal)
    if name.startswith("record_") or name in ("start_session", "end_session")
}
# what a strategy's book holds, and the sleeve's methods that change it
BOOK_FIELDS = {"acted", "positions", "avg_cost", "cash", "realized", "commissions", "closes"}
BOOK_WRITES = {"apply_fill", "apply_commission", "act_on", "retry", "check_kill_switch", "plan"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.name}:{getattr(node, 'lineno', '?')}"


def test_the_session_is_one_class_over_its_parts() -> None:
    from toolkit.live.bridge import LiveSession

    assert LiveSession.__mro__ == (LiveSession, object)  # no mixins
    assert not (PACKAGE / "_state.py").exists() and not (PACKAGE / "_broker_sync.py").exists()


def test_only_the_ledger_writes_journal_rows_and_books() -> None:
    found = []
    for path in MODULES:
        # the ledgers (stock and option session) and the books they own
        if path.name in ("_ledger.py", "_option_ledger.py", "journal.py", "sleeve.py"):
            continue
        if path.name == "_option_book.py":  # the option book: changed by its ledger only
            continue
        if path.name == "_order_status.py":  # the ledgers' shared status journaling...
            continue
        if "toolkit.live._order_status" in path.read_text():  # ...which only they call
            found.append(f"{path.name} uses the ledgers' _order_status")
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name in JOURNAL_WRITES or (
                    name in BOOK_WRITES and path.name not in ("replay.py", "summary.py")
                ):
                    found.append(f"{_where(path, node)} calls {name}")
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                inner = t.value if isinstance(t, ast.Subscript) else t
                if isinstance(inner, ast.Attribute) and inner.attr in BOOK_FIELDS:
                    found.append(f"{_where(path, node)} writes .{inner.attr}")
    assert found == []


def test_only_the_broker_adapter_talks_to_ib_async_client() -> None:
    found = []
    for path in MODULES:
        # the adapter (orders; the option chain) and its events
        if path.name in ("_broker.py", "_option_market.py", "_broker_events.py"):
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module == "ib_async":
                found += [f"{_where(path, node)} imports {a.name}" for a in node.names]
            if isinstance(node, ast.Attribute) and node.attr in (
                "placeOrder",
                "cancelOrder",
                "ib",
            ):
                found.append(f"{_where(path, node)} uses .{node.attr}")
    assert found == []


def test_order_refs_are_read_only_by_their_value_type() -> None:
    found = []
    for path in MODULES:
        if path.name == "orders.py":
            continue
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("split", "rsplit", "count", "partition", "rpartition")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == "/"
            ):
                found.append(_where(path, node))
    assert found == []


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if p.name.startswith("_") and not p.name.startswith("__")],
    ids=lambda p: p.name,
)
def test_the_parts_never_import_the_session(path: Path) -> None:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            assert node.module != "toolkit.live.bridge", _where(path, node)
        if isinstance(node, ast.Attribute) and node.attr == "clock":
            # the simulator's clock only through the port (Gateway.clock is the port's)
            assert not (isinstance(node.value, ast.Attribute) and node.value.attr == "state")
