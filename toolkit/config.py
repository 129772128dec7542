"""Run configuration from TOML (research/configs/*.toml), validated into frozen dataclasses.

Every error names the file and the key (``[engine] fill``), says what was found and lists
what is allowed. Strategy parameters must all be given in a config file, so a config alone
reproduces a run even if a default changes later.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time as dt_time
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from toolkit import strategies
from toolkit._declare import declared, setting
from toolkit._toml import Table, read_toml, table_keys
from toolkit.data import available_symbols, default_data_dir
from toolkit.data._validate import JUMP_FACTOR, Repair
from toolkit.data.loader import Adjust
from toolkit.engine.commissions import Commission, ibkr_fixed, ibkr_tiered, no_costs, proportional
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError
from toolkit.risk import RiskLimits, TradingHours

_COST_MODELS = ("ibkr_fixed", "ibkr_tiered", "proportional", "none")
Objective = Literal["sharpe", "sortino", "cagr", "total_return", "calmar"]
Metric = Literal["sharpe", "sortino", "cagr", "total_return", "max_drawdown"]


@dataclass(frozen=True)
class DataConfig:
    """Which bars to load: symbols, date range, adjustment, repair policy, benchmark, and the
    factor beyond which a bar-to-bar price move is warned about (None: no check)."""

    symbols: tuple[str, ...]
    start: str | None = setting(None)
    end: str | None = setting(None)
    adjust: Adjust = setting("total_return")
    repair: Repair = None
    benchmark: str | None = setting("SPY")  # "" in a config file: none
    dir: Path = field(default_factory=default_data_dir)
    jump_factor: float | None = JUMP_FACTOR


@dataclass(frozen=True)
class GridConfig:
    """Parameter axes for sweeps, walk-forward and sensitivity (``[grid]``)."""

    axes: dict[str, list[float]]
    where: str | None = setting(None)
    sample: int | None = setting(None, low=1)
    seed: int = setting(0)


@dataclass(frozen=True)
class WalkForwardConfig:
    """``[walkforward]``: folds (or train/test sizes as bars or spans like "3Y"), gap, objective.

    ``folds`` caps the number of folds; unset, it is 10 without train/test sizes and "every
    fold that fits" with them.
    """

    folds: int | None = setting(None, low=1, high=500)
    train: int | str | None = setting(None)
    test: int | str | None = setting(None)
    anchored: bool = setting(False)
    gap: int = setting(0, low=0)
    objective: Objective = setting("sharpe")


@dataclass(frozen=True)
class MonteCarloConfig:
    """``[montecarlo]``: resampling methods, paths, block length, seed, drawdown threshold."""

    methods: tuple[str, ...] = ("block_bootstrap", "trade_shuffle", "trade_bootstrap")
    paths: int = setting(10_000, low=1, high=10_000_000)
    mean_block: float = setting(20.0, low=1.0)
    seed: int = setting(0)
    drawdown: float = setting(0.25, low=1e-6, high=0.999999)


@dataclass(frozen=True)
class SensitivityConfig:
    """``[sensitivity]``: plateau neighbourhood, stress sizes, overfitting-statistics inputs."""

    metric: Metric = setting("sharpe")
    radius: int = setting(2, low=1, high=50)
    tolerance: float = setting(0.25, low=0.0, high=1.0)
    commission_factor: float = setting(2.0, low=0.0)
    extra_slippage_bps: float = setting(5.0, low=0.0)
    noise_bps: float = setting(10.0, low=0.0, high=1000.0)
    noise_runs: int = setting(20, low=1, high=10_000)
    pbo_trials: int = setting(100, low=2, high=5_000)
    pbo_splits: int = setting(16, low=2, high=24)  # even (halves of CSCV)
    seed: int = setting(0)


@dataclass(frozen=True)
class RunConfig:
    """A complete, validated run: data, strategy and parameters, engine settings.

    ``strategy`` is a registered name; ``strategy_module`` the module that defines it when it
    is a user's strategy (imported, and so registered, when the config is parsed).
    """

    name: str
    data: DataConfig
    strategy: str
    params: dict[str, float]
    engine: EngineSettings
    weights: tuple[float, ...] | None = None
    risk: RiskLimits = field(default_factory=RiskLimits)
    grid: GridConfig | None = None
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    montecarlo: MonteCarloConfig = field(default_factory=MonteCarloConfig)
    sensitivity: SensitivityConfig = field(default_factory=SensitivityConfig)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    strategy_module: str | None = None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a run config file."""
    p = Path(path)
    raw = read_toml(p, "config file not found. Configs live in research/configs/.")
    return parse_config(raw, p)


