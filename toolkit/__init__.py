"""ibkr-toolkit: research strategies on real data, trust the numbers, trade the same signals.

Public API (everything else is internal):

* data: :func:`load`, :func:`load_many`, :func:`available_symbols`; :func:`load_sourced`,
  :func:`load_many_sourced` also return the files the bars came from (:class:`LoadedBars`);
  option quotes :func:`load_option_quotes`, Cboe's VIX family :func:`load_vix`; LOBSTER
  order-book days :func:`read_lobster` (:class:`LobsterDay`)
* level-2 order books: exact LOBSTER replay, order-flow features and Stoikov's micro-price:
  :mod:`toolkit.orderbook`
* strategies: :func:`get_strategy`, :func:`strategy_names`, :class:`Strategy`, :class:`Param`;
  your own with :func:`strategy` (decorator), checked with :func:`check_causal`
  (:class:`CausalityReport`)
* engine: :func:`backtest`, :func:`simulate`, :class:`EngineSettings`, :class:`BacktestResult`,
  commission schedules :func:`ibkr_fixed`, :func:`ibkr_tiered`, :func:`proportional`,
  :func:`no_costs`; options :func:`ibkr_option_fixed`, :func:`ibkr_option_tiered`
* option backtests on EOD chains: :func:`backtest_options`; pricing, implied vols, surfaces,
  spread templates and scenarios: :mod:`toolkit.options`
* interactive charts (plotly) of backtests, sweeps, walk-forwards, Monte Carlo, portfolios
  and options, and formatted report tables: :mod:`toolkit.charts` (``result.plot()``)
* execution schedules (TWAP, VWAP, POV, iceberg, adaptive limit) and transaction-cost
  analysis: :mod:`toolkit.execution`
* sweeps: :func:`sweep`, :func:`sweep_portfolio`, :func:`make_grid`, :func:`heatmap`,
  :func:`parallel_coordinates`
* robustness: :func:`walk_forward`, :func:`monte_carlo`, :func:`deflated_sharpe`,
  :func:`probability_of_backtest_overfitting`, and :mod:`toolkit.analysis`
* portfolio view of a backtest: :mod:`toolkit.analysis.portfolio` (weights by symbol and
  sector, gross/net, beta, VaR/CVaR, risk contributions, correlations, P&L by symbol)
* risk: :class:`RiskLimits`, :class:`TradingHours` (one rulebook for backtests and live);
  VaR/CVaR :func:`historical_var`, :func:`historical_cvar`, :func:`parametric_var`,
  :func:`parametric_cvar`, causal forecasts :func:`rolling_var`, :func:`rolling_cvar`, and
  their back-test :func:`var_backtest`, :func:`var_backtest_report` (Kupiec, Christoffersen)
* statistics: :mod:`toolkit.stats` (Engle-Granger and Johansen cointegration, pair screen with
  false-discovery control, Kalman and rolling hedge ratios)
* machine learning, train -> backtest -> trade: :mod:`toolkit.ml` (causal features,
  triple-barrier labels, purged / combinatorial CV, walk-forward models and their artefacts)
* live: :mod:`toolkit.live` (sessions, configs, summaries), :class:`Journal` (SQLite record of
  a paper/live session), :class:`JournalError`, :class:`Gateway` (the TWS-protocol simulator),
  :class:`NotebookSession` (a paper/live session as a task on a notebook's event loop)
* configs and runs: :func:`load_config`, :func:`run_backtest`
* errors: :class:`ToolkitError`, :class:`DataError`, :class:`ConfigError`;
  :class:`DataWarning` (repairs, implausible price moves)
"""

from pathlib import Path
from typing import TYPE_CHECKING

from toolkit._lazy import lazy_exports
from toolkit._numba_cache import cache_when_numba_loads, guard_cache_writes

