"""Read LOBSTER message + order-book files (a day of one ticker) into typed event arrays.

LOBSTER (lobsterdata.com, format in ``data/orderbook/LOBSTER_SampleFiles_ReadMe.txt``) writes
two header-less CSV files per ticker and day, row *i* of the book being the state after
message *i*:

* ``TICKER_DATE_START_END_message_LEVEL.csv``: time (seconds after midnight, up to ns),
  type (1 submit, 2 partial cancel, 3 delete, 4 visible execution, 5 hidden execution,
  6 cross trade, 7 trading halt), order id, size (shares), price (USD x 10,000),
  direction (1 buy limit order, -1 sell limit order: executing a sell order is a buy trade);
* ``TICKER_DATE_START_END_orderbook_LEVEL.csv``: ``4 * LEVEL`` columns ask price 1, ask size 1,
  bid price 1, bid size 1, ask price 2, ...; empty levels carry the dummy prices
  +9999999999 (ask) / -9999999999 (bid) with size 0.

Trading halts are type-7 messages with size, order id 0, direction -1 and price -1 (halt),
0 (quoting resumes) or 1 (trading resumes); their book row repeats the previous one;
:func:`trading_status` gives the state after each message.

:func:`read_lobster` reads a pair straight from LOBSTER's zip (no unzip to disk) or from the
two CSV files, checks every row and refuses a malformed one with a one-line
:class:`~toolkit.errors.DataError` naming file, line and field, like the bar loader.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from toolkit.data._paths import default_data_dir
from toolkit.errors import DataError

PRICE_SCALE: Final = 10_000
"""LOBSTER prices are USD x 10,000 (``911400`` is $91.14)."""
DUMMY_ASK: Final = 9_999_999_999
"""Price LOBSTER writes for an empty ask level (its size is 0)."""
DUMMY_BID: Final = -9_999_999_999
"""Price LOBSTER writes for an empty bid level (its size is 0)."""

SUBMIT: Final = 1
CANCEL: Final = 2
DELETE: Final = 3
EXECUTE: Final = 4
EXECUTE_HIDDEN: Final = 5
CROSS: Final = 6
HALT: Final = 7
HALT_PRICES: Final = {-1: "halt", 0: "quoting resumes", 1: "trading resumes"}
"""Meaning of a type-7 message's price field."""

MESSAGE_DTYPE: Final = np.dtype(
    [
        ("time", "f8"),
        ("type", "i1"),
        ("order_id", "i8"),
        ("size", "i8"),
        ("price", "i8"),
        ("direction", "i1"),
    ]
)
"""One LOBSTER message: the structured dtype of :attr:`LobsterDay.messages`."""

MESSAGE_FIELDS: Final = ("time", "type", "order_id", "size", "price", "direction")
_SIDES = ("ask_price", "ask_size", "bid_price", "bid_size")
_NAME = re.compile(
    r"^(?P<symbol>[^_/\\]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<levels>\d+)(?P<suffix>[^/\\]*)\.csv$"
)
_REMEDY = "Re-download the day from LOBSTER or fix that line"
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, eq=False)
class LobsterDay:
    """One LOBSTER day of one ticker, as read by :func:`read_lobster`.

    ``messages`` is a structured array of :data:`MESSAGE_DTYPE` (fields ``time`` f8 seconds
    after midnight, ``type`` i1 1-7, ``order_id`` i8, ``size`` i8 shares, ``price`` i8 in
    USD x 10,000, ``direction`` i1 +1 buy / -1 sell limit order); ``book`` is int64 of shape
    ``(n, 4 * levels)`` in LOBSTER's column order, row *i* the book after message *i*, empty
    levels as LOBSTER writes them (:data:`DUMMY_ASK` / :data:`DUMMY_BID`, size 0).
    ``file_levels`` is the depth of the file (``levels`` may be fewer when asked for).
    """

    symbol: str
    date: date
    levels: int
    messages: NDArray[Any]
    book: NDArray[Any]
    source: str = ""
    file_levels: int = 0
    message_file: str = field(default="")
    book_file: str = field(default="")

    def __len__(self) -> int:
        return int(self.messages.shape[0])

    def column(self, side: str, level: int) -> int:
        """Index in :attr:`book` of ``side`` (ask_price, ask_size, bid_price, bid_size) at
        ``level`` (1 = best)."""
        if side not in _SIDES or not 1 <= level <= self.levels:
            raise DataError(
                f"no book column {side!r} at level {level}: use one of {', '.join(_SIDES)} "
                f"and a level in 1..{self.levels}."
            )
        return 4 * (level - 1) + _SIDES.index(side)