def parse_config(raw: Mapping[str, Any], path: Path = Path("<config>")) -> RunConfig:
    """Validate an already-parsed TOML mapping (see load_config)."""
    top = Table(
        path,
        "top level",
        raw,
        (
            "name",
            "description",
            "data",
            "strategy",
            "engine",
            "costs",
            "exits",
            "risk",
            "grid",
            "walkforward",
            "montecarlo",
            "sensitivity",
        ),
    )
    name = top.get("name", str, default=path.stem)
    for section in ("data", "strategy"):
        if section not in raw:
            raise ConfigError(f"{path}: the [{section}] table is missing; it is required.")
    data = _data(path, raw["data"])
    strat_sec = Table(path, "strategy", raw["strategy"], ("name", "module", "params"))
    strat_name = strat_sec.get("name", str, required=True)
    module = strat_sec.get("module", str)
    if module is not None:
        strategy = _user_strategy(strat_sec, module, strat_name)
    elif strat_name not in strategies.names():
        raise ConfigError(
            f"{strat_sec.where('name')} = {strat_name!r} is not a known strategy; choose one of "
            f"{', '.join(strategies.builtin_names())}, or name the module that defines yours "
            '([strategy] module = "research.strategies.my_rule").'
        )
    else:
        strategy = strategies.get(strat_name)
    params_raw = strat_sec.get("params", dict, default={})
    params = strategy.resolve(params_raw, where=f"{path}: [strategy.params]", require_all=True)
    engine_sec = Table(
        path, "engine", raw.get("engine", {}), (*table_keys(EngineSettings), "weights")
    )
    exits = Table(path, "exits", raw.get("exits", {}), table_keys(EngineSettings, "exits"))
    weights = engine_sec.get("weights", list)
    if weights is not None and (
        len(weights) != len(data.symbols)
        or not all(_is_number(w) and w >= 0 for w in weights)
        or not any(w > 0 for w in weights)
    ):
        raise ConfigError(
            f"{engine_sec.where('weights')} = {weights!r}: need {len(data.symbols)} finite "
            "non-negative numbers, one per symbol in [data] symbols, at least one above 0."
        )
    engine = EngineSettings(
        commission=_costs(path, raw.get("costs", {})),
        **engine_sec.fields(EngineSettings),
        **exits.fields(EngineSettings, "exits"),
    )
    return RunConfig(
        name=name,
        data=data,
        strategy=strat_name,
        params=params,
        engine=engine,
        strategy_module=module,
        weights=tuple(float(w) for w in weights) if weights is not None else None,
        risk=parse_risk(path, raw.get("risk", {})),
        grid=_grid(path, raw["grid"], strategy) if "grid" in raw else None,
        walkforward=_walkforward(path, raw.get("walkforward", {})),
        montecarlo=_montecarlo(path, raw.get("montecarlo", {})),
        sensitivity=_sensitivity(path, raw.get("sensitivity", {})),
        source=path,
        raw=dict(raw),
    )


def _user_strategy(sec: Table, module: str, name: str) -> strategies.Strategy:
    """``[strategy] module`` imported and its strategy ``name``; errors name the key."""
    if not all(part.isidentifier() for part in module.split(".")):
        raise ConfigError(
            f"{sec.where('module')} = {module!r} is not a dotted module path; give one like "
            '"research.strategies.my_rule".'
        )
    _make_importable(module, sec.path)
    try:
        mod = strategies.import_module(module)
    except ConfigError as exc:
        raise ConfigError(f"{sec.where('module')}: {exc}") from None
    try:
        return strategies.in_module(mod, name)
    except ConfigError as exc:
        raise ConfigError(f"{sec.where('name')} = {name!r}: {exc}") from None


def _make_importable(module: str, config: Path) -> None:
    """Let ``module`` be found from wherever the command runs: if it is not importable as it
    is, the nearest folder above the config that holds its top package joins ``sys.path``
    (as running from the project root would), so a config alone reproduces its run."""
    top = module.split(".")[0]
    try:
        if importlib.util.find_spec(top) is not None:
            return
    except (ImportError, ValueError):
        return
    for folder in config.resolve().parents:
        if (folder / top).is_dir() or (folder / f"{top}.py").is_file():
            sys.path.insert(0, str(folder))
            return


