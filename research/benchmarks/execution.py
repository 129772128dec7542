"""Execution schedules on the shipped SPY minutes: how far each schedule's achieved price is
from the day's VWAP on the sessions after a 20-session warm-up (mean, median, p95 in bp),
and how many schedules a second each builds.

"Achieved": child i fills at its bar's typical price (high + low + close) / 3; the day VWAP
is the volume-weighted typical price of the regular session (09:30-16:00 New York). The
second table repeats it with the file's own per-bar ``vwap`` column as the fill price and in
the day VWAP. Parent: 20,000 shares over the whole regular session.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from toolkit import execution as ex
from toolkit.data.calendar import session_close, session_open

FILE = Path(__file__).resolve().parents[2] / "data/intraday/SPY_1min_2024-02-20_2024-05-17.csv"
PARENT = 20_000
WARMUP = 20


def read_minutes(path: Path = FILE) -> pd.DataFrame:
    """The minute file with its ``vwap`` column (the loader keeps OHLCV only)."""
    bars = pd.read_csv(path)
    bars.index = pd.DatetimeIndex(pd.to_datetime(bars.pop("timestamp"), utc=True), name="time")
    return bars


def _u_shape() -> np.ndarray:
    """A fixed U: weight 1 + 3 (2x - 1)^2 at the minute's middle x in (0, 1) (three times
    more at the open and close than at midday, like a textbook intraday curve)."""
    x = (np.arange(ex.MINUTES) + 0.5) / ex.MINUTES
    w = 1.0 + 3.0 * (2.0 * x - 1.0) ** 2
    return np.asarray(w / w.sum())


def _pov_rate(grid: ex.Sessions, k: int, parent: int) -> float:
    """The rate that would place the parent over the session at the past sessions' mean
    volume (causal: sessions before k only), 5 % more so a quiet day still finishes."""
    return min(0.5, 1.05 * parent / float(grid.volume[k - WARMUP : k].sum(axis=1).mean()))


def tracking(bars: pd.DataFrame, price: str = "typical", max_pct_vol: float | None = None,
             parent: int = PARENT) -> pd.DataFrame:
    """|achieved - day VWAP| in bp per held-out session and schedule."""
    grid = ex.sessions(bars, price)
    rows = []
    u_shape = _u_shape()
    for k in range(WARMUP, len(grid.days)):
        day = grid.days[k]
        session = ex.session_bars(bars, day)
        px = ex.bar_price(session, price)
        vol = session["volume"].to_numpy(float)
        day_vwap = ex.interval_vwap(px, vol)
        plans = {
            "TWAP, 390 slices": ex.twap(parent, session_open(day), session_close(day),
                                        ex.MINUTES).on_bars(session),
            "U-shaped profile": ex.vwap(parent, session, u_shape),
            "VWAP, 20-session profile": ex.vwap(
                parent, session, ex.volume_profile(grid, day, WARMUP), max_pct_vol=max_pct_vol
            ),
            "POV, parent / 20-session mean volume": ex.pov(
                parent, session, _pov_rate(grid, k, parent)),
        }
        for name, children in plans.items():
            rows.append({"session": day, "schedule": name,
                         "bp": ex.tracking_bp(ex.achieved_price(children, px), day_vwap),
                         "unplaced": children.remaining})
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, median and 95th percentile of the distance per schedule, and the sessions that
    ended with shares unplaced (their distance is that of the shares placed)."""
    g = table.groupby("schedule", sort=False)["bp"]
    short = table.unplaced.gt(0).groupby(table.schedule, sort=False).sum()
    return pd.DataFrame({"sessions": g.size(), "mean bp": g.mean(), "median bp": g.median(),
                         "p95 bp": g.quantile(0.95), "unfinished": short}).round(2)


def _rate(fn: Callable[[], object], repeat: int) -> float:
    fn()  # compile
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - t0) / repeat)
    return 1.0 / statistics.median(times)


def main() -> None:
    bars = read_minutes()
    grid = ex.sessions(bars)
    print(f"== Execution schedules: SPY minutes {grid.days[0]}..{grid.days[-1]}, "
          f"{len(grid.days) - WARMUP} sessions after a {WARMUP}-session warm-up; parent "
          f"{PARENT:,} shares over the regular session; |achieved - day VWAP| ==")
    print("fill at each bar's typical price (h+l+c)/3, day VWAP of typical prices:")
    print(summary(tracking(bars)).to_string())
    print("fill at the file's per-bar vwap column, day VWAP of that column:")
    print(summary(tracking(bars, "vwap")).to_string())
    big = 1_000_000
    capped = tracking(bars, max_pct_vol=0.01, parent=big)
    vw = capped[capped.schedule == "VWAP, 20-session profile"]
    print(f"VWAP of {big:,} shares with max_pct_vol = 1 %: mean {vw.bp.mean():.2f} bp over the "
          f"shares placed, sessions with shares left unplaced: {(vw.unplaced > 0).sum()}, "
          f"mean unplaced {vw.unplaced.mean():,.0f} shares")
    day = grid.days[-1]
    session = ex.session_bars(bars, day)
    profile = ex.volume_profile(grid, day, WARMUP)
    print("== schedule throughput (one 390-minute session, warm; median of 5) ==")
    for name, fn, repeat in [
        ("twap 390 slices", lambda: ex.twap(PARENT, session.index[0], session.index[-1], 390),
         200),
        ("twap 390, jittered", lambda: ex.twap(PARENT, session.index[0], session.index[-1], 390,
                                               time_jitter=0.5, size_jitter=0.2, seed=7), 200),
        ("vwap (profile given), 10 % cap", lambda: ex.vwap(PARENT, session, profile,
                                                           max_pct_vol=0.1), 200),
        ("volume_profile (20 sessions)", lambda: ex.volume_profile(grid, day, WARMUP), 200),
        ("pov 1 % (previous bar's volume)", lambda: ex.pov(PARENT, session, 0.01), 200),
        ("iceberg 500 shown", lambda: ex.iceberg(PARENT, session, float(session.close.iloc[0]),
                                                 500), 200),
    ]:
        print(f"{name:34s} {_rate(fn, repeat):>10,.0f} schedules/s")


if __name__ == "__main__":
    main()
