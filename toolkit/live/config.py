"""Live-session configuration (``live/*.toml``), validated into frozen dataclasses.

A live config points at research configs (``[[strategies]] config = ...``) so the strategy,
parameters, engine conventions, exits and risk limits that were backtested are exactly the
ones traded; it adds only what a live session needs: where the broker is, how much capital
each strategy trades, which bars to watch, and session behaviour. Errors name the file and
key like every other config error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from toolkit._declare import setting
from toolkit._logfiles import LogSettings, parse_table
from toolkit._toml import Table, read_toml, table_keys
from toolkit.config import RunConfig, load_config, parse_risk
from toolkit.errors import ConfigError
from toolkit.gateway._restart import DailyRestart
from toolkit.live._depth_sim import replay_file
from toolkit.live.brackets import BracketSpec, parse_bracket
from toolkit.live.endpoints_config import EndpointsConfig, parse_endpoints
from toolkit.live.execution_config import ExecutionSpec, parse_execution
from toolkit.risk import RiskLimits

# IB Gateway / TWS default API ports for live and for paper accounts: a hint only, the
# account id decides (paper ids start with "D").
LIVE_PORTS = frozenset({4001, 7496})
PAPER_PORTS = frozenset({4002, 7497})
MISMATCH_CHOICES = ("halt", "adopt")
BAR_SIZES = ("1 min", "2 mins", "5 mins", "15 mins", "30 mins", "1 hour", "1 day")


@dataclass(frozen=True)
class ConnectionConfig:
    """``[connection]``: no host means "start the embedded gateway simulator"."""

    host: str | None = setting(None)
    port: int = setting(4002, low=1, high=65535)
    client_id: int = setting(17, low=0, high=2**31 - 1)
    account: str | None = setting(None)
    timeout: float = setting(10.0, low=0.1, high=600.0)


@dataclass(frozen=True)
class SimulatorConfig:
    """``[simulator]``: the embedded gateway's replay (used only when no host is given)."""

    start: str | None = setting(None)
    end: str | None = setting(None)
    speed: float = setting(86_400.0, low=0.001, high=1e8)
    cash: float = setting(1_000_000.0, low=1.0)
    participation: float = setting(0.0, low=0.0, high=1.0)
    # IB Gateway's daily restart, simulated: "HH:MM" New York and its window (default none)
    daily_restart: str | None = setting(None)
    restart_window: str = setting("5min")
    # a LOBSTER day served as one symbol's depth, ticks and fills (toolkit.live._depth_sim)
    depth_replay: str | None = setting(None)
    depth_symbol: str | None = setting(None)
    depth_speed: float = setting(1.0, low=0.001, high=1e6)  # replayed seconds a wall second
    depth_fast: bool = setting(False)


@dataclass(frozen=True)
class StrategySlot:
    """One ``[[strategies]]`` entry: a research config traded with its own capital."""

    label: str
    run: RunConfig
    symbols: tuple[str, ...]
    capital: float
    bar_size: str = setting("1 day", choices=BAR_SIZES)
    history: str = setting("2 Y")
    bracket: bool = setting(False)
    risk: RiskLimits = field(default_factory=RiskLimits)
    # [strategies.execution]: how its orders are worked (toolkit.live.execution_config)
    execution: ExecutionSpec = field(default_factory=ExecutionSpec)
    # bracket = true or [strategies.bracket]: the entries' exits (toolkit.live.brackets)
    exits: BracketSpec | None = None


@dataclass(frozen=True)
class SessionConfig:
    """``[session]``: id, journal file, shutdown behaviour, dashboard, reconnect backoff.

    A relative ``journal`` is relative to the live config's folder (the parser resolves it;
    the default puts it in ``state/`` next to the config, e.g. live/state/journal.sqlite).
    """

    session_id: str | None = None  # key "id"
    journal: Path = setting(Path("state/journal.sqlite"))
    cancel_on_exit: bool = setting(True)
    dashboard: bool | None = setting(None)
    max_backoff: float = setting(30.0, low=0.1, high=3600.0)
    # levels a side of each symbol's depth to subscribe (0: none), for the order book panel
    depth_levels: int = setting(0, low=0, high=10)


@dataclass(frozen=True)
class LiveConfig:
    """A validated live-session config."""

    name: str
    connection: ConnectionConfig
    simulator: SimulatorConfig
    strategies: tuple[StrategySlot, ...]
    session: SessionConfig
    risk: RiskLimits
    source: Path
    raw: dict[str, Any]
    # [risk] on_mismatch: when the broker's position in a symbol is not the journal's after a
    # (re)connect, "halt" that symbol (no new orders until they agree) or "adopt" the broker's
    on_mismatch: str = "halt"
    logs: LogSettings = field(default_factory=LogSettings)  # [logs]: log files (toolkit._logfiles)
    endpoints: EndpointsConfig | None = None  # [endpoints]: /healthz /readyz /metrics (opt-in)

    @property
    def embedded(self) -> bool:
        return self.connection.host is None