def _data(path: Path, table: Any) -> DataConfig:
    sec = Table(
        path,
        "data",
        table,
        ("symbols", "start", "end", "adjust", "repair", "benchmark", "dir", "jump_factor"),
    )
    data_dir = sec.get("dir", str)
    root = (path.parent / data_dir).resolve() if data_dir else default_data_dir()
    symbols = sec.get("symbols", list, required=True)
    known = available_symbols(root)
    if not symbols or not all(isinstance(s, str) for s in symbols):
        raise ConfigError(f"{sec.where('symbols')} must be a non-empty list of strings.")
    # benchmark = "" turns the benchmark off
    benchmark = (sec.field(DataConfig, "benchmark") or "").strip() or None
    for s in [*symbols, benchmark]:
        if s is not None and s.upper() not in known:
            raise ConfigError(
                f"{sec.where('symbols' if s in symbols else 'benchmark')}: unknown symbol {s!r}; "
                f"available in {root}: {', '.join(known)}."
            )
    for key in ("start", "end"):
        value = sec.get(key, str)
        if value is not None:
            try:
                pd.Timestamp(value)
            except ValueError:
                raise ConfigError(
                    f"{sec.where(key)} = {value!r} is not a date (YYYY-MM-DD)."
                ) from None
    repair = sec.get("repair", str, "none", choices=("none", "drop", "fix"))
    jump_factor: float | None = None
    if sec.table.get("jump_factor") is not False:
        jump_factor = sec.get("jump_factor", float, JUMP_FACTOR)
        if jump_factor is not None and not jump_factor > 1:
            raise ConfigError(
                f"{sec.where('jump_factor')} = {jump_factor!r}: give a factor above 1 "
                "(e.g. 3.0), or false to skip the price-jump check."
            )
    return DataConfig(
        symbols=tuple(s.upper() for s in symbols),
        start=sec.field(DataConfig, "start"),
        end=sec.field(DataConfig, "end"),
        adjust=sec.field(DataConfig, "adjust"),
        repair=None if repair == "none" else cast(Repair, repair),
        benchmark=benchmark.upper() if benchmark else None,
        dir=root,
        jump_factor=jump_factor,
    )


def parse_risk(path: Path, table: Any) -> RiskLimits:
    """``[risk]``: limits shared by backtests and live sessions (see toolkit.risk)."""
    sec = Table(path, "risk", table, (*table_keys(RiskLimits), "trading_hours", "sectors"))
    sectors = sec.get("sectors", dict)
    if sectors is not None:
        bad = [k for k, v in sectors.items() if not isinstance(v, str) or not v]
        if bad:
            raise ConfigError(
                f"{sec.where('sectors')}: give each symbol its sector name as text, e.g. "
                f'{bad[0]} = "Information Technology".'
            )
        sectors = tuple((str(k).upper(), str(v)) for k, v in sectors.items())
    hours = sec.get("trading_hours", list)
    window: TradingHours | None = None
    if hours is not None:
        try:
            start, end = (_clock(h) for h in hours)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{sec.where('trading_hours')} = {hours!r}: give two New York times, e.g. "
                '["09:30", "16:00"].'
            ) from None
        if not start < end:
            raise ConfigError(f"{sec.where('trading_hours')}: the start must be before the end.")
        window = TradingHours(start, end)
    return RiskLimits(**sec.fields(RiskLimits), trading_hours=window, sectors=sectors)


def _clock(text: Any) -> dt_time:
    if not isinstance(text, str):
        raise TypeError(text)
    hh, mm = text.split(":")
    return dt_time(int(hh), int(mm))


