"""Market data: load validated OHLCV bars (UTC index, float64) from ``data/`` or any file."""

from toolkit.data._paths import available_symbols, default_data_dir
from toolkit.data._validate import RepairReport
from toolkit.data.loader import (
    LoadedBars,
    LoadedFile,
    load,
    load_file,
    load_many,
    load_many_sourced,
    load_sourced,
)

__all__ = [
    "LoadedBars",
    "LoadedFile",
    "RepairReport",
    "available_symbols",
    "default_data_dir",
    "load",
    "load_file",
    "load_many",
    "load_many_sourced",
    "load_sourced",
]
