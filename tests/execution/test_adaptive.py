"""The adaptive limit tactic, checked by hand: mid first, 1/steps of the half-spread toward
the touch per clock interval, never through the touch, rounded away from it."""

from __future__ import annotations

import pandas as pd
import pytest

from toolkit.errors import ConfigError
from toolkit.execution import adaptive_limit, adaptive_steps


def test_normal_buy_steps_by_hand() -> None:
    # bid 100.00, ask 100.12: mid 100.06, half-spread 0.06, Normal = 3 steps of 0.02 every 30 s
    path = [adaptive_limit("BUY", 100.00, 100.12, t, "Normal") for t in (0, 29, 30, 60, 90, 900)]
    assert path == [100.06, 100.06, 100.08, 100.10, 100.12, 100.12]


def test_patient_sell_rounds_away_from_the_touch() -> None:
    # bid 50.00, ask 50.10: mid 50.05; Patient = 4 steps of 0.0125 every 60 s, rounded up
    path = [adaptive_limit("SELL", 50.00, 50.10, 60.0 * k, "Patient") for k in range(6)]
    assert path == [50.05, 50.04, 50.03, 50.02, 50.00, 50.00]  # 50.0375 -> .04, 50.0125 -> .02


def test_urgent_steps_series() -> None:
    start = pd.Timestamp("2024-05-17 14:00", tz="UTC")
    steps = adaptive_steps("BUY", 10.00, 10.04, start, "Urgent")
    assert steps.tolist() == [10.02, 10.03, 10.04]
    assert (steps.index - start).total_seconds().tolist() == [0.0, 10.0, 20.0]


def test_locked_quote_stays_at_the_touch() -> None:
    assert adaptive_limit("BUY", 20.00, 20.00, 0.0, "Urgent") == 20.00


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("HOLD", 1.0, 1.1, 0.0, "Normal"), "side"),
        (("BUY", 1.1, 1.0, 0.0, "Normal"), "bid <= ask"),
        (("BUY", 1.0, 1.1, -1.0, "Normal"), "elapsed"),
        (("BUY", 1.0, 1.1, 0.0, "Fast"), "Patient, Normal, Urgent"),
    ],
)
def test_bad_input(args: tuple[str, float, float, float, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        adaptive_limit(*args)
