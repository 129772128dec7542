"""IB's algo orders in the simulator: ``algoStrategy`` Adaptive, Twap and Vwap with their
``algoParams``, checked as IB checks them and worked over the simulated minutes with the
schedules of :mod:`toolkit.execution` (the same functions the backtest and the live bridge
use). Knows no sockets: the exchange calls :func:`start` when it books an algo order and
:meth:`Algo.work` for every completed bar.

How each algo is simulated (OUR approximation; IB does not publish its algorithms):

* Twap: :func:`toolkit.execution.twap` over the window's minutes (one slice a minute); a bar
  fills what the schedule has due by it (slices a bar could not absorb carry over).
  ``strategyType`` Marketable fills at the bar's open plus the book's slippage (the engine's
  market-order rule); Matching Midpoint / Same Side / Last at the bar's VWAP (its ``vwap``
  column when the data has one, else the typical price (high + low + close) / 3, the proxy
  :mod:`toolkit.execution` measures VWAP tracking with).
* Vwap: :func:`toolkit.execution.vwap` on the causal volume profile of up to 20 past
  sessions of the minute file (flat when there are none); it fills at the bar's VWAP as
  above, at most ``maxPctVol`` of the bar's volume. ``noTakeLiq`` is accepted and does not
  change the fill.
* Both: a limit price (LMT parent) skips bars whose fill price is beyond it; the window is
  ``startTime`` .. ``endTime`` clipped to the regular session; at ``endTime`` the rest is
  cancelled unless ``allowPastEndTime`` is 1 (it then keeps working at the schedule's price
  until the day ends).
* Adaptive: :func:`toolkit.execution.adaptive_limit` against the previous completed bar's
  range as the quote (low = bid, high = ask), on the clock of ``adaptivePriority``; a bar
  fills by the engine's limit rule when it reaches that limit (capped by the parent's limit
  price).

Error codes: an algo parameter TWS does not accept is answered with 145 "Error in validating
entry fields -" (IB's message-code table, interactivebrokers.github.io/tws-api/
message_codes.html; seen on a rejected algo order in erdewit/ib_insync issue 643, TWS 10.19),
so the simulator uses 145 for unknown tags, values out of range or of the wrong kind, missing
parameters and bad windows, with its own reason after the dash (TWS's own reason texts for
each case could not be found). An algo name or contract the simulator does not work gets the
generic 201 "Order rejected - reason:" (IB's exact code for an unknown algo name could not be
found either).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from toolkit.data import calendar
from toolkit.engine.fills import limit_fill_nb, slipped_nb
from toolkit.errors import ToolkitError
from toolkit.execution import adaptive_limit, sessions, twap, volume_profile, vwap
from toolkit.gateway.orders import Book, OrderRejected, SimOrder

ORDER_REJECTED = 201
ALGOS = ("Adaptive", "Twap", "Vwap")
# IB's other algo names (IB API documentation, "IB Algos"): refused as not simulated
OTHER_IB_ALGOS = (
    "ArrivalPx", "DarkIce", "PctVol", "ClosePx", "AD", "BalanceImpactRisk", "MinImpact",
    "PctVolPx", "PctVolSz", "PctVolTm",
)  # fmt: skip
PARAMS: dict[str, tuple[str, ...]] = {
    "Adaptive": ("adaptivePriority",),
    "Twap": ("strategyType", "startTime", "endTime", "allowPastEndTime"),
    "Vwap": ("maxPctVol", "startTime", "endTime", "allowPastEndTime", "noTakeLiq"),
}
PRIORITIES = ("Patient", "Normal", "Urgent")
TWAP_TYPES = ("Marketable", "Matching Midpoint", "Matching Same Side", "Matching Last")
MINUTE = pd.Timedelta(minutes=1)
LOOKBACK = 20  # past sessions in the Vwap volume profile
_ZONES = {"EST": "America/New_York", "EDT": "America/New_York", "ET": "America/New_York",
          "UTC": "UTC", "GMT": "UTC"}  # fmt: skip


INVALID_ENTRY = 145


def _refuse(text: str) -> OrderRejected:
    """What the simulator does not work (an algo name, contract or order type): IB's 201."""
    return OrderRejected(ORDER_REJECTED, f"Order rejected - reason: {text}")


def _invalid(text: str) -> OrderRejected:
    """An algo parameter TWS does not accept: IB's 145."""
    return OrderRejected(INVALID_ENTRY, f"Error in validating entry fields - {text}")


