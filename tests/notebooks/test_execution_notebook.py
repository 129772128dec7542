"""notebooks/10_execution.ipynb: TWAP vs VWAP vs POV child schedules on one SPY session, the
|achieved - day VWAP| tracking table over held-out sessions, and an execution backtest with
its TCA split -- executed with five held-out sessions. What it prints and writes is checked
against toolkit.execution called directly."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.notebooks._execute import REPO, execute
from toolkit import execution as ex
from toolkit.data.calendar import session_close, session_open

PARAMS = {"n_sessions": 5}
PARENT = 20_000
WARMUP = 20
PARTS = ["delay_cost", "execution_cost", "opportunity_cost", "fees"]


def _bars() -> pd.DataFrame:
    raw = pd.read_csv(REPO / "data/intraday/SPY_1min_2024-02-20_2024-05-17.csv")
    return raw.set_index(pd.DatetimeIndex(pd.to_datetime(raw.pop("timestamp"), utc=True)))


def _plans(bars: pd.DataFrame, grid: ex.Sessions, day: date) -> dict[str, ex.ChildOrders]:
    session = ex.session_bars(bars, day)
    k = grid.index(day)
    rate = min(0.5, 1.05 * PARENT / float(grid.volume[k - WARMUP : k].sum(axis=1).mean()))
    return {
        "TWAP": ex.twap(PARENT, session_open(day), session_close(day), ex.MINUTES).on_bars(session),
        "VWAP": ex.vwap(PARENT, session, ex.volume_profile(grid, day, WARMUP)),
        "POV": ex.pov(PARENT, session, rate),
    }


def test_execution_notebook_schedules_tracking_and_tca(tmp_path: Path) -> None:
    run = execute("10_execution.ipynb", PARAMS, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    (folder,) = list(tmp_path.glob("*/10_execution-*"))
    bars = _bars()
    grid = ex.sessions(bars)
    assert f"{len(grid.days)} sessions" in text and "43 held out" in text

    # (1) one session (the last): each schedule's children and distance from the day VWAP
    day = grid.days[-1]
    session = ex.session_bars(bars, day)
    px = ex.bar_price(session)
    day_vwap = ex.interval_vwap(px, session["volume"].to_numpy(float))
    assert f"session {day}: day VWAP {day_vwap:.4f}" in text
    one = pd.read_csv(folder / "session_schedules.csv", index_col=0)
    for name, ch in _plans(bars, grid, day).items():
        bp = ex.tracking_bp(ex.achieved_price(ch, px), day_vwap)
        assert (
            f"{name}: {len(ch)} children, {int(ch.quantity.sum()):,} placed, "
            f"achieved {ex.achieved_price(ch, px):.4f}, |achieved - day VWAP| {bp:.2f} bp"
        ) in text
        assert one.loc[name, "placed"] + one.loc[name, "unplaced"] == PARENT
        assert one.loc[name, "|achieved - VWAP| bp"] == pytest.approx(bp, rel=1e-12)

    # (2) the tracking table over the first five held-out sessions, recomputed here
    tracking = pd.read_csv(folder / "tracking.csv")
    days = grid.days[WARMUP : WARMUP + 5]
    assert len(tracking) == 15 and tracking["session"].unique().tolist() == [str(d) for d in days]
    direct = []
    for d in days:
        s = ex.session_bars(bars, d)
        p = ex.bar_price(s)
        bench = ex.interval_vwap(p, s["volume"].to_numpy(float))
        direct += [
            ex.tracking_bp(ex.achieved_price(ch, p), bench) for ch in _plans(bars, grid, d).values()
        ]
    assert np.allclose(tracking["bp"], direct, rtol=1e-12, atol=0)
    for name, part in tracking.groupby("schedule"):
        assert (
            f"{name}: mean {part.bp.mean():.4f} bp, median {part.bp.median():.4f} bp, "
            f"p95 {part.bp.quantile(0.95):.4f} bp"
        ) in text
    means = tracking.groupby("schedule")["bp"].mean()
    assert means["VWAP"] < means["TWAP"]  # the causal profile tracks better than flat slices

    # (3) the backtest's TCA is the library's, and its four components add up to the total
    tca = pd.read_csv(folder / "tca.csv", index_col="schedule")
    assert tca.index.tolist() == ["twap", "vwap", "pov"]
    decision = pd.Timestamp(f"{days[0]} 10:00", tz="America/New_York")
    for name in tca.index:
        res = ex.execution_backtest(
            bars,
            [(decision, 300_000)],
            schedule=name,
            window="60min",
            max_pct_vol=0.05,
            impact=ex.Impact("sqrt", k=1.0),
        )
        lib = res.parents.iloc[0]
        for col in [*PARTS, "total_cost", "filled", "total_bp", "slippage_bp", "participation"]:
            assert tca.loc[name, col] == pytest.approx(float(lib[col]), rel=1e-9, abs=1e-9), col
        assert abs(tca.loc[name, PARTS].sum() - tca.loc[name, "total_cost"]) <= 1e-9 * abs(
            tca.loc[name, "total_cost"]
        )
        assert (res.fills["quantity"] <= res.fills["cap"]).all()
        m = re.search(rf"{name}: filled ([\d,]+) of 300,000, shortfall ([-\d,.]+) USD", text)
        assert m is not None
        assert float(m.group(1).replace(",", "")) == lib["filled"]
        assert m.group(2) == f"{lib['total_cost']:,.2f}"
    # every component shows up somewhere: the cap leaves TWAP short, POV starts a bar late
    assert (tca[PARTS].abs() > 0).any().all()
    assert "fills over the cap: 0" in text

    # interactive charts (schedules, tracking, waterfall, fills), embedded in the HTML report
    assert run.html.count("plotly-graph-div") >= 4
