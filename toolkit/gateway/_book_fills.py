"""Orders on the depth-replayed symbol fill against the replayed LOBSTER book (issue 20.6).

The simulator shows a client LOBSTER's book for that symbol (:mod:`toolkit.gateway.depth_replay`),
so its orders meet that book, not the symbol's bars. :class:`BookFills` is the fill source the
exchange asks for them (:meth:`toolkit.gateway.exchange.Exchange._match_book`); executions,
commissions, positions, brackets and OCA groups then go through the exchange's one order path.

The rules (history is not changed by our orders -- the usual choice for a replay):

* **Arrival** (a new or modified order, at the book after the last replayed event): a market
  order walks the displayed levels of the other side, best first, one execution per level at
  that level's price for at most the level's displayed size; a limit order likewise up to its
  limit. A stop order triggers when the last replayed trade is at or through its stop, then
  acts as a market order (a stop-limit as its limit). FOK fills only if the displayed levels
  within its limit hold all of it; IOC cancels what they did not. The replay has no opening
  auction: an at-the-open (OPG) order meets the book at arrival as an IOC order does (a daily
  strategy's market-on-open orders trade the book the session is shown).
* **What remains works on new flow only.** The levels it took stay in the replayed book (the
  replay is history), but the order never takes them again: it meets only what arrives after
  it, by the queue module's rules (:func:`toolkit.orderbook.queue.on_event_nb`, the L2
  *risk-averse* model: a resting limit joins behind the whole displayed size at its price,
  advances only by executions at that price, and fills by the executions beyond it; an
  execution on its side at a worse price, or an opposite limit order submitted at or through
  its price, fills it by that event's size). A limit fills at its limit; a market order's
  remainder (a limit at an unreachable price) at the event's price. Each event fills at most
  its own size, so no level is drawn on beyond what it displayed.
* Hidden executions (LOBSTER type 5) fill a resting order only when they trade through its
  price (NASDAQ gives displayed orders priority, but the L2 feed cannot tell whether ours was
  reached). During a halt (type 7) nothing is taken at arrival; orders wait for new flow.
* DAY orders are cancelled when the replayed day has ended; GTC orders keep waiting.
* No slippage or participation cap: the book's prices and sizes are the costs. Trailing
  stops and IB algos are refused (201) on the replayed symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from toolkit.data.lobster import HALT, PRICE_SCALE
from toolkit.gateway.orders import DONE, OrderRejected, SimOrder
from toolkit.orderbook.queue import QUEUE_COLS, RISK_AVERSE, on_event_nb, place_nb

NO_LIMIT = 1e15  # a market order's remainder: a bid above, an offer below, every price
PRUNE_AT = 1_024  # working entries kept before finished orders' are dropped
EXECUTIONS = (4, 5)  # visible and hidden executions: what a stop order's trigger watches


class Tape(Protocol):
    """What the fills read of a replay's tape (:class:`toolkit.gateway.depth_replay.ReplayTape`;
    not imported: the exchange stays below the wire formats the replay speaks)."""

    @property
    def levels(self) -> int: ...
    @property
    def kind(self) -> npt.NDArray[np.int8]: ...
    @property
    def size(self) -> npt.NDArray[np.int64]: ...
    @property
    def price(self) -> npt.NDArray[np.int64]: ...
    @property
    def book(self) -> npt.NDArray[np.int64]: ...
    @property
    def direction(self) -> npt.NDArray[np.int8] | None: ...


class Replay(Protocol):
    """What the fills read of a :class:`toolkit.gateway.depth_replay.DepthReplay`."""

    @property
    def symbol(self) -> str: ...
    @property
    def tape(self) -> Tape: ...
    @property
    def cursor(self) -> int: ...
    @property
    def done(self) -> bool: ...
    @property
    def last_trade(self) -> tuple[float, int] | None: ...


@dataclass
class _Working:
    """One order's place in the replay: the last event it has met, its queue row (None until
    it rests) and whether it is a market order's remainder."""

    seen: int
    order: SimOrder
    queue: npt.NDArray[np.float64] | None = None
    market: bool = False


