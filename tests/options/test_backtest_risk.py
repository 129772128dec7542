"""The option rules in the option backtest (toolkit.options.backtest + toolkit.risk.options):
the live session's rulebook judges every entry before it fills -- max loss per spread blocks,
max contracts and max short vega trim, a closing trade always passes -- and result.guards /
the CLI name each rule that fired; ``[risk]`` parses like the live config's."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.options.test_backtest import LEGS, NO_FEES, PUT_CREDIT, _chain
from toolkit.options.backtest import (
    GUARD_COLUMNS,
    OptionBacktestResult,
    OptionSettings,
    backtest_options,
)
from toolkit.options.black import bsm_greeks
from toolkit.options.implied import implied_vol
from toolkit.risk.options import (
    MAX_CONTRACTS,
    MAX_LOSS_PER_SPREAD,
    MAX_SHORT_VEGA,
    OptionRiskLimits,
)

REPO = Path(__file__).resolve().parents[2]
# the 95/90 put credit opened on day 0 at 2.00 - 1.00 = 1.00 credit: (5 - 1) x 100 = 400 max loss
MAX_LOSS = 400.0
# the same puts with their calls quoted by put-call parity at r = q = 0 (C = P + S - K), so the
# day's parity fit gives forward 100 and discount factor 1 (the hand check below needs them)
PARITY_LEGS = {**LEGS, (0, "C", 95.0): (7.00, 7.10), (0, "C", 90.0): (10.90, 11.00)}


def _run(
    spots: list[float],
    limits: OptionRiskLimits,
    quantity: int = 1,
    legs: dict[tuple[int, str, float], tuple[float, float]] = LEGS,
    **rule: float,
) -> OptionBacktestResult:
    quotes = _chain(spots, "E", legs)
    spread = replace(PUT_CREDIT, quantity=quantity, **rule)
    return backtest_options(quotes, spread, OptionSettings(commission=NO_FEES, risk=limits))


def test_no_limits_no_guards_and_a_loose_limit_changes_nothing() -> None:
    free = _run([100.0, 97.0, 93.0], OptionRiskLimits())
    exact = _run([100.0, 97.0, 93.0], OptionRiskLimits(max_loss_per_spread=MAX_LOSS))
    assert list(free.guards.columns) == list(GUARD_COLUMNS) and free.guards.empty
    assert exact.guards.empty  # 400 <= 400: the rule allows the spread at its limit
    assert exact.metrics["pnl"] == pytest.approx(free.metrics["pnl"], abs=1e-12) == -102.00
    assert "risk guards" not in exact.summary()


def test_max_loss_per_spread_blocks_the_entry_each_day_it_is_tried() -> None:
    r = _run([100.0, 97.0, 93.0], OptionRiskLimits(max_loss_per_spread=399.99))
    assert r.trades.empty and r.fills.empty and r.metrics["pnl"] == 0.0
    g = r.guards
    # day 0 blocked at the spread's exact max loss; day 1 tries again (a new spread at its
    # own fills); day 2 is the expiry itself: no expiry left at least min_days away
    assert list(g["date"]) == list(pd.to_datetime(["2024-01-02", "2024-01-03"]))
    assert set(g["rule"]) == {MAX_LOSS_PER_SPREAD}
    first = g.iloc[0]
    assert (first["wanted"], first["allowed"]) == (1, 0)
    assert first["value"] == pytest.approx(MAX_LOSS, abs=1e-9) and first["limit"] == 399.99
    assert first["detail"] == "max loss $400.00 per spread > $399.99; blocked"
    assert "95/90 put credit" in first["spread"]
    assert "risk guards: max_loss_per_spread x2 (entries trimmed on 0 day(s), blocked on 2)" in (
        r.summary()
    )


def test_max_contracts_trims_the_order_to_what_the_rule_allows() -> None:
    r = _run([100.0, 97.0, 93.0], OptionRiskLimits(max_contracts=2), quantity=5)
    (row,) = r.guards.itertuples()
    assert (row.rule, row.wanted, row.allowed) == (MAX_CONTRACTS, 5, 2)
    assert row.detail == "5 contracts of one option after the order > 2; trimmed to 2"
    opened = r.fills[r.fills["reason"] == "open"]
    assert list(opened["quantity"]) == [-2.0, 2.0]
    assert r.trades["quantity"].iloc[0] == 2
    # two spreads held to the same settlement as one, twice: -2 x (200 - 100 + 200) ... fees
    one = _run([100.0, 97.0, 93.0], OptionRiskLimits())
    fees = r.metrics["commissions"] - one.metrics["commissions"]
    assert r.metrics["pnl"] == pytest.approx(2 * (one.metrics["pnl"] + 2.0) - 2.0 - fees, abs=1e-9)


def test_max_short_vega_trims_by_the_spreads_vega_from_our_pricer() -> None:
    one = _run([100.0, 97.0, 93.0], OptionRiskLimits(), legs=PARITY_LEGS)
    # the book's vega at day 0's close (per 1.00 vol) is the one spread's: -> USD per vol point
    v1 = one.daily["vega"].iloc[0] / 100.0
    # by hand: each leg's BSM vega at the vol its mid implies (2.05 and 0.95 -- far above the
    # chain's 20 %), 3 days, spot = forward = 100 (r = q = 0), per vol point, x 100 shares
    k = np.array([95.0, 90.0])
    iv, _ = implied_vol(np.array([2.05, 0.95]), "P", 100.0, k, 3 / 365, 1.0)
    vega = np.asarray(bsm_greeks("P", 100.0, k, 3 / 365, 0.0, 0.0, iv).vega)
    by_hand = 100.0 * (-vega[0] + vega[1]) / 100.0
    assert v1 < 0 and v1 == pytest.approx(by_hand, rel=1e-3)
    limit = 2.5 * -v1  # room for two spreads, not three
    r = _run([100.0, 97.0, 93.0], OptionRiskLimits(max_short_vega=limit), 5, PARITY_LEGS)
    (row,) = r.guards.itertuples()
    assert (row.rule, row.wanted, row.allowed) == (MAX_SHORT_VEGA, 5, 2)
    assert row.value == pytest.approx(5 * v1, rel=1e-9) and row.limit == limit
    assert r.daily["vega"].iloc[0] / 100.0 == pytest.approx(2 * v1, rel=1e-9)


def test_a_closing_trade_always_passes_even_when_the_book_breaks_a_rule() -> None:
    # every limit as tight as the one spread allows: the book sits at its limits after entry
    v1 = _run([100.0, 97.0, 93.0], OptionRiskLimits()).daily["vega"].iloc[0] / 100.0
    limits = OptionRiskLimits(
        max_loss_per_spread=MAX_LOSS, max_contracts=1, max_short_vega=-v1 * (1 + 1e-9)
    )
    # day 1 the spot falls to 92: the 95/90 spread costs ~2.9 to close, >= 2 x the 1.00
    # credit -> the stop-loss buys it back: taking risk off is never held back
    r = _run([100.0, 92.0, 93.0], limits, stop_loss=1.0)
    assert r.guards.empty
    assert list(r.fills[r.fills["reason"] == "open"]["quantity"]) == [-1.0, 1.0]
    assert list(r.trades["exit"]) == ["stop_loss"]
    closed = r.fills[r.fills["reason"] == "stop_loss"]
    assert list(closed["quantity"]) == [1.0, -1.0]
    # and no second spread: the day's only expiry was traded
    assert len(r.trades) == 1 and math.isfinite(r.trades["pnl"].iloc[0])


def test_the_kill_switch_closes_the_spread_at_the_touch_and_opens_no_other() -> None:
    # day 1 the spot falls to 92: the spread marks ~-190 USD, 0.19 % of the 100,000 peak
    free = _run([100.0, 92.0, 93.0], OptionRiskLimits())
    loss = free.settings.init_cash - free.equity.iloc[1]
    assert 0.001 * 100_000 < loss < 0.002 * 100_000
    quotes = _chain([100.0, 92.0, 93.0], "E", LEGS)
    settings = OptionSettings(commission=NO_FEES, max_drawdown=0.001)
    r = backtest_options(quotes, PUT_CREDIT, settings)
    (row,) = r.guards.itertuples()
    assert (row.date, row.rule, row.limit) == (pd.Timestamp("2024-01-03"), "max_drawdown", 0.001)
    assert row.value == pytest.approx(free.equity.iloc[1], abs=1e-9)
    assert "no new spreads" in row.detail and "95/90 put credit" in row.spread
    assert list(r.trades["exit"]) == ["kill_switch"]
    closed = r.fills[r.fills["reason"] == "kill_switch"]
    # bought back at the touch: the 95 put at its ask, the 90 put sold at its bid
    raw = quotes[(quotes["quote_date"] == "2024-01-03") & (quotes["right"] == "P")]
    touch = raw.set_index("strike")
    assert list(closed["price"]) == [touch.loc[95.0, "ask"], touch.loc[90.0, "bid"]]
    assert r.daily["options"].iloc[1:].abs().max() == 0.0  # flat from then on
    # a daily loss limit fires the same way, named as such
    daily = backtest_options(quotes, PUT_CREDIT, OptionSettings(commission=NO_FEES,
                                                                daily_loss=0.001))  # fmt: skip
    assert list(daily.guards["rule"]) == ["daily_loss"]
    assert "risk guards: daily_loss x1 (entries trimmed on 0 day(s), blocked on 0)" in (
        daily.summary()
    )


# -- [risk] in research/configs/options_*.toml ------------------------------------------------


def _config(tmp_path: Path, risk: str, strategy: str = "") -> Path:
    p = tmp_path / "options_risk.toml"
    quotes = REPO / "data/options/SPXW_eod_2018-01-02_2018-02-28_2expiries.csv"
    p.write_text(
        f'[data]\nquotes = "{quotes}"\n[strategy]\nkind = "put_credit"\nshort_delta = 0.2\n'
        f"width = 25\n{strategy}\n[risk]\n{risk}\n"
    )
    return p


def test_risk_table_parses_like_the_live_session_config(tmp_path: Path) -> None:
    from toolkit.app.options import load_option_config
    from toolkit.live.options_config import load_option_config as load_live

    live = load_live(REPO / "live" / "options_paper.toml").risk
    rules = live.options
    text = "\n".join(f"{k} = {getattr(rules, k)!r}" for k in rules.__dataclass_fields__)
    text += f"\nmax_drawdown = {live.max_drawdown!r}"
    got = load_option_config(_config(tmp_path, text)).settings
    assert got.risk == rules and got.max_drawdown == live.max_drawdown == 0.05
    assert got.daily_loss is live.daily_loss is None
    assert load_option_config(_config(tmp_path, "")).settings.risk == OptionRiskLimits()


def test_strategy_takes_the_live_legs_expiry_window_and_delta_source(tmp_path: Path) -> None:
    from toolkit.app.options import load_option_config
    from toolkit.options.backtest import CreditSpread

    rule = load_option_config(_config(tmp_path, "", 'max_days = 50\ndelta_source = "ours"')).rule
    assert isinstance(rule, CreditSpread)
    assert rule.max_days == 50 and rule.short.delta_source == "ours"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_loss = 100", "[risk] unknown key max_loss; allowed keys: max_loss_per_spread"),
        ("max_short_vega = -1", "[risk] max_short_vega"),
        ('max_contracts = "ten"', "[risk] max_contracts"),
        ("max_orders_per_minute = 30", "[risk] max_orders_per_minute applies to the live option"),
        ("max_drawdown = 1.5", "[risk] max_drawdown"),
        ("strategy: max_days = 5", "[strategy] max_days = 5 is below min_days = 7"),
        ('strategy: delta_source = "vendor"', "[strategy] delta_source"),
    ],
)
def test_risk_table_errors_are_one_line_naming_the_key(
    tmp_path: Path, line: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.app.research import main

    strategy = line.removeprefix("strategy: ")  # a [strategy] line, else a [risk] one
    config = _config(tmp_path, "", strategy) if strategy != line else _config(tmp_path, line)
    assert main(["options-backtest", "--config", str(config), "--no-reports"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_prints_the_guards_and_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.app.research import main

    config = _config(tmp_path, "max_loss_per_spread = 2_000")
    assert main(["options-backtest", "--config", str(config), "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "risk guards (entries trimmed or blocked by the option rules):" in out
    assert "max_loss_per_spread" in out and "per spread > $2,000.00; blocked" in out
    (run,) = (p for p in tmp_path.iterdir() if p.is_dir())
    guards = pd.read_csv(run / "guards.csv")
    assert len(guards) > 0 and (guards["rule"] == MAX_LOSS_PER_SPREAD).all()
