"""Execution: schedules that work a parent order as child orders, pure and causal (parent
quantity, window, bar/volume history and parameters in; :class:`ChildOrders` out), the same
function for the backtest and the live bridge.

* :func:`twap` (:func:`twap_sizes`): even slices over a window, optional seeded jitter
* :func:`vwap` with a causal :func:`volume_profile` of past sessions (:func:`sessions` lays
  minute bars on the session grid, :func:`session_bars` picks one session) and a
  participation cap; :func:`achieved_price`, :func:`interval_vwap`, :func:`tracking_bp`,
  :func:`bar_price` measure it
* :func:`pov` (percent of volume), :func:`iceberg` (display size)
* :func:`adaptive_limit`, :func:`adaptive_steps`: our mid-to-touch limit tactic
  (Patient / Normal / Urgent), an approximation, not IB's Adaptive algorithm
* transaction-cost analysis: :func:`tca` (one :class:`ParentOrder` -> :class:`TCAResult`),
  :func:`tca_many` (a fills frame -> one row per parent), :func:`arrival_mid`: Perold's
  implementation shortfall (delay, execution, opportunity, fees), slippage vs arrival,
  interval VWAP / TWAP / close, participation; :func:`after_horizon` carries it to the P&L;
  :func:`engine_tca`: the TCA of a bar backtest's orders (arrival = the decision close)
* :func:`execution_backtest` (:class:`Impact`, :class:`ExecutionResult`): a target path worked
  by a schedule on intraday bars, fills capped by bar volume, square-root or linear impact,
  booked by the engine's booking and commissions, with the TCA of every parent;
  :func:`session_targets` turns a daily backtest's positions into its targets
"""

from toolkit.execution.adaptive import CLOCKS, adaptive_limit, adaptive_steps
from toolkit.execution.backtest import (
    ExecutionResult,
    Impact,
    execution_backtest,
    session_targets,
)
from toolkit.execution.engine_tca import engine_tca
from toolkit.execution.orders import LIMIT, MARKET, ChildOrders
from toolkit.execution.pov import iceberg, pov
from toolkit.execution.tca import (
    ParentOrder,
    TCAResult,
    after_horizon,
    arrival_mid,
    tca,
    tca_many,
)
from toolkit.execution.twap import twap, twap_sizes
from toolkit.execution.vwap import (
    MINUTES,
    Sessions,
    achieved_price,
    bar_price,
    interval_vwap,
    session_bars,
    sessions,
    tracking_bp,
    volume_profile,
    vwap,
)

__all__ = [
    "CLOCKS",
    "LIMIT",
    "MARKET",
    "MINUTES",
    "ChildOrders",
    "ExecutionResult",
    "Impact",
    "ParentOrder",
    "Sessions",
    "TCAResult",
    "achieved_price",
    "adaptive_limit",
    "adaptive_steps",
    "after_horizon",
    "arrival_mid",
    "bar_price",
    "engine_tca",
    "execution_backtest",
    "iceberg",
    "interval_vwap",
    "pov",
    "session_bars",
    "session_targets",
    "sessions",
    "tca",
    "tca_many",
    "tracking_bp",
    "twap",
    "twap_sizes",
    "volume_profile",
    "vwap",
]
