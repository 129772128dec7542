"""The wheel (issue 18.7): it builds, installs in a clean venv, finds its shipped sample outside
a checkout and runs a backtest on it; the sample is a byte-for-byte copy of the checkout's."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from toolkit import _numba_cache
from toolkit.data import SAMPLE_DIR

REPO = Path(__file__).resolve().parents[1]
# the wheel's sample -> the checkout file it copies
_SAMPLE = {
    "daily/SPY.csv": REPO / "data" / "daily" / "SPY.csv",
    "configs/spy_sma_cross.toml": REPO / "research" / "configs" / "spy_sma_cross.toml",
    "configs/spy_rsi_reversion.toml": REPO / "research" / "configs" / "spy_rsi_reversion.toml",
}
_COMPILED = ("__pycache__", "*.pyc", "*.nbi", "*.nbc")


def _run(args: list[str], timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kw)  # type: ignore[call-overload]
    assert run.returncode == 0, f"{args}\n{run.stdout}\n{run.stderr}"
    return run  # type: ignore[no-any-return]


def test_the_sample_copies_the_checkout_files() -> None:
    for name, original in _SAMPLE.items():
        assert (SAMPLE_DIR / name).read_bytes() == original.read_bytes(), (
            f"toolkit/_sample/{name} differs from {original.relative_to(REPO)}: copy it over"
        )
    shipped = {p.relative_to(SAMPLE_DIR).as_posix() for p in SAMPLE_DIR.rglob("*") if p.is_file()}
    assert shipped - {"README.md"} == set(_SAMPLE)


def _warm_numba(installed: Path, cache_home: Path) -> None:
    """Reuse the checkout's compiled kernels (make warm and the suite compile the same ones):
    numba keys a cached kernel by its source file's name, mtime and size, and the toolkit keeps
    them in a folder per source version (toolkit/_numba_cache.py), so the installed copies get
    the checkout's mtimes where their bytes are equal -- the same version folder, under the run's
    cache home -- and each file's cache entries are copied to where numba looks for the
    installed file. Without this the run below compiles the engine cold (20-60 s on a busy
    2-core machine); with a stale cache it compiles as a user's first run does (time only)."""
    from numba.core.caching import UserProvidedCacheLocator as Locator

    for src in (REPO / "toolkit").rglob("*.py"):
        dst = installed / src.relative_to(REPO / "toolkit")
        if dst.is_file() and dst.read_bytes() == src.read_bytes():
            st = src.stat()
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    ours = Path(os.environ["NUMBA_CACHE_DIR"])  # this process's folder (import toolkit set it)
    theirs = cache_home / "ibkr-toolkit" / "numba" / _numba_cache.source_digest(installed)
    for src in (REPO / "toolkit").rglob("*.py"):
        dst = installed / src.relative_to(REPO / "toolkit")
        here = ours / Locator.get_suitable_cache_subpath(str(src))
        there = theirs / Locator.get_suitable_cache_subpath(str(dst))
        for f in [*here.glob(f"{src.stem}.*.nbi"), *here.glob(f"{src.stem}.*.nbc")]:
            there.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, there / f.name)


@pytest.mark.slow
def test_wheel_installs_in_a_clean_venv_and_backtests_its_sample(tmp_path: Path) -> None:
    # 1. build from a copy of the sources (no build/ or egg-info in the checkout); pip's
    # isolated build env takes setuptools from the package registry or pip's cache
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / f, src / f)
    shutil.copytree(REPO / "toolkit", src / "toolkit", ignore=shutil.ignore_patterns(*_COMPILED))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)])
    (wheel,) = dist.glob("ibkr_toolkit-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name, original in _SAMPLE.items():
            assert z.read(f"toolkit/_sample/{name}") == original.read_bytes(), name
    assert not any(n.startswith(("data/", "research/", "tests/")) for n in names)

    # 2. a fresh venv without system site-packages. By default the wheel goes in with
    # --no-deps: a full dependency install (numba, pandas, pyarrow, scipy, quantstats, ...)
    # takes ~2 minutes even from pip's cache, so the venv reuses this venv's site-packages
    # through a .pth line (appended after its own, so the wheel's toolkit wins; the editable
    # install's hooks in there are not run) and `pip check` proves every requirement the wheel
    # declares is met by them. TOOLKIT_TEST_WHEEL_DEPS=full installs the dependencies from the
    # package registry instead (and compiles numba cold): the check before a release.
    full = os.environ.get("TOOLKIT_TEST_WHEEL_DEPS") == "full"
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", *([] if full else ["--without-pip"]), str(venv)])
    py = venv / "bin" / "python"
    purelib = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    installed = purelib / "toolkit"
    if full:
        _run([str(py), "-m", "pip", "install", "-q", str(wheel)], timeout=1800)
    else:
        (purelib / "_reused_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        pip = [sys.executable, "-m", "pip", "--python", str(py)]
        _run([*pip, "install", "-q", "--no-deps", str(wheel)])
        _run([*pip, "check"])
        _warm_numba(installed, tmp_path / "cache")

    # 3. outside the checkout, no TOOLKIT_DATA: the data folder is the installed sample
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TOOLKIT_DATA", "PYTHONPATH", "NUMBA_CACHE_DIR")
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    where = _run(
        [
            str(py),
            "-c",
            "import toolkit, toolkit.data as d; print(toolkit.__file__); print(d.default_data_dir())",
        ],
        cwd=elsewhere,
        env=env,
    ).stdout.split()
    assert where == [str(installed / "__init__.py"), str(installed / "_sample")]
    config = installed / "_sample" / "configs" / "spy_sma_cross.toml"
    run = _run(
        [str(py), "-m", "toolkit", "backtest", "--config", str(config), "--no-tearsheet"],
        cwd=elsewhere,
        env=env,
    )
    assert "2000-01-03 .. 2025-09-26" in run.stdout, run.stdout
    assert "Final equity" in run.stdout and "Sharpe" in run.stdout
    (report,) = (elsewhere / "reports").glob("spy_sma_cross-*")
    manifest = json.loads((report / "manifest.json").read_text())
    files = manifest["data_files"]  # SPY, and SPY again as the benchmark
    assert {f["symbol"] for f in files} == {"SPY"}
    for f in files:
        assert f["path"].endswith("toolkit/_sample/daily/SPY.csv"), f
        assert f["sha256"] == hashlib.sha256(_SAMPLE["daily/SPY.csv"].read_bytes()).hexdigest()
    # the same final equity as the checkout's run of the same config
    import toolkit as tk

    cfg = tk.load_config(REPO / "research" / "configs" / "spy_sma_cross.toml")
    mine = tk.run_backtest(cfg, reports_root=None, tearsheet=False).result
    assert f"{float(mine.equity.iloc[-1]):,.2f}" in run.stdout
    # nothing written into the package: the load cache went to the user's cache folder
    assert not (installed / "_sample" / ".cache").exists()
    assert list((tmp_path / "cache" / "ibkr-toolkit" / "sample").glob("*.parquet"))

    # 4. a symbol the sample lacks: the message names the sample and where data goes
    miss = subprocess.run(
        [str(py), "-c", "import toolkit as tk; tk.load('QQQ')"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert miss.returncode != 0
    assert "installed sample" in miss.stderr and "TOOLKIT_DATA" in miss.stderr