# before any kernel module is imported: compiled kernels are cached per version of the sources
# (toolkit/_numba_cache.py says why numba's own per-file keys are not enough; the folder is
# found when numba loads), and numba's cache writes are made safe for processes compiling one
# kernel at once
cache_when_numba_loads(Path(__file__).resolve().parent)
guard_cache_writes()

# Names resolve on first use (toolkit/_lazy.py says why); the imports below are for type
# checkers and readers only.
_EXPORTS = {
    "analysis": "toolkit.analysis",
    "charts": "toolkit.charts",
    "execution": "toolkit.execution",
    "live": "toolkit.live",
    "metrics": "toolkit.metrics",
    "ml": "toolkit.ml",
    "options": "toolkit.options",
    "orderbook": "toolkit.orderbook",
    "stats": "toolkit.stats",
    "deflated_sharpe": "toolkit.analysis:deflated_sharpe",
    "monte_carlo": "toolkit.analysis:monte_carlo",
    "probability_of_backtest_overfitting": "toolkit.analysis:probability_of_backtest_overfitting",
    "walk_forward": "toolkit.analysis:walk_forward",
    "RunConfig": "toolkit.config:RunConfig",
    "load_config": "toolkit.config:load_config",
    "LoadedBars": "toolkit.data:LoadedBars",
    "LoadedFile": "toolkit.data:LoadedFile",
    "LobsterDay": "toolkit.data:LobsterDay",
    "available_symbols": "toolkit.data:available_symbols",
    "load": "toolkit.data:load",
    "load_many": "toolkit.data:load_many",
    "load_many_sourced": "toolkit.data:load_many_sourced",
    "load_sourced": "toolkit.data:load_sourced",
    "load_option_quotes": "toolkit.data:load_option_quotes",
    "load_vix": "toolkit.data:load_vix",
    "read_lobster": "toolkit.data:read_lobster",
    "BacktestResult": "toolkit.engine:BacktestResult",
    "Commission": "toolkit.engine:Commission",
    "EngineSettings": "toolkit.engine:EngineSettings",
    "backtest": "toolkit.engine:backtest",
    "ibkr_fixed": "toolkit.engine:ibkr_fixed",
    "ibkr_option_fixed": "toolkit.engine:ibkr_option_fixed",
    "ibkr_option_tiered": "toolkit.engine:ibkr_option_tiered",
    "ibkr_tiered": "toolkit.engine:ibkr_tiered",
    "no_costs": "toolkit.engine:no_costs",
    "proportional": "toolkit.engine:proportional",
    "simulate": "toolkit.engine:simulate",
    "ConfigError": "toolkit.errors:ConfigError",
    "DataError": "toolkit.errors:DataError",
    "DataWarning": "toolkit.errors:DataWarning",
    "ToolkitError": "toolkit.errors:ToolkitError",
    "Gateway": "toolkit.gateway:Gateway",
    "Journal": "toolkit.live:Journal",
    "JournalError": "toolkit.live:JournalError",
    "NotebookSession": "toolkit.live:NotebookSession",
    "RiskLimits": "toolkit.risk:RiskLimits",
    "TradingHours": "toolkit.risk:TradingHours",
    "historical_cvar": "toolkit.risk.var:historical_cvar",
    "historical_var": "toolkit.risk.var:historical_var",
    "parametric_cvar": "toolkit.risk.var:parametric_cvar",
    "parametric_var": "toolkit.risk.var:parametric_var",
    "backtest_options": "toolkit.options:backtest_options",
    "rolling_cvar": "toolkit.risk.var:rolling_cvar",
    "rolling_var": "toolkit.risk.var:rolling_var",
    "var_backtest": "toolkit.risk.var_backtest:var_backtest",
    "var_backtest_report": "toolkit.risk.var_backtest:var_backtest_report",
    "run_backtest": "toolkit.app.backtest:run_backtest",
    "Param": "toolkit.strategies:Param",
    "Strategy": "toolkit.strategies:Strategy",
    "get_strategy": "toolkit.strategies:get",
    "strategy_names": "toolkit.strategies:names",
    "CausalityReport": "toolkit.strategies.causality:CausalityReport",
    "check_causal": "toolkit.strategies.causality:check_causal",
    "strategy": "toolkit.strategies.define:strategy",
    "heatmap": "toolkit.sweep:heatmap",
    "make_grid": "toolkit.sweep:make_grid",
    "parallel_coordinates": "toolkit.sweep:parallel_coordinates",
    "sweep": "toolkit.sweep:sweep",
    "sweep_portfolio": "toolkit.sweep:sweep_portfolio",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from toolkit import analysis, charts, execution, live, metrics, ml, options, orderbook, stats
    from toolkit.analysis import (
        deflated_sharpe,
        monte_carlo,
        probability_of_backtest_overfitting,
        walk_forward,
    )
    from toolkit.app.backtest import run_backtest
    from toolkit.config import RunConfig, load_config
    from toolkit.data import (
        LoadedBars,
        LoadedFile,
        LobsterDay,
        available_symbols,
        load,
        load_many,
        load_many_sourced,
        load_option_quotes,
        load_sourced,
        load_vix,
        read_lobster,
    )
    from toolkit.engine import (
        BacktestResult,
        Commission,
        EngineSettings,
        ibkr_fixed,
        ibkr_option_fixed,
        ibkr_option_tiered,
        ibkr_tiered,
        no_costs,
        proportional,
        simulate,
    )
    from toolkit.engine.backtest import backtest
    from toolkit.errors import ConfigError, DataError, DataWarning, ToolkitError
    from toolkit.gateway import Gateway
    from toolkit.live import Journal, JournalError, NotebookSession
    from toolkit.options import backtest_options
    from toolkit.risk import RiskLimits, TradingHours
    from toolkit.risk.var import (
        historical_cvar,
        historical_var,
        parametric_cvar,
        parametric_var,
        rolling_cvar,
        rolling_var,
    )
    from toolkit.risk.var_backtest import var_backtest, var_backtest_report
    from toolkit.strategies import Param, Strategy
    from toolkit.strategies import get as get_strategy
    from toolkit.strategies import names as strategy_names
    from toolkit.strategies.causality import CausalityReport, check_causal
    from toolkit.strategies.define import strategy
    from toolkit.sweep import heatmap, make_grid, parallel_coordinates, sweep, sweep_portfolio

__version__ = "0.1.0"

__all__ = [
    "BacktestResult",
    "CausalityReport",
    "Commission",
    "ConfigError",
    "DataError",
    "DataWarning",
    "EngineSettings",
    "Gateway",
    "Journal",
    "JournalError",
    "LoadedBars",
    "LoadedFile",
    "LobsterDay",
    "NotebookSession",
    "Param",
    "RiskLimits",
    "RunConfig",
    "Strategy",
    "ToolkitError",
    "TradingHours",
    "analysis",
    "available_symbols",
    "backtest",
    "backtest_options",
    "charts",
    "check_causal",
    "deflated_sharpe",
    "execution",
    "get_strategy",
    "heatmap",
    "historical_cvar",
    "historical_var",
    "ibkr_fixed",
    "ibkr_option_fixed",
    "ibkr_option_tiered",
    "ibkr_tiered",
    "live",
    "load",
    "load_config",
    "load_many",
    "load_many_sourced",
    "load_option_quotes",
    "load_sourced",
    "load_vix",
    "make_grid",
    "metrics",
    "ml",
    "monte_carlo",
    "no_costs",
    "options",
    "orderbook",
    "parallel_coordinates",
    "parametric_cvar",
    "parametric_var",
    "probability_of_backtest_overfitting",
    "proportional",
    "read_lobster",
    "rolling_cvar",
    "rolling_var",
    "run_backtest",
    "simulate",
    "stats",
    "strategy",
    "strategy_names",
    "sweep",
    "sweep_portfolio",
    "var_backtest",
    "var_backtest_report",
    "walk_forward",
]
