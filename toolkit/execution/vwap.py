"""VWAP from a causal intraday volume profile, with an optional participation cap.

Profile (the classic VWAP execution rule, e.g. Kissell & Glantz 2003, "Optimal Trading
Strategies", ch. 7; Bialkowski, Darolles & Le Fol 2008): the volume share of each minute of
the regular session, averaged over the ``lookback`` sessions strictly before the traded one.
Nothing of the traded session is used, so the plan is known at its open.

Sizes: the cumulative target round(q x cumulative profile share) over the window, so the
children add up to the parent. A participation cap (``max_pct_vol``, 1-50 % as IB's VWAP
``maxPctVol``) limits a child to floor(cap x volume) of the bar it trades in; what the cap
holds back moves to the next bars, and what is still held back at the window's end stays
unplaced (``ChildOrders.remaining``). Which volume that is, is the caller's choice: a
backtest passes the bars' realised volume (the child is then sized knowing its bar's volume,
as a fill simulation capped at the bar's volume does); a live schedule cannot know it before
the bar ends, so the live bridge passes a forecast (the profile share x an expected day
volume) or the previous bar's volume (see :func:`pov`) -- its realised participation can then
exceed the cap in a bar whose volume falls short of the forecast.

Measured on the shipped SPY minutes (``research/benchmarks/execution.py``): a child "fills"
at its bar's typical price (high + low + close) / 3, the day VWAP is the volume-weighted
typical price of the regular session (the standard bar approximation of VWAP); the file's
own per-bar ``vwap`` column can be used instead (``price="vwap"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from toolkit.data.calendar import NEW_YORK, session_close, session_open
from toolkit.errors import ConfigError, DataError
from toolkit.execution._kernels import allocate_nb
from toolkit.execution.orders import ChildOrders, bar_times, check_quantity, market_children

MINUTES = 390  # 09:30-16:00 New York


@dataclass(frozen=True)
class Sessions:
    """Regular-hours minute bars laid on a session x minute grid (missing minutes: volume 0,
    price NaN). ``days``: the session dates; ``volume``, ``price``: (sessions, 390) arrays;
    ``length``: minutes in each session (210 on a 13:00 close)."""

    days: tuple[date, ...]
    volume: np.ndarray
    price: np.ndarray
    length: np.ndarray

    def index(self, day: date | str) -> int:
        """The row of session ``day``."""
        d = pd.Timestamp(day).date()
        try:
            return self.days.index(d)
        except ValueError:
            raise DataError(f"session {d}: not in the bars ({self.days[0]} .. {self.days[-1]}); "
                            "choose a session the minute bars cover.") from None


def bar_price(bars: pd.DataFrame, price: str = "typical") -> np.ndarray:
    """Each bar's fill price: ``"typical"`` (high + low + close) / 3, or the ``"vwap"`` column."""
    if price == "typical":
        return np.asarray((bars["high"] + bars["low"] + bars["close"]).to_numpy(float) / 3.0)
    if price == "vwap":
        if "vwap" not in bars.columns:
            raise DataError("price='vwap' needs a 'vwap' column in the bars; use "
                            "price='typical' for plain OHLCV bars.")
        return np.asarray(bars["vwap"].to_numpy(float))
    raise ConfigError(f"price={price!r}: choose 'typical' or 'vwap'.")


def sessions(bars: pd.DataFrame, price: str = "typical") -> Sessions:
    """Lay 1-minute bars (UTC index, pre/post-market rows allowed) on the session grid."""
    if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is None:
        raise DataError("minute bars need a time-zone-aware DatetimeIndex (the loader's UTC).")
    local = bars.index.tz_convert(NEW_YORK)
    days = np.asarray(local.date)
    minute = np.asarray((local.hour - 9) * 60 + local.minute - 30)
    px = bar_price(bars, price)
    vol = bars["volume"].to_numpy(float)
    unique = tuple(sorted(set(days[(minute >= 0) & (minute < MINUTES)])))
    volume = np.zeros((len(unique), MINUTES))
    prices = np.full((len(unique), MINUTES), np.nan)
    length = np.empty(len(unique), np.int64)
    row = {d: k for k, d in enumerate(unique)}
    for k, d in enumerate(unique):
        length[k] = (session_close(d) - session_open(d)) // pd.Timedelta(minutes=1)
    keep = np.array([d in row for d in days]) & (minute >= 0) & (minute < MINUTES)
    rows = np.array([row[d] for d in days[keep]], np.int64)
    cols = minute[keep]
    inside = cols < length[rows]
    volume[rows[inside], cols[inside]] = vol[keep][inside]
    prices[rows[inside], cols[inside]] = px[keep][inside]
    return Sessions(unique, volume, prices, length)


def session_bars(bars: pd.DataFrame, day: date | str) -> pd.DataFrame:
    """The regular-hours bars of session ``day`` (09:30 to its close, New York)."""
    d = pd.Timestamp(day).date()
    index = pd.DatetimeIndex(bars.index)
    inside = bars[(index >= session_open(d)) & (index < session_close(d))]
    if inside.empty:
        raise DataError(f"session {d}: no regular-hours bars; choose a session the bars cover.")
    return inside


