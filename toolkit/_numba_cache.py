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
Either way numba's cache writes are guarded against two processes compiling one kernel at once
(:func:`guard_cache_writes`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, cast

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
    import hashlib  # here: loading OpenSSL is ~8 ms of an ``import toolkit`` otherwise

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


def cache_when_numba_loads(package: Path) -> None:
    """:func:`use_versioned_cache` for ``package``: now when numba is imported already, else
    just before numba is. ``import toolkit`` then pays no digest of the sources (~40 ms of its
    ~80), nor does a command that never compiles a kernel (``--help``, the live commands'
    start-up), and Ctrl+C during a command's start-up rarely lands in the package's import."""
    if "numba" in sys.modules:
        use_versioned_cache(package)
    elif not any(isinstance(f, _CacheOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _CacheOnImport(package))


class _CacheOnImport:
    """A meta path finder that points numba's cache at the source version's folder when
    numba is first imported (before numba's config reads the environment), then finds
    nothing: the other finders load numba. It stays in ``sys.meta_path``, inert: removing
    itself while the import system walks that list would skip the finder after it."""

    def __init__(self, package: Path) -> None:
        self.package = package
        self.done = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if self.done or fullname != "numba":
            return
        self.done = True
        with contextlib.suppress(OSError):  # a source file gone mid-scan: numba's default
            use_versioned_cache(self.package)


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


# Two processes compiling the same function at once (pytest workers, dask workers, two
# notebooks) can cross numba's cache writes: IndexDataCacheFile.save reads the index, picks
# the first free data file number, writes the index, then the data file. Both pick number 1
# for two different signatures; if the index of one and the data of the other land last, the
# index hands that signature the other's machine code -- a segmentation fault in every later
# process (numba issue #4807, still open; seen here with two pytest workers). guarded_save
# writes the data first, under a name no other writer uses, then adds it to the index under a
# file lock: an index entry always names complete data of its own signature, and no entry is
# lost. Loading is numba's own.
_GUARDED = "_toolkit_guarded_save"


def guard_cache_writes() -> None:
    """Make numba's cache writes safe for processes that compile one function at once,
    without importing numba: numba.core.caching is patched when it is imported."""
    module = sys.modules.get("numba.core.caching")
    if module is not None:
        _guard(module)
    elif not any(isinstance(f, _GuardOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _GuardOnImport())


def guarded_save(self: Any, key: Any, data: Any) -> None:
    """numba's IndexDataCacheFile.save, safe against a concurrent writer (see above)."""
    base = self._index_name[: -len(".nbi")]
    name = f"{base}.{os.urandom(8).hex()}.nbc"
    self._save_data(name, data)
    with _locked(self._index_path + ".lock"):
        overloads = self._load_index()
        old = overloads.get(key)
        overloads[key] = name
        self._save_index(overloads)
    if old is not None and old != name:  # a reader holding the old name recompiles
        with contextlib.suppress(OSError):
            os.remove(self._data_path(old))


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX; elsewhere, or when the lock file cannot
    be opened, none: the unique data names still keep entries from crossing, a concurrent
    index write may then drop one, which is compiled again)."""
    try:
        import fcntl

        f = open(path, "a+b")  # noqa: SIM115 (closed below, after the lock is released)
    except (ImportError, OSError):  # no fcntl, or a lock file we may not open (another user's)
        yield
        return
    with f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _guard(module: ModuleType) -> None:
    cls = getattr(module, "IndexDataCacheFile", None)
    if cls is None or getattr(cls, _GUARDED, False):
        return
    needed = ("_load_index", "_save_index", "_save_data", "_data_path")
    if not all(hasattr(cls, a) for a in needed):
        return  # a numba whose cache is laid out otherwise: leave it as it is
    cls.save = guarded_save
    setattr(cls, _GUARDED, True)


class _GuardOnImport:
    """A meta path finder (duck-typed: importlib.abc costs ~5 ms on every ``import
    toolkit``) that patches numba.core.caching right after it is imported."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        if fullname != "numba.core.caching":
            return None
        import importlib.util

        sys.meta_path.remove(self)  # once: the other finders find the real module
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = cast(Any, _GuardingLoader(spec.loader))  # a Loader by duck typing
        return spec


class _GuardingLoader:
    """A module's own loader, then :func:`_guard` on the module it made."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _guard(module)

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, ... of the inner one
        return getattr(self._inner, name)
