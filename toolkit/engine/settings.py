"""Engine settings: how targets become orders, how orders fill, and what they cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from toolkit.engine.commissions import Commission, ibkr_fixed

Fill = Literal["next_open", "close"]
OrderType = Literal["market", "limit", "stop"]
Rebalance = Literal["on_change", "every_bar"]


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
      (trailing: of the best price since entry); None disables.
    * ``rebalance``: ``on_change`` trades only when the target exposure changes (a stopped-out
      position is not re-entered until it does); ``every_bar`` resizes every bar to the target
      (vectorbt's ``targetpercent``). ``rebalance_band`` skips resizes smaller than this
      fraction of equity (closing a position is never skipped).
    * ``max_leverage``: targets are clipped to +/- this; buys may use cash plus
      (max_leverage - 1) x equity. Short proceeds count as cash; no borrow or margin interest.
    * ``fractional``: allow fractional shares (else quantities are truncated toward zero).
    """

    init_cash: float = 100_000.0
    fill: Fill = "next_open"
    order_type: OrderType = "market"
    order_offset_bps: float = 0.0
    slippage_bps: float = 0.0
    commission: Commission = field(default_factory=ibkr_fixed)
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    rebalance: Rebalance = "on_change"
    rebalance_band: float = 0.0
    max_leverage: float = 1.0
    fractional: bool = False
    periods_per_year: float = 252.0
