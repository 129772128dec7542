"""Reference data: the GICS sector map and market caps load from data/reference, and a
malformed row raises a one-line DataError naming the file and line."""

from __future__ import annotations

from collections import Counter

import pytest

from toolkit.data import (
    GICS_SECTORS,
    SECTOR_ETFS,
    available_symbols,
    load_market_caps,
    load_sector_map,
    sectors_for,
)
from toolkit.errors import DataError

HEADER = "symbol,security,gics_sector\n"


def test_every_shipped_stock_and_sector_etf_has_a_gics_sector() -> None:
    sectors = load_sector_map()
    assert len(sectors) == 503 + len(SECTOR_ETFS)  # BRK.B and BF.B as BRK-B and BF-B
    assert sectors["BRK-B"] == "Financials" and sectors["AAPL"] == "Information Technology"
    assert sectors["XLRE"] == "Real Estate"
    broad = {"SPY", "QQQ", "IWM", "EFA", "EEM", "TLT", "IEF", "SHY", "AGG", "LQD", "HYG"}
    broad |= {"TIP", "BIL", "GLD", "DBC", "VNQ"}
    stocks = [s for s in available_symbols() if s not in broad and s not in SECTOR_ETFS]
    assert len(stocks) == 62
    counts = Counter(sectors_for(stocks, sectors).values())
    assert set(counts) == GICS_SECTORS  # the shipped stocks cover all 11 sectors
    assert min(counts.values()) >= 3  # Real Estate: PLD, SPG, O
    with pytest.raises(DataError, match=r"no GICS sector for SPY, TLT: .*unknown='Other'"):
        sectors_for(["AAPL", "SPY", "TLT"], sectors)
    assert sectors_for(["aapl", "SPY"], sectors, unknown="Other") == {
        "AAPL": "Information Technology",
        "SPY": "Other",
    }


def test_market_caps_skip_empty_cells() -> None:
    caps = load_market_caps()
    assert len(caps) == 500  # 503 rows, 3 with no cap (BRK.B, BF.B, MRO)
    assert "BRK-B" not in caps and caps["AAPL"] == 3_572_851_277_824.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("AAA,A,Energy\nBBB,B,Tech\n", r"line 3: BBB's sector 'Tech' is not a GICS sector"),
        ("AAA,A,Energy\nAAA,A2,Energy\n", r"line 3: symbol AAA already listed on line 2"),
        ("AAA,A,Energy\n,B,Energy\n", r"line 3: empty symbol"),
        ('AAA,"A, Inc",Energy\nBBB,B, Inc,Energy\n', r"line 3: 4 fields where the header has 3"),
    ],
)
def test_malformed_sector_row_names_file_and_line(write_csv, body: str, message: str) -> None:
    path = write_csv(HEADER + body, name="sectors.csv")
    with pytest.raises(DataError, match=message) as err:
        load_sector_map(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_malformed_market_cap_and_missing_column(write_csv) -> None:
    path = write_csv("symbol,market_cap\nAAA,1e9\nBBB,\nCCC,lots\n", name="caps.csv")
    with pytest.raises(DataError, match=r"caps.csv: line 4: CCC's market_cap 'lots' is not"):
        load_market_caps(path)
    path = write_csv("symbol,market_cap\nAAA,1e9\nBBB,\n", name="caps2.csv")
    assert load_market_caps(path) == {"AAA": 1e9}
    path = write_csv("symbol,sector\nAAA,Energy\n", name="nosector.csv")
    with pytest.raises(DataError, match=r"nosector.csv: missing column gics_sector; found"):
        load_sector_map(path)
