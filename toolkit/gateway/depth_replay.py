"""Level-2 depth replayed from a LOBSTER day instead of the depth model (issue 20, item 6).

A :class:`DepthReplay` serves one symbol: ``reqMktDepth`` gets the book of the events replayed
so far, then each event's book change as IB's ``updateMktDepth`` operations, so a client that
applies them holds LOBSTER's book row for row; ``reqMktData`` on the symbol gets bid/ask
ticks whenever the touch changes and last/size/volume ticks on every execution (visible,
hidden and cross trades, LOBSTER event types 4, 5 and 6), halted (tick 49) on a halt.

Time: event ``k`` is due ``time[k] - time[0]`` simulated seconds after the replay started
(the gateway's clock when it was attached), so it runs at the gateway's ``--speed`` and stops
with its clock; ``fast`` ignores the event times and replays as fast as the subscribed clients
read (never faster: a client more than :data:`FAST_BACKLOG` bytes behind holds it), only while
someone is subscribed and the clock is not paused.

The operations keep IB's depth discipline (docs: tws_protocol.md, "Depth book discipline"):
rows inserted only at the end of a side in ascending order, changed in place with update, and
removed only from the end with delete -- the only sequence on which ib_async's dict-keyed and
ib_insync's list-based books agree. A level that shifts (an insert in the middle of the
book) is therefore an update of every row below it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from toolkit.errors import ConfigError
from toolkit.gateway import messages as m

if TYPE_CHECKING:
    from toolkit.gateway.market import Market
    from toolkit.gateway.subscriptions import Send

log = logging.getLogger("toolkit.gateway")
Key = tuple[int, int]  # (owner, request id), as in toolkit.gateway.streams
PRICE_SCALE = 10_000.0  # LOBSTER prices are USD x 10,000 (LOBSTER ReadMe)
TRADES = (4, 5, 6)  # visible execution, hidden execution, cross trade (LOBSTER ReadMe)
HALT = 7  # trading halt: price -1 halted, 0 quoting resumes, 1 trading resumes
HALTED_TICK = 49  # IB's tickGeneric "halted"
TICK_GENERIC = 45
FAST_BATCH = 2_000  # events per matcher step in fast mode
FAST_BACKLOG = 256 << 10  # bytes unread by a client that hold a fast replay


@dataclass(frozen=True)
class ReplayTape:
    """The arrays a replay serves: per event its time (seconds after midnight), LOBSTER type,
    size and price (USD x 10,000), and the book after it, ``book[k]`` in LOBSTER's column
    order (ask price, ask size, bid price, bid size for level 1, then level 2, ...)."""

    symbol: str
    date: str
    levels: int
    time: npt.NDArray[np.float64]
    kind: npt.NDArray[np.int8]
    size: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]
    book: npt.NDArray[np.int64]
    direction: npt.NDArray[np.int8] | None = None  # +1 buy / -1 sell limit order (LOBSTER)

    def __post_init__(self) -> None:
        n = len(self.time)
        if n == 0:
            raise ConfigError(f"depth replay {self.symbol} {self.date}: no events to replay.")
        if self.book.shape != (n, 4 * self.levels):
            raise ConfigError(
                f"depth replay {self.symbol} {self.date}: book of shape {self.book.shape} for "
                f"{n} events of {self.levels} levels (expected ({n}, {4 * self.levels}))."
            )

    @classmethod
    def from_day(cls, day: Any, symbol: str | None = None) -> ReplayTape:
        """From :class:`toolkit.data.lobster.LobsterDay`, served as ``symbol`` (default: the
        file's)."""
        msg = day.messages
        return cls(
            (symbol or str(day.symbol)).upper(),
            str(day.date),
            int(day.levels),
            np.asarray(msg["time"], dtype=np.float64),
            np.asarray(msg["type"], dtype=np.int8),
            np.asarray(msg["size"], dtype=np.int64),
            np.asarray(msg["price"], dtype=np.int64),
            np.asarray(day.book, dtype=np.int64),
            np.asarray(msg["direction"], dtype=np.int8),
        )

    def __len__(self) -> int:
        return len(self.time)

    def side(self, k: int, bid: bool, rows: int) -> list[tuple[float, int]]:
        """(price in USD, size) of the non-empty levels of one side after event ``k``, best
        first, at most ``rows`` (LOBSTER pads an empty level with size 0)."""
        return _side(self.book[k].tolist(), 2 if bid else 0, min(rows, self.levels))


def _side(row: list[int], off: int, rows: int) -> list[tuple[float, int]]:
    out = []
    for lv in range(rows):
        size = row[4 * lv + off + 1]
        if size <= 0:
            break
        out.append((row[4 * lv + off] / PRICE_SCALE, size))
    return out


def _depth_bytes(req_id: int, pos: int, op: int, side: int, price: float, size: int) -> bytes:
    """One framed ``updateMktDepth`` (as :func:`toolkit.gateway.messages.depth_update` through
    :func:`toolkit.gateway.framing.encode`, written out: the replay's hot path)."""
    fields = (m.UPDATE_MKT_DEPTH, 1, req_id, pos, op, side, repr(price), size)
    data = "\x00".join(map(str, fields)).encode() + b"\x00"
    return len(data).to_bytes(4, "big") + data


def load_tape(path: Path, symbol: str | None = None, levels: int | None = None) -> ReplayTape:
    """A LOBSTER day (zip or CSV pair, or a file name in the data folder's ``orderbook/``,
    read by :func:`toolkit.data.lobster.read_lobster`, whose one-line errors name a missing
    or malformed file) as a tape served as ``symbol`` (default: the file's)."""
    from toolkit.data.lobster import read_lobster

    return ReplayTape.from_day(read_lobster(Path(path), levels=levels), symbol)


def depth_ops(
    before: list[tuple[float, int]], after: list[tuple[float, int]]
) -> list[tuple[int, int, float, int]]:
    """(position, operation, price, size) turning one side shown as ``before`` into ``after``:
    update the rows both have that differ, insert new rows at the end in ascending order,
    delete surplus rows from the end (IB's discipline, see the module docstring)."""
    ops = []
    common = min(len(before), len(after))
    for pos in range(common):
        if before[pos] != after[pos]:
            ops.append((pos, 1, after[pos][0], after[pos][1]))
    for pos in range(common, len(after)):
        ops.append((pos, 0, after[pos][0], after[pos][1]))
    for pos in range(len(before) - 1, common - 1, -1):
        ops.append((pos, 2, before[pos][0], 0))
    return ops


@dataclass
class ReplayDepth:
    """A reqMktDepth on the replayed symbol: ``rows`` levels a side as the client holds them;
    ``send_bytes`` queues one framed message, ``queued`` reads the bytes its connection has
    not delivered (fast mode's brake)."""

    send_bytes: Callable[[bytes], None]
    req_id: int
    rows: int
    queued: Callable[[], int]
    bids: list[tuple[float, int]] = field(default_factory=list)
    asks: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class ReplayQuotes:
    """A streaming reqMktData on the replayed symbol."""

    send: Send
    req_id: int
    queued: Callable[[], int]


class DepthReplay:
    """One symbol's depth and ticks from a tape (see the module docstring)."""

    def __init__(
        self, tape: ReplayTape, *, fast: bool = False, wall_speed: float | None = None
    ) -> None:
        self.tape = tape
        self.symbol = tape.symbol
        self.fast = fast
        # replayed seconds per wall second on a clock of its own (None: the gateway's clock);
        # an embedded rehearsal's clock runs days a second, its book should not
        self.wall_speed = wall_speed
        self._wall0 = 0.0
        self.cursor = 0  # events replayed; the book is tape.book[cursor - 1]
        self.origin: pd.Timestamp | None = None  # clock time of event 0
        self.depth: dict[Key, ReplayDepth] = {}
        self.quotes: dict[Key, ReplayQuotes] = {}
        trades = np.isin(tape.kind, TRADES)
        self._volume = np.cumsum(np.where(trades, tape.size, 0))
        self._offsets = tape.time - tape.time[0]
        book = tape.book  # per event: did the book change, did each side's touch change
        self._changed = np.ones(len(tape), dtype=bool)
        self._changed[1:] = (book[1:] != book[:-1]).any(axis=1)
        self._ask_moved = np.zeros(len(tape), dtype=bool)
        self._ask_moved[1:] = (book[1:, 0:2] != book[:-1, 0:2]).any(axis=1)
        self._bid_moved = np.zeros(len(tape), dtype=bool)
        self._bid_moved[1:] = (book[1:, 2:4] != book[:-1, 2:4]).any(axis=1)
        self._last: tuple[float, int] | None = None  # the last trade (price, size)
        self._halted = False

    @property
    def last_trade(self) -> tuple[float, int] | None:
        """(price, size) of the last execution replayed, None before the first."""
        return self._last

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.tape)

    @property
    def busy(self) -> bool:
        """Fast mode with events left and someone to send them to: the matcher steps at once."""
        return self.fast and not self.done and bool(self.depth or self.quotes)

    def attach(self, market: Market, now: pd.Timestamp) -> None:
        """Start at ``now`` and make the symbol known to the market (a stock on NASDAQ when
        it has no bars), so clients can qualify it."""
        from toolkit.gateway.market import Instrument, con_id_for

        if self.symbol not in market.instruments:
            market.instruments[self.symbol] = Instrument(
                self.symbol, con_id_for(self.symbol), primary_exchange="NASDAQ"
            )
        else:  # said once, where the operator sees it: the two sources can disagree
            log.warning(
                "%s: depth, ticks and order fills come from LOBSTER's %s replay; its bars and "
                "history still come from the data folder",
                self.symbol,
                self.tape.date,
            )
        self.origin = now
        self._wall0 = time.monotonic()
        if not self.fast:
            self.cursor = self._due(now)
        else:
            self.cursor = 1

    def _due(self, now: pd.Timestamp) -> int:
        assert self.origin is not None
        elapsed = (now - self.origin).total_seconds()
        if self.wall_speed is not None:
            elapsed = (time.monotonic() - self._wall0) * self.wall_speed
        return int(np.searchsorted(self._offsets, elapsed, side="right"))

    # -- subscribing -----------------------------------------------------------------------
    def add_depth(self, key: Key, sub: ReplayDepth) -> None:
        """The book so far, inserted row by row, then every change."""
        sub.rows = max(1, min(sub.rows, self.tape.levels))
        self._send_book(sub, self.cursor - 1)
        self.depth[key] = sub

    def add_quotes(self, key: Key, sub: ReplayQuotes, snapshot: bool) -> None:
        """The touch, the last trade and the volume so far; later changes unless a snapshot."""
        k = self.cursor - 1
        send, r = sub.send, sub.req_id
        for tick, level in (
            (m.BID, self.tape.side(k, True, 1)),
            (m.ASK, self.tape.side(k, False, 1)),
        ):
            send(m.tick_price(r, tick, *(level[0] if level else (-1.0, 0))))
        if self._last is not None:
            send(m.tick_price(r, m.LAST, *self._last))
        send(m.tick_size(r, m.VOLUME, int(self._volume[k])))
        if self._halted:
            send([TICK_GENERIC, 6, r, HALTED_TICK, 1])
        if not snapshot:
            self.quotes[key] = sub

    def cancel(self, key: Key) -> None:
        self.depth.pop(key, None)
        self.quotes.pop(key, None)

    def drop_owner(self, owner: int) -> None:
        for table in (self.depth, self.quotes):
            for key in [k for k in table if k[0] == owner]:
                del table[key]

    # -- replaying -------------------------------------------------------------------------
    def push(self, now: pd.Timestamp, paused: bool) -> None:
        """Send every event due at ``now`` (fast: the next batch, if the clients keep up)."""
        if self.origin is None or self.done:
            return
        if self.fast:
            subs: list[ReplayDepth | ReplayQuotes] = [*self.depth.values(), *self.quotes.values()]
            if paused or not subs or any(s.queued() > FAST_BACKLOG for s in subs):
                return
            target = min(len(self.tape), self.cursor + FAST_BATCH)
        else:
            target = self._due(now)
        for k in range(self.cursor, target):
            self._event(k, now)
        self.cursor = max(self.cursor, target)

    def _send_book(self, sub: ReplayDepth, k: int, row: list[int] | None = None) -> None:
        if row is None:
            row = self.tape.book[k].tolist() if k >= 0 else []
        bids = _side(row, 2, sub.rows) if row else []
        asks = _side(row, 0, sub.rows) if row else []
        for side, before, after in ((m.DEPTH_BID, sub.bids, bids), (m.DEPTH_ASK, sub.asks, asks)):
            if before == after:
                continue
            for pos, op, price, size in depth_ops(before, after):
                sub.send_bytes(_depth_bytes(sub.req_id, pos, op, side, price, size))
        sub.bids, sub.asks = bids, asks

    def _event(self, k: int, now: pd.Timestamp) -> None:
        tape = self.tape
        if k > 0 and self._changed[k]:
            if self.depth:
                row = tape.book[k].tolist()
                for sub in self.depth.values():
                    self._send_book(sub, k, row)
            if self.quotes and (self._ask_moved[k] or self._bid_moved[k]):
                self._touch(k)
        kind = int(tape.kind[k])
        if kind in TRADES:
            self._last = (int(tape.price[k]) / PRICE_SCALE, int(tape.size[k]))
            stamp = str(int(now.timestamp()))
            for q in self.quotes.values():
                q.send(m.tick_price(q.req_id, m.LAST, *self._last))
                q.send(m.tick_size(q.req_id, m.VOLUME, int(self._volume[k])))
                q.send(m.tick_string(q.req_id, m.LAST_TIMESTAMP, stamp))
        elif kind == HALT:
            self._halted = int(tape.price[k]) == -1
            for q in self.quotes.values():
                q.send([TICK_GENERIC, 6, q.req_id, HALTED_TICK, int(self._halted)])

    def _touch(self, k: int) -> None:
        """Bid/ask ticks for the sides whose best level changed at event ``k``."""
        row = self.tape.book[k, :4].tolist()
        for tick, moved, off in ((m.ASK, self._ask_moved, 0), (m.BID, self._bid_moved, 2)):
            if not moved[k]:
                continue
            level = _side(row, off, 1)
            price, size = level[0] if level else (-1.0, 0)
            for q in self.quotes.values():
                q.send(m.tick_price(q.req_id, tick, price, size))


__all__ = ["DepthReplay", "ReplayDepth", "ReplayQuotes", "ReplayTape", "depth_ops", "load_tape"]
