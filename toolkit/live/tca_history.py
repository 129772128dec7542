"""A live session's order history with the transaction-cost analysis of every parent order,
from its journal alone (issue 17 item 4): what ``status``, ``orders``, the session summary and
report notebook 12 show. The formulas are :mod:`toolkit.execution.tca`'s (Perold's
implementation shortfall split into delay, execution, opportunity and fees, slippage against
arrival, interval VWAP / TWAP / close, participation); this module only reads the journal into
its inputs.

Parent orders. In the live world one decision is one order, so a parent is that order. A
decision worked by one of our schedules (``[strategies.execution]``, :mod:`toolkit.live._parent`)
is one parent with its journaled quantity, arrival price and window (tables ``parents`` and
``parent_children``), its children's orders (``<parent>/c<k>``) and fills grouped under it,
even before a child was sent (then all of it is opportunity cost); it is released at its
window's start (the delay is the market's move from the decision until then), judged until its
window's end, on the 1-minute bars it was worked on. An IB algo order (Twap, Vwap: one order
the broker works) is judged the same way over its ``startTime`` .. ``endTime``, on the
session's minutes when it journaled some for the symbol, else on the decision bars (a daily
bar's close then stands in for the interval VWAP and TWAP). A bracket leg (``/sl``, ``/tp``,
``/trail``) is a parent of its own: a protective exit is decided by its trigger, not by the
entry's decision, so it is analysed only once it filled, from its first fill, against its
trigger price (the stop or limit price; a trailing stop's first fill price). Combo (option)
orders are left out: their legs are priced per contract.

Inputs read from the journal (documented choices):

* **decision time**: the end of the decision's bar (``toolkit.live.bars.bar_end``: a daily bar
  at its session's close, an intraday bar after its length), or the parent's first fill when
  the broker stamped that earlier;
* **arrival price**: the price the session recorded at the decision (``decisions.price``, the
  decided bar's close) through :func:`toolkit.execution.arrival_mid`: the bridge subscribes to
  bars, not quotes, so the "mid at decision" falls back to the last price, as in the execution
  backtest;
* **fills and fees**: the journaled executions (broker time) and IB's commission reports;
* **market path**: the bars the session decided on (journal table ``bars``, schema 7); a
  journal written before it falls back to the decided closes without volume (VWAP and
  participation NaN);
* **horizon**: an order is judged until the later of its last fill and the start of the
  first journaled bar after its decision bar (one-bar orders, as the engine's: DAY, OPG), so
  P_N, the opportunity price, is that bar's close (for an unfilled order, the close of the
  bar it could have filled in); a schedule's parent until its window's end. P_N is the close
  of the last journaled bar at or before the horizon's end (a minute stream the session
  stopped once the parent was done leaves the last minute it saw).

Reconciliation with the journal's P&L (paper versus actual, Perold 1988). For parent k with
side s_k, filled X_k, fills q_j at p_j, fees F_k and horizon price P_N,k, TCA defines
``real_k = s_k sum_j q_j (P_N,k - p_j) - F_k`` and ``shortfall_k = paper_k - real_k`` (exactly:
delay + execution + opportunity + fees). The session summary marks every position at M_sym,
the last price the session decided on, and books average cost, whose realised plus unrealised
P&L is ``sum over fills of signed q (M - p)`` for a session that starts flat (average cost only
moves P&L between the two). Summing over parents::

    journal P&L (realised + unrealised - commissions)
        = sum_k real_k + sum_k s_k X_k (M - P_N,k)
        = sum_k paper_k - sum_k (delay + execution + opportunity + fees)_k + after_horizon

``after_horizon`` is what the filled shares gained from each parent's horizon to the session's
mark: market exposure, not a trading cost. :func:`tca_totals` returns every term and the
difference, which a rehearsal test holds to the cent. A session that adopted broker positions
at start (``on_mismatch = "adopt"``) or traded combos does not start flat: its difference is
the P&L of what it did not trade.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from toolkit.execution.tca import COLUMNS, after_horizon, arrival_mid, tca_many
from toolkit.gateway.algos import ib_time
from toolkit.live import bars as livebars
from toolkit.live.journal import Journal, JournalError
from toolkit.live.orders import OrderRef

# columns of order_history besides tca_many's
INFO = ("strategy", "kind", "order_type", "status", "children", "bar_size", "arrival_source")
_BP = 1e4


def order_history(journal: Journal, session_id: str | None = None) -> pd.DataFrame:
    """Every parent order of ``session_id`` (default: the newest session) with its TCA: one
    row per parent, indexed by its orderRef (``order_ref``), columns :data:`INFO` then
    :data:`toolkit.execution.tca.COLUMNS`, in decision order. Empty (with the columns) when
    the session sent no order."""
    sid = _session_id(journal, session_id)
    config = json.loads(_session(journal, sid)["config_json"])
    sizes = {
        label: str(s.get("bar_size", "1 day")) for label, s in config.get("strategies", {}).items()
    }
    combos = {r["order_ref"] for r in journal.rows("combo_legs", sid)}
    orders = [o for o in journal.rows("orders", sid) if o["order_ref"] not in combos]
    decisions = {d["decision_id"]: d for d in journal.rows("decisions", sid)}
    fills = [f for f in journal.session_fills(sid) if f["order_ref"] not in combos]
    by_order: dict[str, list[dict[str, Any]]] = {}
    for f in fills:
        by_order.setdefault(str(f["order_ref"]), []).append(f)

    scheduled, child_of = _schedule_parents(journal, sid)
    groups: dict[str, list[dict[str, Any]]] = {ref: [] for ref in scheduled}
    kinds: dict[str, str] = {ref: "schedule" for ref in scheduled}
    for o in orders:
        key, kind = _parent(o, child_of)
        groups.setdefault(key, []).append(o)
        kinds.setdefault(key, kind)
    minutes = {sym for sym, size in _journaled_paths(journal, sid) if size == "1 min"}
    parents: list[dict[str, Any]] = []
    parent_fills: list[dict[str, Any]] = []
    for key, members in groups.items():
        mine = sorted(
            (f for o in members for f in by_order.get(str(o["order_ref"]), [])),
            key=lambda f: _utc(f["ts"]),
        )
        row: dict[str, Any] | None
        if key in scheduled:
            row = _schedule_row(scheduled[key], members, mine, decisions, sizes, minutes)
        else:
            row = _parent_row(key, kinds[key], members, mine, decisions, sizes, minutes)
        if row is None:
            continue
        parents.append(row)
        for f in mine:
            parent_fills.append(
                {
                    "order_id": key,
                    "time": _utc(f["ts"]),
                    "quantity": float(f["shares"]),
                    "price": float(f["price"]),
                    "fee": float(f["commission"] or 0.0),
                }
            )
    if not parents:
        return pd.DataFrame(columns=[*INFO, *COLUMNS]).rename_axis("order_ref")
    frame = pd.DataFrame(parents)
    fill_frame = pd.DataFrame(
        parent_fills, columns=["order_id", "time", "quantity", "price", "fee"]
    )
    paths = _bar_paths(journal, sid, decisions.values(), sizes)
    out = []
    for size, part in frame.groupby("bar_size", sort=False):
        part = _with_horizon(part, paths, str(size))
        theirs = fill_frame[fill_frame["order_id"].isin(part["order_id"])]
        bars = {sym: paths[(sym, str(size))] for sym in part["symbol"].unique()}
        tca = tca_many(part.drop(columns=list(INFO)).set_index("order_id"), theirs, bars)
        out.append(part.set_index("order_id")[list(INFO)].join(tca))
    history = pd.concat(out).rename_axis("order_ref")
    return history.loc[frame["order_id"]]


@dataclass(frozen=True)
class TcaTotals:
    """A session's parent orders summed (currency; see the module docstring): the paper
    portfolio's P&L, the shortfall and its components, ``after_horizon`` (the filled shares'
    P&L from each parent's horizon to the session's marks) and the journal's P&L they
    reconcile with: ``paper_pnl - shortfall + after_horizon == journal_pnl``."""

    orders: int
    notional: float
    paper_pnl: float
    delay: float
    execution: float
    opportunity: float
    fees: float
    shortfall: float
    after_horizon: float
    journal_pnl: float

    @property
    def shortfall_bp(self) -> float:
        """The shortfall in bp of the parents' paper notional (sum of Q x arrival)."""
        return self.shortfall / self.notional * _BP if self.notional else math.nan

    @property
    def tca_pnl(self) -> float:
        """The session's P&L as TCA rebuilds it: paper - shortfall + after_horizon."""
        return self.paper_pnl - self.shortfall + self.after_horizon

    @property
    def difference(self) -> float:
        """TCA's P&L minus the journal's (zero to rounding for a session that starts flat)."""
        return self.tca_pnl - self.journal_pnl