def trading_status(messages: NDArray[Any]) -> NDArray[np.int8]:
    """Per message, the trading state after it from the halt messages (type 7, LOBSTER ReadMe):
    1 trading (the default before any halt message), -1 halted (price -1), 0 quoting resumed
    but not trading (price 0); a type-7 message with price 1 returns to 1."""
    kinds, prices = messages["type"], messages["price"]
    halt = np.flatnonzero(kinds == HALT)
    state = np.ones(len(kinds), dtype=np.int8)
    if len(halt):
        last = np.maximum.accumulate(np.where(kinds == HALT, np.arange(len(kinds)), -1))
        seen = last >= 0
        state[seen] = prices[last[seen]].astype(np.int8)
    return state


def book_columns(levels: int) -> tuple[str, ...]:
    """LOBSTER's book column names for ``levels`` levels: ask_price_1, ask_size_1,
    bid_price_1, bid_size_1, ask_price_2, ..."""
    return tuple(f"{side}_{k}" for k in range(1, levels + 1) for side in _SIDES)


def read_lobster(path: str | Path, *, levels: int | None = None) -> LobsterDay:
    """Read a LOBSTER day: a zip holding the message and orderbook CSV (read in memory), or
    either CSV of a pair (the other is found by name). A bare file name is looked up in the
    data folder's ``orderbook/``. ``levels`` keeps the first ``levels`` book levels (default:
    all the file has). Malformed input raises a one-line :class:`DataError` naming file, line
    and field."""
    source = _resolve(Path(path))
    if source.suffix.lower() == ".zip":
        (msg_name, msg_raw), (book_name, book_raw) = _from_zip(source)
    else:
        (msg_name, msg_raw), (book_name, book_raw) = _from_csv(source)
    meta = _parse_name(msg_name)
    file_levels = int(meta["levels"])
    if file_levels < 1:
        raise DataError(
            f"{msg_name}: level {file_levels} in the file name; LOBSTER levels are >= 1."
        )
    keep = file_levels if levels is None else int(levels)
    if not 1 <= keep <= file_levels:
        raise DataError(
            f"levels={levels!r} for {book_name}: the file has {file_levels} level"
            f"{'s' if file_levels > 1 else ''}; ask for 1..{file_levels}."
        )
    messages = _read_messages(msg_name, msg_raw)
    book = _read_book(book_name, book_raw, file_levels)
    if book.shape[0] != messages.shape[0]:
        raise DataError(
            f"{book_name}: {book.shape[0]} rows but {msg_name} has {messages.shape[0]}; "
            "LOBSTER writes one book row per message. Use the pair of files of the same request."
        )
    try:
        day = date.fromisoformat(meta["date"])
    except ValueError:
        raise DataError(
            f"{msg_name}: date {meta['date']!r} in the file name is not a date."
        ) from None
    book = np.ascontiguousarray(book[:, : 4 * keep])
    return LobsterDay(
        symbol=meta["symbol"],
        date=day,
        levels=keep,
        messages=messages,
        book=book,
        source=str(source),
        file_levels=file_levels,
        message_file=msg_name,
        book_file=book_name,
    )


def _resolve(path: Path) -> Path:
    if path.is_file():
        return path
    shipped = default_data_dir() / "orderbook" / path.name
    if not path.is_absolute() and len(path.parts) == 1 and shipped.is_file():
        return shipped
    raise DataError(
        f"{path}: file not found. Pass a LOBSTER zip or message/orderbook CSV, or the name of "
        f"a file in {default_data_dir() / 'orderbook'}."
    )


def _parse_name(name: str) -> dict[str, str]:
    found = _NAME.match(Path(name.split("!")[-1]).name)
    if found is None:
        raise DataError(
            f"{name}: not a LOBSTER file name; expected "
            "TICKER_YYYY-MM-DD_START_END_{message|orderbook}_LEVEL.csv (LOBSTER's naming)."
        )
    return found.groupdict()


def _from_zip(path: Path) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: cannot be opened as a zip ({exc}). Re-download it.") from None
    with archive:
        names = [n for n in archive.namelist() if _NAME.match(Path(n).name)]
        msgs = [n for n in names if "_message_" in Path(n).name]
        books = [n for n in names if "_orderbook_" in Path(n).name]
        if len(msgs) != 1 or len(books) != 1:
            raise DataError(
                f"{path}: expected one LOBSTER message and one orderbook CSV in the zip, found "
                f"{len(msgs)} and {len(books)} ({', '.join(archive.namelist()) or 'empty'}). "
                "Pass the zip of a single ticker-day or the CSV files."
            )
        try:
            msg_raw, book_raw = archive.read(msgs[0]), archive.read(books[0])
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(f"{path}: a member cannot be read ({exc}). Re-download it.") from None
    return (f"{path}!{msgs[0]}", msg_raw), (f"{path}!{books[0]}", book_raw)