def volume_profile(grid: Sessions, day: date | str, lookback: int = 20) -> np.ndarray:
    """The average volume share of each regular-hours minute over the ``lookback`` sessions
    strictly before ``day`` (length 390; sums to 1 over ``day``'s minutes). Causal: bars of
    ``day`` and later never enter. Past sessions shorter than ``day``'s (a 13:00 close before
    a full day) or without volume are skipped, so the lookback reaches further back; on an
    early-close day the full sessions' shares of its own minutes are renormalised."""
    if isinstance(lookback, bool) or int(lookback) != lookback or lookback < 1:
        raise ConfigError(f"lookback={lookback!r}: a whole number of past sessions >= 1.")
    k = grid.index(day)
    totals = grid.volume[:k].sum(axis=1)
    usable = np.flatnonzero((grid.length[:k] >= grid.length[k]) & (totals > 0))
    if usable.size < lookback:
        raise DataError(f"session {grid.days[k]}: a {lookback}-session volume profile needs "
                        f"{lookback} sessions before it, the bars have {usable.size}; start "
                        "later or shorten the lookback.")
    rows = usable[-lookback:]
    shares = grid.volume[rows] / totals[rows, None]
    profile = shares.mean(axis=0)
    profile[grid.length[k] :] = 0.0  # an early close: only its own minutes
    if profile.sum() <= 0:
        raise DataError(f"session {grid.days[k]}: the past sessions traded nothing in its "
                        "minutes; no volume profile.")
    return np.asarray(profile / profile.sum())


def check_pct(max_pct_vol: float | None) -> float | None:
    """A participation cap: None, or a fraction in [0.01, 0.5] (IB's maxPctVol range)."""
    if max_pct_vol is None:
        return None
    if not 0.01 <= max_pct_vol <= 0.5:
        raise ConfigError(f"max_pct_vol={max_pct_vol!r}: a participation cap is a fraction "
                          "from 0.01 to 0.5 (1-50 % of a bar's volume).")
    return float(max_pct_vol)


def vwap(
    quantity: int,
    bars: pd.DataFrame,
    profile: np.ndarray,
    *,
    max_pct_vol: float | None = None,
) -> ChildOrders:
    """Market children of a VWAP over the minute ``bars`` of one session's window (their
    index gives the minutes; ``profile`` is :func:`volume_profile`'s 390 shares, renormalised
    over the window). With ``max_pct_vol`` no child exceeds that share of its bar's
    ``volume`` column (the module docstring says which volume to pass)."""
    q = check_quantity(quantity)
    cap_pct = check_pct(max_pct_vol)
    if profile.shape != (MINUTES,) or not np.isfinite(profile).all() or (profile < 0).any():
        raise ConfigError("profile: 390 non-negative minute shares (volume_profile's output).")
    times = bar_times(bars)
    local = pd.DatetimeIndex(bars.index).tz_convert(NEW_YORK)
    minute = np.asarray((local.hour - 9) * 60 + local.minute - 30)
    if bars.empty or (minute < 0).any() or (minute >= MINUTES).any():
        raise DataError("vwap: pass the session's regular-hours minute bars of the window "
                        "(09:30-16:00 New York).")
    if len(set(local.date)) != 1:
        raise DataError("vwap: the bars span several sessions; a VWAP schedule works one "
                        "session's window (pass that session's bars).")
    weights = profile[minute].astype(float)
    if weights.sum() <= 0:
        weights = np.ones(minute.size)  # no past volume in the window: even slices
    volume = bars["volume"].to_numpy(float)
    cap = (np.floor(cap_pct * volume).astype(np.int64) if cap_pct is not None
           else np.full(minute.size, -1, np.int64))
    sizes = allocate_nb(q, weights, cap)
    return market_children(q, times, np.arange(minute.size, dtype=np.int64), sizes)


def achieved_price(children: ChildOrders, price: np.ndarray) -> float:
    """The children's volume-weighted fill price when child i fills at ``price[bar_i]``."""
    if len(children) == 0:
        raise ConfigError("achieved_price: the schedule has no children.")
    q = children.quantity.astype(float)
    return float((q * price[children.bar]).sum() / q.sum())


def interval_vwap(price: np.ndarray, volume: np.ndarray) -> float:
    """Volume-weighted price over bars (Berkowitz, Logue & Noser 1988's VWAP benchmark)."""
    ok = np.isfinite(price) & (volume > 0)
    if not ok.any():
        raise DataError("interval_vwap: no bar with volume and a price.")
    return float((price[ok] * volume[ok]).sum() / volume[ok].sum())


def tracking_bp(achieved: float, benchmark: float) -> float:
    """|achieved - benchmark| in basis points of the benchmark."""
    return abs(achieved / benchmark - 1.0) * 1e4
