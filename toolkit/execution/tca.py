"""Transaction-cost analysis (TCA) of parent orders: Perold's implementation shortfall split
into delay, execution, opportunity and fees, slippage against arrival, interval VWAP, TWAP and
the close, and the participation rate.

Perold (1988), "The implementation shortfall: paper versus reality", J. Portfolio Management
14(3): the shortfall is what a paper portfolio, which trades the whole parent quantity Q at the
decision price, gained minus what the real portfolio gained. The split into delay and trading
cost follows Wagner & Edwards (1993) as written out in Kissell (2013), "The Science of
Algorithmic Trading and Portfolio Management", ch. 3 ("expanded implementation shortfall").

Inputs (one parent, or many with :func:`tca_many`):

* the parent: side, quantity Q, decision time, **arrival price** P_d = the mid at the decision
  (:func:`arrival_mid`: the last trade or bar close when there is no two-sided quote); the
  release time of its first child (default: its first fill, or the decision when nothing
  filled); optionally the release price P_r and the end-of-horizon price P_N;
* its child fills: time, quantity q_j > 0, price p_j, fee f_j (negative for a rebate);
* the market path over its horizon: bars stamped at their start (the loader's intraday
  convention) with ``close`` and ``volume`` and optionally ``vwap``.

Prices taken from the bars when not given (documented choices, not guesses):

* P_r: the close of the last bar completed by the release and after the decision; when no bar
  completed in between, P_d (no delay can be observed);
* P_N: the close of the bar holding the horizon's end (``end_time``, default: the last bar of
  the path: pass ``end_time`` when the bars cover more than the order's horizon);
* the order's **active interval** runs from the release to the last fill when the parent filled
  completely, else to the horizon's end (it was working, unfilled); its bars are those from the
  one holding the release to the one holding the interval's end.

Definitions (s = +1 buy, -1 sell; X = sum q_j filled; F = sum f_j; notional = Q P_d)::

    paper P&L   = s Q (P_N - P_d)
    real P&L    = s sum q_j (P_N - p_j) - F
    shortfall   = paper - real
                = delay + execution + opportunity + fees, with
    delay       = s Q (P_r - P_d)            the market moved before the first child
    execution   = s sum q_j (p_j - P_r)      fills against the price at release (impact)
    opportunity = s (Q - X) (P_N - P_r)      the unfilled rest, valued at the horizon's end
    fees        = F

Opportunity is measured from P_r, not P_d, because the delay already charges the whole Q
(filled and unfilled) for the move before the release (Kissell's split): from P_d it would count
that move twice. Each cost is also given in basis points of the paper notional Q P_d.

Benchmarks over the active interval: VWAP = sum v_b p_b / sum v_b with p_b the bar's ``vwap``
(its close when the bars have no vwap); TWAP = the mean bar close; the close = the close of the
bar holding the horizon's end. Slippage against a benchmark B is s (avg fill - B) / B in bp.
Participation = X / market volume over the interval.

Sign convention (every cost and slippage is positive when it hurt the order):

    =========================  =============================  =============================
    quantity                   buy (s = +1) costs when        sell (s = -1) costs when
    =========================  =============================  =============================
    delay                      P_r above P_d                  P_r below P_d
    execution                  fills above P_r                fills below P_r
    opportunity                P_N above P_r (unfilled rest)  P_N below P_r (unfilled rest)
    fees                       paid (a rebate is negative)    paid (a rebate is negative)
    slippage vs arrival/bench  avg fill above it              avg fill below it
    =========================  =============================  =============================

NaN marks what does not exist, never a failure: the average fill and every slippage when
nothing filled; VWAP and participation when the interval traded no volume.

The result (:class:`TCAResult`, or one row per parent from :func:`tca_many`) is meant for the
live session summary, the journal's order history and the tear sheet; those integrations are
later work of issue 17.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from toolkit.errors import DataError
from toolkit.execution import _tca_kernels as _k

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_BP = 1e4
_NAT = np.iinfo(np.int64).min
_PARENT_REQUIRED = ("side", "quantity", "decision_time", "arrival_price")
_FILL_REQUIRED = ("quantity", "price", "fee")


def arrival_mid(bid: float | None, ask: float | None, last: float | None = None) -> float:
    """The arrival price at a decision: the quote's mid (bid + ask) / 2 when both sides are
    positive and not crossed, else ``last`` (the last trade or bar close). Raises
    :class:`DataError` when there is neither."""
    if (
        bid is not None and ask is not None and math.isfinite(bid) and math.isfinite(ask)
        and 0.0 < bid <= ask
    ):
        return 0.5 * (bid + ask)
    if last is not None and math.isfinite(last) and last > 0.0:
        return float(last)
    raise DataError(f"arrival_mid: no two-sided quote (bid={bid}, ask={ask}) and no last "
                    f"price ({last}): pass the last trade or the bar close as `last`.")


@dataclass(frozen=True)
class ParentOrder:
    """A parent order as TCA sees it. ``side`` is ``"BUY"`` or ``"SELL"``; times are UTC
    (naive timestamps are read as UTC); ``arrival_price`` is the mid at the decision
    (:func:`arrival_mid`). ``release_time``, ``release_price``, ``end_time`` and ``end_price``
    default as described in the module docstring."""

    side: str
    quantity: float
    decision_time: pd.Timestamp
    arrival_price: float
    release_time: pd.Timestamp | None = None
    release_price: float | None = None
    end_time: pd.Timestamp | None = None
    end_price: float | None = None
    order_id: str = "parent"
    symbol: str = ""

    def __post_init__(self) -> None:
        if self.side not in ("BUY", "SELL"):
            raise DataError(f"ParentOrder {self.order_id!r}: side must be 'BUY' or 'SELL', "
                            f"not {self.side!r}.")

    def frame(self) -> pd.DataFrame:
        """This order as a one-row parents frame for :func:`tca_many`."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        return pd.DataFrame([row]).set_index("order_id")


