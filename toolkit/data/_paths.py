"""Where market data lives and how a symbol maps to a file."""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.errors import DataError

SUFFIXES = (".parquet", ".csv")
# Sub-folders searched for `<SYMBOL>.<suffix>`, in order; the shipped daily bars live in daily/.
SEARCH_DIRS = ("daily", ".")
# The one place the data folder can be set from outside the code (else the checkout's data/).
DATA_ENV = "TOOLKIT_DATA"
# What an installed wheel carries instead of data/: SPY's daily bars (the file `make run` uses,
# byte for byte) and the SPY research configs, so a first backtest runs anywhere. Nothing is
# ever written here: the load cache goes to the user's cache folder, fetches are refused.
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "_sample"
"""An installed wheel's sample folder: ``daily/SPY.csv`` and ``configs/*.toml`` (SPY only)."""


def default_data_dir() -> Path:
    """The data folder: ``$TOOLKIT_DATA`` when set, else the source checkout's ``data/``,
    else ``./data`` when the working directory has one, else an installed wheel's sample
    (:data:`SAMPLE_DIR`: SPY only), else ``./data`` (missing: :func:`where_to_put_data`)."""
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if (repo_data / "daily").is_dir():
        return repo_data
    here = Path.cwd() / "data"
    if here.is_dir() or not (SAMPLE_DIR / "daily").is_dir():
        return here
    return SAMPLE_DIR


def is_sample(root: Path) -> bool:
    """Whether ``root`` is the installed wheel's read-only sample folder."""
    return root.resolve() == SAMPLE_DIR.resolve()


def cache_folder(root: Path) -> Path:
    """Where loads from ``root`` cache their validated frames: ``root/.cache``, except for the
    installed sample (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``ibkr-toolkit/sample``)."""
    if not is_sample(root):
        return root / ".cache"
    user = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(user) if user else Path.home() / ".cache") / "ibkr-toolkit" / "sample"


def where_to_put_data(root: Path) -> str:
    """What to do when ``root`` holds no bars (an installed wheel run outside a checkout)."""
    return (
        f"The data folder {root} does not exist. Put bar files in {root}/daily/<SYMBOL>.csv, "
        f"point {DATA_ENV} at your data folder (or [data] dir in a config), or fetch bars "
        "from IBKR with `python -m toolkit data fetch SYMBOL --since YYYY-MM-DD`."
    )


def writable(root: Path) -> Path:
    """``root`` for writing fetched bars; the installed sample is refused (it is package data)."""
    if is_sample(root):
        raise DataError(
            f"{root} is the installed sample (read-only package data). Fetch into a data folder "
            f"of your own: --data DIR or {DATA_ENV}=DIR."
        )
    return root


def available_symbols(data_dir: Path | None = None) -> list[str]:
    """Symbols that have a bar file in the data folder, sorted."""
    root = data_dir or default_data_dir()
    found: set[str] = set()
    for sub in SEARCH_DIRS:
        folder = root / sub
        if folder.is_dir():
            for p in folder.iterdir():
                if p.suffix in SUFFIXES and p.stem.replace(".", "").isalnum() and p.stem.isupper():
                    found.add(p.stem)
    return sorted(found)


def resolve(symbol_or_path: str | Path, data_dir: Path | None = None) -> tuple[str, Path]:
    """Return ``(symbol, file)`` for a symbol in the data folder or an explicit file path."""
    candidate = Path(symbol_or_path)
    if candidate.suffix in SUFFIXES:
        if not candidate.is_file():
            raise DataError(
                f"{candidate}: file not found. Check the path (relative to {Path.cwd()})."
            )
        return candidate.stem.split("_")[0].upper(), candidate
    symbol = str(symbol_or_path).strip().upper()
    root = data_dir or default_data_dir()
    for sub in SEARCH_DIRS:
        for suffix in SUFFIXES:
            path = root / sub / f"{symbol}{suffix}"
            if path.is_file():
                return symbol, path
    if not root.is_dir():
        raise DataError(f"unknown symbol {symbol!r}: {where_to_put_data(root)}")
    if is_sample(root):
        raise DataError(
            f"unknown symbol {symbol!r}: no data folder was found, and the installed sample "
            f"({root}) holds only {', '.join(available_symbols(root))}. Put bar files in "
            f"./data/daily/<SYMBOL>.csv, point {DATA_ENV} at your data folder (or --data DIR, "
            "[data] dir in a config), or fetch bars from IBKR with `python -m toolkit data "
            "fetch SYMBOL --since YYYY-MM-DD --data DIR`."
        )
    known = available_symbols(root)
    listing = ", ".join(known) if known else "none"
    raise DataError(
        f"unknown symbol {symbol!r}: no {symbol}.csv or {symbol}.parquet under {root}/daily. "
        f"Available symbols: {listing}. Add a file for it to {root}/daily or pass a file path."
    )
