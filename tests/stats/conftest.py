"""The 30 symbols shipped before the portfolio issue and their aligned log adjusted closes:
the panel research/oracles/coint_statsmodels.py tested (tests/stats/data/coint_435.csv)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SYMBOLS = [
    *("AAPL", "AGG", "AMZN", "BAC", "BIL", "DBC", "EEM", "EFA", "GE", "GLD"),
    *("GOOGL", "HYG", "IEF", "INTC", "IWM", "JNJ", "JPM", "KO", "LQD", "MSFT"),
    *("NVDA", "PG", "QQQ", "SHY", "SPY", "TIP", "TLT", "VNQ", "WMT", "XOM"),
]


@pytest.fixture(scope="session")
def log_closes() -> pd.DataFrame:
    """log of tk.load_many(SYMBOLS)["close"]: 4,613 common dates, 2007-05-30..2025-09-26."""
    from toolkit.data import load_many

    return pd.DataFrame(np.log(load_many(SYMBOLS)["close"]))
