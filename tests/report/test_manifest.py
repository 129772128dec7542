"""Run manifests record what loading did to each data file, on every run (cached or not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.app.backtest import run_backtest
from toolkit.config import load_config
from toolkit.errors import DataWarning

REPO = Path(__file__).resolve().parents[2]


def test_repairs_are_in_the_manifest_of_every_run(tmp_path: Path) -> None:
    data = tmp_path / "data" / "daily"
    data.mkdir(parents=True)
    lines = (REPO / "data" / "daily" / "SPY.csv").read_text().splitlines()
    header, rows = lines[0], lines[-300:]
    # one bar with high below low: repair="drop" removes it
    date, o, h, lo, c, *rest = rows[100].split(",")
    rows[100] = ",".join([date, o, lo, h, c, *rest])
    (data / "BAD.csv").write_text("\n".join([header, *rows]) + "\n")
    (data / "SPY.csv").write_text("\n".join(lines[0:1] + lines[-300:]) + "\n")
    cfg_path = tmp_path / "bad.toml"
    cfg_path.write_text(
        """
name = "bad"
[data]
symbols = ["BAD"]
repair = "drop"
dir = "data"
[strategy]
name = "sma_cross"
[strategy.params]
fast = 5
slow = 20
allow_short = 0
cross = 0
"""
    )
    cfg = load_config(cfg_path)
    for run in range(2):  # the second run reads the parsed file from data/.cache
        with pytest.warns(DataWarning, match="repaired 1 high below low"):
            out = run_backtest(cfg, reports_root=tmp_path / f"r{run}", tearsheet=False)
        assert out.report_dir is not None
        manifest = json.loads((out.report_dir / "manifest.json").read_text())
        bad = next(f for f in manifest["data_files"] if f["symbol"] == "BAD")
        assert bad["repair"] == "drop"
        assert bad["repairs"] == {"high below low": 1}
        assert bad["dropped_rows"] == 1
        spy = next(f for f in manifest["data_files"] if f["symbol"] == "SPY")  # benchmark
        assert spy["repairs"] == {} and spy["dropped_rows"] == 0
    assert list((tmp_path / "data" / ".cache").glob("BAD-*.parquet"))
