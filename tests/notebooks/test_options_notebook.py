"""notebooks/09_options.ipynb: the SPY chain with our implied vols and American Greeks, the SVI
surface, VIX rank, an SPXW iron condor's payoff and scenarios, and the two SPXW backtests with
their attribution -- executed with a short surface (expiries up to 60 days) the way a report
is. What it prints is checked against the library called directly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit.options as opt
from tests.notebooks._execute import REPO, execute
from toolkit.data import load_option_quotes
from toolkit.options.backtest import CreditSpread, StrikeRule, backtest_options

PARAMS = {
    "surface_max_days": 60,
    "smile_days": [7, 30],
    # a week of the paper session: it opens its first put-credit spread on 2018-01-12
    "session_start": "2018-01-11 21:30",
    "session_end": "2018-01-16",
}


def test_options_notebook_shows_chain_surface_spread_and_backtests(tmp_path: Path) -> None:
    run = execute("09_options.ipynb", PARAMS, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    (folder,) = list(tmp_path.glob("*/09_options-*"))

    # the chain and its implied-vol outcome: every contract accounted for, no silent zero
    m = re.search(r"SPY chain of 2026-02-11: ([\d,]+) contracts, 31 expiries", text)
    assert m is not None
    outcome = re.search(r"implied vol outcome over the whole chain: (.*)", text)
    assert outcome is not None
    counts = [int(n.replace(",", "")) for n in re.findall(r"[A-Z_]+ ([\d,]+)", outcome.group(1))]
    assert sum(counts) == int(m.group(1).replace(",", ""))

    # the surface: fitted slices without butterfly arbitrage, the 30-day vol reported
    ts = pd.read_csv(folder / "term_structure.csv")
    assert len(ts) >= 8 and (ts["days"] <= 60).all()
    assert (ts["butterfly_violations"] == 0).all() and (ts["min_g"] >= 0).all()
    assert "butterfly arbitrage on the fitted grids: 0 points with g < 0" in text
    assert re.search(r"30-day constant-maturity ATM implied vol: \d+\.\d\d%", text)

    # the condor the notebook built is the one the templates build, with its exact payoff
    eod = load_option_quotes(REPO / "data/options/SPXW_eod_2018-01-02_2018-02-28_2expiries.csv")
    chain = opt.chain_on(eod, "2018-01-16")
    condor = opt.iron_condor(
        chain, days=30, short_put=opt.by_delta(0.16), short_call=opt.by_delta(0.16), width=50.0
    )
    pay = opt.summarize(condor)
    assert condor.name in text
    assert f"max gain {pay.max_gain:,.0f} USD, max loss {pay.max_loss:,.0f} USD" in text
    assert all(f"{b:,.2f}" in text for b in pay.breakevens)

    # the backtest tables are the library's, and each attribution adds up to the P&L
    att = pd.read_csv(folder / "attribution_totals.csv", index_col=0)
    direct = backtest_options(eod, CreditSpread(kind="iron_condor", short=StrikeRule(delta=0.16)))
    assert np.isclose(att.loc["total", "short iron condor"], direct.metrics["pnl"], atol=1e-6)
    parts = att.drop(index="total")
    assert np.allclose(parts.sum(), att.loc["total"], atol=1e-6)
    daily = pd.read_csv(folder / "attribution_delta-hedged_short_straddle.csv", index_col=0)
    assert np.allclose(daily.drop(columns="total").sum(axis=1), daily["total"], atol=1e-6)

    # the paper session on the simulator: a combo order filled, each leg booked in its journal
    m = re.search(r"option session \S+: (\d+) combo orders, (\d+) leg fills", text)
    assert m is not None and int(m.group(1)) >= 1 and int(m.group(2)) >= 2
    fills = pd.read_csv(folder / "session_fills.csv")
    assert len(fills) == int(m.group(2))
    assert fills["symbol"].str.startswith("SPXW").all()
    assert set(fills["side"]) <= {"BOT", "SLD"} and (fills["commission"] > 0).all()

    # interactive charts, embedded in the HTML report
    assert run.html.count("plotly-graph-div") >= 6
