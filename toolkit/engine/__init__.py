"""Backtest engine: target exposures -> integer-share orders -> fills, costs, positions, trades.

Conventions (each differs from vectorbt's defaults for a reason; docs/conventions.md has more):

* Decisions use bar t's data and fill at bar t+1's open (``fill="next_open"``), because a
  close-based decision cannot trade at that same close in practice. ``fill="close"`` is
  vectorbt's ``from_signals``/``from_orders`` timing and is used for oracle tests.
* Quantities are whole shares, truncated toward zero (IBKR fills shares, not fractions);
  ``fractional=True`` matches vectorbt's fractional sizes.
* IBKR commissions (fixed or tiered, with per-order minimum and 1% cap) by default, not a
  flat percentage; the proportional model reproduces vectorbt's ``fees``.
* Targets are acted on when they change (``rebalance="on_change"``); vectorbt's
  ``targetpercent`` resizes every bar (``rebalance="every_bar"``).
* Stops are checked bar by bar against open/high/low: a gap through a stop fills at the open
  (worse than the stop); when stop-loss and take-profit both lie inside one bar's range, the
  stop-loss is assumed to have been hit first (the pessimistic reading).
* Buying power is cash + (max_leverage - 1) x equity; sells first, then buys, within a bar.
  An order that reduces exposure (a sell of a long, a buy covering a short) is never trimmed
  by cash or limits; only the part that opens or adds exposure is.
* Equity <= 0 at a close flattens everything: every target becomes 0 from then on, whatever
  the signal (NaN included), and nothing is opened again.
"""

from toolkit.engine.backtest import backtest, simulate, strategy_targets
from toolkit.engine.commissions import (
    Commission,
    OptionCommission,
    ibkr_fixed,
    ibkr_option_fixed,
    ibkr_option_tiered,
    ibkr_tiered,
    no_costs,
    no_option_costs,
    proportional,
)
from toolkit.engine.result import BacktestResult
from toolkit.engine.settings import EngineSettings, KernelSettings, OrderType, Reason

__all__ = [
    "BacktestResult",
    "Commission",
    "EngineSettings",
    "KernelSettings",
    "OptionCommission",
    "OrderType",
    "Reason",
    "backtest",
    "ibkr_fixed",
    "ibkr_option_fixed",
    "ibkr_option_tiered",
    "ibkr_tiered",
    "no_costs",
    "no_option_costs",
    "proportional",
    "simulate",
    "strategy_targets",
]
