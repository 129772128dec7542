"""Option quotes: every shipped format loads into the one canonical frame, and each fault of a
malformed file is refused naming file, line and field, or flagged, as the loader documents."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.data import load_option_quotes
from toolkit.data.options import COLUMNS
from toolkit.errors import DataError, DataWarning

OPTOPSY = (
    "underlying,underlying_last,exchange,optionroot,optionext,type,expiration,quotedate,"
    "strike,last,bid,ask,volume,openinterest,impliedvol,delta,gamma,theta,vega,optionalias\n"
)
GOOD = [
    "SPXW,2695.79,W,SPXW180131C02700000,,call,01/31/2018,01/02/2018,2700,30.5,30.1,30.9,12,100,0.1,0.5,0.003,-120,250,",
    "SPXW,2695.79,W,SPXW180131P02700000,,put,01/31/2018,01/02/2018,2700,33.5,33.1,33.9,7,90,0.11,-0.5,0.003,-110,250,",
    "SPXW,2713.06,W,SPXW180131C02700000,,call,01/31/2018,01/03/2018,2700,40.5,40.1,40.9,3,112,0.1,0.55,0.003,-125,245,",
]
IVOL = (
    "symbol,exchange,company_name,date,stock_price_close,option_symbol,option_expiration,strike,"
    "call/put,style,ask,bid,mean_price,settlement,iv,volume,open_interest,stock_price_for_iv,"
    "forward_price,isinterpolated,delta,vega,gamma,theta,rho\n"
)
YF = (
    "contractSymbol,optionType,expirationDate,strike,bid,ask,lastPrice,lastTradeDate,change,"
    "percentChange,volume,openInterest,impliedVolatility,inTheMoney,contractSize,currency,"
    "underlyingPrice\n"
)
YF_ROW = (
    "SPY260220C00690000,call,2026-02-20,690.0,8.1,8.2,8.15,2026-02-11 16:00:00+00:00,0,0,{vol},"
    "5,{iv},{itm},{size},USD,692.3"
)


def _write(tmp_path: Path, text: str, name: str = "quotes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@cache
def _shipped(name: str) -> pd.DataFrame:
    """A shipped file, loaded once per test session (read-only use)."""
    return load_option_quotes(name)


def _optopsy(tmp_path: Path, rows: list[str]) -> Path:
    return _write(tmp_path, OPTOPSY + "\n".join(rows) + "\n")


# -- the shipped files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rows", "dates", "style", "spot", "iv_missing"),
    [
        ("SPXW_eod_2018-01-02_2018-02-28_2expiries.csv", 14438, 40, "E", 2695.79, 0),
        ("SPX_eod_2011-01-03_2011-01-07_ivolatility.csv", 9832, 5, "E", 1271.87, 216),
        ("VXX_eod_2016-12.csv", 27940, 20, "A", 28.95, 311),
        ("SPY_chain_2025-08-26.csv", 7011, 1, "A", 645.16, 142),
        ("SPY_chain_2026-02-11.csv", 8778, 1, "A", 692.2999877929688, 133),
        ("SPY_chain_2026-05-01.csv", 7722, 1, "A", 720.6500244140625, 231),
    ],
)
def test_shipped_files_load_into_the_canonical_frame(
    name: str, rows: int, dates: int, style: str, spot: float, iv_missing: int
) -> None:
    q = _shipped(name)
    assert tuple(q.columns) == COLUMNS
    assert len(q) == rows and q["quote_date"].nunique() == dates
    assert q["quote_date"].dtype == "datetime64[ns]" and q["expiry"].dtype == "datetime64[ns]"
    assert set(q["style"]) == {style} and set(q["right"]) == {"C", "P"}
    assert q["underlying_price"].iloc[0] == spot
    assert int(q["iv"].isna().sum()) == iv_missing
    assert (q["multiplier"] == 100).all() and not q["crossed"].any()
    assert (q["expiry"] >= q["quote_date"]).all()
    assert not q.duplicated(["quote_date", "symbol"]).any()
    assert q["symbol"].str.len().eq(21).all()  # IB's localSymbol: root padded to 6
    for c in ("strike", "bid", "ask", "volume", "open_interest", "underlying_price"):
        assert q[c].notna().all(), c
    keys = ["quote_date", "expiry", "right", "strike"]
    assert q[keys].equals(q.sort_values(keys)[keys].reset_index(drop=True))


def test_index_roots_trade_on_the_index_and_saturday_expiries_become_fridays() -> None:
    spx = _shipped("SPX_eod_2011-01-03_2011-01-07_ivolatility.csv")
    assert set(spx["underlying"]) == {"SPX"} and set(spx["root"]) == {"SPX", "SPXW", "SPXPM"}
    # the 2011-01-21 monthly's OCC symbol carries the Saturday 110122
    monthly = spx[spx["symbol"] == "SPX   110122C01275000"]
    assert set(monthly["expiry"]) == {pd.Timestamp("2011-01-21")}
    vxx = _shipped("VXX_eod_2016-12.csv")
    assert (vxx["expiry"].dt.day_of_week == 4).all()  # the file writes 12/17/2016 etc.
    assert pd.Timestamp("2016-12-08") not in set(vxx["quote_date"])  # missing in the source
    spxw = _shipped("SPXW_eod_2018-01-02_2018-02-28_2expiries.csv")
    assert set(spxw["underlying"]) == {"SPX"} and set(spxw["root"]) == {"SPXW"}


def test_vendor_placeholders_become_nan(tmp_path: Path) -> None:
    ivol = (
        IVOL + "SPX,CBOE,S&P 500,01/03/2011,1271.87,SPX   110319C00500000,03/18/2011,500.0,C,E,"
        "766.7,761.3,764.0,0.0,-1.0,0,0,1271.87,1266.7,,0.0,0.0,0.0,0.0,0.0\n"
        + "SPX,CBOE,S&P 500,01/03/2011,1271.87,SPX   110319P00500000,03/18/2011,500.0,P,E,"
        "0.5,0.0,0.0,0.0,0.61,0,30,1271.87,1266.7,,-0.001,0.02,0.0,-0.01,0.0\n"
    )
    q = load_option_quotes(_write(tmp_path, ivol))
    assert q["iv"].isna().tolist() == [True, False] and q["delta"].isna().tolist() == [True, False]
    assert q["iv"].iloc[1] == 0.61 and q["last"].isna().all()  # iVolatility has no last
    floor = GOOD[0].replace("0.1,0.5,0.003,-120,250", "0.01,0,0,0,0")
    q = load_option_quotes(_optopsy(tmp_path, [floor]))
    assert q[["iv", "delta", "gamma", "theta", "vega"]].isna().all().all()
    yf = YF + YF_ROW.format(vol="", iv="1.0000000000000003e-05", itm="True", size="REGULAR")
    q = load_option_quotes(_write(tmp_path, yf + "\n", "SPY_chain_2026-02-11.csv"))
    assert np.isnan(q["iv"].iloc[0]) and q["volume"].iloc[0] == 0  # empty volume: no trade


def test_crossed_quotes_are_kept_and_flagged(tmp_path: Path) -> None:
    crossed = GOOD[1].replace("33.1,33.9", "34.2,33.9")
    q = load_option_quotes(_optopsy(tmp_path, [GOOD[0], crossed]))
    assert q["crossed"].tolist() == [False, True]
    assert q["bid"].iloc[1] == 34.2  # the quote is kept as the vendor wrote it


# -- refused faults: one malformed file each ----------------------------------------------


@pytest.mark.parametrize(
    ("index", "replace", "message"),
    [
        (1, ("01/02/2018,2700", "2018-01-02,2700"), r"line 3: quote_date is not a date"),
        (0, ("call", "cal"), r"line 2: right is neither call nor put"),
        (1, ("33.1,33.9", "-33.1,33.9"), r"line 3: bid is negative"),
        (2, ("40.1,40.9", "40.1,abc"), r"line 4: ask is not a finite number"),
        (2, ("40.1,40.9", ",40.9"), r"line 4: bid is empty"),
        (0, ("12,100,", "-12,100,"), r"line 2: volume is negative"),
        (0, ("2695.79", "0"), r"line 2: underlying_price is not positive"),
        (0, ("01/31/2018,01/02/2018", "12/29/2017,01/02/2018"), r"line 2: symbol disagrees with"),
        (0, ("SPXW180131C02700000", "SPXW180131C02750000"), r"line 2: symbol disagrees with"),
        (0, ("SPXW180131C02700000", "SPXW18013C02700000"), r"line 2: symbol is not an OCC"),
        (2, ("01/03/2018", "01/15/2018"), r"line 4: quote_date .* \(2018-01-15\)"),
        (1, ("0.11,-0.5", "-0.2,-0.5"), r"line 3: iv is negative"),
    ],
)
def test_each_fault_is_refused_naming_file_line_and_field(
    tmp_path: Path, index: int, replace: tuple[str, str], message: str
) -> None:
    rows = list(GOOD)
    assert replace[0] in rows[index]
    rows[index] = rows[index].replace(replace[0], replace[1], 1)
    with pytest.raises(DataError, match=message) as err:
        load_option_quotes(_optopsy(tmp_path, rows))
    assert str(tmp_path / "quotes.csv") in str(err.value) and "\n" not in str(err.value)


def test_expiry_before_quote_date_is_refused(tmp_path: Path) -> None:
    late = GOOD[2].replace("01/03/2018", "02/01/2018")
    with pytest.raises(
        DataError, match=r"line 4: expiry is before the quote date \(2018-01-31 < 2018-02-01\)"
    ):
        load_option_quotes(_optopsy(tmp_path, [GOOD[0], GOOD[1], late]))


def test_a_contract_twice_on_one_date_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"line 3: symbol is quoted twice on one date \('SPXW  180131C02700000'\)"
    ):
        load_option_quotes(_optopsy(tmp_path, [GOOD[0], GOOD[0]]))


def test_unknown_format_missing_column_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not a known option-quote format"):
        load_option_quotes(_write(tmp_path, "a,b\n1,2\n"))
    with pytest.raises(DataError, match=r"optopsy format without column openinterest"):
        load_option_quotes(_write(tmp_path, OPTOPSY.replace("openinterest", "oi") + GOOD[0]))
    with pytest.raises(DataError, match=r"the file is empty"):
        load_option_quotes(_write(tmp_path, ""))
    with pytest.raises(DataError, match=r"no data rows"):
        load_option_quotes(_write(tmp_path, OPTOPSY))
    with pytest.raises(DataError, match=r"file not found"):
        load_option_quotes(tmp_path / "absent.csv")


def test_snapshot_faults(tmp_path: Path) -> None:
    def yf(name: str, **kw: str) -> Path:
        cells = {"vol": "3", "iv": "0.2", "itm": "True", "size": "REGULAR", **kw}
        return _write(tmp_path, YF + YF_ROW.format(**cells) + "\n", name)

    q = load_option_quotes(yf("SPY_chain_2026-02-11.csv"))
    assert q["quote_date"].iloc[0] == pd.Timestamp("2026-02-11")
    assert q["underlying"].iloc[0] == "SPY" and q["underlying_price"].iloc[0] == 692.3
    # no date in the name: the New York date of the latest trade
    q = load_option_quotes(yf("chain.csv"))
    assert q["quote_date"].iloc[0] == pd.Timestamp("2026-02-11")
    with pytest.raises(
        DataError, match=r"line 2: lastTradeDate is after the quote date 2026-02-10"
    ):
        load_option_quotes(yf("SPY_chain_2026-02-10.csv"))
    with pytest.raises(DataError, match=r"line 2: underlying_price 692.3 disagrees with"):
        load_option_quotes(yf("SPY_chain_2026-02-11.csv", itm="False"))
    with pytest.raises(
        DataError, match=r"line 2: contractSize is not REGULAR \(100 shares\) \('MINI'\)"
    ):
        load_option_quotes(yf("SPY_chain_2026-02-11.csv", size="MINI"))
    q = load_option_quotes(yf("chain.csv", itm="False"), underlying_price=689.0)
    assert q["underlying_price"].iloc[0] == 689.0


def test_style_and_quote_date_overrides(tmp_path: Path) -> None:
    q = load_option_quotes(_optopsy(tmp_path, GOOD), style="A")
    assert set(q["style"]) == {"A"}
    with pytest.raises(DataError, match=r"style='X' is not valid"):
        load_option_quotes(_optopsy(tmp_path, GOOD), style="X")


# -- property: whatever valid rows go in come out, in order --------------------------------


_row = st.tuples(
    st.integers(1, 400).map(lambda k: k * 5.0),  # strike
    st.sampled_from(["call", "put"]),
    st.integers(0, 40),  # expiry offset from the quote date, trading days
    st.integers(0, 50_000).map(lambda c: c / 100),  # bid
    st.integers(0, 500).map(lambda c: c / 100),  # spread
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_row, min_size=1, max_size=12, unique_by=lambda r: (r[0], r[1], r[2])))
def test_valid_rows_round_trip(
    tmp_path: Path, rows: list[tuple[float, str, int, float, float]]
) -> None:
    quote = pd.Timestamp("2018-01-02")
    days = pd.bdate_range(quote, periods=60)
    lines = []
    for strike, kind, offset, bid, spread in rows:
        expiry = days[offset]
        occ = f"SPXW{expiry:%y%m%d}{kind[0].upper()}{int(strike * 1000):08d}"
        lines.append(
            f"SPXW,2700,W,{occ},,{kind},{expiry:%m/%d/%Y},{quote:%m/%d/%Y},{strike:g},0,"
            f"{bid:g},{bid + spread:g},1,2,0.2,0.5,0.001,-1,1,"
        )
    q = load_option_quotes(_optopsy(tmp_path, lines))
    expected = pd.DataFrame(
        {
            "expiry": [days[r[2]] for r in rows],
            "right": [r[1][0].upper() for r in rows],
            "strike": [r[0] for r in rows],
            "bid": [r[3] for r in rows],
            "ask": [round(r[3] + r[4], 2) for r in rows],
        }
    ).sort_values(["expiry", "right", "strike"], kind="stable", ignore_index=True)
    got = q[["expiry", "right", "strike", "bid", "ask"]].astype({"right": object})
    pd.testing.assert_frame_equal(
        got, expected.astype({"right": object, "expiry": "datetime64[ns]"}), check_exact=False
    )
    assert not q["crossed"].any() and (q["quote_date"] == quote).all()


def test_shipped_option_and_vix_files_match_their_manifest_rows() -> None:
    """Each file in data/options and data/vix has a provenance row whose size and row count
    are the file's (only headers were normalised from the source blobs)."""
    root = Path(__file__).resolve().parents[2] / "data"
    rows = pd.read_csv(root / "manifest.csv", dtype=str).set_index("file")
    shipped = sorted(p for sub in ("options", "vix") for p in (root / sub).glob("*.csv"))
    assert len(shipped) == 10
    for path in shipped:
        row = rows.loc[f"{path.parent.name}/{path.name}"]
        raw = path.read_bytes()
        assert len(raw) == int(row["bytes"]) and raw.count(b"\n") - 1 == int(row["rows"]), path
        assert row["licence"] and row["source_repo"] and len(row["source_commit"]) == 40