def tca_totals(history: pd.DataFrame, marks: Mapping[str, float], journal_pnl: float) -> TcaTotals:
    """Sum ``history`` (:func:`order_history`) and reconcile it with ``journal_pnl``, the
    session's realised + unrealised P&L after commissions, its open positions marked at
    ``marks`` (symbol -> price; the session summary's ``marks``)."""
    h = history
    after = after_horizon(h, marks)

    def total(col: str) -> float:
        return math.fsum(h[col].to_numpy(dtype=float).tolist())

    return TcaTotals(
        orders=len(h),
        notional=total("notional"),
        paper_pnl=total("paper_pnl"),
        delay=total("delay_cost"),
        execution=total("execution_cost"),
        opportunity=total("opportunity_cost"),
        fees=total("fees"),
        shortfall=total("total_cost"),
        after_horizon=math.fsum(after.tolist()),
        journal_pnl=float(journal_pnl),
    )


def session_tca(
    journal: Journal, session_id: str, marks: Mapping[str, float], journal_pnl: float
) -> TcaTotals | None:
    """:func:`tca_totals` of a session's :func:`order_history`; None when it has no parent
    order or traded combos (their legs are not analysed)."""
    if journal.rows("combo_legs", session_id):
        return None
    history = order_history(journal, session_id)
    if history.empty:
        return None
    return tca_totals(history, marks, journal_pnl)


