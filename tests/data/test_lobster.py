"""LOBSTER reader: the shipped files read straight from their zips, and every malformed row
refused with one line naming file, line and field (issue 20.1)."""

from __future__ import annotations

import datetime
import io
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.data.lobster import (
    DUMMY_BID,
    MESSAGE_DTYPE,
    LobsterDay,
    book_columns,
    read_lobster,
    trading_status,
)
from toolkit.errors import DataError

ORDERBOOK = Path(__file__).resolve().parents[2] / "data" / "orderbook"
SAMPLE = ORDERBOOK / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"
MSG_NAME = "TEST_2012-06-21_34200000_57600000_message_2.csv"
BOOK_NAME = "TEST_2012-06-21_34200000_57600000_orderbook_2.csv"

# A small valid pair (2 levels): a submit, a partial cancel, an execution, a hidden execution
# and a halt / resume sequence, with the book after each.
_MSGS = [
    "34200.001,1,11,100,5000000,1",
    "34200.002,2,11,40,5000000,1",
    "34200.5,4,11,60,5000000,1",
    "34201.25,5,0,7,5001000,-1",
    "34300.0,7,0,0,-1,-1",
    "34350.0,7,0,0,0,-1",
    "34400.0,7,0,0,1,-1",
]
_BOOKS = [
    "5001000,200,5000000,100,5002000,300,4999000,50",
    "5001000,200,5000000,60,5002000,300,4999000,50",
    f"5001000,200,4999000,50,5002000,300,{DUMMY_BID},0",
    f"5001000,200,4999000,50,5002000,300,{DUMMY_BID},0",
    f"5001000,200,4999000,50,5002000,300,{DUMMY_BID},0",
    f"5001000,200,4999000,50,5002000,300,{DUMMY_BID},0",
    f"5001000,200,4999000,50,5002000,300,{DUMMY_BID},0",
]


def _write(folder: Path, msgs: list[str], books: list[str]) -> Path:
    (folder / MSG_NAME).write_text("\n".join(msgs) + "\n")
    (folder / BOOK_NAME).write_text("\n".join(books) + "\n")
    return folder / MSG_NAME


def test_the_999_event_sample_reads_with_its_values() -> None:
    day = read_lobster(SAMPLE)
    assert isinstance(day, LobsterDay)
    assert (day.symbol, day.date, day.levels, len(day)) == (
        "AAPL",
        datetime.date(2012, 6, 21),
        10,
        999,
    )
    assert day.messages.dtype == MESSAGE_DTYPE
    assert day.book.dtype == np.int64 and day.book.shape == (999, 40)
    # line 1 of each file, by hand
    first = day.messages[0]
    assert first["time"] == pytest.approx(34200.004241176, abs=1e-9)
    assert (first["type"], first["order_id"], first["size"], first["price"], first["direction"]) == (
        1, 16113575, 18, 5853300, 1
    )  # fmt: skip
    assert day.book[0, :4].tolist() == [5859400, 200, 5853300, 18]
    assert day.book[0, day.column("bid_price", 10)] == 5842700
    # the same pair read through the book file's name
    other = read_lobster(SAMPLE.with_name(SAMPLE.name.replace("_message_", "_orderbook_")))
    assert np.array_equal(other.book, day.book) and np.array_equal(other.messages, day.messages)
    fewer = read_lobster(SAMPLE, levels=3)
    assert fewer.levels == 3 and fewer.file_levels == 10
    assert np.array_equal(fewer.book, day.book[:, :12])


@pytest.mark.parametrize(
    ("name", "events", "levels", "counts"),
    [
        ("LOBSTER_SampleFile_AMZN_2012-06-21_1.zip", 57515, 1, (27845, 16, 18235, 8974, 2445)),
        ("LOBSTER_SampleFile_GOOG_2012-06-21_1.zip", 49482, 1, (24368, 7, 13429, 7765, 3913)),
    ],
)
def test_a_shipped_day_reads_from_its_zip(
    name: str, events: int, levels: int, counts: tuple[int, ...]
) -> None:
    day = read_lobster(name)  # a bare name is looked up in data/orderbook
    assert (len(day), day.levels, day.book.shape) == (events, levels, (events, 4 * levels))
    assert tuple(int((day.messages["type"] == k).sum()) for k in range(1, 6)) == counts
    assert day.message_file.endswith("_message_1.csv") and "!" in day.message_file
    # the zip member equals what read from disk would give: first line by hand
    with zipfile.ZipFile(ORDERBOOK / name) as z:
        member = next(n for n in z.namelist() if "_message_" in n)
        line = z.read(member).split(b"\n", 1)[0].decode().split(",")
    assert day.messages[0]["order_id"] == int(line[2]) and day.messages[0]["price"] == int(line[4])


def test_halts_and_a_small_pair_read_as_written(tmp_path: Path) -> None:
    day = read_lobster(_write(tmp_path, _MSGS, _BOOKS))
    assert day.messages["type"].tolist() == [1, 2, 4, 5, 7, 7, 7]
    assert day.messages["price"][-3:].tolist() == [-1, 0, 1]
    assert day.book[2, 6:8].tolist() == [DUMMY_BID, 0]
    assert book_columns(2)[6] == "bid_price_2"
    # trading until the halt (line 5), quoting only after line 6, trading again from line 7
    assert trading_status(day.messages).tolist() == [1, 1, 1, 1, -1, 0, 1]
    # also from a zip built in memory
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(MSG_NAME, "\n".join(_MSGS) + "\n")
        z.writestr(BOOK_NAME, "\n".join(_BOOKS) + "\n")
    (tmp_path / "pair.zip").write_bytes(buf.getvalue())
    zipped = read_lobster(tmp_path / "pair.zip")
    assert np.array_equal(zipped.book, day.book)