def _directions(replay: Replay) -> npt.NDArray[np.int8]:
    """LOBSTER's direction per event (+1 buy, -1 sell limit order); a hand-made tape without
    them gets it from the ask before the event (at or above it: the sell side)."""
    tape = replay.tape
    if tape.direction is not None:
        return np.asarray(tape.direction, dtype=np.int8)
    ask_before = np.concatenate(([tape.book[0, 0]], tape.book[:-1, 0]))
    return np.where(tape.price >= ask_before, -1, 1).astype(np.int8)


class BookFills:
    """Matches orders on the replayed symbol against the replayed book (module docstring)."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.symbol = replay.symbol
        self._direction = _directions(replay)
        self._working: dict[tuple[int, int], _Working] = {}
        self._halted = False
        self._halt_seen = 0  # events whose halts are in _halted

    def serves(self, symbol: str) -> bool:
        return symbol == self.symbol

    def check(self, order: SimOrder) -> None:
        """Refuse what the replayed book cannot work (IB's 201, one line)."""
        if not self.serves(order.symbol):
            return
        why = (
            "trailing stops"
            if order.order_type == "TRAIL"
            else f"IB algos ({order.algo_strategy})"
            if order.algo_strategy
            else ""
        )
        if why:
            raise OrderRejected(
                201,
                f"Order rejected - reason: {why} are not supported on {self.symbol}, whose "
                "orders fill against the replayed LOBSTER book",
            )

    def mark(self) -> float:
        """The price positions are valued at: the mid of the replayed touch (one side's best
        when the other is empty, else the last trade; 0 before anything was replayed)."""
        k = self.replay.cursor - 1
        if k < 0:
            return 0.0
        ask, ask_size, bid, bid_size = (int(x) for x in self.replay.tape.book[k, :4])
        if ask_size > 0 and bid_size > 0:
            return (ask + bid) / 2 / PRICE_SCALE
        if ask_size > 0 or bid_size > 0:
            return (ask if ask_size > 0 else bid) / PRICE_SCALE
        last = self.replay.last_trade
        return last[0] if last is not None else 0.0

    # -- matching --------------------------------------------------------------------------
    def match(self, order: SimOrder, arriving: bool) -> tuple[list[tuple[float, float]], bool]:
        """The executions (price, shares) ``order`` gets now and whether what remains must be
        cancelled: on ``arriving`` against the current book, else against every event
        replayed since it last looked."""
        key = (order.client_id, order.order_id)
        k0 = self.replay.cursor - 1
        fills: list[tuple[float, float]] = []
        if arriving:
            if len(self._working) >= PRUNE_AT:  # cancelled elsewhere: forget the finished
                self._working = {
                    k: v for k, v in self._working.items() if v.order.status not in DONE
                }
            self._working[key] = w = _Working(k0, order)
            if k0 < 0:
                return fills, False  # nothing replayed yet: it waits for the first event
            self._arrive(order, w, k0, fills)
            if order.tif == "FOK" and not fills:
                return fills, True
            return fills, order.tif in ("IOC", "OPG")
        w = self._working.setdefault(key, _Working(k0, order))
        if w.seen < 0 and k0 >= 0:  # placed before the first event: it arrives now
            w.seen = k0
            self._arrive(order, w, k0, fills)
            return fills, False
        tape = self.replay.tape
        rest = order.remaining
        for k in range(w.seen + 1, k0 + 1):
            w.seen = k
            kind = int(tape.kind[k])
            if w.queue is None:  # an untriggered stop
                if kind in EXECUTIONS and self._stop_hit(order, int(tape.price[k])):
                    order.triggered = True
                    before = len(fills)
                    self._take(order, w, k, rest, fills)
                    rest -= sum(s for _, s in fills[before:])
                continue
            shares = on_event_nb(
                w.queue,
                kind,
                float(tape.size[k]),
                float(tape.price[k]),
                int(self._direction[k]),
                0,
                tape.book[k],
            )
            if shares > 0:
                price = tape.price[k] / PRICE_SCALE if w.market else order.lmt_price
                assert price is not None
                fills.append((float(price), float(shares)))
                rest -= shares
            if rest <= 1e-9:
                break
        ended = self.replay.done and order.tif in ("DAY", "") and rest > 1e-9
        return fills, ended

    def forget(self, order: SimOrder) -> None:
        self._working.pop((order.client_id, order.order_id), None)

    def _arrive(
        self, order: SimOrder, w: _Working, k: int, fills: list[tuple[float, float]]
    ) -> None:
        """A new order at the book after event ``k``: a stop waits for its trigger; others
        take and rest (FOK: only if all of it can be taken)."""
        if order.order_type in ("STP", "STP LMT") and not order.triggered:
            last = self.replay.last_trade
            if last is None or not self._stop_hit(order, round(last[0] * PRICE_SCALE)):
                return  # waits for a trade at or through its stop (match)
            order.triggered = True
        if order.tif == "FOK" and self._available(order, k) < order.remaining:
            return
        self._take(order, w, k, order.remaining, fills)

    def _stop_hit(self, order: SimOrder, price: int) -> bool:
        assert order.aux_price is not None
        stop = round(order.aux_price * PRICE_SCALE)
        return price >= stop if order.side > 0 else price <= stop

    def _limit(self, order: SimOrder) -> int | None:
        """The order's limit in LOBSTER units (None: a market order, or a triggered stop)."""
        if order.order_type in ("LMT", "STP LMT") and order.lmt_price is not None:
            return round(order.lmt_price * PRICE_SCALE)
        return None

    def _levels(self, order: SimOrder, k: int) -> list[tuple[int, int]]:
        """The other side's displayed levels after event ``k`` within the order's limit."""
        row = self.replay.tape.book[k].tolist()
        off = 0 if order.side > 0 else 2
        limit = self._limit(order)
        out = []
        for lv in range(self.replay.tape.levels):
            price, size = row[4 * lv + off], row[4 * lv + off + 1]
            if size <= 0:
                break
            if limit is not None and (price > limit if order.side > 0 else price < limit):
                break
            out.append((price, size))
        return out

    def _available(self, order: SimOrder, k: int) -> float:
        return float(sum(size for _, size in self._levels(order, k)))

    def _halt_state(self, k: int) -> bool:
        """Whether trading is halted after event ``k`` (LOBSTER type 7: price -1 halts, 1
        resumes trading; 0 resumes quoting only)."""
        tape = self.replay.tape
        if k + 1 < self._halt_seen:
            self._halt_seen, self._halted = 0, False
        for j in range(self._halt_seen, k + 1):
            if int(tape.kind[j]) == HALT:
                self._halted = int(tape.price[j]) != 1
        self._halt_seen = k + 1
        return self._halted

    def _take(
        self, order: SimOrder, w: _Working, k: int, rest: float, fills: list[tuple[float, float]]
    ) -> None:
        """Walk the book after event ``k`` for at most ``rest`` shares (not in a halt), then
        rest what is left in the queue at the order's limit."""
        if not self._halt_state(k):
            for price, size in self._levels(order, k):
                if rest <= 1e-9:
                    break
                take = min(rest, float(size))
                fills.append((price / PRICE_SCALE, take))
                rest -= take
        limit = self._limit(order)
        w.market = limit is None
        at = float(limit) if limit is not None else (NO_LIMIT if order.side > 0 else 0.0)
        w.queue = q = np.zeros(QUEUE_COLS, dtype=np.float64)
        side = 1 if order.side > 0 else -1
        place_nb(q, RISK_AVERSE, 0.0, side, at, max(rest, 0.0), k, self.replay.tape.book[k], False)


__all__ = ["BookFills"]
