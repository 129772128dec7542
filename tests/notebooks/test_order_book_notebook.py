"""notebooks/14_order_book.ipynb on the first 20,000 events of GOOG's level-10 day: the book
heatmap holds the book's sizes, the queue-model table and the market maker's metrics are
toolkit.orderbook's own (recomputed here), and the fills are written. The tear sheet cell is
switched off here for time (the suite is over its budget); the full run writes it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.notebooks._execute import check_html, execute, plotly_values
from tests.orderbook._days import goog10
from toolkit.orderbook import MarketMaking, backtest_book, fill_times, touch_placements

PARAMS = {
    "max_events": 20_000,
    "placement_every": 4_000,
    "queue_horizon": 120.0,
    "heatmap_seconds": 60,
    "heatmap_cents": 1,
    "mark_seconds": 60,
    "tearsheet": False,  # quantstats' ~5 s of CPU; write_tearsheet is tested in tests/report
}


def test_order_book_notebook_heatmap_queue_models_and_market_maker(tmp_path: Path) -> None:
    run = execute("14_order_book.ipynb", PARAMS, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    (folder,) = list(tmp_path.glob("*/14_order_book-*"))
    full = goog10()
    day = replace(full, messages=full.messages[:20_000], book=full.book[:20_000])
    assert "GOOG 2012-06-21: 20,000 events, 10 levels" in text

    # (1) the heatmap (1-cent rows): each bin's best bid and ask sizes, after its last event
    heat = next(f for f in run.plotly if f["data"][0]["type"] == "heatmap")["data"][0]
    shape = [int(n) for n in str(heat["z"]["shape"]).split(",")]
    z = plotly_values(heat["z"]).reshape(shape)  # (prices, bins)
    y = plotly_values(heat["y"])
    assert z.shape == (len(y), len(heat["x"]))
    t = day.messages["time"]
    ends = np.floor(t[0] / 60) * 60 + 60 * np.arange(1, z.shape[1] + 1)
    last = np.searchsorted(t, ends, side="right") - 1
    shown = 0
    for col, i in enumerate(last):
        for off, sign in ((2, 1), (0, -1)):  # best bid (+ size), best ask (- size)
            row = np.flatnonzero(np.isclose(y, day.book[i, off] / 1e4))
            if row.size:
                assert z[row[0], col] == sign * day.book[i, off + 1]
                shown += 1
    assert shown == 2 * z.shape[1]  # every bin shows both sides' best level

    # (3) the queue table: fill_times on the same placements
    place = touch_placements(day, 4_000)
    times = fill_times(day, place, ["l3", "risk_averse", ("power2", 2.0)], horizon=120.0)
    wide = times.pivot(index="placement", columns="model", values="first_fill_s")
    assert f"{len(place)} orders of 100 shares at the touch, first fill within 120 s" in text
    for model in ("l3", "risk_averse", "power2(2)"):
        filled = 100 * wide[model].notna().mean()
        line = re.search(rf"^{re.escape(model)}\s+([-\d.]+)\s+([-\d.na]+)", text, re.M)
        assert line is not None, model
        assert float(line.group(1)) == pytest.approx(filled, abs=0.01)

    # (4) the market maker: metrics as backtest_book gives them, fills written
    res = backtest_book(day, MarketMaking(mark_seconds=60)).result
    m = res.metrics()
    assert f"P&L {m['final_equity'] - 500_000:+.2f} USD" in text
    assert re.search(rf"sharpe\s+{m['sharpe']:.4f}", text)
    assert not (folder / "tearsheet.html").exists()
    fills = pd.read_csv(folder / "fills.csv")
    assert fills["fee"].sum() == pytest.approx(m["commissions"])
    check_html(
        run,
        [
            "1. The book over time",
            "2. Order-flow imbalance against the mid's return",
            "3. Queue position: when does an order at the touch fill?",
            "4. An event-level market maker",
        ],
        0,
    )
    assert len(run.plotly) >= 5
