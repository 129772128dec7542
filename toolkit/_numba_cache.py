"""Where numba caches the toolkit's compiled kernels: a folder per version of the sources.

numba's ``cache=True`` keys a cached kernel on its own file only (numba's docs, "Cache
invalidation": changes in other files a function calls are not detected). After a ``git pull``
or an upgrade that changed a callee in another module, a warm cache ran the old machine code
against the new callee -- wrong numbers or a segmentation fault (seen here: a sweep kernel cached
before an edit of a strategy helper crashed on the next run). The same holds when numpy or
numba change under a warm cache. So the cache lives in a folder named by a digest of every
toolkit source file a kernel can reach (path, size, modification time) and the numba, numpy
and Python versions: any change starts a fresh folder, and the newest few older folders are
kept for switching back.

A ``NUMBA_CACHE_DIR`` the user set wins (numba's own setting); the caveat above is then theirs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

ENV = "NUMBA_CACHE_DIR"
KEEP_OLD = 3  # older source versions' folders kept (a branch switch back compiles nothing)
# A folder used this recently is never pruned, however many newer ones there are: another
# checkout (or a test run of one) on the same machine may be reading it right now.
IN_USE_SECONDS = 24 * 3600
# Layers no kernel can reach: the import contract (pyproject [tool.importlinter]) keeps the
# kernels' layers from importing them, and they define no kernel themselves
# (tests/test_numba_cache.py checks). Editing them -- the commands, live sessions, the
# simulator, reports, charts, the web app -- leaves the compiled kernels valid.
NO_KERNELS = frozenset({"app", "web", "live", "gateway", "report", "charts"})


def source_digest(root: Path) -> str:
    """A digest of ``root``'s Python sources and the compiler stack that builds them."""
    h = hashlib.sha256()
    h.update(";".join(_installed(("numba", "numpy", "llvmlite"))).encode())
    h.update(f"python={sys.version_info[:3]};".encode())
    for p in sorted(root.rglob("*.py")):
        if p.relative_to(root).parts[0] in NO_KERNELS:
            continue
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _installed(names: tuple[str, ...]) -> list[str]:
    """The ``<name>-<version>.dist-info`` folders of ``names`` on sys.path, as found first
    (what ``import`` would load). Read from folder names: ``importlib.metadata`` costs ~35 ms
    on every ``import toolkit``, ``toolkit --help`` included."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                for e in it:
                    stem = e.name.removesuffix(".dist-info")
                    name = stem.split("-", 1)[0].lower()
                    if stem != e.name and name in names and name not in found:
                        found[name] = stem
        except OSError:
            continue
        if len(found) == len(names):
            break
    return [found.get(n, f"{n}-none") for n in names]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/ibkr-toolkit/numba`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ibkr-toolkit" / "numba"


def use_versioned_cache(package: Path) -> Path | None:
    """Point numba's cache at this source version's folder (None: the user chose one, or the
    cache folder cannot be created, and numba's default applies)."""
    if os.environ.get(ENV):
        return None
    folder = cache_root() / source_digest(package)
    try:
        new = not folder.is_dir()
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if new:
        _prune(folder)
    else:
        with contextlib.suppress(OSError):
            os.utime(folder)  # its mtime says when it was last used (see _prune)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba came first: its config has read the environment
        numba_config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]
    os.environ[ENV] = str(folder)  # numba reads it when imported; child processes share it
    return folder


def _prune(current: Path) -> None:
    """Drop the other source versions' folders beyond the ``KEEP_OLD`` last used, except
    any used in the last ``IN_USE_SECONDS`` (best effort). A folder's mtime is its last use:
    every import touches it and numba's writes move it."""
    import shutil  # only when a new folder is made: not on every import
    import time

    try:
        others = sorted(
            (
                (p.stat().st_mtime, p)
                for p in current.parent.iterdir()
                if p.is_dir() and p != current
            ),
            reverse=True,
        )
    except OSError:
        return
    recent = time.time() - IN_USE_SECONDS
    for used, old in others[KEEP_OLD:]:
        if used < recent:
            shutil.rmtree(old, ignore_errors=True)