def test_repair_drop_keeps_the_good_rows_and_reports_the_rest(tmp_path: Path) -> None:
    rows = [
        *GOOD,
        GOOD[0].replace("30.1,30.9", "-30.1,30.9"),  # negative bid
        GOOD[1].replace(",put,", ",straddle,"),  # unknown right
        GOOD[2],  # the same contract twice on 2018-01-03
        GOOD[2].replace("01/03/2018", "02/01/2018"),  # quoted after its expiry
    ]
    path = _optopsy(tmp_path, rows)
    with pytest.raises(DataError, match=r"line 6: right is neither .* Or load with repair='drop'"):
        load_option_quotes(path)
    with pytest.warns(DataWarning, match=r"dropped 4 rows \(") as caught:
        q = load_option_quotes(path, repair="drop")
    assert len(q) == 3 and q["bid"].tolist() == [30.1, 33.1, 40.1]
    assert q.attrs["source"]["dropped"] == {
        "right is neither call nor put": 1,
        "bid is negative": 1,
        "expiry is before the quote date": 1,
        "symbol is quoted twice on one date": 1,
    }
    assert str(path) in str(caught[0].message)
    with pytest.raises(DataError, match=r"no valid rows left after repair \(dropped 1 rows"):
        load_option_quotes(_optopsy(tmp_path, [rows[3]]), repair="drop")
    with pytest.raises(DataError, match=r"repair='fix' is not valid; use None or 'drop'"):
        load_option_quotes(path, repair="fix")  # type: ignore[arg-type]


def test_an_underlying_price_disagreeing_with_its_quote_date_is_refused(tmp_path: Path) -> None:
    # one spot per quote date: a row quoted against another price would get Greeks, implied
    # vols and a carry fit off a spot no other row of that close shares
    other_strike = GOOD[0].replace("C02700000", "C02750000").replace(",2700,", ",2750,")
    wrong_spot = GOOD[1].replace("2695.79", "2795.79")
    path = _optopsy(tmp_path, [GOOD[0], other_strike, wrong_spot, GOOD[2]])
    with pytest.raises(
        DataError,
        match=r"line 4: underlying_price differs from the other rows of its quote date "
        r"\(2795.79; 2695.79 on 2018-01-02\)",
    ):
        load_option_quotes(path)
    with pytest.warns(DataWarning, match=r"dropped 1 rows"):
        q = load_option_quotes(path, repair="drop")
    assert len(q) == 3 and set(q["underlying_price"]) == {2695.79, 2713.06}