def _from_csv(path: Path) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    meta = _parse_name(str(path))
    other_kind = "orderbook" if meta["kind"] == "message" else "message"
    other = path.with_name(path.name.replace(f"_{meta['kind']}_", f"_{other_kind}_", 1))
    if not other.is_file():
        raise DataError(
            f"{path}: its {other_kind} file {other.name} is not beside it. LOBSTER's files "
            "come in pairs; put both in the same folder."
        )
    msg_path, book_path = (path, other) if meta["kind"] == "message" else (other, path)
    return (str(msg_path), msg_path.read_bytes()), (str(book_path), book_path.read_bytes())


def _fail(name: str, line: int, fieldname: str, problem: str) -> DataError:
    return DataError(f"{name}: line {line}: {fieldname} {problem}. {_REMEDY}.")


def _read_table(name: str, raw: bytes, columns: tuple[str, ...], floats: int) -> pd.DataFrame:
    """Parse a header-less CSV of ``len(columns)`` numeric fields, the first ``floats`` of them
    float64, the rest int64 (pandas' C parser: the fast path). On any malformed field the
    slow path finds the first bad line and names it."""
    if not raw.strip():
        raise DataError(f"{name}: the file is empty. Re-download the day from LOBSTER.")
    dtypes = {i: (np.float64 if i < floats else np.int64) for i in range(len(columns))}
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            header=None,
            names=list(range(len(columns))),
            dtype=dtypes,
            skip_blank_lines=False,
            engine="c",
        )
    except Exception as exc:  # every parser failure becomes the first bad line, named
        raise _first_bad_line(name, raw, columns, floats) or DataError(
            f"{name}: cannot be read as LOBSTER CSV ({exc}). {_REMEDY}."
        ) from None
    if frame.shape[1] != len(columns) or frame.isna().to_numpy().any():
        raise _first_bad_line(name, raw, columns, floats) or DataError(
            f"{name}: cannot be read as LOBSTER CSV (missing values). {_REMEDY}."
        )
    return frame


def _first_bad_line(
    name: str, raw: bytes, columns: tuple[str, ...], floats: int
) -> DataError | None:
    """The slow path: the first line with a wrong field count or a non-numeric field."""
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        parts = line.rstrip("\r").split(",")
        if len(parts) != len(columns):
            return DataError(
                f"{name}: line {number}: {len(parts)} fields, expected {len(columns)} "
                f"({columns[0]} ... {columns[-1]}). {_REMEDY}."
            )
        for k, part in enumerate(parts):
            value = part.strip()
            try:
                if k < floats:
                    if not math.isfinite(float(value)):
                        raise ValueError(value)
                else:
                    int(value)
            except ValueError:
                kind = "a finite decimal number" if k < floats else "an integer"
                return _fail(name, number, columns[k], f"is {value!r}, not {kind}")
    return None


def _read_messages(name: str, raw: bytes) -> NDArray[Any]:
    frame = _read_table(name, raw, MESSAGE_FIELDS, floats=1)
    n = len(frame)
    out = np.empty(n, dtype=MESSAGE_DTYPE)
    cols: list[NDArray[Any]] = [frame[i].to_numpy() for i in range(len(MESSAGE_FIELDS))]
    for k, fname in enumerate(MESSAGE_FIELDS):
        if fname in ("type", "direction"):
            values = cols[k]
            bad = (values < -128) | (values > 127)
            if bad.any():
                line = int(np.flatnonzero(bad)[0]) + 1
                raise _fail(name, line, fname, f"is {int(values[line - 1])}, out of range")
        out[fname] = cols[k]
    _check_messages(name, out, cols)
    return out


def _first(
    name: str, mask: NDArray[Any], fieldname: str, problem: str, values: NDArray[Any]
) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        value = values[i]
        shown = repr(float(value)) if values.dtype.kind == "f" else str(int(value))
        raise _fail(name, i + 1, fieldname, problem.format(value=shown))


