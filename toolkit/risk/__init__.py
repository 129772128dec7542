"""One risk rulebook for the backtest engine and the live bridge.

:mod:`toolkit.risk.rules` holds the numba functions both runtimes call: how a target
exposure becomes a share count, how an order is trimmed to the position, order-notional and
gross-exposure limits, and when the daily-loss or drawdown kill switch fires.
:class:`RiskLimits` is the ``[risk]`` table of a config. :mod:`toolkit.risk.var` measures
VaR and CVaR (historical, parametric, EWMA; numba kernels for the rules) and
:mod:`toolkit.risk.var_backtest` back-tests VaR forecasts (Kupiec, Christoffersen).
"""

from toolkit.risk.limits import RiskLimits, TradingHours

__all__ = ["RiskLimits", "TradingHours"]
