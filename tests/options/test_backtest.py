"""Option backtests (toolkit.options.backtest): hand-computed spreads held to expiry (cash,
commissions and settlement exact to the cent), bid/ask against mid fills, assignment into a
stock position, and the SPXW end-of-day file's fills equal to its quotes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.data.options import load_option_quotes
from toolkit.engine.commissions import ibkr_option_fixed, no_costs
from toolkit.options.backtest import (
    MODEL_PRICED,
    CoveredCall,
    CreditSpread,
    OptionSettings,
    ShortStraddle,
    StrikeRule,
    backtest_options,
    implied_cash_dividends,
    model_priced_quotes,
)
from toolkit.options.black import bsm_price

DATA = Path(__file__).resolve().parents[2] / "data"
SPXW = DATA / "options" / "SPXW_eod_2018-01-02_2018-02-28_2expiries.csv"
DAYS = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-05"])
EXPIRY = pd.Timestamp("2024-01-05")
NO_FEES = ibkr_option_fixed(regulatory_fees=False)


def _chain(
    spots: list[float], style: str, quotes: dict[tuple[int, str, float], tuple[float, float]]
):  # type: ignore[no-untyped-def]
    """A small chain: strikes 85..115 by 5, both rights, one expiry (2024-01-05), quoted
    around BSM at 20% vol (parity holds, so our Greeks exist); ``quotes`` overrides
    (day index, right, strike) -> (bid, ask)."""
    rows = []
    for i, (day, spot) in enumerate(zip(DAYS, spots, strict=True)):
        years = (EXPIRY - day).days / 365.0
        strikes = np.arange(85.0, 116.0, 5.0)
        for right in ("C", "P"):
            mids = np.asarray(bsm_price(right, spot, strikes, max(years, 1e-9), 0.0, 0.0, 0.2))
            for k, mid in zip(strikes.tolist(), mids.tolist(), strict=True):
                bid, ask = quotes.get(
                    (i, right, k), (max(round(mid - 0.05, 2), 0.0), round(mid + 0.05, 2))
                )
                rows.append({
                    "quote_date": day, "underlying": "XYZ", "underlying_price": spot,
                    "expiry": EXPIRY, "right": right, "strike": k, "bid": bid, "ask": ask,
                    "last": mid, "volume": 0.0, "open_interest": 0.0, "iv": 0.2,
                    "delta": np.nan, "gamma": np.nan, "theta": np.nan, "vega": np.nan,
                    "style": style, "multiplier": 100.0,
                    "symbol": f"XYZ 240105{right}{int(k * 1000):08d}",
                })  # fmt: skip
    return pd.DataFrame(rows)


# day 0: spot 100; the 95 put 2.00 / 2.10, the 90 put 0.90 / 1.00; expiry close 93.00
LEGS = {(0, "P", 95.0): (2.00, 2.10), (0, "P", 90.0): (0.90, 1.00)}
PUT_CREDIT = CreditSpread(
    kind="put_credit", days=3, min_days=1, short=StrikeRule(points=5.0), width=5.0,
    take_profit=None, stop_loss=None,
)  # fmt: skip


def test_put_credit_spread_to_cash_settled_expiry_exact_to_the_cent() -> None:
    quotes = _chain([100.0, 97.0, 93.0], "E", LEGS)
    r = backtest_options(quotes, PUT_CREDIT, OptionSettings(commission=NO_FEES))
    opened = r.fills[r.fills["reason"] == "open"]
    # sell the 95 put at its bid 2.00, buy the 90 put at its ask 1.00: credit 100.00;
    # each one-contract order pays 0.65 raised to the USD 1.00 minimum
    assert list(opened["price"]) == [2.00, 1.00]
    assert list(opened["fee"]) == [1.00, 1.00]
    settled = r.fills[r.fills["date"] == EXPIRY]
    # SPX-style cash settlement at 93.00: the 95 put pays 2.00 x 100, the 90 put expires
    assert sorted(settled["reason"]) == ["expire", "settle"]
    assert settled["cash_flow"].sum() == pytest.approx(-200.00, abs=1e-9)
    assert r.daily["cash"].iloc[-1] == pytest.approx(100_000 + 200 - 100 - 2 - 200, abs=1e-9)
    assert r.equity.iloc[-1] == pytest.approx(99_898.00, abs=1e-9)
    assert r.trades["pnl"].iloc[0] == pytest.approx(-102.00, abs=1e-9)
    # 5 wide for a 1.00 credit: at most (5 - 1) x 100 = 400 to lose, before fees
    assert r.trades["max_loss"].iloc[0] == pytest.approx(-400.00, abs=1e-9)
    assert r.trades["return_on_risk"].iloc[0] == pytest.approx(-102.00 / 400.00, abs=1e-12)
    assert r.trades["exit"].iloc[0] == "expiry"
    assert r.metrics["commissions"] == pytest.approx(2.00, abs=1e-12)
    assert r.metrics["win_rate"] == 0.0
    assert r.metrics["average_spread_pnl"] == pytest.approx(-102.00, abs=1e-9)
    assert r.metrics["pnl"] == pytest.approx(-102.00, abs=1e-9)
    assert r.metrics["max_drawdown_usd"] >= 102.00 - 1e-9


def test_mid_fills_collect_the_half_spreads_touch_fills_pay() -> None:
    quotes = _chain([100.0, 97.0, 93.0], "E", LEGS)
    touch = backtest_options(quotes, PUT_CREDIT, OptionSettings(commission=NO_FEES))
    mid = backtest_options(quotes, PUT_CREDIT, OptionSettings(commission=NO_FEES, fill="mid"))
    assert list(mid.fills[mid.fills["reason"] == "open"]["price"]) == [2.05, 0.95]
    # mid credit 1.10 vs 1.00 at the touch: 10.00 more, all of it on the entry day
    assert mid.equity.iloc[-1] - touch.equity.iloc[-1] == pytest.approx(10.00, abs=1e-9)
    assert touch.attribution["trading"].iloc[0] == pytest.approx(-10.00, abs=1e-9)
    assert mid.attribution["trading"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_assigned_short_put_becomes_a_stock_position() -> None:
    quotes = _chain([100.0, 97.0, 93.0], "A", LEGS)  # American, physically settled
    r = backtest_options(quotes, PUT_CREDIT, OptionSettings(commission=NO_FEES))
    delivery = r.fills[r.fills["reason"] == "delivery (assigned)"]
    assert list(delivery["quantity"]) == [100.0] and list(delivery["price"]) == [93.0]
    last = r.daily.iloc[-1]
    assert last["underlying_units"] == 100.0
    # the strike is paid: 100,000 + 100 credit - 2 fees - 9,500; equity as cash-settled
    assert last["cash"] == pytest.approx(90_598.00, abs=1e-9)
    assert r.equity.iloc[-1] == pytest.approx(99_898.00, abs=1e-9)


def test_fees_follow_ibkr_with_regulatory_pass_through() -> None:
    quotes = _chain([100.0, 97.0, 93.0], "E", LEGS)
    r = backtest_options(quotes, PUT_CREDIT, OptionSettings(commission=ibkr_option_fixed()))
    per = 0.01915 + 0.0048 + 0.02  # ORF + CAT + OCC per contract
    sold = 1.00 + per + 0.0000278 * 200.0 + 0.00279  # the 95 put sold at 2.00
    bought = 1.00 + per
    assert r.metrics["commissions"] == pytest.approx(sold + bought, abs=1e-12)


@pytest.fixture(scope="module")
def spxw() -> pd.DataFrame:
    return load_option_quotes(SPXW)


def test_spxw_fills_are_the_files_bid_and_ask_and_attribution_adds_up(
    spxw: pd.DataFrame,
) -> None:
    quotes = spxw
    r = backtest_options(quotes, CreditSpread(), OptionSettings(hedge_commission=no_costs()))
    raw = quotes.set_index(["quote_date", "symbol"])
    opts = r.fills[r.fills["reason"].isin(["open", "take_profit", "stop_loss"])]
    assert len(opts) > 0
    for f in opts.itertuples():
        bid, ask = raw.loc[(f.date, f.symbol), ["bid", "ask"]]
        assert f.price == (ask if f.quantity > 0 else bid)  # bought at the ask, sold at the bid
    a = r.attribution
    parts = a.drop(columns="total").sum(axis=1)
    assert np.abs(parts - a["total"]).max() < 1e-9
    change = r.equity.diff().fillna(r.equity.iloc[0] - r.settings.init_cash)
    assert np.abs(change - a["total"]).max() < 1e-8
    # each spread's P&L is its option cash flows, fees included
    assert r.trades["pnl"].sum() == pytest.approx(r.metrics["pnl"], abs=1e-6)


def test_hedged_straddle_on_spxw_keeps_delta_near_zero_and_attribution_exact(
    spxw: pd.DataFrame,
) -> None:
    r = backtest_options(spxw, ShortStraddle())
    # the hedge is rounded to whole index units: the book's delta stays within half a unit
    assert r.daily["delta"].abs().max() <= 0.5 + 1e-9
    a = r.attribution
    assert np.abs(a.drop(columns="total").sum(axis=1) - a["total"]).max() < 1e-9
    assert a["total"].sum() == pytest.approx(r.metrics["pnl"], abs=1e-6)
    assert a["gamma"].sum() < 0 and a["theta"].sum() > 0  # short gamma, long theta
    # vanna, volga and carry explain most of what delta, gamma, theta and vega leave on the
    # spike (residual 5,531.60 USD without them, 5,286 of it on 5 and 8 February)
    before = a["residual"] + a["vanna"] + a["volga"] + a["carry"]
    assert before.sum() == pytest.approx(5531.60, abs=0.01)
    assert a["residual"].abs().sum() < 0.4 * before.abs().sum()
    assert a.loc[["2018-02-05", "2018-02-08"], "residual"].abs().sum() < 0.25 * 5286
    assert a["vanna"].sum() > 0 and a["volga"].sum() < 0
    rv = r.revaluation
    assert np.abs(rv["higher_order"] + rv["unexplained"] - a["residual"]).max() < 1e-9
    assert "SPX traded at each close -- the index itself, a PROXY" in r.summary()
    # hedged in ES-sized lots (50 x the index): the hedge is a multiple of 50 units
    es = backtest_options(spxw, ShortStraddle(hedge_lot=50.0))
    units = es.daily["underlying_units"].to_numpy()
    assert np.all(units % 50.0 == 0.0) and np.abs(units).max() > 0


def test_model_priced_covered_call_is_labelled_and_gets_assigned() -> None:
    days = pd.bdate_range("2024-01-02", "2024-04-30")
    closes = pd.Series(np.linspace(100.0, 130.0, len(days)), index=days)  # rallies through
    vol = pd.Series(0.20, index=days)
    quotes = model_priced_quotes(closes, vol, underlying="XYZ", strike_width=0.1)
    r = backtest_options(quotes, CoveredCall())
    assert r.model_priced and r.pricing.startswith(MODEL_PRICED)
    assert MODEL_PRICED in r.summary().splitlines()[0]
    assert r.fills.attrs["pricing"] == r.pricing
    assigned = r.fills[r.fills["reason"] == "delivery (assigned)"]
    assert len(assigned) >= 2 and (assigned["quantity"] == -100.0).all()
    # a dividend of 0.50 on 2024-01-10 (shares held since 01-02): 100 x 0.50 credited
    paid = backtest_options(
        quotes, CoveredCall(), dividends=pd.Series([0.5], index=[pd.Timestamp("2024-01-10")])
    )
    (row,) = paid.fills[paid.fills["reason"] == "dividend"].itertuples()
    assert row.cash_flow == pytest.approx(50.0, abs=1e-12)
    assert paid.equity.iloc[-1] - r.equity.iloc[-1] == pytest.approx(50.0, abs=1e-9)
    assert paid.attribution.loc["2024-01-10", "underlying"] == pytest.approx(
        r.attribution.loc["2024-01-10", "underlying"] + 50.0, abs=1e-9
    )


def test_cash_dividends_implied_by_the_total_return_close() -> None:
    days = pd.bdate_range("2024-01-02", periods=4)
    close = pd.Series([100.0, 101.0, 99.0, 99.5], index=days)
    # day 3 goes ex 1.20: the total return is (99 + 1.2) / 101
    adj = pd.Series([1.0, 1.01, 1.01 * 100.2 / 101.0, 1.01 * 100.2 / 101.0 * 99.5 / 99.0],
                    index=days)  # fmt: skip
    got = implied_cash_dividends(close, adj)
    assert list(got.index) == [days[2]] and got.iloc[0] == pytest.approx(1.2, abs=1e-12)


def test_cli_runs_the_spxw_condor_config_and_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.app.research import main

    config = Path(__file__).resolve().parents[2] / "research/configs/options_spxw_condor.toml"
    assert main(["options-backtest", "--config", str(config), "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pricing: quotes" in out and "short iron condor" in out and MODEL_PRICED not in out
    (run,) = tmp_path.iterdir()
    fills = pd.read_csv(run / "fills.csv")
    assert (fills["reason"] == "open").sum() == 8  # two condors of four legs
    assert (run / "attribution.csv").is_file() and (run / "summary.txt").is_file()
    assert (run / "revaluation.csv").is_file()


def test_cli_config_errors_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from toolkit.app.research import main

    bad = tmp_path / "options_bad.toml"
    bad.write_text('[data]\nquotes = "x.csv"\n[strategy]\nkind = "iron_condor"\nwidth = 50\n')
    assert main(["options-backtest", "--config", str(bad), "--no-reports"]) == 2
    err = capsys.readouterr().err
    assert "[strategy] short_delta" in err and "short_points" in err


SPXW_PNL = {
    "options_spxw_condor": "-4,757.07",
    "options_spxw_put_credit": "-2,233.59",
    "options_spxw_put_credit_live": "-1,683.61",  # live/options_paper.toml's strategy
    "options_spxw_straddle": "-7,362.82",
}
OPTION_CONFIGS = sorted(
    (Path(__file__).resolve().parents[2] / "research" / "configs").glob("options_*.toml")
)


@pytest.mark.parametrize("config", OPTION_CONFIGS, ids=lambda p: p.stem)
def test_every_option_config_loads_and_the_quoted_ones_run(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.app.options import load_option_config
    from toolkit.app.research import main

    cfg = load_option_config(config)
    if cfg.model is not None:  # model-priced over years: the parser only (the run takes ~20 s)
        assert cfg.quotes is None and cfg.model["vol"] == "VIX"
        return
    assert main(["options-backtest", "--config", str(config), "--no-reports"]) == 0
    out = capsys.readouterr().out
    assert "pricing: quotes" in out
    # the configs' [risk] limits (the live session's rules) bind nowhere: the results are
    # those of the runs without them (pinned 2026-11-28), and no guard fired
    assert f"P&L {SPXW_PNL[config.stem]} USD" in out and "risk guards" not in out


def test_short_call_is_assigned_early_ahead_of_a_dividend_beating_its_time_value() -> None:
    days = pd.bdate_range("2024-01-02", "2024-02-29")
    closes = pd.Series(np.linspace(100.0, 115.0, len(days)), index=days)
    quotes = model_priced_quotes(
        closes, pd.Series(0.20, index=days), underlying="XYZ", strike_width=0.1
    )
    ex = pd.Timestamp("2024-01-19")  # goes ex on the expiry day: a holder exercises the 18th
    r = backtest_options(quotes, CoveredCall(), dividends=pd.Series([2.0], index=[ex]))
    early = r.fills[r.fills["reason"] == "early assignment"]
    (row,) = early.itertuples()
    assert row.date == pd.Timestamp("2024-01-18") and row.quantity == 1.0
    delivered = r.fills[
        (r.fills["date"] == row.date) & (r.fills["reason"] == "delivery (assigned)")
    ]
    assert list(delivered["quantity"]) == [-100.0]
    assert r.trades["exit"].iloc[0] == "early_exercise"
    # without the dividend the call is held to its expiry on the 19th
    plain = backtest_options(quotes, CoveredCall())
    assert (plain.fills["reason"] != "early assignment").all()
    assert plain.trades["exit"].iloc[0] == "expiry"


def test_a_stop_never_buys_a_spread_back_for_more_than_it_can_cost_at_expiry() -> None:
    # day 1 (spot 92) the 95/90 put spread's mid cost 4.95 >= 2 x the 1.00 credit: a stop.
    # At the touch it costs 6.00 - 0.50 = 5.50 for a 5-point spread, more than it can ever
    # cost at expiry: it waits (as the live session's bounded combo limit would not fill),
    # and settles at 93 for 2.00; with a touch inside the bound it closes at the stop
    wide = {**LEGS, (1, "P", 95.0): (5.00, 6.00), (1, "P", 90.0): (0.50, 0.60)}
    rule = CreditSpread(
        kind="put_credit", days=3, min_days=1, short=StrikeRule(points=5.0), width=5.0,
        take_profit=None, stop_loss=1.0,
    )  # fmt: skip
    r = backtest_options(_chain([100.0, 92.0, 93.0], "E", wide), rule,
                         OptionSettings(commission=NO_FEES))  # fmt: skip
    assert list(r.trades["exit"]) == ["expiry"]
    assert r.trades["pnl"].iloc[0] == pytest.approx(100.0 - 200.0 - 2.0, abs=1e-9)
    inside = {**wide, (1, "P", 95.0): (4.40, 4.60)}
    r = backtest_options(_chain([100.0, 92.0, 93.0], "E", inside), rule,
                         OptionSettings(commission=NO_FEES))  # fmt: skip
    assert list(r.trades["exit"]) == ["stop_loss"]
    assert r.trades["pnl"].iloc[0] == pytest.approx(100.0 - (4.60 - 0.50) * 100 - 4.0, abs=1e-9)
