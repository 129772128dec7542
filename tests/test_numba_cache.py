"""Compiled kernels are cached per version of the sources (toolkit/_numba_cache.py): numba keys
a cached kernel on its own file only, so an edit of a callee in another file -- a git pull, an
upgrade -- ran stale machine code (wrong numbers or a segfault). Any change of a toolkit source,
numba or numpy starts a fresh cache folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit import _numba_cache

REPO = Path(__file__).resolve().parents[1]


def test_the_digest_follows_every_source_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub" / "b.py").write_text("def f(): return 1\n")
    (tmp_path / "notes.txt").write_text("not a source")
    first = _numba_cache.source_digest(tmp_path)
    assert _numba_cache.source_digest(tmp_path) == first  # nothing changed: the same folder
    (tmp_path / "notes.txt").write_text("still not a source")
    assert _numba_cache.source_digest(tmp_path) == first
    # a callee edited in another file (same size, later time): a new folder
    callee = tmp_path / "sub" / "b.py"
    callee.write_text("def f(): return 2\n")
    later = time.time() + 5
    os.utime(callee, (later, later))
    assert _numba_cache.source_digest(tmp_path) != first


def _python(code: str, env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_kernels_compile_into_the_folder_of_this_source_version(tmp_path: Path) -> None:
    user = tmp_path / "user_kernel.py"
    user.write_text("from numba import njit\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    digest = _numba_cache.source_digest(REPO / "toolkit")
    code = (
        f"import toolkit, numba, sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "import user_kernel; print(user_kernel.twice(21)); print(numba.config.CACHE_DIR)"
    )
    out = _python(code, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    answer, folder = out.splitlines()
    expected = tmp_path / "cache" / "ibkr-toolkit" / "numba" / digest
    assert answer == "42" and Path(folder) == expected
    assert list(expected.rglob("*.nbi")), "the kernel's cache index is in the versioned folder"
    # numba imported before the toolkit: its config is pointed at the folder all the same
    first = _python(
        "import numba, toolkit; print(numba.config.CACHE_DIR)",
        {"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert Path(first) == expected


def test_the_folder_is_found_when_numba_loads_not_when_the_toolkit_does(tmp_path: Path) -> None:
    """``import toolkit`` hashes no sources (a command that compiles nothing never pays it);
    the first ``import numba`` after it finds the folder before numba reads its settings."""
    digest = _numba_cache.source_digest(REPO / "toolkit")
    out = _python(
        "import os, sys, toolkit\n"
        "print('hashlib' in sys.modules, os.environ.get('NUMBA_CACHE_DIR'))\n"
        "import numba\n"
        "print(os.environ['NUMBA_CACHE_DIR'] == numba.config.CACHE_DIR)\n"
        "print(numba.config.CACHE_DIR)\n",
        {"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    before, same, folder = out.splitlines()
    assert before == "False None" and same == "True"
    assert Path(folder) == tmp_path / "cache" / "ibkr-toolkit" / "numba" / digest


def test_the_finders_after_the_hook_still_see_numba_load(tmp_path: Path) -> None:
    """The hook finds nothing and stays put: a finder after it in ``sys.meta_path`` is asked
    about numba as before (the hook first removed itself mid-walk, which skipped the next
    finder: an import hook of tests/app/test_cli.py never fired)."""
    out = _python(
        "import sys, toolkit\n"
        "seen = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        seen.append(name)\n"
        "hooks = sum(type(f).__module__ == 'toolkit._numba_cache' for f in sys.meta_path)\n"
        "sys.meta_path.insert(hooks, Spy())\n"
        "import numba\n"
        "print(hooks, 'numba' in seen)\n",
        {"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert out == "2 True"


def test_a_cache_folder_the_user_chose_wins(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    out = _python(
        "import toolkit, numba; print(numba.config.CACHE_DIR)",
        {"NUMBA_CACHE_DIR": str(mine), "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert Path(out) == mine and not (tmp_path / "cache").exists()


def test_old_source_versions_are_pruned_to_the_newest_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _numba_cache.cache_root()
    for n in range(6):
        old = root / f"old{n}"
        old.mkdir(parents=True)
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("pass\n")
    folder = _numba_cache.use_versioned_cache(pkg)
    assert folder is not None and folder.is_dir()
    kept = sorted(p.name for p in root.iterdir() if p != folder)
    assert kept == ["old3", "old4", "old5"]  # the newest KEEP_OLD others
    assert os.environ["NUMBA_CACHE_DIR"] == str(folder)


def test_the_layers_left_out_of_the_digest_define_no_kernel(tmp_path: Path) -> None:
    """Editing app/web/live/gateway/report/charts keeps the cache: safe only while no kernel
    lives there (and the import contract keeps the kernels' layers from importing them)."""
    import re

    kernel = re.compile(r"@(?:\w+\.)*(?:njit|jit|vectorize|guvectorize|stencil|cfunc)\b")
    for layer in _numba_cache.NO_KERNELS:
        for path in (REPO / "toolkit" / layer).rglob("*.py"):
            assert not kernel.search(path.read_text()), f"{path}: a kernel in a digest-free layer"
    (tmp_path / "engine").mkdir()
    (tmp_path / "live").mkdir()
    (tmp_path / "engine" / "k.py").write_text("x = 1\n")
    (tmp_path / "live" / "s.py").write_text("y = 1\n")
    first = _numba_cache.source_digest(tmp_path)
    (tmp_path / "live" / "s.py").write_text("y = 22\n")  # a session module edited
    assert _numba_cache.source_digest(tmp_path) == first
    (tmp_path / "engine" / "k.py").write_text("x = 22\n")  # a kernel's module edited
    assert _numba_cache.source_digest(tmp_path) != first


def test_a_folder_in_use_is_never_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two checkouts (or a checkout and its test run) on one machine: each import marks its
    # folder used, and a folder used within IN_USE_SECONDS survives any number of newer ones
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _numba_cache.cache_root()
    now = time.time()
    busy = root / "other-checkout"
    busy.mkdir(parents=True)
    os.utime(busy, (now - 60, now - 60))  # used a minute ago
    for n in range(5):  # newer, and then stale, versions of this checkout
        old = root / f"old{n}"
        old.mkdir()
        stale = now - 3 * _numba_cache.IN_USE_SECONDS + n
        os.utime(old, (stale, stale))
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("pass\n")
    folder = _numba_cache.use_versioned_cache(pkg)
    assert folder is not None
    kept = sorted(p.name for p in root.iterdir() if p != folder)
    assert kept == ["old3", "old4", "other-checkout"]  # the 3 last used, the busy one among them
    # a second import of the same version marks it used (its mtime moves to now)
    os.utime(folder, (now - 7200, now - 7200))
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert _numba_cache.use_versioned_cache(pkg) == folder
    assert folder.stat().st_mtime > now - 60


def _crossing_writes(folder: Path, trial: int) -> list[object]:
    """Two writers save different signatures of one function into ``folder`` at once, each
    step of a save (index read, index write, data write) delayed at random; what a fresh
    reader then loads for each signature."""
    import random
    import threading

    from numba.core.caching import IndexDataCacheFile

    rng = random.Random(trial)
    files = [IndexDataCacheFile(str(folder), "m.f-1.py311", "stamp") for _ in range(2)]
    for f in files:
        for step in ("_load_index", "_save_index", "_save_data"):
            inner = getattr(f, step)
            delay = rng.random() * 0.004

            def slow(*args: object, _inner=inner, _delay=delay) -> object:  # type: ignore[no-untyped-def]
                time.sleep(_delay)
                return _inner(*args)

            setattr(f, step, slow)
    barrier = threading.Barrier(2)

    def write(i: int) -> None:
        barrier.wait()
        files[i].save(("signature", i), ("machine code of", i))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = IndexDataCacheFile(str(folder), "m.f-1.py311", "stamp")
    return [reader.load(("signature", i)) for i in range(2)]


def test_concurrent_cache_writes_never_hand_a_signature_another_ones_code(tmp_path: Path) -> None:
    # numba's own save lets two writers pick one data file for two signatures (numba issue
    # #4807): an index entry then loads the other signature's machine code, a segfault.
    # toolkit's guarded save: every entry loads its own data, and none is lost.
    import numba.core.caching

    import toolkit  # noqa: F401  (installs the guard)

    assert numba.core.caching.IndexDataCacheFile.save is _numba_cache.guarded_save
    for trial in range(40):
        folder = tmp_path / str(trial)
        folder.mkdir()
        assert _crossing_writes(folder, trial) == [("machine code of", 0), ("machine code of", 1)]


def test_the_guard_is_installed_when_numba_comes_after_toolkit() -> None:
    code = (
        "import sys, toolkit\n"
        "assert 'numba' not in sys.modules\n"
        "from numba.core.caching import IndexDataCacheFile\n"
        "from toolkit._numba_cache import guarded_save\n"
        "print(IndexDataCacheFile.save is guarded_save)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.strip() == "True"


def test_a_lock_file_that_cannot_be_opened_does_not_stop_a_save(tmp_path: Path) -> None:
    # e.g. a shared cache folder whose lock file belongs to another user: saved unlocked
    from numba.core.caching import IndexDataCacheFile

    import toolkit  # noqa: F401  (installs the guard)

    writer = IndexDataCacheFile(str(tmp_path), "m.f-1.py311", "stamp")
    (tmp_path / "m.f-1.py311.nbi.lock").mkdir()  # opening it for writing fails
    writer.save(("signature", 0), ("machine code of", 0))
    reader = IndexDataCacheFile(str(tmp_path), "m.f-1.py311", "stamp")
    assert reader.load(("signature", 0)) == ("machine code of", 0)