@dataclass
class Algo:
    """One algo order's parameters and, once started, its plan: cumulative shares due by
    each window bar (``times``, ``due``) for Twap/Vwap; the quote and start for Adaptive."""

    strategy: str
    priority: str = "Normal"
    strategy_type: str = "Marketable"
    start_time: str = ""
    end_time: str = ""
    allow_past_end: bool = False
    max_pct_vol: float | None = None
    no_take_liq: bool = False
    start: pd.Timestamp = pd.Timestamp.min
    end: pd.Timestamp = pd.Timestamp.max
    times: np.ndarray = field(default_factory=lambda: np.empty(0, "datetime64[ns]"))
    due: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    quote: tuple[float, float] = (0.0, 0.0)
    tick: float = 0.01
    placed_bar: pd.Timestamp | None = None  # the current bar when it was planned

    def expired(self, when: pd.Timestamp) -> bool:
        """The bar labelled ``when`` was the window's last: the rest is cancelled (unless
        ``allowPastEndTime``). Adaptive has no window."""
        return self.strategy != "Adaptive" and not self.allow_past_end and when + MINUTE >= self.end

    def price(self, order: SimOrder, bar: pd.Series, when: pd.Timestamp, book: Book) -> float:
        """The price at which this completed bar fills ``order`` (NaN: it does not); how
        many shares is :meth:`shares`'s answer, and the caller books them."""
        side = order.side
        o, h, lo = float(bar["open"]), float(bar["high"]), float(bar["low"])
        if self.strategy == "Adaptive":
            bid, ask = self.quote
            self.quote = (lo, h)
            if not (0.0 < bid <= ask):
                return math.nan
            elapsed = (when - self.start).total_seconds()
            limit = adaptive_limit(
                order.action, bid, ask, max(elapsed, 0.0), self.priority, self.tick
            )
            if order.lmt_price is not None:
                limit = min(limit, order.lmt_price) if side > 0 else max(limit, order.lmt_price)
            return float(limit_fill_nb(side, limit, o, h, lo))
        if when < self.start:
            return math.nan
        if self.strategy == "Twap" and self.strategy_type == "Marketable":
            price = float(slipped_nb(o, side, book.cost_model(order)[1]))
        else:
            vw = float(bar["vwap"]) if "vwap" in bar.index else math.nan
            price = vw if math.isfinite(vw) and vw > 0 else (h + lo + float(bar["close"])) / 3
        if order.lmt_price is not None and side * (price - order.lmt_price) > 0:
            return math.nan
        return round(price, 6)

    def shares(self, order: SimOrder, bar: pd.Series, when: pd.Timestamp, book: Book) -> float:
        """How many shares the bar may fill: what the schedule has due (all that remains for
        Adaptive or past the end), within the book's and ``maxPctVol``'s share of volume."""
        cap = book.capacity(bar)
        if self.max_pct_vol is not None:
            cap = min(cap, math.floor(self.max_pct_vol * float(bar["volume"])))
        if self.strategy == "Adaptive" or when + MINUTE > self.end:
            due = order.remaining
        else:
            k = (
                int(
                    np.searchsorted(
                        self.times,
                        when.tz_convert("UTC").tz_localize(None).to_datetime64(),
                        side="right",
                    )
                )
                - 1
            )
            due = (float(self.due[k]) if k >= 0 else 0.0) - order.filled
        return max(0.0, min(due, cap, order.remaining))


def parse(strategy: str, params: tuple[tuple[str, str], ...]) -> Algo:
    """An algo's name and parameters as IB checks them (unknown names and tags, values out
    of range or of the wrong kind): :class:`OrderRejected` otherwise."""
    if strategy not in ALGOS:
        if strategy in OTHER_IB_ALGOS:
            raise _refuse(
                f"algo strategy {strategy} is not supported by the simulator ({', '.join(ALGOS)})"
            )
        raise _refuse(
            f"invalid algo strategy {strategy[:30]!r} ({', '.join(ALGOS)} are "
            "simulated; names are case-sensitive)"
        )
    algo = Algo(strategy)
    seen: set[str] = set()
    for tag, value in params:
        if tag not in PARAMS[strategy]:
            raise _invalid(
                f"invalid algo parameter {tag[:30]!r} for {strategy} "
                f"({', '.join(PARAMS[strategy])})"
            )
        if tag in seen:
            raise _invalid(f"algo parameter {tag} given twice")
        seen.add(tag)
        if tag == "adaptivePriority":
            if value not in PRIORITIES:
                raise _invalid(
                    f"adaptivePriority {value[:20]!r} must be one of {', '.join(PRIORITIES)}"
                )
            algo.priority = value
        elif tag == "strategyType":
            if value not in TWAP_TYPES:
                raise _invalid(
                    f"strategyType {value[:20]!r} must be one of {', '.join(TWAP_TYPES)}"
                )
            algo.strategy_type = value
        elif tag in ("allowPastEndTime", "noTakeLiq"):
            if value not in ("0", "1", ""):
                raise _invalid(f"{tag} {value[:20]!r} must be 0 or 1")
            setattr(
                algo, "allow_past_end" if tag == "allowPastEndTime" else "no_take_liq", value == "1"
            )
        elif tag == "maxPctVol":
            try:
                pct = float(value)
            except ValueError:
                pct = math.nan
            # IB's range for maxPctVol: 0.01 .. 0.5 (1-50 % of volume; issue 17's brief)
            if not 0.01 <= pct <= 0.5:
                raise _invalid(f"maxPctVol {value[:20]!r} is out of range (0.01 to 0.5)")
            algo.max_pct_vol = pct
        elif tag == "startTime":
            algo.start_time = value
        elif tag == "endTime":
            algo.end_time = value
    if strategy == "Twap" and "strategyType" not in seen:
        raise _invalid(f"Twap needs the algo parameter strategyType ({', '.join(TWAP_TYPES)})")
    return algo