class Endpoint(Protocol):
    """What connecting and the account check read of a session's config (a stock session's
    :class:`LiveConfig` or an option session's)."""

    @property
    def connection(self) -> ConnectionConfig: ...

    @property
    def session(self) -> SessionConfig: ...

    @property
    def source(self) -> Path: ...


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and validate a live config; research configs it names are resolved relative to it."""
    p = Path(path)
    raw = read_toml(p, "live config not found; see live/paper.toml for an example.")
    return parse_live_config(raw, p)


def parse_session_tables(
    raw: dict[str, Any], path: Path
) -> tuple[ConnectionConfig, SimulatorConfig, SessionConfig]:
    """``[connection]``, ``[simulator]`` and ``[session]`` of any session config (stock or
    option): one parser, so both get the same checks (simulator dates, journal path relative to
    the config)."""
    con = Table(path, "connection", raw.get("connection", {}), table_keys(ConnectionConfig))
    connection = ConnectionConfig(**con.fields(ConnectionConfig))
    sim = Table(path, "simulator", raw.get("simulator", {}), table_keys(SimulatorConfig))
    for key in ("start", "end"):
        value = sim.get(key, str)
        if value is not None:
            try:
                pd.Timestamp(value)
            except ValueError:
                raise ConfigError(f"{sim.where(key)} = {value!r} is not a date/time.") from None
    simulator = SimulatorConfig(**sim.fields(SimulatorConfig))
    simulator = replace(simulator, depth_replay=replay_file(simulator, sim, path))
    if simulator.daily_restart is not None:  # checked here to name the file and key
        try:
            DailyRestart.parse(simulator.daily_restart, simulator.restart_window)
        except ConfigError as exc:
            raise ConfigError(f"{sim.where('daily_restart')}: {exc}") from None
    ses = Table(path, "session", raw.get("session", {}), ("id", *table_keys(SessionConfig)))
    values = ses.fields(SessionConfig)
    journal = Path(values.pop("journal"))
    session = SessionConfig(
        session_id=ses.get("id", str),
        journal=journal if journal.is_absolute() else path.parent / journal,
        **values,
    )
    return connection, simulator, session


def parse_live_config(raw: dict[str, Any], path: Path) -> LiveConfig:
    top = Table(
        path,
        "top level",
        raw,
        ("name", "description", "connection", "simulator", "strategies", "risk", "logs", "session",
         "endpoints"),
    )  # fmt: skip
    connection, simulator, session = parse_session_tables(raw, path)
    risk_raw = raw.get("risk", {})
    on_mismatch = "halt"
    if isinstance(risk_raw, dict) and "on_mismatch" in risk_raw:
        risk_raw = dict(risk_raw)
        on_mismatch = Table(
            path, "risk", {"on_mismatch": risk_raw.pop("on_mismatch")}, ("on_mismatch",)
        ).get("on_mismatch", str, "halt", choices=MISMATCH_CHOICES)
    session_risk = parse_risk(path, risk_raw)
    entries = top.get("strategies", list, required=True)
    if not entries:
        raise ConfigError(f"{path}: [[strategies]] is empty; add at least one strategy.")
    explicit = set(risk_raw) if isinstance(risk_raw, dict) else set()
    slots = tuple(_slot(path, i, e, session_risk, explicit) for i, e in enumerate(entries))
    labels = [s.label for s in slots]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{path}: [[strategies]] labels must be unique, got {labels}.")
    return LiveConfig(
        name=top.get("name", str, path.stem),
        connection=connection,
        simulator=simulator,
        strategies=slots,
        session=session,
        risk=session_risk,
        source=path,
        raw=dict(raw),
        on_mismatch=on_mismatch,
        logs=parse_table(path, raw.get("logs")),
        endpoints=parse_endpoints(path, raw.get("endpoints")),
    )


def _slot(
    path: Path, i: int, entry: Any, session_risk: RiskLimits, explicit: set[str]
) -> StrategySlot:
    sec = Table(
        path,
        f"strategies #{i + 1}",
        entry,
        ("label", "config", "symbols", "capital", "execution", "model", *table_keys(StrategySlot)),
    )
    ref = Path(sec.get("config", str, required=True))
    run = load_config(ref if ref.is_absolute() else path.parent / ref)
    model = sec.get("model", str)
    if model is not None:  # a trained ML artefact, refused if its features differ (toolkit.ml)
        from toolkit.ml.artefact import attach

        attach(run, path.parent / model, sec.where("model"))
    symbols = sec.get("symbols", list, list(run.data.symbols))
    if not symbols or not all(isinstance(s, str) and s.strip() for s in symbols):
        raise ConfigError(f"{sec.where('symbols')} must be a non-empty list of symbols.")
    if run.weights is not None and len(symbols) != len(run.weights):
        raise ConfigError(
            f"{sec.where('symbols')}: {run.source} sets {len(run.weights)} weights; "
            "trade the same symbols or drop [engine] weights there."
        )
    history = sec.field(StrategySlot, "history")
    if history.split()[-1:] not in (["D"], ["W"], ["M"], ["Y"]) or not history.split()[0].isdigit():
        raise ConfigError(f"{sec.where('history')} = {history!r}: use an IB duration like '2 Y'.")
    # live [risk] keys override the research config's, key by key (only the keys the live
    # config writes: its defaults, e.g. risk_window, must not undo the research config's)
    merged = replace(
        run.risk,
        **{k: v for k, v in vars(session_risk).items() if k in explicit and v is not None},
    )
    upper = [s.strip().upper() for s in symbols]
    exits = parse_bracket(path, f"strategies #{i + 1}.bracket", entry.get("bracket"), run.engine)
    if merged.max_beta is not None and merged.benchmark.upper() not in upper:
        raise ConfigError(
            f"{sec.where('symbols')}: [risk] max_beta measures beta to {merged.benchmark}, "
            "which a live session needs live bars of: add it to the symbols (a target of 0 "
            "keeps it out of the book) or drop max_beta."
        )
    return StrategySlot(
        label=sec.get("label", str, run.name),
        run=run,
        symbols=tuple(s.strip().upper() for s in symbols),
        capital=sec.get("capital", float, run.engine.init_cash, low=1.0),
        bar_size=sec.field(StrategySlot, "bar_size"),
        history=history,
        bracket=exits is not None,
        risk=merged,
        execution=parse_execution(
            path,
            f"strategies #{i + 1}.execution",
            entry.get("execution", {}),
            run.engine.order_type,
        ),
        exits=exits,
    )
