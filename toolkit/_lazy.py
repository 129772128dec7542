"""Lazy re-exports for package ``__init__`` modules (PEP 562).

``import toolkit`` (and so ``python -m toolkit...``, ``import toolkit.errors``) must not pay for
pandas, numba and ib_async before they are needed: a command answers ``--help`` or a one-line
error at once, and a Ctrl+C during start-up lands in the command's own handler instead of in an
import. Names resolve on first access and are then cached in the package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


class _Package(ModuleType):
    """A package whose re-exported names win over submodules of the same name.

    ``tk.sweep`` is the function ``toolkit.sweep.sweep``; when the subpackage ``toolkit.sweep``
    is first imported, the import system binds the module to the package's ``sweep``
    attribute. An eager ``from toolkit.sweep import sweep`` in ``__init__`` used to rebind it
    afterwards; with lazy exports that binding is simply not made."""

    def __setattr__(self, name: str, value: Any) -> None:
        target = _TABLES.get(self.__name__, {}).get(name, "")
        module, _, attribute = target.partition(":")
        if attribute and isinstance(value, ModuleType) and value.__name__ == module:
            return
        super().__setattr__(name, value)


_TABLES: dict[str, Mapping[str, str]] = {}


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a public name to
    ``"module"`` or ``"module:attribute"``; any submodule of the package resolves too."""
    _TABLES[package] = exports
    sys.modules[package].__class__ = _Package

    def getattr_(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            if name.startswith("__") or importlib.util.find_spec(f"{package}.{name}") is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            target = f"{package}.{name}"
        module, _, attribute = target.partition(":")
        value: Any = importlib.import_module(module)
        if attribute:
            value = getattr(value, attribute)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return getattr_, dir_
