"""Report tables: units formatted, row numbers hidden, paths relative to the repository."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.charts import relative_path, table


def test_units_row_numbers_and_paths(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "file": [str(tmp_path / "data" / "SPY.csv"), "/elsewhere/QQQ.csv"],
            "cagr": [0.1234, -0.05],
            "final_equity": [123456.789, 99000.0],
            "trades": [12.0, 3.0],
            "sharpe": [1.23456, float("nan")],
            "when": pd.to_datetime(["2024-01-02 00:00", "2024-01-03 15:30"]),
        }
    )
    html = table(
        frame,
        percent=["cagr"],
        money=["final_equity"],
        integer=["trades"],
        paths=["file"],
        root=tmp_path,
    ).to_html()
    for shown in (
        "12.34%",
        "-5.00%",
        "123,456.79",
        "99,000.00",
        ">12<",
        "1.23<",
        "2024-01-02<",
        "2024-01-03 15:30",
        "data/SPY.csv",
        "/elsewhere/QQQ.csv",
    ):
        assert shown in html, shown
    assert str(tmp_path) not in html and "nan" not in html
    assert 'class="row_heading' not in html  # a RangeIndex is noise: hidden
    # a meaningful index stays, dates without a midnight time
    by_day = frame.set_index("when")[["cagr"]]
    shown = table(by_day, percent=["cagr"], caption="by day").to_html()
    assert 'class="row_heading' in shown and ">2024-01-02<" in shown and "by day" in shown
    assert relative_path(tmp_path / "a" / "b.csv", tmp_path) == "a/b.csv"