def _check_messages(name: str, out: NDArray[Any], cols: Sequence[NDArray[Any]]) -> None:
    time, kind, oid, size, price, direction = cols
    _first(
        name,
        ~np.isfinite(time) | (time < 0) | (time > _SECONDS_PER_DAY),
        "time",
        "is {value}, not seconds after midnight (0..86400)",
        time,
    )
    back = np.zeros(time.shape[0], dtype=bool)
    back[1:] = time[1:] < time[:-1]
    _first(
        name,
        back,
        "time",
        "is {value}, earlier than the line before; LOBSTER's messages are in time order",
        time,
    )
    _first(name, (kind < 1) | (kind > 7), "type", "is {value}, not a LOBSTER event type 1-7", kind)
    _first(
        name,
        (direction != 1) & (direction != -1),
        "direction",
        "is {value}, not 1 (buy) or -1 (sell)",
        direction,
    )
    book_event = kind <= 6
    _first(
        name, book_event & (size <= 0), "size", "is {value}; an order event needs size > 0", size
    )
    _first(
        name,
        book_event & (price <= 0),
        "price",
        "is {value}; an order event needs price > 0",
        price,
    )
    _first(
        name,
        (kind <= 5) & (oid < 0),
        "order_id",
        "is {value}; order ids are >= 0",
        oid,
    )
    halt = kind == HALT
    _first(
        name,
        halt & (price != -1) & (price != 0) & (price != 1),
        "price",
        "is {value}; a halt message (type 7) has price -1 (halt), 0 (quoting) or 1 (resume)",
        price,
    )
    _first(name, halt & (size != 0), "size", "is {value}; a halt message (type 7) has size 0", size)
    _first(
        name,
        halt & (oid != 0),
        "order_id",
        "is {value}; a halt message (type 7) has order id 0",
        oid,
    )
    _first(
        name,
        halt & (direction != -1),
        "direction",
        "is {value}; a halt message (type 7) has direction -1",
        direction,
    )


def _read_book(name: str, raw: bytes, levels: int) -> NDArray[Any]:
    columns = book_columns(levels)
    first = raw.split(b"\n", 1)[0].rstrip(b"\r")
    if first.count(b",") + 1 != len(columns) and raw.strip():
        raise DataError(
            f"{name}: line 1: {first.count(b',') + 1} fields, expected {len(columns)} "
            f"(4 x {levels} levels as the file name says). {_REMEDY}."
        )
    frame = _read_table(name, raw, columns, floats=0)
    book = np.ascontiguousarray(frame.to_numpy(dtype=np.int64))
    _check_book(name, book, levels)
    return book


def _check_book(name: str, book: NDArray[Any], levels: int) -> None:
    _check_levels(name, book, levels)
    # the visible book of one exchange is never crossed nor locked (LOBSTER's books aren't)
    ask, bid = book[:, 0], book[:, 2]
    _first(
        name,
        (ask != DUMMY_ASK) & (bid != DUMMY_BID) & (bid >= ask),
        "bid_price_1",
        "is {value}, not below ask_price_1: a crossed or locked book",
        bid,
    )


def _check_levels(name: str, book: NDArray[Any], levels: int) -> None:
    for k in range(levels):
        ap, asz, bp, bsz = (book[:, 4 * k + j] for j in range(4))
        for price, size, dummy, side in ((ap, asz, DUMMY_ASK, "ask"), (bp, bsz, DUMMY_BID, "bid")):
            empty = price == dummy
            _first(name, size < 0, f"{side}_size_{k + 1}", "is {value}; sizes are >= 0", size)
            _first(
                name,
                empty & (size != 0),
                f"{side}_size_{k + 1}",
                "is {value} at an empty level (dummy price); LOBSTER writes 0",
                size,
            )
            _first(
                name,
                ~empty & ((price <= 0) | (size == 0)),
                f"{side}_price_{k + 1}",
                "is {value} with size 0 or a non-positive price; an occupied level has both > 0",
                price,
            )
        if k == 0:
            continue
        for j, side, sign, dummy in ((0, "ask", 1, DUMMY_ASK), (2, "bid", -1, DUMMY_BID)):
            prev, cur = book[:, 4 * (k - 1) + j], book[:, 4 * k + j]
            _first(
                name,
                (prev == dummy) & (cur != dummy),
                f"{side}_price_{k + 1}",
                "is {value} below an empty level; levels fill from the best",
                cur,
            )
            _first(
                name,
                (cur != dummy) & (sign * (cur - prev) <= 0),
                f"{side}_price_{k + 1}",
                "is {value}, not strictly "
                + ("above" if sign > 0 else "below")
                + f" level {k}'s price",
                cur,
            )