def _costs(path: Path, table: Any) -> Commission:
    sec = Table(
        path,
        "costs",
        table,
        ("model", "rate", "per_order", "exchange_per_share", "regulatory_fees"),
    )
    # the defaults are EngineSettings' commission's and the schedule builders' own
    default_model = declared(EngineSettings, "commission").default.kind
    model = sec.get("model", str, default_model, choices=_COST_MODELS)
    tiered = _defaults(ibkr_tiered)
    fees = sec.get("regulatory_fees", bool, tiered["regulatory_fees"])
    if model == "proportional":
        per_order = _defaults(proportional)["per_order"]
        return proportional(
            sec.get("rate", float, required=True, low=0.0, high=0.1),
            sec.get("per_order", float, per_order, low=0.0),
        )
    for key in ("rate", "per_order"):
        if key in sec.table:
            raise ConfigError(f"{sec.where(key)} only applies to model = 'proportional'.")
    if model == "ibkr_tiered":
        exchange = tiered["exchange_per_share"]
        return ibkr_tiered(sec.get("exchange_per_share", float, exchange, low=0.0, high=0.1), fees)
    if "exchange_per_share" in sec.table:
        raise ConfigError(
            f"{sec.where('exchange_per_share')} only applies to model = 'ibkr_tiered'."
        )
    return ibkr_fixed(fees) if model == "ibkr_fixed" else no_costs()


def _defaults(builder: Any) -> dict[str, Any]:
    """The default of each keyword argument of a commission schedule builder."""
    return {
        name: p.default
        for name, p in inspect.signature(builder).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _grid(path: Path, table: Any, strategy: Any) -> GridConfig:
    """Axes are lists of values or ``{ from = a, to = b, step = s }`` (``to`` inclusive)."""
    names = tuple(strategy.param_names)
    sec = Table(path, "grid", table, (*names, *table_keys(GridConfig)))
    axes: dict[str, list[float]] = {}
    for name in names:
        if name not in sec.table:
            continue
        spec = sec.table[name]
        where = sec.where(name)
        if isinstance(spec, list) and spec:
            bad = [v for v in spec if not _is_number(v)]
            if bad:
                raise ConfigError(
                    f"{where} = {spec!r}: {bad[0]!r} is not a number; list finite numbers "
                    "only (no strings, booleans, nan or inf)."
                )
            axes[name] = [float(v) for v in spec]
        elif (
            isinstance(spec, Mapping)
            and set(spec) <= {"from", "to", "step"}
            and {"from", "to"} <= set(spec)
        ):
            lo, hi, step = spec["from"], spec["to"], spec.get("step", 1)
            if not all(_is_number(v) for v in (lo, hi, step)) or step <= 0 or hi < lo:
                raise ConfigError(
                    f"{where}: need numbers with from <= to and step > 0 (finite, not "
                    f"booleans), got {spec!r}."
                )
            axes[name] = [float(v) for v in np.arange(lo, hi + step / 2, step)]
        else:
            raise ConfigError(
                f"{where} = {spec!r}: give a non-empty list of values or "
                "{ from = a, to = b, step = s } (to inclusive)."
            )
        param = next(q for q in strategy.params if q.name == name)
        for v in axes[name]:
            param.check(int(v) if param.kind is int and float(v).is_integer() else v, where)
    if not axes:
        raise ConfigError(f"{path}: [grid] names no parameter; parameters: {', '.join(names)}.")
    return GridConfig(axes=axes, **sec.fields(GridConfig))


def _is_number(value: Any) -> bool:
    """A finite int or float from TOML (booleans are not numbers here)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _walkforward(path: Path, table: Any) -> WalkForwardConfig:
    sec = Table(path, "walkforward", table, table_keys(WalkForwardConfig))
    return WalkForwardConfig(**sec.fields(WalkForwardConfig))


def _montecarlo(path: Path, table: Any) -> MonteCarloConfig:
    sec = Table(path, "montecarlo", table, ("methods", *table_keys(MonteCarloConfig)))
    allowed = MonteCarloConfig().methods
    methods = sec.get("methods", list, list(allowed))
    bad = [m for m in methods if m not in allowed]
    if bad or not methods:
        raise ConfigError(
            f"{sec.where('methods')}: {bad or 'empty'}; choose from {', '.join(allowed)}."
        )
    return MonteCarloConfig(methods=tuple(methods), **sec.fields(MonteCarloConfig))


def _sensitivity(path: Path, table: Any) -> SensitivityConfig:
    sec = Table(path, "sensitivity", table, table_keys(SensitivityConfig))
    values = sec.fields(SensitivityConfig)
    if values["pbo_splits"] % 2:
        raise ConfigError(f"{sec.where('pbo_splits')} = {values['pbo_splits']} must be even.")
    return SensitivityConfig(**values)
