"""Live-bridge benchmark: a lockstep rehearsal of one year of SPY daily bars through the
embedded gateway over TCP (ib_async client, SQLite journal with synchronous=FULL), and what
each decided bar costs end to end: bar out of the simulator -> broker time -> signal function
on the window -> sizing and risk rules -> journal -> order -> acknowledgement -> clock on.
It checks the session's fills against the backtest's before reporting."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit.engine.backtest import simulate, strategy_targets
from toolkit.live import Journal, load_live_config, run_session

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    (work / "live.toml").write_text(
        f"""
name = "bench"
[simulator]
start = "2022-06-01 21:30"
end = "2023-06-01"
speed = 1e8
[[strategies]]
config = "{REPO / "research/configs/spy_sma_paper.toml"}"
capital = 100000
history = "1 Y"
[session]
journal = "state/journal.sqlite"
"""
    )
    cfg = load_live_config(work / "live.toml")
    t0 = time.perf_counter()
    summary = run_session(cfg, echo=None)
    wall = time.perf_counter() - t0
    with Journal(cfg.session.journal) as j:
        decisions = j.rows("decisions", summary.session_id)
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    stamps = pd.DatetimeIndex(pd.to_datetime([d["ts"] for d in decisions])).as_unit("ns")
    gaps = np.diff(stamps.asi8) / 1e6  # ms between consecutive decisions (one bar each)
    run = cfg.strategies[0].run
    first = pd.Timestamp(decisions[0]["bar_time"])
    last = pd.Timestamp(decisions[-1]["bar_time"])
    bars = tk.load("SPY", adjust="none")
    bars = bars[(bars.index > first - pd.DateOffset(years=1)) & (bars.index <= last)]
    targets = strategy_targets(bars, tk.strategies.get(run.strategy), run.params)
    targets[targets.index < first] = np.nan
    bt = simulate(bars, targets, run.engine, run.weights, run.risk)
    same = len(fills) == len(bt.orders) and np.allclose(
        fills["price"].to_numpy(), bt.orders["price"].to_numpy(), atol=1e-6
    )
    print("== live bridge: lockstep rehearsal, SPY daily, 1 year, embedded gateway over TCP ==")
    print(
        f"{len(decisions)} bars decided, {len(fills)} fills in {wall:.1f} s wall "
        f"(start-up included): {len(decisions) / wall:.0f} simulated trading days/s"
    )
    print(
        f"per bar (bar released -> acted -> clock on): median {np.median(gaps):.1f} ms, "
        f"p95 {np.percentile(gaps, 95):.1f} ms, max {gaps.max():.1f} ms"
    )
    print(f"fills identical to the backtest's orders: {same}")


if __name__ == "__main__":
    main()
