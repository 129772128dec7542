"""Engine settings: how targets become orders, how orders fill, and what they cost.

:class:`EngineSettings` is the one declaration of the engine's conventions, costs and exits:
each field carries its default, bounds and choices (``toolkit._declare``), which the TOML
parser reads. :meth:`EngineSettings.kernel` compiles it, with the ``[risk]`` limits, into the
:class:`KernelSettings` record every simulation kernel takes (numba reads its fields by name).
"""

# No `from __future__ import annotations`: the NamedTuple below is documented (pdoc) from its
# generated __new__, whose string annotations cannot be resolved outside this module.
import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, NamedTuple

import numpy as np

from toolkit._declare import setting
from toolkit.engine.commissions import Commission, ibkr_fixed
from toolkit.errors import ConfigError
from toolkit.risk import RiskLimits

Fill = Literal["next_open", "close"]
OrderTypeName = Literal["market", "limit", "stop"]
Rebalance = Literal["on_change", "every_bar"]


class OrderType(IntEnum):
    """How an order fills (the ``order_type`` of order records; lower-case names are the
    ``order_type`` setting's choices)."""

    MARKET = 0
    LIMIT = 1
    STOP = 2


class Reason(IntEnum):
    """Why an order was sent (the ``reason`` of order records, by lower-case name)."""

    SIGNAL = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2
    TRAILING_STOP = 3


class KernelSettings(NamedTuple):
    """EngineSettings and RiskLimits as the record the simulation kernels take (built only by
    :meth:`EngineSettings.kernel`, which fixes every field's type, so numba compiles one
    version). Fractions, not basis points; NaN switches an exit off, inf a limit."""

    init_cash: float
    next_open: bool  # market orders fill at the next open (else at the decision close)
    order_type: int  # an OrderType value
    order_offset: float  # limit/stop distance from the decision close, a fraction
    slippage: float  # a fraction of the price, against the trader
    stop_loss: float
    take_profit: float
    trailing_stop: float
    rebalance_always: bool
    band: float
    max_leverage: float
    fractional: bool
    periods: float  # bars per year, for annualised metrics
    cost: np.ndarray  # Commission.vector()
    risk: np.ndarray  # RiskLimits.vector()


@dataclass(frozen=True)
class EngineSettings:
    """Simulation conventions. Defaults are the realistic ones for daily bars at IBKR.

    * ``fill``: market orders decided at bar t's close fill at bar t+1's open (default) or at
      bar t's close (the vectorbt convention; optimistic, since the close was needed to decide).
    * ``order_type``: signal orders as market, limit (``order_offset_bps`` better than the
      decision close) or stop (that far worse, i.e. a breakout entry); limit and stop orders
      work through the next bar only and are re-placed at the next close if unfilled.
    * ``slippage_bps``: applied to market fills and triggered stops, against the trader.
    * ``stop_loss``/``take_profit``/``trailing_stop``: fractions of the average entry price
      (trailing: of the best price since entry); None disables. Config table ``[exits]``.
    * ``rebalance``: ``on_change`` trades only when the target exposure changes (a stopped-out
      position is not re-entered until it does); ``every_bar`` resizes every bar to the target
      (vectorbt's ``targetpercent``). ``rebalance_band`` skips resizes smaller than this
      fraction of equity (closing a position is never skipped).
    * ``max_leverage``: targets are clipped to +/- this; buys may use cash plus
      (max_leverage - 1) x equity. Short proceeds count as cash; no borrow or margin interest.
    * ``fractional``: allow fractional shares (else quantities are truncated toward zero).
    """

    init_cash: float = setting(100_000.0, low=1.0)
    fill: Fill = setting("next_open")
    order_type: OrderTypeName = setting("market")
    order_offset_bps: float = setting(0.0, low=0.0, high=5000.0)
    slippage_bps: float = setting(0.0, low=0.0, high=1000.0)
    commission: Commission = setting(factory=ibkr_fixed, table="costs")
    stop_loss: float | None = setting(None, low=1e-6, high=1.0, table="exits")
    take_profit: float | None = setting(None, low=1e-6, high=100.0, table="exits")
    trailing_stop: float | None = setting(None, low=1e-6, high=1.0, table="exits")
    rebalance: Rebalance = setting("on_change")
    rebalance_band: float = setting(0.0, low=0.0, high=1.0)
    max_leverage: float = setting(1.0, above=0.0, high=10.0)
    fractional: bool = setting(False)
    periods_per_year: float = setting(252.0, low=1.0)

    def kernel(self, risk: RiskLimits | None = None) -> KernelSettings:
        """These settings and ``risk`` (None: no limits) as the kernels' record."""
        try:
            order_type = OrderType[self.order_type.upper()]
        except (KeyError, AttributeError):
            names = ", ".join(t.name.lower() for t in OrderType)
            raise ConfigError(f"order_type {self.order_type!r} is not one of {names}.") from None

        def off(x: float | None) -> float:
            return math.nan if x is None else float(x)

        return KernelSettings(
            init_cash=float(self.init_cash),
            next_open=self.fill == "next_open",
            order_type=int(order_type),
            order_offset=float(self.order_offset_bps) / 1e4,
            slippage=float(self.slippage_bps) / 1e4,
            stop_loss=off(self.stop_loss),
            take_profit=off(self.take_profit),
            trailing_stop=off(self.trailing_stop),
            rebalance_always=self.rebalance == "every_bar",
            band=float(self.rebalance_band),
            max_leverage=float(self.max_leverage),
            fractional=bool(self.fractional),
            periods=float(self.periods_per_year),
            cost=self.commission.vector(),
            risk=(risk or RiskLimits()).vector(),
        )
