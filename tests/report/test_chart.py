"""chart.html of a backtest report: a self-contained interactive page whose figure holds the
run's own equity, benchmark and orders."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

import toolkit as tk
from toolkit.report.chart import write_chart


def _figure(html: str) -> list[dict[str, Any]]:
    """The traces of the page's one ``Plotly.newPlot("id", [traces], layout, config)`` call."""
    call = html.split("Plotly.newPlot(", 1)[1]
    start = call.index("[")
    traces, _ = json.JSONDecoder().raw_decode(call[start:])
    return list(traces)


def _values(array: Any) -> np.ndarray:
    if isinstance(array, dict):  # plotly >= 6: typed arrays as dtype + base64 bytes
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def test_chart_page_holds_the_run(tmp_path: Path) -> None:
    bars = tk.load("SPY", start="2020-01-01", end="2022-12-31")
    result = tk.backtest(bars, "sma_cross", {"fast": 10, "slow": 40})
    qqq = tk.load("QQQ", start="2020-01-01", end="2022-12-31")["close"]
    path = write_chart(
        result, tmp_path / "chart.html", bars=bars, benchmark=qqq, benchmark_name="QQQ"
    )
    html = path.read_text()
    assert html.count('class="plotly-graph-div"') == 1
    assert "plotly.js v" in html and '<script src="http' not in html  # works offline
    traces = {t["name"]: t for t in _figure(html)}
    np.testing.assert_allclose(_values(traces["sma_cross"]["y"]), result.equity.to_numpy())
    np.testing.assert_allclose(_values(traces["QQQ"]["y"]), 100_000 * qqq / qqq.iloc[0])
    buys = result.orders[result.orders["side"] == "BUY"]
    np.testing.assert_allclose(_values(traces["buy"]["y"]), buys["price"].to_numpy())