@pytest.mark.parametrize(
    ("msgs", "books", "pattern"),
    [
        (_MSGS[:-1], _BOOKS, r"6 rows|7 rows"),
        (_MSGS, [b.rsplit(",", 4)[0] for b in _BOOKS], r"line 1: 4 fields, expected 8"),
    ],
)
def test_pair_level_faults_are_named(
    tmp_path: Path, msgs: list[str], books: list[str], pattern: str
) -> None:
    with pytest.raises(DataError, match=pattern):
        read_lobster(_write(tmp_path, msgs, books))


def test_levels_beyond_the_file_and_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"levels=11 .* ask for 1\.\.10"):
        read_lobster(SAMPLE, levels=11)
    with pytest.raises(DataError, match="file not found"):
        read_lobster(tmp_path / "nope.zip")
    (tmp_path / MSG_NAME).write_text("\n".join(_MSGS) + "\n")
    with pytest.raises(DataError, match=r"orderbook file .* not beside it"):
        read_lobster(tmp_path / MSG_NAME)


# -- property tests: any single corrupted field is refused, naming file, line and field --

_MSG_FIELDS = ("time", "type", "order_id", "size", "price", "direction")
_GARBAGE = st.sampled_from(["", "abc", "1e", "--1", "nan", "0x10", " ", "1,2"])


def _bad_value(field: str, kind: int) -> st.SearchStrategy[str]:
    """Values that are numbers but outside what LOBSTER writes for ``field``."""
    if field == "type":
        return st.sampled_from(["0", "8", "-3", "99"])
    if field == "direction":
        return st.sampled_from(["0", "2", "-2"])
    if field == "time":
        return st.sampled_from(["-1.0", "86400.5", "inf"])
    if field == "size":
        return st.sampled_from(["0", "-5"] if kind != 7 else ["3", "-5"])
    if field == "price":
        return st.sampled_from(["0", "-100"] if kind != 7 else ["2", "-2", "5000000"])
    return st.sampled_from(["-7"] if kind != 7 else ["12"])


@st.composite
def _corruption(draw: st.DrawFn) -> tuple[int, str, str, bool]:
    line = draw(st.integers(1, len(_MSGS)))
    field = draw(st.sampled_from(_MSG_FIELDS))
    kind = int(_MSGS[line - 1].split(",")[1])
    # any integer order id is allowed on hidden executions and crosses: garbage only there
    garbage = True if field == "order_id" and kind in (5, 6) else draw(st.booleans())
    value = draw(_GARBAGE if garbage else _bad_value(field, kind))
    return line, field, value, garbage


@settings(max_examples=60, deadline=None)
@given(_corruption())
def test_a_corrupted_message_field_is_named_by_file_line_and_field(
    case: tuple[int, str, str, bool],
) -> None:
    line, field, value, garbage = case
    msgs = list(_MSGS)
    parts = msgs[line - 1].split(",")
    parts[_MSG_FIELDS.index(field)] = value
    msgs[line - 1] = ",".join(parts)
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), msgs, _BOOKS)
        with pytest.raises(DataError) as raised:
            read_lobster(path)
    text = str(raised.value)
    assert "\n" not in text and MSG_NAME in text, text
    assert f"line {line}:" in text, text
    if value in ("1,2",):
        assert "7 fields, expected 6" in text, text
    elif not (garbage and value in ("", " ")):
        assert field in text, text


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, len(_BOOKS)),
    st.integers(0, 7),
    st.one_of(_GARBAGE, st.sampled_from(["-5", "0"])),
)
def test_a_corrupted_book_field_is_named_by_file_line_and_field(
    line: int, column: int, value: str
) -> None:
    books = list(_BOOKS)
    parts = books[line - 1].split(",")
    if parts[column] == value or (value == "0" and parts[column] == "0"):
        value = "-5"
    parts[column] = value
    books[line - 1] = ",".join(parts)
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), _MSGS, books)
        with pytest.raises(DataError) as raised:
            read_lobster(path)
    text = str(raised.value)
    assert "\n" not in text and BOOK_NAME in text, text
    assert re.search(rf"line {line}: ", text), text
    level = column // 4 + 1
    if value == "1,2":
        assert "9 fields, expected 8" in text, text
    elif value not in ("", " "):
        # the field named is the corrupted one or, for a price/size consistency fault, its
        # partner at the same level (a size of 0 makes the level's price the offender)
        assert re.search(rf"(ask|bid)_(price|size)_{level}\b", text), text


def test_time_running_backwards_is_refused(tmp_path: Path) -> None:
    msgs = list(_MSGS)
    msgs[3] = msgs[3].replace("34201.25", "34200.0")
    with pytest.raises(DataError, match=r"line 4: time is 34200.0, earlier than the line before"):
        read_lobster(_write(tmp_path, msgs, _BOOKS))


@pytest.mark.parametrize("bid", ["5001000", "5001500"])
def test_a_crossed_or_locked_touch_is_refused(tmp_path: Path, bid: str) -> None:
    """LOBSTER's visible book is never crossed nor locked: a row whose best bid reaches the
    best ask is a corrupted file, refused (before, read silently: negative spreads and a
    replay from an impossible book)."""
    books = list(_BOOKS)
    books[2] = books[2].replace("5001000,200,4999000,50", f"5001000,200,{bid},50")
    books[2] = books[2].replace(",4999000,", ",4998000,") if bid == "5001500" else books[2]
    with pytest.raises(DataError) as raised:
        read_lobster(_write(tmp_path, _MSGS, books))
    text = str(raised.value)
    assert "\n" not in text and BOOK_NAME in text
    assert re.search(r"line 3: bid_price_1 is \d+, not below ask_price_1", text), text