def format_totals(t: TcaTotals) -> list[str]:
    """The summary's TCA lines (costs > 0 hurt)."""
    return [
        f"  TCA, {t.orders} parent orders on {t.notional:,.0f} notional: shortfall "
        f"{t.shortfall:,.2f} ({t.shortfall_bp:+.1f} bp)",
        f"    delay {t.delay:,.2f}, execution {t.execution:,.2f}, "
        f"opportunity {t.opportunity:,.2f}, fees {t.fees:,.2f}",
        f"    paper P&L {t.paper_pnl:,.2f} - shortfall + after horizon {t.after_horizon:,.2f} "
        f"= {t.tca_pnl:,.2f} (journal P&L {t.journal_pnl:,.2f}, difference "
        f"{round(t.difference, 2) + 0.0:.2f})",
    ]


_TABLE = {
    "order_ref": "order",
    "side": "side",
    "quantity": "qty",
    "filled": "filled",
    "arrival_price": "arrival",
    "avg_fill_price": "avg fill",
    "slippage_bp": "slip bp",
    "delay_cost": "delay",
    "execution_cost": "execution",
    "opportunity_cost": "opport.",
    "fees": "fees",
    "total_cost": "IS",
    "total_bp": "IS bp",
    "vwap_slippage_bp": "vs VWAP bp",
    "twap_slippage_bp": "vs TWAP bp",
    "close_slippage_bp": "vs close bp",
    "participation": "particip.",
}


def format_history(history: pd.DataFrame, last: int | None = None) -> str:
    """The order history as a text table (``last``: only the newest rows), refs shortened
    to strategy/symbol/bar[/leg]; costs in currency, > 0 hurt."""
    h = history if last is None else history.tail(last)
    if h.empty:
        return "  no parent orders"
    t = h.reset_index()[list(_TABLE)].rename(columns=_TABLE)
    t["order"] = [_short(r) for r in h.index]
    t["particip."] = [f"{100 * x:.2g}%" if x == x else "n/a" for x in h["participation"]]
    return str(t.to_string(index=False, float_format=lambda x: f"{x:,.2f}", na_rep="n/a"))


# -- reading the journal ------------------------------------------------------------------


def _session(journal: Journal, sid: str) -> dict[str, Any]:
    match = [s for s in journal.sessions() if s["session_id"] == sid]
    if not match:
        known = ", ".join(s["session_id"] for s in journal.sessions()[:10])
        raise JournalError(f"{journal.path}: no session {sid!r}; recent: {known}.")
    return match[0]


def _session_id(journal: Journal, session_id: str | None) -> str:
    if session_id is not None:
        return str(_session(journal, session_id)["session_id"])
    sessions = journal.sessions()
    if not sessions:
        raise JournalError(f"{journal.path}: no sessions recorded yet.")
    return str(sessions[0]["session_id"])


def _parent(order: Mapping[str, Any], child_of: Mapping[str, str]) -> tuple[str, str]:
    """(parent key, kind) of a journaled order: a schedule's child belongs to its parent
    (``child_of``: the journal's parent_children); a bracket leg is its own parent (kind
    ``sl``/``tp``/``trail``); any other order is one (kind ``order``)."""
    ref = str(order["order_ref"])
    if ref in child_of:
        return child_of[ref], "schedule"
    try:
        leg = OrderRef.parse(ref).leg
    except ValueError:
        leg = None  # not one of ours (e.g. an older toolkit's ref): an order of its own
    return (ref, leg) if leg is not None else (ref, "order")


