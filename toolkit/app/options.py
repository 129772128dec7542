"""``python -m toolkit options-backtest --config F``: an option backtest from a TOML config.

The config names the quotes (an end-of-day option file through
:func:`toolkit.data.options.load_option_quotes`) or asks for a MODEL-PRICED chain on a real
underlying path (``[data] model_priced = true``), the rule (``[strategy]``), the costs, the
fills and the option rules (``[risk]``: the live option session's keys and defaults,
:class:`toolkit.risk.options.OptionRiskLimits`; all off when absent). The command prints
the summary (the MODEL-PRICED label first when it applies), the spreads, the risk guards
that trimmed or blocked an entry and the attribution totals, and writes the equity, fills,
spreads, guards, daily attribution and its full-revaluation check as CSV files beside a
summary.txt under ``reports/<name>-<UTC stamp>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit._toml import Table, read_toml, table_keys
from toolkit.app.run_config import OPTION_CONFIG_MISSING
from toolkit.engine.commissions import (
    Commission,
    OptionCommission,
    ibkr_fixed,
    ibkr_option_fixed,
    ibkr_option_tiered,
    no_costs,
    no_option_costs,
)
from toolkit.errors import ConfigError
from toolkit.options.backtest import (
    CoveredCall,
    CreditSpread,
    OptionBacktestResult,
    OptionSettings,
    Rule,
    ShortStraddle,
    StrikeRule,
)
from toolkit.risk import RiskLimits
from toolkit.risk.options import OptionRiskLimits

REPO = Path(__file__).resolve().parents[2]
KINDS = ("iron_condor", "put_credit", "short_straddle", "covered_call")
# [risk] keys of a live option session that an end-of-day backtest does not model.
LIVE_ONLY_RISK = ("max_orders_per_minute",)


@dataclass(frozen=True)
class OptionRunConfig:
    """A parsed option config: where the prices come from, the rule and the settings."""

    name: str
    path: Path
    quotes: Path | None
    model: dict[str, Any] | None
    rule: Rule
    settings: OptionSettings


def _resolve(path: Path, text: str) -> Path:
    p = Path(text)
    if p.is_absolute():
        return p
    return p if p.exists() else REPO / p


def load_option_config(path: Path) -> OptionRunConfig:
    """Parse ``path`` (errors name the file, table and key)."""
    return parse_option_config(read_toml(path, OPTION_CONFIG_MISSING), path)


def parse_option_config(raw: dict[str, Any], path: Path) -> OptionRunConfig:
    """Validate ``path``'s already-read TOML (see :func:`load_option_config`)."""
    unknown = sorted(set(raw) - {"name", "data", "strategy", "costs", "backtest", "risk"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(unknown)}; allowed: data, strategy, costs, "
            "backtest, risk."
        )
    name = raw.get("name", path.stem)
    if not isinstance(name, str):
        raise ConfigError(f"{path}: name must be a string.")
    data = Table(
        path, "data", raw.get("data", {}),
        ("quotes", "model_priced", "underlying", "start", "end", "vol", "rate", "dividend",
         "strike_step", "half_spread"),
    )  # fmt: skip
    quotes: Path | None = None
    model: dict[str, Any] | None = None
    if data.get("model_priced", bool, False):
        if "quotes" in data.table:
            raise ConfigError(f"{data.where('quotes')}: give quotes or model_priced, not both.")
        model = {
            "underlying": data.get("underlying", str, "SPY"),
            "start": data.get("start", str, required=True),
            "end": data.get("end", str, required=True),
            "vol": data.get("vol", str, "VIX"),
            "rate": data.get("rate", float, 0.0, low=-0.1, high=0.5),
            "dividend": data.get("dividend", float, 0.0, low=0.0, high=0.5),
            "strike_step": data.get("strike_step", float, 1.0, above=0.0),
            "half_spread": data.get("half_spread", float, 0.0, low=0.0),
        }
    else:
        quotes = _resolve(path, data.get("quotes", str, required=True))
        for key in ("underlying", "start", "end", "vol", "rate", "dividend", "strike_step",
                    "half_spread"):  # fmt: skip
            if key in data.table:
                raise ConfigError(f"{data.where(key)} only applies with model_priced = true.")
    return OptionRunConfig(
        name, path, quotes, model, _rule(path, raw.get("strategy")), _settings(path, raw)
    )


