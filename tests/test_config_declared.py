"""Settings are declared once (toolkit._declare): the TOML parsers take every default, bound
and choice from the dataclass fields, so an empty table gives the dataclass's defaults and
each declared bound is enforced with the file and key named."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest

import toolkit as tk
from tests.test_config import BASE as CONFIG_BASE
from toolkit._declare import declared, declared_fields
from toolkit.config import (
    DataConfig,
    GridConfig,
    MonteCarloConfig,
    SensitivityConfig,
    WalkForwardConfig,
    parse_config,
)
from toolkit.engine.settings import EngineSettings, KernelSettings, OrderType, Reason
from toolkit.errors import ConfigError
from toolkit.live.config import (
    ConnectionConfig,
    SessionConfig,
    SimulatorConfig,
    load_live_config,
    parse_live_config,
)
from toolkit.risk import RiskLimits

BASE = CONFIG_BASE + """[grid]
fast = [5, 10]
"""
REPO = Path(__file__).resolve().parents[1]

# (class, TOML table) of every research-config table whose fields are declared
RESEARCH = [
    (EngineSettings, "engine", None),
    (EngineSettings, "exits", "exits"),
    (RiskLimits, "risk", None),
    (GridConfig, "grid", None),
    (WalkForwardConfig, "walkforward", None),
    (MonteCarloConfig, "montecarlo", None),
    (SensitivityConfig, "sensitivity", None),
]


def _parse(text: str) -> Any:
    return parse_config(tomllib.loads(text), Path("t.toml"))


def test_empty_tables_give_the_dataclass_defaults() -> None:
    cfg = _parse(BASE)
    assert cfg.engine == EngineSettings()
    assert cfg.risk == RiskLimits()
    assert cfg.walkforward == WalkForwardConfig()
    assert cfg.montecarlo == MonteCarloConfig()
    assert cfg.sensitivity == SensitivityConfig()
    assert cfg.grid is not None and (cfg.grid.where, cfg.grid.sample, cfg.grid.seed) == (
        None,
        None,
        0,
    )


def _out_of_range(d: Any) -> list[Any]:
    """Values just outside each declared bound (and one outside the choices)."""
    r = d.rule
    step = 1 if int in d.kinds and float not in d.kinds else 1e-3
    bad: list[Any] = []
    if r.low is not None:
        bad.append(r.low - step)
    if r.high is not None:
        bad.append(r.high + step)
    if r.above is not None:
        bad.append(r.above)
    if r.choices is not None:
        bad.append("not-a-choice")
    return bad


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


CASES = [
    (cls, table, d.name, value)
    for cls, table, where in RESEARCH
    for d in declared_fields(cls, where)
    for value in _out_of_range(d)
]


@pytest.mark.parametrize(("cls", "table", "key", "value"), CASES)
def test_every_declared_bound_is_enforced_naming_file_and_key(
    cls: type, table: str, key: str, value: Any
) -> None:
    text = BASE.replace("[grid]\nfast = [5, 10]\n", "")
    grid = "[grid]\nfast = [5, 10]\n" + (f"{key} = {_toml(value)}\n" if table == "grid" else "")
    extra = "" if table == "grid" else f"[{table}]\n{key} = {_toml(value)}\n"
    with pytest.raises(ConfigError, match=rf"t\.toml: \[{table}\] {key} = ") as err:
        _parse(text + grid + extra)
    assert "\n" not in str(err.value)


def test_declared_defaults_and_choices_are_the_fields() -> None:
    # choices come from the Literal annotation; OrderType's names are order_type's choices
    assert declared(EngineSettings, "fill").choices == ("next_open", "close")
    assert declared(EngineSettings, "order_type").choices == tuple(
        t.name.lower() for t in OrderType
    )
    assert declared(EngineSettings, "init_cash").default == 100_000.0
    assert declared(EngineSettings, "stop_loss").rule.table == "exits"


def test_cost_and_data_defaults_are_the_builders_and_the_dataclass() -> None:
    assert _parse(BASE + '[costs]\nmodel = "ibkr_tiered"\n').engine.commission == tk.ibkr_tiered()
    rate = '[costs]\nmodel = "proportional"\nrate = 0.001\n'
    assert _parse(BASE + rate).engine.commission == tk.proportional(0.001)
    assert _parse(BASE + '[costs]\nmodel = "none"\n').engine.commission == tk.no_costs()
    data = _parse(BASE).data
    default = DataConfig(symbols=("SPY",))
    assert (data.start, data.end, data.adjust, data.benchmark) == (
        default.start,
        default.end,
        default.adjust,
        default.benchmark,
    )
    with pytest.raises(ConfigError, match=r"\[data\] adjust = 'split' is not allowed; choose one"):
        _parse(BASE.replace('symbols = ["SPY"]', 'symbols = ["SPY"]\nadjust = "split"'))


def test_exits_belong_in_exits() -> None:
    # [engine] used to accept stop_loss and friends and ignore them silently
    with pytest.raises(ConfigError, match=r"\[engine\] unknown key stop_loss; allowed keys"):
        _parse(BASE + "[engine]\nstop_loss = 0.05\n")
    assert _parse(BASE + "[exits]\nstop_loss = 0.05\n").engine.stop_loss == 0.05


def test_kernel_record_is_typed_and_named() -> None:
    s = EngineSettings(
        init_cash=5_000,  # an int still becomes a float: one numba signature
        fill="close",
        order_type="stop",
        order_offset_bps=25,
        slippage_bps=3,
        stop_loss=0.1,
        rebalance="every_bar",
        fractional=True,
    )
    k = s.kernel(RiskLimits(max_order=1_000.0))
    assert isinstance(k, KernelSettings)
    assert isinstance(k.init_cash, float) and k.init_cash == 5_000.0
    assert (k.next_open, k.order_type) == (False, OrderType.STOP)
    assert k.order_offset == pytest.approx(0.0025) and k.slippage == pytest.approx(0.0003)
    assert k.stop_loss == 0.1 and math.isnan(k.take_profit) and math.isnan(k.trailing_stop)
    assert k.rebalance_always and k.fractional and k.periods == 252.0
    assert list(k.risk) == list(RiskLimits(max_order=1_000.0).vector())
    assert list(k.cost) == list(s.commission.vector())
    with pytest.raises(ConfigError, match="order_type 'iceberg' is not one of market, limit"):
        EngineSettings(order_type="iceberg").kernel()  # type: ignore[arg-type]


def test_order_records_are_named_by_the_enums() -> None:
    bars = tk.load("SPY", start="2015-01-01", end="2016-12-31")
    s = EngineSettings(order_type="limit", order_offset_bps=5.0, stop_loss=0.02)
    res = tk.backtest(bars, "sma_cross", {"fast": 5, "slow": 20}, s)
    names = {r.name.lower() for r in Reason}
    assert set(res.orders["reason"]) <= names and "stop_loss" in set(res.orders["reason"])
    assert set(res.orders["order_type"]) <= {t.name.lower() for t in OrderType}


def test_risk_vector_uses_the_rulebook_indices() -> None:
    from toolkit.risk import rules

    v = RiskLimits(max_gross=2.0, daily_loss=0.05).vector()
    assert v.shape == (rules.RISK_SIZE,)
    assert v[rules.MAX_GROSS] == 2.0 and v[rules.DAILY_LOSS] == 0.05
    assert math.isinf(v[rules.MAX_POSITION]) and math.isinf(v[rules.MAX_DRAWDOWN])


LIVE = """
name = "l"
[[strategies]]
config = "{config}"
"""


def test_live_tables_default_to_the_dataclasses_and_the_journal_sits_by_the_config(
    tmp_path: Path,
) -> None:
    config = REPO / "research" / "configs" / "spy_sma_paper.toml"
    cfg = parse_live_config(tomllib.loads(LIVE.format(config=config)), tmp_path / "l.toml")
    assert cfg.connection == ConnectionConfig()
    assert cfg.simulator == SimulatorConfig()
    slot = cfg.strategies[0]
    assert (slot.bar_size, slot.history, slot.bracket) == ("1 day", "2 Y", False)
    # the dataclass default and the parser's are one: state/journal.sqlite beside the config
    # (the dataclass said live/state/journal.sqlite, the parser state/journal.sqlite)
    assert cfg.session.journal == tmp_path / SessionConfig().journal
    assert cfg.session == dataclasses.replace(SessionConfig(), journal=cfg.session.journal)
    shipped = load_live_config(REPO / "live" / "paper.toml")
    assert shipped.session.journal.resolve() == (REPO / "live" / "state" / "journal.sqlite")


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("connection", "port", 0),
        ("connection", "timeout", 601.0),
        ("simulator", "participation", 1.5),
        ("session", "max_backoff", 0.0),
    ],
)
def test_live_bounds_come_from_the_fields(tmp_path: Path, table: str, key: str, value: Any) -> None:
    config = REPO / "research" / "configs" / "spy_sma_paper.toml"
    text = LIVE.format(config=config) + f"[{table}]\n{key} = {value!r}\n"
    with pytest.raises(ConfigError, match=rf"l\.toml: \[{table}\] {key} = "):
        parse_live_config(tomllib.loads(text), tmp_path / "l.toml")
