"""Where market data lives and how a symbol maps to a file."""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.errors import DataError

SUFFIXES = (".parquet", ".csv")
# Sub-folders searched for `<SYMBOL>.<suffix>`, in order; the shipped daily bars live in daily/.
SEARCH_DIRS = ("daily", ".")
# The one place the data folder can be set from outside the code: an installed wheel carries
# no sample data (its licences do not allow it), so users point this at their own folder.
DATA_ENV = "TOOLKIT_DATA"


def default_data_dir() -> Path:
    """The data folder: ``$TOOLKIT_DATA`` when set, else the source checkout's ``data/``
    (the shipped sample), else ``./data`` in the working directory (an installed wheel)."""
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if (repo_data / "daily").is_dir():
        return repo_data
    return Path.cwd() / "data"


def where_to_put_data(root: Path) -> str:
    """What to do when ``root`` holds no bars (an installed wheel run outside a checkout)."""
    return (
        f"The data folder {root} does not exist. Put bar files in {root}/daily/<SYMBOL>.csv, "
        f"point {DATA_ENV} at your data folder (or [data] dir in a config), or fetch bars "
        "from IBKR with `python -m toolkit data fetch SYMBOL --since YYYY-MM-DD`."
    )


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
    known = available_symbols(root)
    listing = ", ".join(known) if known else "none"
    raise DataError(
        f"unknown symbol {symbol!r}: no {symbol}.csv or {symbol}.parquet under {root}/daily. "
        f"Available symbols: {listing}. Add a file for it to {root}/daily or pass a file path."
    )