def ib_time(text: str, day: date) -> pd.Timestamp:
    """An algo's ``startTime``/``endTime`` as IB writes them -- ``"09:45:00 US/Eastern"``,
    ``"9:45:00 EST"``, ``"20240314 09:45:00 US/Eastern"`` or ``"20240314-14:45:00"`` (UTC)
    -- as a UTC instant; a time without a date is on ``day``, without a zone New York's."""
    parts = text.strip().split()
    zone = "America/New_York"
    if len(parts) > 1 and ":" not in parts[-1]:
        zone = _ZONES.get(parts[-1], parts[-1])
        parts = parts[:-1]
    try:
        tz = ZoneInfo(zone)
        if len(parts) == 1 and "-" in parts[0]:  # yyyymmdd-hh:mm:ss is UTC
            ts = pd.Timestamp(pd.to_datetime(parts[0], format="%Y%m%d-%H:%M:%S"), tz="UTC")
        elif len(parts) == 2:
            ts = pd.Timestamp(pd.to_datetime(" ".join(parts), format="%Y%m%d %H:%M:%S"), tz=tz)
        elif len(parts) == 1:
            clock = pd.to_datetime(parts[0], format="%H:%M:%S").time()
            ts = pd.Timestamp(pd.Timestamp.combine(day, clock), tz=tz)
        else:
            raise ValueError("too many parts")
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise _invalid(
            f"algo time {text[:40]!r} is not a time ('hh:mm:ss US/Eastern' or "
            f"'yyyymmdd-hh:mm:ss' UTC): {exc}"
        ) from None
    return ts.tz_convert("UTC")


def start(order: SimOrder, minutes: pd.DataFrame | None, now: pd.Timestamp, tick: float) -> Algo:
    """Check ``order``'s algo against its contract and order type and plan it from ``now``
    on the minute bars ``minutes`` (None: the symbol has none at ``now``)."""
    algo = parse(order.algo_strategy, order.algo_params)
    algo.tick = tick
    if order.quoted or order.legs or order.multiplier != 1.0:
        raise _refuse(
            f"the {algo.strategy} algo is simulated for stocks only (not options or combos)"
        )
    if order.order_type not in ("MKT", "LMT"):
        raise _refuse(f"the {algo.strategy} algo takes MKT or LMT orders, not {order.order_type}")
    if order.display_size:
        raise _refuse("an algo order cannot also be an iceberg (displaySize)")
    if order.quantity != round(order.quantity):
        raise _refuse(f"an algo order is for whole shares ({order.quantity:g})")
    if minutes is None:
        raise _refuse(
            f"the simulator has no minute bars of {order.symbol} at {now} to work "
            f"the {algo.strategy} algo on"
        )
    current = minutes.index[max(int(minutes.index.searchsorted(now, side="right")) - 1, 0)]
    bar = minutes.loc[current]
    algo.start, algo.quote = now, (float(bar["low"]), float(bar["high"]))
    algo.placed_bar = pd.Timestamp(current)
    if algo.strategy == "Adaptive":
        return algo
    day = calendar.working_day(now)
    open_, close = calendar.session_open(day), calendar.session_close(day)
    t0 = ib_time(algo.start_time, day) if algo.start_time else open_
    t1 = ib_time(algo.end_time, day) if algo.end_time else close
    if t1 <= t0:
        raise _invalid(
            f"{algo.strategy}: endTime {algo.end_time!r} is not after startTime {algo.start_time!r}"
        )
    algo.start, algo.end = max(t0, open_), min(t1, close)
    index = minutes.index
    window = minutes[(index > current) & (index >= algo.start) & (index < algo.end)]
    if window.empty:
        raise _refuse(
            f"{algo.strategy}: no minute of the window {algo.start} .. {algo.end} "
            f"is left in the session of {day}"
        )
    q = int(order.remaining)
    try:
        if algo.strategy == "Twap":
            kids = twap(q, window.index[0], window.index[-1] + MINUTE, len(window)).on_bars(window)
        else:
            grid = sessions(minutes)
            k = grid.index(day)
            try:
                profile = volume_profile(grid, day, lookback=min(LOOKBACK, max(k, 1)))
            except ToolkitError:  # no usable past session: even slices
                profile = np.full(390, 1.0 / 390)
            kids = vwap(q, window, profile)
    except ToolkitError as exc:
        raise _refuse(f"{algo.strategy}: {exc}") from None
    sizes = np.bincount(kids.bar, weights=kids.quantity, minlength=len(window))
    algo.times = np.asarray(
        window.index.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]")
    )
    algo.due = np.cumsum(sizes).astype(np.int64) + int(order.filled)
    return algo
