"""The gateway's layers (issue 14.2), read from the source with ``ast``: every module imports
only the layers below it -- imports under ``TYPE_CHECKING`` and inside functions count too,
since a cycle hidden there is still a cycle -- so there is no import cycle, and the exchange
knows nothing about sockets, sessions, requests or the wire."""

from __future__ import annotations

import ast
from pathlib import Path

import toolkit.gateway

PACKAGE = Path(toolkit.gateway.__file__).parent
NAME = "toolkit.gateway"
# lowest first; a module may import modules of lower layers only
LAYERS: list[set[str]] = [
    {"_chain_index"},  # which underlyings the option files have, without loading them
    {"framing", "limits", "messages", "options"},  # bytes and message layouts; option chains
    {"probes"},  # /healthz over HTTP for supervisors (no gateway import)
    {"market", "orders", "margin"},  # bars, clock; the book and its fills; option margin
    {"events", "completed", "subscriptions", "algos", "_restart", "_book_fills"},
    # (_restart: daily restart; _book_fills: orders against a LOBSTER replay's book)
    {"exchange", "depth_replay"},  # matching, margin, groups: emits events; a LOBSTER replay
    {"streams"},  # pushes through send callables
    {"requests"},  # typed requests from the field tables
    {"pacing", "head"},  # history requests: IB's pacing rules; where history starts
    {"router"},  # who is connected; exchange events to messages
    {"session"},  # one connection: its requests to calls
    {"server"},  # the asyncio lifecycle
    {"__init__", "__main__"},
]
WIRE_AND_ABOVE = {
    "framing",
    "messages",
    "requests",
    "streams",
    "router",
    "session",
    "server",
    "__main__",
}


def _gateway_imports(path: Path) -> set[str]:
    """The toolkit.gateway modules ``path`` imports, anywhere in the file."""
    out: set[str] = set()
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == NAME:  # from toolkit.gateway import messages / Gateway
                names = [
                    f"{NAME}.{a.name}" if a.name in modules else f"{NAME}.__init__"
                    for a in node.names
                ]
            else:
                names = [node.module]
        else:
            continue
        for name in names:
            if name == NAME:
                out.add("__init__")
            elif name.startswith(NAME + "."):
                out.add(name.removeprefix(NAME + ".").split(".")[0])
    out.discard(path.stem)
    return out


def _graph() -> dict[str, set[str]]:
    return {p.stem: _gateway_imports(p) for p in sorted(PACKAGE.glob("*.py"))}


def test_every_module_is_in_a_layer() -> None:
    placed = set().union(*LAYERS)
    assert set(_graph()) == placed, "a gateway module added or removed: place it in LAYERS"


def test_each_layer_imports_only_layers_below() -> None:
    level = {name: k for k, layer in enumerate(LAYERS) for name in layer}
    wrong = [
        f"{module} (layer {level[module]}) imports {dep} (layer {level[dep]})"
        for module, deps in _graph().items()
        for dep in deps
        if level[dep] >= level[module]
    ]
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for dep in graph[module]:
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert done == set(graph)


def test_the_exchange_knows_no_sockets_sessions_or_wire() -> None:
    graph = _graph()
    reach: set[str] = set()
    todo = ["exchange"]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in reach:
                reach.add(dep)
                todo.append(dep)
    assert reach == {
        "_book_fills", "_chain_index", "algos", "events", "margin", "market", "options", "orders"
    }  # fmt: skip
    assert not reach & WIRE_AND_ABOVE
    tree = ast.parse((PACKAGE / "exchange.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"asyncio", "socket", "selectors", "struct"}