def _rule(path: Path, table: Any) -> Rule:
    if table is None:
        raise ConfigError(f"{path}: [strategy] is missing; kind = one of {', '.join(KINDS)}.")
    sec = Table(
        path, "strategy", table,
        ("kind", "days", "min_days", "max_days", "quantity", "short_delta", "short_points",
         "delta_source", "width", "take_profit", "stop_loss", "hedge", "hedge_band", "hedge_lot",
         "call_delta"),
    )  # fmt: skip
    kind = sec.get("kind", str, required=True, choices=KINDS)
    days = sec.get("days", int, 30, low=1, high=400)
    min_days = sec.get("min_days", int, 7, low=0, high=400)
    max_days = sec.get("max_days", int, None, low=0, high=3650)
    if max_days is not None and max_days < min_days:
        raise ConfigError(f"{sec.where('max_days')} = {max_days} is below min_days = {min_days}.")
    quantity = sec.get("quantity", int, 1, low=1, high=10_000)
    tp = sec.get("take_profit", float, None, above=0.0, high=1.0)
    sl = sec.get("stop_loss", float, None, above=0.0, high=100.0)
    if kind in ("iron_condor", "put_credit"):
        delta = sec.get("short_delta", float, None, above=0.0, high=0.99)
        points = sec.get("short_points", float, None, low=0.0)
        if (delta is None) == (points is None):
            raise ConfigError(
                f"{sec.where('short_delta')}: give exactly one of short_delta (e.g. 0.16) or "
                "short_points (distance from the spot)."
            )
        source = sec.get("delta_source", str, "auto", choices=("auto", "ours"))
        return CreditSpread(
            kind=kind, days=days, min_days=min_days, max_days=max_days,
            short=StrikeRule(delta, points, source),
            width=sec.get("width", float, 50.0, above=0.0), quantity=quantity,
            take_profit=tp, stop_loss=sl,
        )  # fmt: skip
    if kind == "short_straddle":
        return ShortStraddle(
            days=days, min_days=min_days, max_days=max_days, quantity=quantity,
            hedge=sec.get("hedge", bool, True),
            hedge_band=sec.get("hedge_band", float, 0.0, low=0.0),
            hedge_lot=sec.get("hedge_lot", float, 1.0, above=0.0), take_profit=tp, stop_loss=sl,
        )  # fmt: skip
    return CoveredCall(
        days=days, min_days=min_days, max_days=max_days, quantity=quantity,
        call_delta=sec.get("call_delta", float, 0.30, above=0.0, high=0.99),
    )  # fmt: skip


def _settings(path: Path, raw: dict[str, Any]) -> OptionSettings:
    costs = Table(
        path, "costs", raw.get("costs", {}),
        ("model", "regulatory_fees", "exchange_per_contract", "underlying_model"),
    )  # fmt: skip
    model = costs.get(
        "model", str, "ibkr_option_fixed", choices=("ibkr_option_fixed", "ibkr_option_tiered",
                                                     "none")
    )  # fmt: skip
    fees = costs.get("regulatory_fees", bool, True)
    exchange = costs.get("exchange_per_contract", float, 0.0, low=0.0, high=5.0)
    commission: OptionCommission = no_option_costs()
    if model == "ibkr_option_fixed":
        commission = ibkr_option_fixed(fees, exchange)
    elif model == "ibkr_option_tiered":
        commission = ibkr_option_tiered(fees, exchange)
    under = costs.get("underlying_model", str, "none", choices=("none", "ibkr_fixed"))
    stock: Commission = ibkr_fixed() if under == "ibkr_fixed" else no_costs()
    bt = Table(path, "backtest", raw.get("backtest", {}), ("init_cash", "fill"))
    risk, daily_loss, max_drawdown = _risk(path, raw.get("risk", {}))
    return OptionSettings(
        risk=risk,
        daily_loss=daily_loss,
        max_drawdown=max_drawdown,
        init_cash=bt.get("init_cash", float, 100_000.0, above=0.0),
        fill=bt.get("fill", str, "touch", choices=("touch", "mid")),
        commission=commission,
        hedge_commission=stock,
    )