@dataclass(frozen=True)
class TCAResult:
    """Transaction costs of one parent order (see the module docstring for every formula and
    the sign convention: costs and slippages are positive when they hurt).

    Currency amounts: ``delay_cost``, ``execution_cost``, ``opportunity_cost``, ``fees``,
    ``total_cost`` (= paper_pnl - real_pnl, the implementation shortfall); the same in bp of
    ``notional`` (Q x arrival): ``delay_bp`` ... ``total_bp``. ``slippage_bp`` is against the
    arrival price; ``vwap_slippage_bp``, ``twap_slippage_bp``, ``close_slippage_bp`` against
    the interval benchmarks; ``participation`` = filled / ``market_volume`` over the active
    interval ``release_time`` .. ``active_end``."""

    order_id: str
    symbol: str
    side: str
    quantity: float
    filled: float
    unfilled: float
    fill_rate: float
    decision_time: pd.Timestamp
    release_time: pd.Timestamp
    active_end: pd.Timestamp
    end_time: pd.Timestamp
    arrival_price: float
    release_price: float
    end_price: float
    avg_fill_price: float
    notional: float
    delay_cost: float
    execution_cost: float
    opportunity_cost: float
    fees: float
    total_cost: float
    delay_bp: float
    execution_bp: float
    opportunity_bp: float
    fees_bp: float
    total_bp: float
    paper_pnl: float
    real_pnl: float
    slippage_bp: float
    interval_vwap: float
    interval_twap: float
    close: float
    vwap_slippage_bp: float
    twap_slippage_bp: float
    close_slippage_bp: float
    market_volume: float
    participation: float

    def to_row(self) -> dict[str, object]:
        """The fields as a flat dict, in the column order of :func:`tca_many`."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """One row indexed by ``order_id``, the same columns as :func:`tca_many`'s frame."""
        return pd.DataFrame([self.to_row()]).set_index("order_id")


COLUMNS = tuple(f.name for f in fields(TCAResult) if f.name != "order_id")


