"""Order-book features per event and per interval (issue 20.3), all causal: the value at
event *t* uses only the messages and book rows up to *t*.

* spread, mid and the **size-weighted mid** ("weighted mid": bid x ask size + ask x bid size
  over both sizes; hftbacktest calls it "micro_price" -- it is not Stoikov's);
* **depth imbalance** over the first N levels: (bid depth - ask depth) / (bid + ask depth);
* **order-flow imbalance** e_n of Cont, Kukanov & Stoikov (2014, "The price impact of order
  book events", J. Financial Econometrics 12(1), eq. 1), summed per interval;
* **trade sign** (+1 buyer-initiated: a sell limit order executed, LOBSTER ReadMe) and the
  per-interval trade-sign imbalance by volume;
* **realised volatility** per interval: the square root of the sum of squared log mid returns;
* **Stoikov's micro-price** (Stoikov 2018, "The micro-price: a high-frequency estimator of
  future prices", Quantitative Finance 18(12)): mid + g*(imbalance, spread) where g* is
  estimated from the Markov chain of (imbalance bucket, spread) states -- :func:`fit_micro_price`
  on past data, :func:`micro_price` applied event by event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from toolkit.data.lobster import LobsterDay
from toolkit.errors import DataError
from toolkit.orderbook._features_nb import (
    F_DEPTH_IMB,
    F_LOGRET,
    F_MID,
    F_OFI,
    F_SPREAD,
    F_WMID,
    N_FEATURES,
    bin_features_nb,
    replay_features_nb,
)

EXCHANGE_TZ = "America/New_York"


@dataclass(frozen=True, eq=False)
class EventFeatures:
    """Per-event features of a LOBSTER day (arrays of length n, row i = after message i).

    Prices in USD (NaN where a side of the book is empty); ``ofi`` in shares (0 on the first
    event); ``log_return`` of the mid since the previous event; ``trade_sign`` +1 buy / -1 sell
    trade / 0 none (type 6 crosses are unsigned, their size is in ``trade_size``); the best
    quotes in LOBSTER integer units for estimators that need them."""

    time: NDArray[np.float64]
    mid: NDArray[np.float64]
    spread: NDArray[np.float64]
    size_weighted_mid: NDArray[np.float64]
    depth_imbalance: NDArray[np.float64]
    ofi: NDArray[np.float64]
    log_return: NDArray[np.float64]
    trade_sign: NDArray[np.int8]
    trade_size: NDArray[np.int64]
    best_ask: NDArray[np.int64]
    ask_size: NDArray[np.int64]
    best_bid: NDArray[np.int64]
    bid_size: NDArray[np.int64]
    depth_levels: int
    date: Any = None
    refills: int = 0

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def frame(self) -> pd.DataFrame:
        """The features as a frame indexed by New York time of each event."""
        return pd.DataFrame(
            {
                "mid": self.mid,
                "spread": self.spread,
                "size_weighted_mid": self.size_weighted_mid,
                "depth_imbalance": self.depth_imbalance,
                "ofi": self.ofi,
                "log_return": self.log_return,
                "trade_sign": self.trade_sign,
                "trade_size": self.trade_size,
            },
            index=_stamps(self.date, self.time),
        )


def _stamps(day: Any, seconds: NDArray[Any]) -> pd.Index:
    if day is None:
        plain: pd.Index = pd.Index(seconds, name="seconds_after_midnight")
        return plain
    midnight = pd.Timestamp(datetime.combine(day, time(0))).tz_localize(EXCHANGE_TZ)
    stamps = pd.DatetimeIndex(midnight + pd.to_timedelta(seconds, unit="s"), name="time")
    return stamps


def event_features(day: LobsterDay, *, depth_levels: int | None = None) -> EventFeatures:
    """Replay ``day`` (numba, one pass) and compute each event's features on the rebuilt book.
    ``depth_levels`` (default: all the day's levels) is N of the depth imbalance."""
    n_depth = day.levels if depth_levels is None else int(depth_levels)
    if not 1 <= n_depth <= day.levels:
        raise DataError(
            f"depth_levels={depth_levels!r}: {day.symbol} {day.date} has {day.levels} level"
            f"{'s' if day.levels > 1 else ''}; use 1..{day.levels}."
        )
    n = len(day.messages)
    out = np.empty((n, N_FEATURES), dtype=np.float64)
    signs = np.zeros(n, dtype=np.int8)
    trade_size = np.zeros(n, dtype=np.int64)
    msgs = day.messages
    refills = 0
    if n:
        refills = replay_features_nb(
            np.ascontiguousarray(msgs["type"]),
            np.ascontiguousarray(msgs["size"]),
            np.ascontiguousarray(msgs["price"]),
            np.ascontiguousarray(msgs["direction"]),
            np.ascontiguousarray(day.book),
            n_depth,
            out,
            signs,
            trade_size,
        )
    return EventFeatures(
        time=np.ascontiguousarray(msgs["time"]),
        mid=out[:, F_MID].copy(),
        spread=out[:, F_SPREAD].copy(),
        size_weighted_mid=out[:, F_WMID].copy(),
        depth_imbalance=out[:, F_DEPTH_IMB].copy(),
        ofi=out[:, F_OFI].copy(),
        log_return=out[:, F_LOGRET].copy(),
        trade_sign=signs,
        trade_size=trade_size,
        best_ask=day.book[:, 0].copy(),
        ask_size=day.book[:, 1].copy(),
        best_bid=day.book[:, 2].copy(),
        bid_size=day.book[:, 3].copy(),
        depth_levels=n_depth,
        date=day.date,
        refills=refills,
    )


@dataclass(frozen=True, eq=False)
class IntervalFeatures:
    """Features per time bin [end - seconds, end) (``end`` in seconds after midnight).

    ``ofi`` (shares, Cont-Kukanov-Stoikov), ``buy_volume`` / ``sell_volume`` (signed
    executions), ``trade_imbalance`` ((buy - sell) / (buy + sell), 0 without trades),
    ``realized_variance`` / ``realized_vol`` (of log mid returns within the bin), ``mid`` (last,
    carried through empty bins), ``spread`` (event mean, NaN in an empty bin),
    ``depth_imbalance`` (last), ``events``, ``trades``."""

    end: NDArray[np.float64]
    seconds: float
    ofi: NDArray[np.float64]
    buy_volume: NDArray[np.float64]
    sell_volume: NDArray[np.float64]
    trade_imbalance: NDArray[np.float64]
    realized_variance: NDArray[np.float64]
    mid: NDArray[np.float64]
    spread: NDArray[np.float64]
    depth_imbalance: NDArray[np.float64]
    events: NDArray[np.int64]
    trades: NDArray[np.int64]
    date: Any = None

    @property
    def realized_vol(self) -> NDArray[np.float64]:
        """sqrt of the bin's realised variance (not annualised)."""
        return np.sqrt(self.realized_variance)

    def frame(self) -> pd.DataFrame:
        """The bins as a frame indexed by New York time of each bin's end."""
        return pd.DataFrame(
            {
                "ofi": self.ofi,
                "buy_volume": self.buy_volume,
                "sell_volume": self.sell_volume,
                "trade_imbalance": self.trade_imbalance,
                "realized_vol": self.realized_vol,
                "mid": self.mid,
                "spread": self.spread,
                "depth_imbalance": self.depth_imbalance,
                "events": self.events,
                "trades": self.trades,
            },
            index=_stamps(self.date, self.end),
        )


def interval_features(
    events: EventFeatures, seconds: float, *, start: float | None = None, end: float | None = None
) -> IntervalFeatures:
    """Aggregate ``events`` into bins of ``seconds`` from ``start`` (default: the first event's
    time floored to the bin width) to ``end`` (default: past the last event). A bin's value
    uses only events before its end."""
    if not (seconds > 0 and math.isfinite(seconds)):
        raise DataError(f"seconds={seconds!r}: the bin width must be a positive number.")
    times = events.time
    if len(times) == 0:
        raise DataError("no events to bin: the day is empty.")
    first = float(times[0])
    lo = math.floor(first / seconds) * seconds if start is None else float(start)
    if lo > first:
        raise DataError(
            f"start={start!r} is after the first event ({first:.6f} s after midnight); "
            "bins must cover every event."
        )
    hi = float(times[-1]) if end is None else float(end)
    if end is None:
        nbins = math.floor((hi - lo) / seconds) + 1  # the last event falls in the last bin
    else:
        nbins = max(1, math.ceil((hi - lo) / seconds))  # events from ``end`` on are left out
    out = np.empty((nbins, 8), dtype=np.float64)
    counts = np.zeros((nbins, 2), dtype=np.int64)
    feats = np.column_stack(
        [events.mid, events.spread, events.size_weighted_mid, events.depth_imbalance,
         events.ofi, events.log_return]
    )  # fmt: skip
    bin_features_nb(
        np.ascontiguousarray(times), np.ascontiguousarray(feats), events.trade_sign,
        events.trade_size, lo, float(seconds), nbins, out, counts,
    )  # fmt: skip
    return IntervalFeatures(
        end=lo + seconds * np.arange(1, nbins + 1, dtype=np.float64),
        seconds=float(seconds),
        ofi=out[:, 0].copy(),
        buy_volume=out[:, 1].copy(),
        sell_volume=out[:, 2].copy(),
        trade_imbalance=out[:, 3].copy(),
        realized_variance=out[:, 4].copy(),
        mid=out[:, 5].copy(),
        spread=out[:, 6].copy(),
        depth_imbalance=out[:, 7].copy(),
        events=counts[:, 0].copy(),
        trades=counts[:, 1].copy(),
        date=events.date,
    )


# -- Stoikov's micro-price ----------------------------------------------------------------

# mid changes the chain absorbs, in ticks (Stoikov 2018, section 3: K = (-1, -1/2, 1/2, 1))
_MOVES = np.array([-1.0, -0.5, 0.5, 1.0])


@dataclass(frozen=True, eq=False)
class MicroPriceModel:
    """Stoikov's micro-price adjustment g*(spread, imbalance bucket), in USD.

    ``adjustment[s - 1, b]`` is g* for a spread of ``s`` ticks (1..n_spread) and imbalance
    I = bid size / (bid + ask size) in bucket ``b`` = min(floor(I n), n - 1); ``samples[s-1, b]``
    how many (symmetrised) observations left that state (0: never seen, g* = 0 there).
    ``g1`` is the first-order term (I - Q)^-1 R1 K and ``terms`` how many terms of
    g* = sum_k B^k g1 were summed before they fell below ``tol``."""

    tick: int
    n_spread: int
    n_imbalance: int
    adjustment: NDArray[np.float64]
    g1: NDArray[np.float64]
    samples: NDArray[np.int64]
    terms: int


def _imbalance_bucket(bid_size: NDArray[Any], ask_size: NDArray[Any], n: int) -> NDArray[Any]:
    total = bid_size + ask_size
    imb = np.where(total > 0, bid_size / np.where(total > 0, total, 1), 0.5)
    return np.minimum((imb * n).astype(np.int64), n - 1)


def fit_micro_price(
    events: EventFeatures,
    *,
    tick: int = 100,
    n_spread: int = 2,
    n_imbalance: int = 10,
    tol: float = 1e-12,
    max_terms: int = 10_000,
) -> MicroPriceModel:
    """Estimate Stoikov's micro-price from ``events`` (fit on past data, apply later).

    Follows Stoikov (2018) section 3 and his published estimator: sample the state (spread in
    ``tick`` units, imbalance bucket) each time the best quotes change; keep states with a
    spread of 1..``n_spread`` ticks; the mid change to the next sample, rounded to half ticks,
    is 0 (a transient transition, matrix Q) or +-1/2, +-1 tick (absorbing, R1; its next state,
    R2), larger moves dropped; symmetrise (imbalance bucket b -> n-1-b, move -> -move); then
    g1 = (I-Q)^-1 R1 K, B = (I-Q)^-1 R2 and g* = g1 + B g1 + B^2 g1 + ...
    ``tick`` is in LOBSTER units (100 = 1 cent); a coarser ``tick`` adapts the chain to
    small-tick stocks whose spread is rarely one cent."""
    if tick <= 0 or n_spread < 1 or n_imbalance < 2:
        raise DataError(
            f"tick={tick}, n_spread={n_spread}, n_imbalance={n_imbalance}: need tick > 0, "
            "n_spread >= 1 and n_imbalance >= 2."
        )
    ask, bid = events.best_ask, events.best_bid
    asz, bsz = events.ask_size, events.bid_size
    change = np.ones(len(ask), dtype=bool)
    change[1:] = (
        (ask[1:] != ask[:-1])
        | (bid[1:] != bid[:-1])
        | (asz[1:] != asz[:-1])
        | (bsz[1:] != bsz[:-1])
    )
    two_sided = (np.abs(ask) < 9_999_999_999) & (np.abs(bid) < 9_999_999_999)
    keep = change & two_sided
    ask, bid, asz, bsz = ask[keep], bid[keep], asz[keep], bsz[keep]
    spread = np.rint((ask - bid) / tick).astype(np.int64)
    valid = (spread >= 1) & (spread <= n_spread)
    ask, bid, asz, bsz, spread = ask[valid], bid[valid], asz[valid], bsz[valid], spread[valid]
    if len(ask) < 2:
        raise DataError(
            f"fit_micro_price: {len(ask)} quote changes with a spread of 1..{n_spread} ticks of "
            f"{tick}; use a larger n_spread or tick, or more data."
        )
    bucket = _imbalance_bucket(bsz.astype(np.float64), asz.astype(np.float64), n_imbalance)
    mid2 = ask + bid  # twice the mid, exact integers
    # mid change in half ticks: (mid2' - mid2) / 2 / (tick / 2) = (mid2' - mid2) / tick
    dm = np.rint((mid2[1:] - mid2[:-1]) / tick).astype(np.int64)
    s0, b0, s1, b1 = spread[:-1] - 1, bucket[:-1], spread[1:] - 1, bucket[1:]
    ok = np.abs(dm) <= 2
    s0, b0, s1, b1, dm = s0[ok], b0[ok], s1[ok], b1[ok], dm[ok]
    # symmetrise (Stoikov 2018, section 3.1): the mirrored book moves the other way
    n_imb = n_imbalance
    s0 = np.concatenate([s0, s0])
    s1 = np.concatenate([s1, s1])
    b0 = np.concatenate([b0, n_imb - 1 - b0])
    b1 = np.concatenate([b1, n_imb - 1 - b1])
    dm = np.concatenate([dm, -dm])
    states = n_spread * n_imb
    x = s0 * n_imb + b0
    y = s1 * n_imb + b1
    q_counts = np.zeros((states, states))
    r2_counts = np.zeros((states, states))
    r1_counts = np.zeros((states, 4))
    still = dm == 0
    np.add.at(q_counts, (x[still], y[still]), 1.0)
    moved = ~still
    np.add.at(r2_counts, (x[moved], y[moved]), 1.0)
    move_col = np.searchsorted(np.array([-2, -1, 1, 2]), dm[moved])
    np.add.at(r1_counts, (x[moved], move_col), 1.0)
    leaving = q_counts.sum(axis=1) + r1_counts.sum(axis=1)
    norm = np.where(leaving > 0, leaving, 1.0)[:, None]
    q, r1, r2 = q_counts / norm, r1_counts / norm, r2_counts / norm
    _refuse_trapped_states(q, r1, leaving, n_imb, tick)
    inverse = np.linalg.inv(np.eye(states) - q)
    g1 = inverse @ r1 @ _MOVES  # in ticks
    b = inverse @ r2
    g = g1.copy()
    term = g1.copy()
    terms = 1
    while terms < max_terms:
        term = b @ term
        g += term
        terms += 1
        if float(np.max(np.abs(term))) < tol:
            break
    else:
        raise DataError(
            f"fit_micro_price: g* = sum B^k g1 did not converge in {max_terms} terms "
            f"(last term {float(np.max(np.abs(term))):.3g} ticks); use more data."
        )
    return MicroPriceModel(
        tick=int(tick),
        n_spread=int(n_spread),
        n_imbalance=int(n_imb),
        adjustment=(g * tick * 1e-4).reshape(n_spread, n_imb),
        g1=(g1 * tick * 1e-4).reshape(n_spread, n_imb),
        samples=leaving.astype(np.int64).reshape(n_spread, n_imb),
        terms=terms,
    )


def _refuse_trapped_states(
    q: NDArray[np.float64], r1: NDArray[np.float64], leaving: NDArray[Any], n_imb: int, tick: int
) -> None:
    """I - Q is singular when an observed state never leads, through mid-unchanged steps, to a
    state whose mid moved (its expected next move is undefined): name the first one."""
    reach = (r1.sum(axis=1) > 0) | (leaving == 0)  # a never-left state ends the chain too
    while True:
        more = reach | (q[:, reach].sum(axis=1) > 0)
        if (more == reach).all():
            break
        reach = more
    trapped = np.flatnonzero((leaving > 0) & ~reach)
    if len(trapped):
        s, b = divmod(int(trapped[0]), n_imb)
        raise DataError(
            f"fit_micro_price: from the state spread {s + 1} tick{'s' if s else ''}, imbalance "
            f"bucket {b} of {n_imb} the chain never sees the mid move "
            f"({int(leaving[trapped[0]])} transitions, all mid-unchanged); try another "
            f"n_imbalance or n_spread, a coarser tick than {tick}, or more data."
        )


def micro_price(events: EventFeatures, model: MicroPriceModel) -> NDArray[np.float64]:
    """Stoikov's micro-price at each event: mid + g*(spread, imbalance) from ``model``; NaN
    where the spread is not 1..``model.n_spread`` ticks (the chain says nothing there) or a
    side of the book is empty. Each value uses only that event's best quotes."""
    ask, bid = events.best_ask, events.best_bid
    spread = np.rint((ask - bid) / model.tick).astype(np.int64)
    covered = (
        (spread >= 1)
        & (spread <= model.n_spread)
        & (np.abs(ask) < 9_999_999_999)
        & (np.abs(bid) < 9_999_999_999)
    )
    bucket = _imbalance_bucket(
        events.bid_size.astype(np.float64), events.ask_size.astype(np.float64), model.n_imbalance
    )
    out = np.full(len(ask), np.nan)
    s = spread[covered] - 1
    out[covered] = events.mid[covered] + model.adjustment[s, bucket[covered]]
    return out


__all__ = [
    "EventFeatures",
    "IntervalFeatures",
    "MicroPriceModel",
    "event_features",
    "fit_micro_price",
    "interval_features",
    "micro_price",
]
