"""Market data: load validated OHLCV bars (UTC index, float64) from ``data/`` or any file;
reference data (GICS sector map, market caps) from ``data/reference``; option quotes in one
canonical frame (``load_option_quotes``); Cboe's VIX-family history (``load_vix``); LOBSTER
order-book days as typed event arrays (``read_lobster``)."""

from toolkit.data._paths import SAMPLE_DIR, available_symbols, default_data_dir
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
from toolkit.data.lobster import LobsterDay, read_lobster
from toolkit.data.options import load_option_quotes
from toolkit.data.reference import (
    GICS_SECTORS,
    SECTOR_ETFS,
    load_market_caps,
    load_sector_map,
    sectors_for,
)
from toolkit.data.vix import VixReport, load_vix, load_vix_sourced, vix_term_structure

__all__ = [
    "GICS_SECTORS",
    "SAMPLE_DIR",
    "SECTOR_ETFS",
    "LoadedBars",
    "LoadedFile",
    "LobsterDay",
    "RepairReport",
    "VixReport",
    "available_symbols",
    "default_data_dir",
    "load",
    "load_file",
    "load_many",
    "load_many_sourced",
    "load_market_caps",
    "load_option_quotes",
    "load_sector_map",
    "load_sourced",
    "load_vix",
    "load_vix_sourced",
    "read_lobster",
    "sectors_for",
    "vix_term_structure",
]