def tca(order: ParentOrder, fills: pd.DataFrame, bars: pd.DataFrame) -> TCAResult:
    """Transaction costs of one parent order from its child fills (columns ``time`` (or a
    DatetimeIndex), ``quantity``, ``price``, ``fee``; may be empty) and the bars over its
    horizon (``close``, ``volume``, optional ``vwap``; DatetimeIndex of bar starts)."""
    fills = fills.copy()
    fills["order_id"] = order.order_id
    row = tca_many(order.frame(), fills, bars).iloc[0]
    values = {n: v if isinstance(v, str | pd.Timestamp) else float(v)
              for n, v in ((name, row[name]) for name in COLUMNS)}
    return TCAResult(order_id=order.order_id, **values)  # type: ignore[arg-type]


def tca_many(
    parents: pd.DataFrame,
    fills: pd.DataFrame,
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Transaction costs of many parent orders at once: one row per parent (indexed by
    ``order_id``, columns as :class:`TCAResult`).

    ``parents``: ``order_id`` (column or index), ``side`` (``BUY``/``SELL`` or +1/-1),
    ``quantity``, ``decision_time``, ``arrival_price``; optional ``symbol``, ``release_time``,
    ``release_price``, ``end_time``, ``end_price`` (missing or NaN/NaT: the defaults of the
    module docstring). ``fills``: ``order_id``, ``time`` (column or index), ``quantity``,
    ``price``, ``fee``. ``bars``: one frame for every parent, or a mapping symbol -> frame used
    through the parents' ``symbol`` column. Pandas stays here; the sums run in numba kernels.
    """
    p = _parse_parents(parents)
    fill_start, f_parent, f_time, f_qty, f_price, f_fee = _parse_fills(fills, p.order_id)
    has_fill = fill_start[1:] > fill_start[:-1]
    padded = np.append(f_time, _NAT)  # a parent without fills reads the pad, then masked
    first_fill = np.where(has_fill, padded[fill_start[:-1]], _NAT)
    last_fill = np.where(has_fill, padded[np.maximum(fill_start[1:] - 1, 0)], _NAT)
    release_t = np.where(p.release_t != _NAT, p.release_t,
                         np.where(has_fill, first_fill, p.decision_t))
    _check_times(p, release_t, first_fill, has_fill, f_parent, f_time)

    bar_time, close, volume, bar_price, bar_lo_sym, bar_hi_sym = _stack_bars(bars, p)
    end_t = np.where(p.end_t != _NAT, p.end_t, bar_time[bar_hi_sym])
    ends_early = (p.end_t != _NAT) & (end_t < release_t)
    if ends_early.any():
        k = int(np.flatnonzero(ends_early)[0])
        raise DataError(f"parents: order {p.order_id[k]!r} ends at {_ts(end_t[k])}, before "
                        f"its release at {_ts(release_t[k])}: correct end_time.")
    i_end = _bar_holding(bar_time, bar_lo_sym, bar_hi_sym, end_t)
    late = (f_time > np.repeat(end_t, np.diff(fill_start))) & np.repeat(
        p.end_t != _NAT, np.diff(fill_start))
    if late.any():
        j = int(np.flatnonzero(late)[0])
        raise DataError(f"fills: order {p.order_id[f_parent[j]]!r} has a fill at "
                        f"{_ts(f_time[j])}, after its end_time {_ts(end_t[f_parent[j]])}: "
                        "correct the fill or the order's end_time.")
    no_bars = i_end < bar_lo_sym
    if no_bars.any():
        k = int(np.flatnonzero(no_bars)[0])
        raise DataError(f"bars: no bar at or before order {p.order_id[k]!r}'s horizon end "
                        f"{_ts(end_t[k])} (its bars start at {_ts(bar_time[bar_lo_sym[k]])}): "
                        "pass bars that cover the order's horizon.")

    i_rel = _bar_holding(bar_time, bar_lo_sym, bar_hi_sym, release_t)
    # the close of the bar before the release's bar, if that bar completed after the decision
    # (a bar completes when the next one starts)
    prev_ok = (i_rel > bar_lo_sym) & (bar_time[np.maximum(i_rel, 0)] > p.decision_t)
    release_from_bars = np.where(prev_ok, close[np.maximum(i_rel - 1, 0)], p.arrival)
    release_px = np.where(np.isnan(p.release_price), release_from_bars, p.release_price)
    close_px = close[i_end]
    end_px = np.where(np.isnan(p.end_price), close_px, p.end_price)

    sf = _k.shortfall_nb(p.side, p.quantity, p.arrival, release_px, end_px,
                         fill_start, f_qty, f_price, f_fee)
    filled = sf[:, _k.FILLED]
    _check_overfill(p, filled)
    complete = filled >= p.quantity * (1.0 - 1e-12)
    active_end = np.where(complete & has_fill, last_fill, np.maximum(end_t, release_t))
    lo = np.maximum(i_rel, bar_lo_sym)
    hi = np.maximum(_bar_holding(bar_time, bar_lo_sym, bar_hi_sym, active_end), lo)
    bench = _k.interval_benchmarks_nb(lo, hi, close, volume, bar_price)

    notional = p.quantity * p.arrival
    avg = sf[:, _k.AVG_PRICE]
    vwap = bench[:, _k.VWAP]
    twap = bench[:, _k.TWAP]
    mvol = bench[:, _k.MARKET_VOLUME]

    def bp(cost: FloatArray) -> FloatArray:
        return cost / notional * _BP

    def slip(benchmark: FloatArray) -> FloatArray:
        return p.side * (avg - benchmark) / benchmark * _BP

    with np.errstate(divide="ignore", invalid="ignore"):
        participation = np.where(mvol > 0.0, filled / mvol, np.nan)
    out = pd.DataFrame(
        {
            "symbol": p.symbol,
            "side": np.where(p.side > 0, "BUY", "SELL"),
            "quantity": p.quantity,
            "filled": filled,
            "unfilled": p.quantity - filled,
            "fill_rate": filled / p.quantity,
            "decision_time": _times(p.decision_t),
            "release_time": _times(release_t),
            "active_end": _times(active_end),
            "end_time": _times(end_t),
            "arrival_price": p.arrival,
            "release_price": release_px,
            "end_price": end_px,
            "avg_fill_price": avg,
            "notional": notional,
            "delay_cost": sf[:, _k.DELAY],
            "execution_cost": sf[:, _k.EXECUTION],
            "opportunity_cost": sf[:, _k.OPPORTUNITY],
            "fees": sf[:, _k.FEES],
            "total_cost": sf[:, _k.TOTAL],
            "delay_bp": bp(sf[:, _k.DELAY]),
            "execution_bp": bp(sf[:, _k.EXECUTION]),
            "opportunity_bp": bp(sf[:, _k.OPPORTUNITY]),
            "fees_bp": bp(sf[:, _k.FEES]),
            "total_bp": bp(sf[:, _k.TOTAL]),
            "paper_pnl": sf[:, _k.PAPER],
            "real_pnl": sf[:, _k.REAL],
            "slippage_bp": slip(p.arrival),
            "interval_vwap": vwap,
            "interval_twap": twap,
            "close": close_px,
            "vwap_slippage_bp": slip(vwap),
            "twap_slippage_bp": slip(twap),
            "close_slippage_bp": slip(close_px),
            "market_volume": mvol,
            "participation": participation,
        },
        index=pd.Index(p.order_id, name="order_id"),
    )
    return out[list(COLUMNS)]


# ---------------------------------------------------------------------------------------------
# parsing and checks (pandas edge)


@dataclass(frozen=True)
class _Parents:
    order_id: npt.NDArray[np.object_]
    symbol: npt.NDArray[np.object_]
    side: FloatArray
    quantity: FloatArray
    decision_t: IntArray
    arrival: FloatArray
    release_t: IntArray
    release_price: FloatArray
    end_t: IntArray
    end_price: FloatArray


def _ts(ns: int | np.integer) -> str:
    return str(pd.Timestamp(int(ns), tz="UTC"))


def _times(ns: IntArray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(ns, utc=True)).as_unit("ns")


def _utc_ns(values: pd.Series | pd.Index, what: str) -> IntArray:
    """UTC nanoseconds of timestamps (naive ones are read as UTC); NaT -> int64 min."""
    try:
        idx = pd.DatetimeIndex(values)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: not timestamps ({exc}): give UTC datetimes.") from None
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)


def _float_col(frame: pd.DataFrame, name: str, what: str, default: float | None = None
               ) -> FloatArray:
    if name not in frame.columns:
        if default is None:
            raise DataError(f"{what}: missing column {name!r}.")
        return np.full(len(frame), default)
    try:
        return np.asarray(pd.to_numeric(frame[name]), dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what}: column {name!r} must be numeric.") from None


def _parse_parents(parents: pd.DataFrame) -> _Parents:
    what = "parents"
    frame = parents.reset_index() if "order_id" not in parents.columns else parents
    if "order_id" not in frame.columns:
        frame = frame.rename(columns={frame.columns[0]: "order_id"})
    missing = [c for c in _PARENT_REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}: each parent needs "
                        "side, quantity, decision_time and arrival_price.")
    order_id = frame["order_id"].astype(str).to_numpy(dtype=object)
    if len(set(order_id)) != len(order_id):
        dup = pd.Series(order_id).loc[pd.Series(order_id).duplicated()].iloc[0]
        raise DataError(f"{what}: order_id {dup!r} appears twice: one row per parent order.")
    side = np.empty(len(frame))
    for k, raw in enumerate(frame["side"].tolist()):
        text = str(raw).strip().upper()
        if text in ("BUY", "1", "1.0", "+1"):
            side[k] = 1.0
        elif text in ("SELL", "-1", "-1.0"):
            side[k] = -1.0
        else:
            raise DataError(f"{what}: order {order_id[k]!r} has side {raw!r}: use BUY or "
                            "SELL (or +1 / -1).")
    quantity = _float_col(frame, "quantity", what)
    arrival = _float_col(frame, "arrival_price", what)
    release_price = _float_col(frame, "release_price", what, math.nan)
    end_price = _float_col(frame, "end_price", what, math.nan)
    for name, arr, ok in (
        ("quantity", quantity, np.isfinite(quantity) & (quantity > 0)),
        ("arrival_price", arrival, np.isfinite(arrival) & (arrival > 0)),
        ("release_price", release_price, np.isnan(release_price) | (release_price > 0)),
        ("end_price", end_price, np.isnan(end_price) | (end_price > 0)),
    ):
        if not ok.all():
            k = int(np.flatnonzero(~ok)[0])
            raise DataError(f"{what}: order {order_id[k]!r} has {name} {arr[k]}: it must be a "
                            "positive number.")
    decision_t = _utc_ns(frame["decision_time"], f"{what} column 'decision_time'")
    if (decision_t == _NAT).any():
        k = int(np.flatnonzero(decision_t == _NAT)[0])
        raise DataError(f"{what}: order {order_id[k]!r} has no decision_time.")
    nat = np.full(len(frame), _NAT, dtype=np.int64)
    release_t = (_utc_ns(frame["release_time"], f"{what} column 'release_time'")
                 if "release_time" in frame.columns else nat)
    end_t = (_utc_ns(frame["end_time"], f"{what} column 'end_time'")
             if "end_time" in frame.columns else nat)
    symbol = (frame["symbol"].fillna("").astype(str).to_numpy(dtype=object)
              if "symbol" in frame.columns else np.full(len(frame), "", dtype=object))
    return _Parents(order_id, symbol, side, quantity, decision_t, arrival, release_t,
                    release_price, end_t, end_price)


def _parse_fills(
    fills: pd.DataFrame, order_id: npt.NDArray[np.object_]
) -> tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """Fills sorted by (parent, time): offsets per parent, parent index, time, qty, price, fee."""
    what = "fills"
    frame = fills
    if len(frame) == 0:  # nothing filled: no columns needed
        empty_f, empty_i = np.empty(0), np.empty(0, dtype=np.int64)
        start = np.zeros(len(order_id) + 1, dtype=np.int64)
        return start, empty_i, empty_i, empty_f, empty_f, empty_f
    if "time" not in frame.columns:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError(f"{what}: missing column 'time' (or a DatetimeIndex).")
        frame = frame.rename_axis("time").reset_index()
    if "order_id" not in frame.columns:
        raise DataError(f"{what}: missing column 'order_id' naming each fill's parent.")
    missing = [c for c in _FILL_REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)} (fee: commission "
                        "paid, 0 if none).")
    parent = pd.Index(order_id).get_indexer(pd.Index(frame["order_id"].astype(str)))
    if (parent < 0).any():
        j = int(np.flatnonzero(parent < 0)[0])
        raise DataError(f"{what}: fill for order {frame['order_id'].iloc[j]!r}, which is not "
                        "among the parents: add the parent or drop the fill.")
    time = _utc_ns(frame["time"], f"{what} column 'time'")
    qty = _float_col(frame, "quantity", what)
    price = _float_col(frame, "price", what)
    fee = _float_col(frame, "fee", what)
    for name, arr, ok in (
        ("time", time, time != _NAT),
        ("quantity", qty, np.isfinite(qty) & (qty > 0)),
        ("price", price, np.isfinite(price) & (price > 0)),
        ("fee", fee, np.isfinite(fee)),
    ):
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            shown = "missing" if name == "time" else arr[j]
            raise DataError(f"{what}: order {order_id[parent[j]]!r}'s fill #{j} has {name} "
                            f"{shown}: quantities and prices must be positive, fees finite.")
    order = np.lexsort((time, parent))
    parent = np.asarray(parent[order], dtype=np.int64)
    start = np.searchsorted(parent, np.arange(len(order_id) + 1)).astype(np.int64)
    return (start, parent, time[order], qty[order], price[order], fee[order])


def _check_times(p: _Parents, release_t: IntArray, first_fill: IntArray,
                 has_fill: npt.NDArray[np.bool_], f_parent: IntArray, f_time: IntArray) -> None:
    early = release_t < p.decision_t
    if early.any():
        k = int(np.flatnonzero(early)[0])
        raise DataError(f"parents: order {p.order_id[k]!r} was released at {_ts(release_t[k])}, "
                        f"before its decision at {_ts(p.decision_t[k])}: correct release_time.")
    before = has_fill & (first_fill < release_t)
    if before.any():
        k = int(np.flatnonzero(before)[0])
        raise DataError(f"fills: order {p.order_id[k]!r} has a fill at {_ts(first_fill[k])}, "
                        f"before its release at {_ts(release_t[k])} (and its decision at "
                        f"{_ts(p.decision_t[k])}): correct the fill or release_time.")


def _check_overfill(p: _Parents, filled: FloatArray) -> None:
    over = filled > p.quantity * (1.0 + 1e-12)
    if over.any():
        k = int(np.flatnonzero(over)[0])
        raise DataError(f"fills: order {p.order_id[k]!r} filled {filled[k]:g} of a parent of "
                        f"{p.quantity[k]:g}: fills must not exceed the parent quantity.")


def _stack_bars(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame], p: _Parents
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, IntArray, IntArray]:
    """All bar paths end to end: start times, close, volume, bar price (vwap or close), and
    each parent's first and last row of its own path."""
    if isinstance(bars, pd.DataFrame):
        paths: dict[str, pd.DataFrame] = {"": bars}
        which = np.zeros(len(p.order_id), dtype=np.int64)
    else:
        paths = dict(bars)
        names = list(paths)
        which = np.empty(len(p.order_id), dtype=np.int64)
        for k, sym in enumerate(p.symbol):
            if sym not in paths:
                raise DataError(f"bars: no bars for symbol {sym!r} of order {p.order_id[k]!r}: "
                                f"bars are given for {', '.join(map(repr, names))}.")
            which[k] = names.index(sym)
    times: list[IntArray] = []
    cols: list[tuple[FloatArray, FloatArray, FloatArray]] = []
    for sym, frame in paths.items():
        times.append(_bar_times(frame, sym))
        cols.append(_bar_values(frame, sym))
    sizes = np.array([t.size for t in times], dtype=np.int64)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    bar_time = np.concatenate(times)
    close = np.concatenate([c[0] for c in cols])
    volume = np.concatenate([c[1] for c in cols])
    price = np.concatenate([c[2] for c in cols])
    return bar_time, close, volume, price, first[which], (first + sizes - 1)[which]


def _bar_times(frame: pd.DataFrame, sym: str) -> IntArray:
    what = f"bars{f' of {sym}' if sym else ''}"
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{what}: the index must be the bars' start times (a DatetimeIndex).")
    if len(frame) == 0:
        raise DataError(f"{what}: no bars: pass the market path over the orders' horizon.")
    t = _utc_ns(frame.index, what)
    if len(t) > 1 and not bool((np.diff(t) > 0).all()):
        raise DataError(f"{what}: bar times must be strictly increasing (sort and drop "
                        "duplicate bars).")
    return t


def _bar_values(frame: pd.DataFrame, sym: str) -> tuple[FloatArray, FloatArray, FloatArray]:
    what = f"bars{f' of {sym}' if sym else ''}"
    close = _float_col(frame, "close", what)
    volume = _float_col(frame, "volume", what)
    if not (np.isfinite(close) & (close > 0)).all():
        j = int(np.flatnonzero(~(np.isfinite(close) & (close > 0)))[0])
        raise DataError(f"{what}: close at {frame.index[j]} is {close[j]}: closes must be "
                        "positive.")
    if not (np.isfinite(volume) & (volume >= 0)).all():
        j = int(np.flatnonzero(~(np.isfinite(volume) & (volume >= 0)))[0])
        raise DataError(f"{what}: volume at {frame.index[j]} is {volume[j]}: volumes must be "
                        "zero or more.")
    if "vwap" not in frame.columns:
        return close, volume, close
    vwap = _float_col(frame, "vwap", what)
    good = np.isfinite(vwap) & (vwap > 0)
    if not (good | (volume == 0)).all():
        j = int(np.flatnonzero(~(good | (volume == 0)))[0])
        raise DataError(f"{what}: vwap at {frame.index[j]} is {vwap[j]} in a bar that traded: "
                        "fix the bar or drop the vwap column.")
    return close, volume, np.where(good, vwap, close)


def _bar_holding(bar_time: IntArray, lo: IntArray, hi: IntArray, t: IntArray) -> IntArray:
    """Index of the bar holding instant t (the last bar starting at or before t) within each
    parent's path lo..hi; lo - 1 when t precedes the path."""
    out = np.empty(t.size, dtype=np.int64)
    for a, b in {(int(x), int(y)) for x, y in zip(lo, hi, strict=True)}:
        rows = (lo == a) & (hi == b)
        out[rows] = a + np.searchsorted(bar_time[a:b + 1], t[rows], side="right") - 1
    return out


def after_horizon(tca: pd.DataFrame, marks: Mapping[str, float]) -> FloatArray:
    """Per parent (rows of :func:`tca_many`'s frame), what its filled shares gained from its
    horizon's end to ``marks`` (symbol -> price): s X (M - P_N). With it the parents' paper P&L
    minus their shortfall is the account's P&L marked at ``marks`` (Perold's paper versus
    real portfolio, carried to a common mark): sum(paper - total_cost + after_horizon) =
    sum over fills of s q (M - p) - fees."""
    missing = sorted(set(tca["symbol"].astype(str)) - set(marks))
    if missing:
        raise DataError(f"after_horizon: no mark for {', '.join(missing)}: pass the price each "
                        "symbol's position is marked at.")
    side = np.where(tca["side"].to_numpy() == "BUY", 1.0, -1.0)
    mark = tca["symbol"].astype(str).map(dict(marks)).to_numpy(dtype=float)
    end = tca["end_price"].to_numpy(dtype=float)
    out: FloatArray = side * tca["filled"].to_numpy(dtype=float) * (mark - end)
    return out
