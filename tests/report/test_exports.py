"""FIFO tax lots: hand-computed cases, the one-year boundary, and agreement with the engine."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

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


def _raw_rows(symbol: str) -> dict[str, dict[str, float]]:
    """The data file's own values by date, read with the csv module (no toolkit loader)."""
    path = Path(__file__).resolve().parents[2] / "data" / "daily" / f"{symbol}.csv"
    with path.open(newline="") as fh:
        return {
            r["date"]: {k: float(v) for k, v in r.items() if k != "date"}
            for r in csv.DictReader(fh)
        }


def test_backtest_export_lots_use_the_traded_prices_and_dividends_are_income(tmp_path) -> None:
    """qqq_donchian backtests dividend-adjusted prices; its tax lots must not: hand-computed
    from the raw file, the first lot buys floor(50,000 / close of 2005-05-26) shares at the
    2005-05-27 open plus 2 bp slippage (38.14 -> 38.1476, not the adjusted 32.58) and sells
    them at the 2005-06-27 open less 2 bp; the 2005-06-17 dividend on those shares is income."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit.report",
            "export",
            "--config",
            "research/configs/qqq_donchian.toml",
            "--out",
            str(tmp_path),
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    raw = _raw_rows("QQQ")
    lots = pd.read_csv(tmp_path / "realized_lots.csv")
    first = lots.iloc[0]
    shares = int(50_000 // raw["2005-05-26"]["close"])
    assert (first.quantity, first.opened[:10], first.closed[:10]) == (
        shares,
        "2005-05-27",
        "2005-06-27",
    )
    assert first.open_price == pytest.approx(38.14 * 1.0002, abs=1e-9)
    assert first.open_price == pytest.approx(raw["2005-05-27"]["open"] * 1.0002, abs=1e-9)
    assert first.close_price == pytest.approx(raw["2005-06-27"]["open"] * 0.9998, abs=1e-9)
    assert first.gain == pytest.approx(
        shares * (first.close_price - first.open_price) - first.commission, abs=1e-6
    )
    # dividend of 2005-06-17: D = C(06-16) * (1 - f(06-16) / f(06-17)), f = adj_close / close
    before, ex = raw["2005-06-16"], raw["2005-06-17"]
    per_share = before["close"] * (
        1 - (before["adj_close"] / before["close"]) / (ex["adj_close"] / ex["close"])
    )
    divs = pd.read_csv(tmp_path / "dividends.csv")
    row = divs[divs["ex_date"].str.startswith("2005-06-17")].iloc[0]
    assert row.shares == shares and row.per_share == pytest.approx(per_share, rel=1e-9)
    assert row.amount == pytest.approx(shares * per_share, rel=1e-9)
    assert 0.03 < per_share < 0.04  # QQQ paid $0.035 that quarter
    by_year = pd.read_csv(tmp_path / "realized_by_year.csv")
    assert by_year[by_year["term"] == "dividend"]["gain"].sum() == pytest.approx(
        divs["amount"].sum()
    )
    # every fill is at a price of its own bar's raw open (+/- slippage), never an adjusted one
    fills = pd.read_csv(tmp_path / "fills.csv")
    for _, f in fills[fills["reason"] == "signal"].iterrows():
        bar_open = raw[f.time[:10]]["open"]
        assert f.price == pytest.approx(bar_open * (1.0002 if f.quantity > 0 else 0.9998))
    assert "unadjusted" in (tmp_path / "NOTES.txt").read_text()


def test_unadjusted_config_exports_the_backtest_itself(tmp_path) -> None:
    from toolkit.app.backtest import run_backtest
    from toolkit.app.tax_inputs import backtest_tax_inputs
    from toolkit.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "research/configs/spy_sma_paper.toml")
    inputs = backtest_tax_inputs(cfg)
    bt = run_backtest(cfg, reports_root=None).result
    pd.testing.assert_frame_equal(inputs.orders, bt.orders)
    assert len(inputs.dividends) > 0 and set(inputs.dividends["kind"]) <= {
        "dividend",
        "payment_on_short",
    }