def _schedule_parents(
    journal: Journal, sid: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The session's parents worked by our schedules (journal table ``parents``, by ref) and
    the parent of each of their children's orderRefs."""
    parents = {str(p["parent_ref"]): p for p in journal.rows("parents", sid)}
    rows = journal.query(
        "SELECT c.order_ref, c.parent_ref FROM parent_children c JOIN parents p "
        "ON p.parent_ref = c.parent_ref WHERE p.session_id = ?",
        (sid,),
    )
    return parents, {str(r["order_ref"]): str(r["parent_ref"]) for r in rows}


def _journaled_paths(journal: Journal, sid: str) -> set[tuple[str, str]]:
    rows = journal.query("SELECT DISTINCT symbol, bar_size FROM bars WHERE session_id = ?", (sid,))
    return {(str(r["symbol"]), str(r["bar_size"])) for r in rows}


def _schedule_row(
    parent: Mapping[str, Any],
    members: list[dict[str, Any]],
    mine: list[dict[str, Any]],
    decisions: Mapping[int, Mapping[str, Any]],
    sizes: Mapping[str, str],
    minutes: set[str],
) -> dict[str, Any]:
    """A schedule parent's inputs: its journaled quantity and arrival price, decided at its
    decision bar's end, released at its window's start (the delay is the market's move until
    then), judged until its window's end (or its last fill), on the 1-minute bars it was
    worked on when the session journaled them."""
    strategy = str(parent["strategy"])
    size = sizes.get(strategy, "1 day")
    symbol = str(parent["symbol"])
    bar = _utc(parent["decision_bar"])
    decided = livebars.bar_end(bar, size)
    first_fill = _utc(mine[0]["ts"]) if mine else None
    if first_fill is not None and first_fill < decided:
        decided = first_fill
    release = max(_utc(parent["window_start"]), decided)
    if first_fill is not None and first_fill < release:
        release = first_fill
    end = _utc(parent["window_end"])
    if mine:
        end = max(end, _utc(mine[-1]["ts"]))
    price = parent["arrival_price"]
    if price is None and parent["decision_id"] in decisions:
        price = decisions[parent["decision_id"]]["price"]
    return {
        "order_id": str(parent["parent_ref"]),
        "symbol": symbol,
        "side": str(parent["action"]),
        "quantity": float(parent["quantity"]),
        "decision_time": decided,
        "arrival_price": arrival_mid(None, None, last=None if price is None else float(price)),
        "release_time": release,
        "end_time": end,
        "decision_bar": None,
        "last_fill": None,
        "strategy": strategy,
        "kind": "schedule",
        "order_type": str(parent["algo"]),
        "status": str(parent["status"]),
        "children": len(members),
        "bar_size": "1 min" if symbol in minutes else size,
        "arrival_source": "decision",
    }


def _parent_row(
    key: str,
    kind: str,
    members: list[dict[str, Any]],
    mine: list[dict[str, Any]],
    decisions: Mapping[int, Mapping[str, Any]],
    sizes: Mapping[str, str],
    minutes: set[str],
) -> dict[str, Any] | None:
    """An order's inputs for tca_many (None: a protective leg that never filled). An IB algo
    order (``orders.algo``: Twap, Vwap) is judged like a schedule's parent over its
    ``startTime`` .. ``endTime``."""
    first = members[0]
    first_fill = _utc(mine[0]["ts"]) if mine else None
    decision = next(
        (decisions[o["decision_id"]] for o in members if o["decision_id"] in decisions), None
    )
    strategy = str(decision["strategy"]) if decision is not None else ""
    size = sizes.get(strategy, "1 day")
    if kind in ("sl", "tp", "trail") or decision is None:
        if first_fill is None:
            return None  # never triggered: nothing was decided
        trigger = first["aux_price"] if first["order_type"] == "STP" else first["limit_price"]
        arrival = float(trigger) if trigger is not None else float(mine[0]["price"])
        source = "trigger" if trigger is not None else "first fill"
        decided, bar = first_fill, None
    else:
        bar = pd.Timestamp(decision["bar_time"])
        bar = bar.tz_localize("UTC") if bar.tzinfo is None else bar.tz_convert("UTC")
        decided = livebars.bar_end(bar, size)
        if first_fill is not None and first_fill < decided:
            decided = first_fill
        arrival = arrival_mid(None, None, last=float(decision["price"]))
        source = "decision"
    release = end = None
    algo = first.get("algo")
    window = _algo_window(first, decided) if algo else None
    if window is not None:
        release = max(window[0], decided)
        if first_fill is not None and first_fill < release:
            release = first_fill
        end = max(window[1], _utc(mine[-1]["ts"])) if mine else window[1]
        size = "1 min" if str(first["symbol"]) in minutes else size
    return {
        "order_id": key,
        "symbol": str(first["symbol"]),
        "side": str(first["action"]),
        "quantity": float(first["quantity"]),
        "decision_time": decided,
        "arrival_price": arrival,
        "release_time": release,
        "end_time": end,
        "decision_bar": bar,
        "last_fill": _utc(mine[-1]["ts"]) if mine else None,
        "strategy": strategy,
        "kind": "ib_algo" if algo else kind,
        "order_type": str(first["order_type"]) + (f" {algo}" if algo else ""),
        "status": str(first["status"]),
        "children": len(members),
        "bar_size": size,
        "arrival_source": source,
    }


def _algo_window(
    order: Mapping[str, Any], decided: pd.Timestamp
) -> tuple[pd.Timestamp, ...] | None:
    """The (start, end) an IB algo order was sent with (its journaled algoParams, read by the
    gateway simulator's own parser), None when it has no window (Adaptive)."""
    params = json.loads(order.get("algo_params_json") or "{}")
    if "startTime" not in params or "endTime" not in params:
        return None
    day = decided.tz_convert("America/New_York").date()
    return tuple(ib_time(str(params[k]), day) for k in ("startTime", "endTime"))


def _with_horizon(
    part: pd.DataFrame,
    paths: Mapping[tuple[str, str], pd.DataFrame],
    size: str,
) -> pd.DataFrame:
    """``end_time`` of each parent not given one (a schedule's is its window's end): the
    later of its last fill and the start of the first journaled bar after its decision bar
    (its decision time when there is none yet)."""
    ends: list[pd.Timestamp] = []
    for sym, decided, last, bar, given in zip(
        part["symbol"],
        part["decision_time"],
        part["last_fill"],
        part["decision_bar"],
        part["end_time"],
        strict=True,
    ):
        if given is not None and not pd.isna(given):
            ends.append(pd.Timestamp(given))  # a schedule's window end
            continue
        times = paths[(str(sym), size)].index
        end = pd.Timestamp(decided)
        if last is not None and not pd.isna(last):
            end = max(end, pd.Timestamp(last))
        if bar is not None and not pd.isna(bar):
            later = times[times > bar]
            if len(later):
                end = max(end, pd.Timestamp(later[0]))
        ends.append(end)
    return part.assign(end_time=ends).drop(columns=["decision_bar", "last_fill"])


def _bar_paths(
    journal: Journal,
    sid: str,
    decisions: Any,
    sizes: Mapping[str, str],
) -> dict[tuple[str, str], pd.DataFrame]:
    """(symbol, bar size) -> the bars the session journaled (close, volume), else the closes
    its decisions recorded, without volume (a journal older than the bars table)."""
    rows = journal.rows("bars", sid)
    paths: dict[tuple[str, str], pd.DataFrame] = {}
    if rows:
        bars = pd.DataFrame(rows)
        for (sym, size), b in bars.groupby(["symbol", "bar_size"], sort=False):
            paths[(str(sym), str(size))] = _path(b["bar_time"], b["close"], b["volume"])
    dec = pd.DataFrame(list(decisions))
    if not dec.empty:
        dec["bar_size"] = dec["strategy"].map(lambda s: sizes.get(str(s), "1 day"))
        for (sym, size), d in dec.groupby(["symbol", "bar_size"], sort=False):
            if (str(sym), str(size)) not in paths:
                paths[(str(sym), str(size))] = _path(d["bar_time"], d["price"], 0.0 * d["price"])
    return paths


def _path(times: pd.Series, close: pd.Series, volume: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"close": close.to_numpy(dtype=float), "volume": volume.to_numpy(dtype=float)},
        index=pd.DatetimeIndex(pd.to_datetime(times, utc=True, format="ISO8601"), name="time"),
    )
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _short(ref: str) -> str:
    try:
        r = OrderRef.parse(ref)
    except ValueError:
        return ref
    return ref[len(r.session) + 1 :]
