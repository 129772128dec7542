"""FIFO tax lots: hand-computed cases, the one-year boundary, and agreement with the engine."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import toolkit as tk
from toolkit.errors import DataError
from toolkit.report.exports import export_tax_files, realized_lots


def _orders(rows):
    f = pd.DataFrame(rows, columns=["time", "symbol", "quantity", "price", "commission"])
    f["time"] = pd.to_datetime(f["time"], utc=True)
    return f


def test_fifo_long_lots_hand_computed() -> None:
    lots = realized_lots(
        _orders(
            [
                ("2020-01-02", "AAA", 100, 10.0, 1.0),
                ("2020-06-01", "AAA", 50, 12.0, 1.0),
                ("2021-03-01", "AAA", -120, 15.0, 1.2),
            ]
        )
    )
    first, second = lots.iloc[0], lots.iloc[1]
    # 100 from the first lot: proceeds 1500 - 1.0 (100/120 of the sale fee), basis 1000 + 1
    assert (first.quantity, first.term) == (100, "long")
    assert first.proceeds == pytest.approx(1499.0) and first.cost_basis == pytest.approx(1001.0)
    assert first.gain == pytest.approx(498.0)
    # 20 from the second lot: proceeds 300 - 0.2, basis 240 + 0.4 (20/50 of its fee)
    assert (second.quantity, second.term) == (20, "short")
    assert second.gain == pytest.approx(299.8 - 240.4)
    assert second.holding_days == (pd.Timestamp("2021-03-01") - pd.Timestamp("2020-06-01")).days


def test_short_sale_and_flip() -> None:
    lots = realized_lots(
        _orders(
            [
                ("2021-01-04", "BBB", -10, 20.0, 1.0),  # short 10
                ("2021-02-01", "BBB", 15, 18.0, 1.5),  # cover 10, go long 5
                ("2022-03-01", "BBB", -5, 30.0, 0.5),
            ]
        )
    )
    short, long_ = lots.iloc[0], lots.iloc[1]
    assert short.side == "short" and short.term == "short"
    assert short.proceeds == pytest.approx(200 - 1.0) and short.cost_basis == pytest.approx(
        180 + 1.0
    )
    assert long_.side == "long" and long_.quantity == 5 and long_.term == "long"
    assert long_.cost_basis == pytest.approx(5 * 18 + 0.5) and long_.proceeds == pytest.approx(
        150 - 0.5
    )


@pytest.mark.parametrize(("sold", "term"), [("2021-03-15", "short"), ("2021-03-16", "long")])
def test_one_year_boundary(sold: str, term: str) -> None:
    lots = realized_lots(_orders([("2020-03-15", "C", 1, 10.0, 0.0), (sold, "C", -1, 11.0, 0.0)]))
    assert lots.iloc[0].term == term


def test_totals_agree_with_the_engine_and_files_are_written(tmp_path) -> None:
    bars = tk.load("SPY", start="2010-01-01", end="2020-12-31")
    res = tk.backtest(
        bars, "sma_cross", {"fast": 20, "slow": 100}, tk.EngineSettings(commission=tk.ibkr_fixed())
    )
    paths = export_tax_files(res.orders, res.equity, res.positions, tmp_path)
    lots = pd.read_csv(paths["lots_csv"])
    closed = res.closed_trades
    # long-only, whole positions: FIFO gains add up to the engine's closed-trade P&L
    assert lots["gain"].sum() == pytest.approx(closed["pnl"].sum(), rel=1e-9)
    assert lots["commission"].sum() == pytest.approx(closed["commission"].sum(), rel=1e-9)
    records = json.loads(paths["lots_json"].read_text())
    assert len(records) == len(lots) and {"term", "gain", "cost_basis"} <= set(records[0])
    by_year = pd.read_csv(paths["summary"])
    assert by_year["gain"].sum() == pytest.approx(lots["gain"].sum())
    assert set(by_year["term"]) <= {"short", "long"}
    assert paths["equity"].is_file() and paths["positions"].is_file()


def test_missing_columns() -> None:
    with pytest.raises(DataError, match="lack column"):
        realized_lots(pd.DataFrame({"time": [], "symbol": []}))
