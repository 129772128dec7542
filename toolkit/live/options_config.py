"""Option session configuration (``live/options_*.toml``), validated into frozen dataclasses.

An option session trades one strategy template on one underlying: which template (a
put-credit or call-credit vertical, an iron condor), how its legs are chosen from the chain
(short strike by delta, wings by width, expiry by days to expiry), how many spreads, when to
enter and exit, and how the net limit price is worked (start at the mid, step toward the
touch). Connection, simulator and session tables are the stock session's
(:mod:`toolkit.live.config`), with the same paper-by-default safety: a live port needs
``--live`` and ``[connection] account``. The option rules of ``[risk]`` are
:class:`toolkit.risk.options.OptionRiskLimits` (one rulebook with an option backtest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from toolkit._declare import setting
from toolkit._toml import Table, read_toml, table_keys
from toolkit.errors import ConfigError
from toolkit.live.config import (
    ConnectionConfig,
    SessionConfig,
    SimulatorConfig,
    parse_session_tables,
)
from toolkit.live.endpoints_config import EndpointsConfig, parse_endpoints
from toolkit.risk import RiskLimits
from toolkit.risk.options import OptionRiskLimits

TEMPLATES = ("put_credit_vertical", "call_credit_vertical", "iron_condor")


@dataclass(frozen=True)
class LegRules:
    """``[strategy.legs]``: the short strike(s) by |delta|, the long wing(s) ``width`` points
    further out of the money, the expiry with days to expiry in [dte_min, dte_max] nearest
    to ``dte_target`` (default: the middle). Only the out-of-the-money strikes within
    ``strike_band`` (a fraction of the spot) are quoted to choose from."""

    short_delta: float = setting(0.20, above=0.0, high=0.5)
    width: float = setting(5.0, above=0.0)
    dte_min: int = setting(20, low=0, high=3650)
    dte_max: int = setting(45, low=0, high=3650)
    dte_target: int | None = setting(None, low=0, high=3650)
    strike_band: float = setting(0.10, above=0.0, high=1.0)


@dataclass(frozen=True)
class EntryRules:
    """``[strategy.entry]``: open a spread once per trading day at ``decide_at`` (New York)
    while the book is flat with no working order (one position at a time: the next opens
    after the last is closed), if its credit (per share, at the mid) is at least
    ``min_credit``."""

    decide_at: str = setting("15:30")
    min_credit: float | None = setting(None, above=0.0)


@dataclass(frozen=True)
class ExitRules:
    """``[strategy.exit]``: close a held spread once its profit reaches ``take_profit`` of
    the credit, its loss ``stop_loss`` times the credit, or its expiry is ``exit_dte`` days
    away (by default the day before: the session books executions only, so it never holds
    a spread into expiry settlement or assignment)."""

    take_profit: float | None = setting(0.5, above=0.0, high=1.0)
    stop_loss: float | None = setting(2.0, above=0.0)
    exit_dte: int = setting(1, low=0, high=3650)


@dataclass(frozen=True)
class PricePolicy:
    """``[strategy.pricing]``: the net limit price starts at the combo's mid (or its touch,
    the natural price) and, while unfilled, moves ``step`` per share toward the touch every
    ``interval`` seconds of the broker's clock, at most ``max_steps`` times (never past the
    touch); prices are on the ``tick`` grid."""

    start: Literal["mid", "touch"] = setting("mid")
    step: float = setting(0.05, above=0.0)
    interval: float = setting(300.0, above=0.0)
    max_steps: int = setting(4, low=0, high=100)
    tick: float = setting(0.05, above=0.0)


@dataclass(frozen=True)
class OptionStrategy:
    """``[strategy]``: the template traded on ``underlying``."""

    label: str
    underlying: str
    template: str = setting("put_credit_vertical", choices=TEMPLATES)
    sec_type: Literal["STK", "IND"] = setting("STK")
    exchange: str = setting("SMART")
    currency: str = setting("USD")
    trading_class: str | None = setting(None)
    quantity: int = setting(1, low=1, high=1000)
    capital: float = setting(100_000.0, above=0.0)
    legs: LegRules = LegRules()
    entry: EntryRules = EntryRules()
    exit: ExitRules = ExitRules()
    pricing: PricePolicy = PricePolicy()

    @property
    def decide_time(self) -> time:
        h, m = self.entry.decide_at.split(":")
        return time(int(h), int(m))


@dataclass(frozen=True)
class OptionSessionRisk:
    """``[risk]`` of an option session: the option rules, the order rate, and the stock
    rulebook's kill switch on the book's equity (``daily_loss``, ``max_drawdown``: fractions;
    firing closes the spread at the touch and opens no other)."""

    options: OptionRiskLimits
    max_orders_per_minute: int | None = None
    daily_loss: float | None = None
    max_drawdown: float | None = None

    def kill_vector(self) -> np.ndarray:
        """The limits :func:`toolkit.risk.rules.kill_switch` reads (inf: off)."""
        return RiskLimits(daily_loss=self.daily_loss, max_drawdown=self.max_drawdown).vector()


@dataclass(frozen=True)
class OptionLiveConfig:
    """A validated option session config."""

    name: str
    connection: ConnectionConfig
    simulator: SimulatorConfig
    strategy: OptionStrategy
    session: SessionConfig
    risk: OptionSessionRisk
    source: Path
    raw: dict[str, Any]
    endpoints: EndpointsConfig | None = None  # [endpoints]: /healthz /readyz /metrics

    @property
    def embedded(self) -> bool:
        return self.connection.host is None


def load_option_config(path: str | Path) -> OptionLiveConfig:
    """Read and validate an option session config."""
    p = Path(path)
    raw = read_toml(p, "option session config not found; see live/options_paper.toml.")
    return parse_option_config(raw, p)


def parse_option_config(raw: dict[str, Any], path: Path) -> OptionLiveConfig:
    top = Table(
        path,
        "top level",
        raw,
        ("name", "description", "connection", "simulator", "strategy", "risk", "session",
         "endpoints"),
    )  # fmt: skip
    connection, simulator, session = parse_session_tables(raw, path)
    if session.depth_levels:  # the order book panel is the stock session's dashboard's
        raise ConfigError(
            f"{path}: [session] depth_levels = {session.depth_levels}: an option session shows "
            "no order book; remove the key."
        )
    rsk = Table(
        path,
        "risk",
        raw.get("risk", {}),
        (*table_keys(OptionRiskLimits), "max_orders_per_minute", "daily_loss", "max_drawdown"),
    )
    risk = OptionSessionRisk(
        OptionRiskLimits(**rsk.fields(OptionRiskLimits)),
        rsk.get("max_orders_per_minute", int, None, low=1),
        rsk.field(RiskLimits, "daily_loss"),
        rsk.field(RiskLimits, "max_drawdown"),
    )
    return OptionLiveConfig(
        name=top.get("name", str, path.stem),
        connection=connection,
        simulator=simulator,
        strategy=_strategy(path, top.get("strategy", dict, required=True)),
        session=session,
        risk=risk,
        source=path,
        raw=dict(raw),
        endpoints=parse_endpoints(path, raw.get("endpoints")),
    )


def _strategy(path: Path, raw: dict[str, Any]) -> OptionStrategy:
    parts = {"legs": LegRules, "entry": EntryRules, "exit": ExitRules, "pricing": PricePolicy}
    sec = Table(path, "strategy", raw, ("label", "underlying", *table_keys(OptionStrategy), *parts))
    built: dict[str, Any] = {}
    for key, cls in parts.items():
        t = Table(path, f"strategy.{key}", raw.get(key, {}), table_keys(cls))
        built[key] = cls(**t.fields(cls))
    legs: LegRules = built["legs"]
    if legs.dte_min > legs.dte_max:
        raise ConfigError(
            f"{path}: [strategy.legs] dte_min = {legs.dte_min} is after dte_max = "
            f"{legs.dte_max}; give a window of days to expiry."
        )
    if legs.dte_target is not None and not legs.dte_min <= legs.dte_target <= legs.dte_max:
        raise ConfigError(f"{path}: [strategy.legs] dte_target must lie in [dte_min, dte_max].")
    entry: EntryRules = built["entry"]
    try:
        h, m = entry.decide_at.split(":")
        time(int(h), int(m))
    except ValueError:
        raise ConfigError(
            f"{path}: [strategy.entry] decide_at = {entry.decide_at!r}: give a New York "
            'time like "15:30".'
        ) from None
    underlying = sec.get("underlying", str, required=True).strip().upper()
    if not underlying or "/" in underlying:
        raise ConfigError(f"{sec.where('underlying')} must be a symbol like 'SPY'.")
    label = sec.get("label", str, f"{underlying.lower()}_options")
    if not label or "/" in label:
        raise ConfigError(f"{sec.where('label')} must be non-empty without '/'.")
    return OptionStrategy(
        label=label,
        underlying=underlying,
        **sec.fields(OptionStrategy),
        **built,
    )
