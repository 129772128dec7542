"""Backtest of execution: a target path worked by a schedule on intraday bars, with fills
limited by bar volume and a market-impact price, and the TCA of every parent order.

Flow (targets, not deltas -- ARCHITECTURE invariant 3): each (decision time, target shares)
becomes a parent order for the gap between the target and the position actually held (what
earlier parents filled); the parent is worked by a schedule (:func:`toolkit.execution.twap`,
:func:`~toolkit.execution.vwap` on a causal volume profile, :func:`~toolkit.execution.pov`, or
the caller's function) over ``window`` from the first bar starting at or after the decision,
cut at the session's close. Children fill bar by bar (numba, ``_fill_kernels``):

* **participation cap**: in a bar the order fills at most floor(``max_pct_vol`` x the bar's
  volume); what the cap holds back carries to the next bar, what is left when the window ends
  is reported unfilled (TCA's opportunity cost);
* **price**: the bar's price (``price="typical"``: (high + low + close) / 3, or the file's
  ``"vwap"`` column) moved against the order by the impact (:class:`Impact`);
* **booking and fees**: the core's average-cost booking (``toolkit.engine._step.book_units_nb``)
  and commission schedule (``toolkit.engine.commissions``), one fee per bar's fill (each bar's
  fill is priced as one execution; IBKR's per-order minimum then applies per bar -- a
  conservative reading for a child that fills over several bars).

Arrival (decision) price: the close of the last bar completed at the decision (the bars carry
no quotes, so :func:`~toolkit.execution.arrival_mid` falls back to the last price), or the first
window bar's open when no bar precedes. Each parent's TCA (:func:`~toolkit.execution.tca_many`)
runs over its window (``end_time`` = the start of its last bar).

Not modelled: cash limits (the target path's sizing is the caller's), overlapping parents of
one symbol (a decision while the previous parent still works is refused), permanent impact
carried to later bars (each bar's impact is temporary: the market's later prices are the data's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from toolkit.data.calendar import NEW_YORK, session_close, trading_date
from toolkit.engine.commissions import Commission, ibkr_fixed
from toolkit.errors import ConfigError, DataError
from toolkit.execution import _fill_kernels as _k
from toolkit.execution.orders import ChildOrders, bar_times
from toolkit.execution.pov import pov
from toolkit.execution.tca import COLUMNS, arrival_mid, tca_many
from toolkit.execution.twap import twap
from toolkit.execution.vwap import bar_price, sessions, volume_profile, vwap

ImpactModel = Literal["sqrt", "linear", "none"]
ScheduleFn = Callable[[int, pd.DataFrame, pd.DataFrame], ChildOrders]
_MODEL_IDS = {"none": _k.NO_IMPACT, "sqrt": _k.SQRT_IMPACT, "linear": _k.LINEAR_IMPACT}


@dataclass(frozen=True)
class Impact:
    """Temporary market impact of a bar's fill, as a fraction of the bar's price.

    ``"sqrt"`` (default): impact = k sigma sqrt(q / V), the square-root law of market impact
    (Almgren, Thum, Hauptmann & Li 2005, "Direct estimation of equity market impact", Risk 18(7),
    fit exponent 0.6 ~ 1/2 for temporary impact; Toth et al. 2011, "Anomalous price impact and
    the critical nature of liquidity in financial markets", Phys. Rev. X 1, 021006, Y ~ 1 across
    markets). Applied per bar with sigma the one-bar volatility and V the bar's volume: with
    daily sigma_d = sigma sqrt(N) and daily volume V_d = N V over N bars, sigma_d sqrt(q / V_d)
    = sigma sqrt(q / V), so the daily law and the per-bar rule agree. ``"linear"``: k sigma q / V
    (Almgren & Chriss 2000's linear temporary impact in the same units). ``"none"``: the bar's
    price as is.

    ``k`` defaults to 1.0, the conservative end: Toth et al.'s Y is of order 1, Almgren et al.'s
    fitted temporary coefficient (eta = 0.142 with daily sigma) is far smaller. ``sigma``: a
    fixed one-bar volatility (a fraction), else the standard deviation of the log close-to-close
    returns of the ``lookback`` bars completed at each decision (causal: nothing after it),
    skipping returns across a gap in the bars (overnight, a halt: not one bar's move)."""

    model: ImpactModel = "sqrt"
    k: float = 1.0
    sigma: float | None = None
    lookback: int = 390

    def __post_init__(self) -> None:
        if self.model not in _MODEL_IDS:
            raise ConfigError(f"Impact model={self.model!r}: choose 'sqrt', 'linear' or 'none'.")
        if not (math.isfinite(self.k) and self.k >= 0.0):
            raise ConfigError(f"Impact k={self.k!r}: a coefficient >= 0 (1.0 is conservative).")
        if self.sigma is not None and not (math.isfinite(self.sigma) and self.sigma >= 0.0):
            raise ConfigError(f"Impact sigma={self.sigma!r}: a one-bar volatility >= 0, or None "
                              "to estimate it from the bars before each decision.")
        if isinstance(self.lookback, bool) or int(self.lookback) != self.lookback \
                or self.lookback < 2:
            raise ConfigError(f"Impact lookback={self.lookback!r}: at least 2 bars.")


@dataclass(frozen=True)
class ExecutionResult:
    """What :func:`execution_backtest` returns.

    ``parents``: one row per parent (``order_id`` index): decision time, target, side,
    quantity, window, schedule, sigma, children placed, then every :func:`tca_many` column
    (filled, unfilled, arrival price, implementation shortfall and its split, slippage in bp,
    participation, ...). ``children``: the schedules' child orders (``order_id``, ``bar``,
    ``quantity``). ``fills``: one row per bar an order filled in (``order_id``, ``side``,
    ``quantity``, ``price``, ``base_price`` (the bar's price), ``impact_bp``, ``cap`` (the
    bar's participation cap in shares), ``fee``). ``equity``: per bar ``position``,
    ``avg_cost``, ``cash``, ``equity`` (cash + position x close)."""

    parents: pd.DataFrame
    children: pd.DataFrame
    fills: pd.DataFrame
    equity: pd.DataFrame
    settings: dict[str, object] = field(default_factory=dict)

    def slippage(self) -> pd.DataFrame:
        """The cost table: per parent what the schedule cost against the decision price."""
        cols = ["side", "quantity", "filled", "fill_rate", "arrival_price", "avg_fill_price",
                "slippage_bp", "execution_bp", "delay_bp", "opportunity_bp", "fees_bp",
                "total_bp", "vwap_slippage_bp", "participation"]
        return self.parents[["schedule", *cols]]


def session_targets(positions: pd.Series, at: str = "09:30") -> pd.Series:
    """A daily position path (e.g. an engine backtest's ``result.positions[symbol]``, shares
    per daily bar) as the targets of :func:`execution_backtest`: every change becomes a
    decision at ``at`` New York time of that bar's session. With the engine's default fill
    (the next bar's open) the day a position changes is the day its order fills, so
    ``at="09:30"`` works the order from the open the daily backtest filled it at."""
    try:
        clock = pd.Timestamp(f"2000-01-03 {at}").time()
    except ValueError:
        raise ConfigError(f"at={at!r}: a New York clock time such as '09:30'.") from None
    values = positions.astype(float)
    changed = values.ne(values.shift(fill_value=0.0))
    kept = values[changed]
    when = [pd.Timestamp.combine(trading_date(pd.Timestamp(t)), clock).tz_localize(NEW_YORK)
            .tz_convert("UTC") for t in kept.index]
    return pd.Series(kept.to_numpy(), index=pd.DatetimeIndex(when), name="target")


def _targets(targets: pd.Series | Sequence[tuple[object, float]]) -> pd.Series:
    """Decision times (UTC) -> target shares, checked: whole numbers, times increasing."""
    if isinstance(targets, pd.Series):
        when, values = list(targets.index), targets.to_numpy(float)
    else:
        rows = list(targets)
        when, values = [d for d, _ in rows], np.array([t for _, t in rows], float)
    try:
        index = pd.DatetimeIndex([pd.Timestamp(str(d)) if isinstance(d, str) else d
                                  for d in when])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"targets: a decision time is not a time ({exc}).") from None
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    ok = np.isfinite(values) & (values == np.round(values))
    if not ok.all():
        raise ConfigError(f"targets: the target at {index[~ok][0]} is not a whole number of "
                          "shares.")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ConfigError("targets: decision times must be strictly increasing.")
    return pd.Series(values, index=index)


def _children(
    schedule: str | ScheduleFn, q: int, window: pd.DataFrame, history: pd.DataFrame,
    start: pd.Timestamp, end: pd.Timestamp, *, slices: int | None, max_pct_vol: float,
    pov_rate: float, profile_lookback: int, grid_bars: pd.DataFrame,
) -> ChildOrders:
    if callable(schedule):
        children = schedule(q, window, history)
    elif schedule == "twap":
        children = twap(q, start, end, slices or len(window))
    elif schedule == "vwap":
        day = pd.Timestamp(window.index[0]).tz_convert(NEW_YORK).date()
        profile = volume_profile(sessions(grid_bars), day, profile_lookback)
        cap = max_pct_vol if 0.01 <= max_pct_vol <= 0.5 else None
        children = vwap(q, window, profile, max_pct_vol=cap)
    elif schedule == "pov":
        children = pov(q, window, pov_rate)
    else:
        raise ConfigError(f"schedule={schedule!r}: choose 'twap', 'vwap', 'pov' or pass a "
                          "function (quantity, window bars, past bars) -> ChildOrders.")
    if not isinstance(children, ChildOrders) or children.parent != q:
        raise ConfigError(f"schedule {schedule!r} must return ChildOrders for the parent's "
                          f"{q} shares.")
    if len(children) and (children.bar < 0).any():
        children = children.on_bars(window)
    return children


def execution_backtest(
    bars: pd.DataFrame,
    targets: pd.Series | Sequence[tuple[object, float]],
    *,
    schedule: str | ScheduleFn = "twap",
    window: str | pd.Timedelta = "30min",
    max_pct_vol: float = 0.1,
    impact: Impact | None = None,
    commission: Commission | None = None,
    price: str = "typical",
    initial_position: float = 0.0,
    initial_avg_cost: float = 0.0,
    initial_cash: float = 0.0,
    slices: int | None = None,
    pov_rate: float = 0.05,
    profile_lookback: int = 20,
    symbol: str = "",
) -> ExecutionResult:
    """Work each target change of ``targets`` (decision time -> target position in shares;
    a Series or (time, target) pairs, naive times read as UTC) with ``schedule`` on the
    intraday ``bars`` (UTC index of bar starts; open/high/low/close/volume) and report the
    fills, the equity and every parent's TCA (see the module docstring).

    ``max_pct_vol``: the participation cap of a bar's fill (a fraction in (0, 1]); ``impact``:
    :class:`Impact` (default square root, k = 1); ``commission``: a core schedule (default
    IBKR Fixed); ``slices``: TWAP slices (default one per window bar); ``pov_rate``: the POV
    rate; ``profile_lookback``: the VWAP profile's past sessions. The VWAP schedule also sizes
    its children within ``max_pct_vol`` of the bars' volume when the cap is in IB's 1-50 %
    range (then it leaves unplaced what the cap cannot take); TWAP and POV size without it and
    the fill cap carries their excess. ``initial_position`` / ``initial_avg_cost`` /
    ``initial_cash``: the book before the first bar."""
    impact = impact or Impact()
    commission = commission or ibkr_fixed()
    if not 0.0 < max_pct_vol <= 1.0:
        raise ConfigError(f"max_pct_vol={max_pct_vol!r}: a fraction of a bar's volume in (0, 1].")
    span = pd.Timedelta(window)
    if span <= pd.Timedelta(0):
        raise ConfigError(f"window={window!r}: a positive duration such as '30min'.")
    for col in ("open", "close", "volume"):
        if col not in bars.columns:
            raise DataError(f"bars: missing column {col!r} (intraday OHLCV bars are needed).")
    times = bar_times(bars)
    if times.size > 1 and not bool((np.diff(times) > np.timedelta64(0, "ns")).all()):
        raise DataError("bars: times must be strictly increasing (sort, drop duplicates).")
    px = bar_price(bars, price)
    volume = bars["volume"].to_numpy(float)
    close = bars["close"].to_numpy(float)
    opens = bars["open"].to_numpy(float)
    if not (np.isfinite(px).all() and (px > 0).all() and np.isfinite(volume).all()
            and (volume >= 0).all()):
        raise DataError("bars: prices must be positive and volumes >= 0 in every bar.")
    logret = np.diff(np.log(close))
    if times.size > 2:  # a return across a gap in the bars (overnight, a halt) is not one bar's
        gaps = np.diff(times)
        logret[gaps != np.median(gaps)] = np.nan
    index = pd.DatetimeIndex(bars.index).tz_convert("UTC")
    local = index.tz_convert(NEW_YORK)
    month = np.asarray(local.year * 12 + local.month, np.int64)
    plan = _targets(targets)

    held = float(initial_position)
    avg, cash = float(initial_avg_cost), float(initial_cash)
    next_free = 0
    p_rows: list[dict[str, object]] = []
    c_frames: list[pd.DataFrame] = []
    f_frames: list[np.ndarray] = []
    f_ids: list[str] = []
    side_all: list[float] = []
    for n, (d, target) in enumerate(zip(plan.index, plan.to_numpy(), strict=True)):
        gap = float(target) - held
        if gap == 0.0:
            continue
        oid = f"P{n + 1}"
        start_bar = int(np.searchsorted(times, d.tz_localize(None).to_datetime64(), "left"))
        if start_bar >= times.size:
            raise DataError(f"targets: the decision at {d} comes after the last bar; "
                            "pass bars that cover every decision's window.")
        if start_bar < next_free:
            raise ConfigError(f"targets: the decision at {d} comes while the previous parent "
                              f"still works (until {index[next_free - 1]}); space decisions "
                              f"by at least window={window}.")
        t0 = index[start_bar]
        t1 = min(t0 + span, session_close(t0.tz_convert(NEW_YORK).date()))
        if t1 <= t0:  # extended hours: the window is not cut by the close
            t1 = t0 + span
        last_bar = int(np.searchsorted(times, t1.tz_localize(None).to_datetime64(), "left")) - 1
        last_bar = max(last_bar, start_bar)
        win = bars.iloc[start_bar:last_bar + 1]
        history = bars.iloc[:start_bar]
        q = round(abs(gap))
        s = 1.0 if gap > 0 else -1.0
        children = _children(schedule, q, win, history, t0, t1, slices=slices,
                             max_pct_vol=max_pct_vol, pov_rate=pov_rate,
                             profile_lookback=profile_lookback, grid_bars=bars.iloc[:last_bar + 1])
        # the last bar completed at the decision (a bar completes when the next one starts)
        arrival_bar = int(np.searchsorted(times, d.tz_localize(None).to_datetime64(), "right")) - 2
        arrival = arrival_mid(None, None, last=float(close[arrival_bar] if arrival_bar >= 0
                                                     else opens[start_bar]))
        if impact.sigma is not None:
            sigma = float(impact.sigma)
        else:
            r = logret[max(0, arrival_bar - impact.lookback):max(0, arrival_bar)]
            r = r[np.isfinite(r)]
            if r.size < 2 and impact.model != "none":
                raise DataError(f"targets: the decision at {d} has {r.size} one-bar returns "
                                "before it; the impact's volatility needs at least 2 (start "
                                "later or give Impact(sigma=...)).")
            sigma = float(np.std(r, ddof=1)) if r.size >= 2 else 0.0
        fills, unfilled = _k.work_parents_nb(
            np.array([s]), np.array([sigma]), np.array([start_bar], np.int64),
            np.array([last_bar], np.int64), np.array([0, len(children)], np.int64),
            children.bar.astype(np.int64) + start_bar, children.quantity.astype(np.int64),
            px, volume, float(max_pct_vol), _MODEL_IDS[impact.model], float(impact.k))
        filled = float(fills[:, _k.F_QTY].sum())
        held += s * filled
        next_free = last_bar + 1
        fills[:, _k.F_PARENT] = len(side_all)
        side_all.append(s)
        f_frames.append(fills)
        f_ids += [oid] * len(fills)
        c_frames.append(children.frame().assign(order_id=oid,
                                                bar=children.bar + start_bar))
        p_rows.append({"order_id": oid, "symbol": symbol, "side": "BUY" if s > 0 else "SELL",
                       "quantity": float(q), "decision_time": d, "arrival_price": arrival,
                       "end_time": index[last_bar], "target": float(target),
                       "window_start": t0, "window_end": t1,
                       "schedule": schedule if isinstance(schedule, str)
                       else getattr(schedule, "__name__", "custom"),
                       "sigma": sigma, "children": len(children),
                       "unplaced": children.remaining, "capped_unfilled": int(unfilled[0])})

    all_fills = (np.concatenate(f_frames) if f_frames
                 else np.zeros((0, _k.FILL_COLS)))
    pos, avg_c, cash_c, equity = _k.book_fills_nb(
        all_fills, np.array(side_all, float), close, month, commission.vector(),
        float(initial_position), avg, cash)
    fill_frame = pd.DataFrame({
        "order_id": f_ids,
        "side": [("BUY" if side_all[int(p)] > 0 else "SELL") for p in all_fills[:, _k.F_PARENT]],
        "bar": all_fills[:, _k.F_BAR].astype(np.int64),
        "quantity": all_fills[:, _k.F_QTY],
        "price": all_fills[:, _k.F_PRICE],
        "base_price": all_fills[:, _k.F_BASE],
        "impact_bp": all_fills[:, _k.F_IMPACT] * 1e4,
        "cap": all_fills[:, _k.F_CAP],
        "fee": all_fills[:, _k.F_FEE],
    }, index=pd.DatetimeIndex(index[all_fills[:, _k.F_BAR].astype(np.int64)], name="time"))
    equity_frame = pd.DataFrame({"position": pos, "avg_cost": avg_c, "cash": cash_c,
                                 "equity": equity}, index=index)
    extra_cols = ["target", "window_start", "window_end", "schedule", "sigma", "children",
                  "unplaced", "capped_unfilled"]
    if not p_rows:  # no target changed the position: nothing to work
        empty = pd.DataFrame(columns=[*extra_cols, *COLUMNS],
                             index=pd.Index([], name="order_id"))
        children_empty = pd.DataFrame(columns=["bar", "quantity", "order_type", "limit",
                                               "order_id"])
        return ExecutionResult(empty, children_empty, fill_frame, equity_frame)
    base = pd.DataFrame(p_rows).set_index("order_id")
    tca_parents = base[["symbol", "side", "quantity", "decision_time", "arrival_price",
                        "end_time"]]
    costs = tca_many(tca_parents, fill_frame.rename_axis("time").reset_index(), bars)
    extra = base[extra_cols]
    parents = extra.join(costs)
    settings: dict[str, object] = {"schedule": parents["schedule"].iloc[0], "window": str(span),
                                   "max_pct_vol": max_pct_vol, "impact": impact,
                                   "commission": commission.kind, "price": price}
    return ExecutionResult(parents, pd.concat(c_frames), fill_frame, equity_frame, settings)
