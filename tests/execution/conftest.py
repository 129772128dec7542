"""Minute bars for the schedule tests: a synthetic session and the shipped SPY minutes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SPY_MINUTES = Path(__file__).resolve().parents[2] / (
    "data/intraday/SPY_1min_2024-02-20_2024-05-17.csv"
)


def minute_bars(volume: list[float] | np.ndarray, day: str = "2024-05-17",
                price: float = 100.0) -> pd.DataFrame:
    """Regular-hours minute bars from 09:30 New York with the given volumes, flat prices."""
    n = len(volume)
    index = pd.date_range(f"{day} 09:30", periods=n, freq="1min", tz="America/New_York")
    return pd.DataFrame(
        {"open": price, "high": price + 0.05, "low": price - 0.05, "close": price,
         "volume": np.asarray(volume, float)},
        index=index.tz_convert("UTC"),
    )
