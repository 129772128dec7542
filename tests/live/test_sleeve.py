"""The live sleeve's decision: sized against orders the broker is still working (issue 12,
item 1: a working order is never ordered a second time), and made by the engine's own
close-of-bar step (issue 13, item 3), whose codes name every note and guard."""

from __future__ import annotations

import numpy as np

import toolkit as tk
from tests.live.conftest import PAPER
from toolkit.config import load_config
from toolkit.live.sleeve import Sleeve
from toolkit.risk import RiskLimits


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


def _book(symbols: tuple[str, ...], risk: RiskLimits | None = None, band: float = 0.0) -> Sleeve:
    settings = tk.EngineSettings(init_cash=10_000, commission=tk.no_costs(), rebalance_band=band)
    s = Sleeve("b", symbols, 10_000.0, np.ones(len(symbols)), settings, risk or RiskLimits())
    s.closes.update({sym: 100.0 for sym in symbols})
    return s


def test_every_note_and_guard_name_comes_from_the_engines_step() -> None:
    s = _book(("A", "B", "C", "D"), RiskLimits(max_position=3_000), band=0.1)
    s.acted["B"] = 0.2
    out = {o.symbol: o for o in s.plan({"A": 0.5, "B": 0.2, "C": 0.05})}
    # A wants 50 shares, max_position leaves 30; B's target was acted on; C's 5 shares are
    # inside the 10% band; D has no target
    assert out["A"].intent is not None and out["A"].intent.quantity == 30.0
    assert out["A"].note == "order trimmed: max_position"
    assert out["A"].intent.guards == ("max_position",)
    assert (out["B"].note, out["C"].note, out["D"].note) == (
        "unchanged",
        "inside band",
        "no signal",
    )
    assert out["C"].target_qty == 5.0 and out["C"].intent is None


def test_sells_go_first_and_pay_for_the_buys_a_blocked_buy_names_buying_power() -> None:
    s = _book(("A", "B"))
    s.apply_fill("A", 100.0, 100.0)  # all the cash is in A
    s.acted["A"] = 1.0
    b = {o.symbol: o for o in s.plan({"A": 1.0, "B": 0.5})}["B"]
    assert b.intent is None and b.note == "blocked: buying_power" and s.acted["B"] == 0.5
    s = _book(("A", "B"))
    s.apply_fill("B", 100.0, 100.0)
    s.acted["B"] = 1.0
    plan = s.plan({"A": 0.5, "B": 0.5})
    # B's sale of 50 comes first and frees the cash A's buy of 50 needs
    assert [(o.symbol, o.intent.quantity if o.intent else None) for o in plan] == [
        ("B", -50.0),
        ("A", 50.0),
    ]


def test_the_target_acted_on_changes_through_named_transitions() -> None:
    s = _book(("A",))
    s.act_on("A", 0.5)  # its order was journaled
    (same,) = s.plan({"A": 0.5})
    assert same.intent is None and same.note == "unchanged"
    s.retry("A")  # the order expired unfilled: the next bar decides again
    (again,) = s.plan({"A": 0.5})
    assert again.intent is not None and again.intent.quantity == 50.0