def _risk(path: Path, table: Any) -> tuple[OptionRiskLimits, float | None, float | None]:
    """``[risk]``: the live option session's option rules and kill switch (daily_loss,
    max_drawdown), same keys, bounds and defaults, parsed by the same ``Table`` calls
    (:class:`OptionRiskLimits`, :class:`toolkit.risk.RiskLimits`); its order rate is
    refused by name (one decision a day has no rate to limit)."""
    kill = ("daily_loss", "max_drawdown")
    rsk = Table(path, "risk", table, (*table_keys(OptionRiskLimits), *kill, *LIVE_ONLY_RISK))
    for key in LIVE_ONLY_RISK:
        if key in rsk.table:
            raise ConfigError(
                f"{rsk.where(key)} applies to the live option session only (an end-of-day "
                f"backtest does not model it); remove it. Option rules: "
                f"{', '.join(table_keys(OptionRiskLimits))}."
            )
    return (
        OptionRiskLimits(**rsk.fields(OptionRiskLimits)),
        rsk.field(RiskLimits, "daily_loss"),
        rsk.field(RiskLimits, "max_drawdown"),
    )


def run_option_config(cfg: OptionRunConfig) -> OptionBacktestResult:
    """Load or build the quotes and run the backtest."""
    from toolkit.options.backtest import (
        backtest_options,
        implied_cash_dividends,
        model_priced_quotes,
    )

    if cfg.quotes is not None:
        from toolkit.data.options import load_option_quotes

        quotes = load_option_quotes(cfg.quotes)
    else:
        from toolkit.data import load
        from toolkit.data.vix import load_vix

        m = cfg.model
        assert m is not None
        closes = load(m["underlying"], m["start"], m["end"], adjust="none")["close"]
        total = load(m["underlying"], m["start"], m["end"], adjust="total_return")["close"]
        vol = load_vix(m["vol"])["close"] / 100.0
        quotes = model_priced_quotes(
            closes, vol, underlying=m["underlying"], rate=m["rate"], dividend=m["dividend"],
            strike_step=m["strike_step"], half_spread=m["half_spread"],
        )  # fmt: skip
        # the shares held earn their dividends (implied by the total-return close)
        return backtest_options(
            quotes, cfg.rule, cfg.settings, dividends=implied_cash_dividends(closes, total)
        )
    return backtest_options(quotes, cfg.rule, cfg.settings)


def format_result(cfg: OptionRunConfig, r: OptionBacktestResult) -> str:
    """What the command prints: the summary (MODEL-PRICED first when it applies), the
    spreads, and the attribution totals."""
    trades = r.trades.copy()
    for col in ("opened", "closed"):
        trades[col] = pd.to_datetime(trades[col]).dt.date
    table = trades[["spread", "opened", "closed", "exit", "net_price", "fees", "pnl", "max_loss"]]
    lines = [f"{cfg.name}", r.summary(), "", table.to_string(index=False, float_format="%.2f")]
    if len(r.guards):
        guards = r.guards.assign(date=pd.to_datetime(r.guards["date"]).dt.date)
        lines += [
            "",
            "risk guards (entries trimmed or blocked by the option rules):",
            guards[["date", "rule", "wanted", "allowed", "detail"]].to_string(index=False),
        ]
    if r.model_priced:
        lines.append(f"\n*** {r.pricing} ***")
    return "\n".join(lines)


def write_option_report(
    cfg: OptionRunConfig, r: OptionBacktestResult, root: Path, text: str
) -> Path:
    """CSV files of the run under ``root/<name>-<UTC stamp>/`` (a MODEL-PRICED run says so
    in every file's name and first line of summary.txt)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tag = "-MODEL-PRICED" if r.model_priced else ""
    out = root / f"{cfg.name}{tag}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    r.daily.to_csv(out / f"daily{tag}.csv")
    r.fills.to_csv(out / f"fills{tag}.csv", index=False)
    r.trades.to_csv(out / f"spreads{tag}.csv", index=False)
    r.attribution.to_csv(out / f"attribution{tag}.csv")
    r.revaluation.to_csv(out / f"revaluation{tag}.csv")
    r.guards.to_csv(out / f"guards{tag}.csv", index=False)
    (out / "summary.txt").write_text(text + "\n")
    return out
