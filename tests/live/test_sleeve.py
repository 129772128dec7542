"""The live sleeve's sizing against orders the broker is still working (issue 12, item 1): a
decision made while an earlier order still works is sized against filled plus working
shares, so the working order is never ordered a second time."""

from __future__ import annotations

import numpy as np

from tests.live.conftest import PAPER
from toolkit.config import load_config
from toolkit.live.sleeve import Sleeve


def _sleeve() -> Sleeve:
    run = load_config(PAPER)
    s = Sleeve("sma", ("SPY",), 100_000.0, np.array([0.95]), run.engine, run.risk)
    s.closes["SPY"] = 400.0
    return s


def test_a_working_order_counts_toward_the_target() -> None:
    (first,) = _sleeve().plan({"SPY": 1.0})
    assert first.intent is not None and first.intent.quantity == 237.0  # 95% of 100k at 400
    # the same decision while those 237 shares are still working: nothing more to order
    (again,) = _sleeve().plan({"SPY": 1.0}, {"SPY": 237.0})
    assert again.intent is None and again.note == "at target"
    # 100 of them still working (137 filled): the books hold 137, nothing more to order
    s = _sleeve()
    s.apply_fill("SPY", 137.0, 400.0)
    (part,) = s.plan({"SPY": 1.0}, {"SPY": 100.0})
    assert part.intent is None
    # the signal turned short while a buy of 237 works: the sell covers it too
    (flip,) = _sleeve().plan({"SPY": -1.0}, {"SPY": 237.0})
    assert flip.intent is not None and flip.intent.quantity == -237.0 - 237.0
