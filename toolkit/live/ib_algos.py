"""IB's own algos for a live entry order: the ``ib_*`` choices of ``[strategies.execution]``
(:mod:`toolkit.live.execution_config`) turned into the fields of the one order the broker
works -- ``algoStrategy`` (Twap / Vwap / Adaptive) with its ``algoParams`` tag/value pairs, or
``displaySize`` for an iceberg -- as IB's API documentation ("IB Algos", "Iceberg/Reserve")
names them and :mod:`toolkit.gateway.algos` checks them.

* The order keeps its type from the engine (market, or limit priced from the decision close);
  an algo takes MKT or LMT, an iceberg LMT (the config refuses the rest when it is loaded).
* A market-on-open (tif ``OPG``, the engine's daily ``next_open``) becomes a DAY order: an algo
  works a window of the next session, it is not an auction order.
* ``startTime`` / ``endTime`` come from :meth:`ExecutionSpec.window` at the moment of sending,
  written ``yyyymmdd hh:mm:ss US/Eastern``; a window already over when the order goes out
  becomes the rest of the session (the algo would be refused otherwise) -- the log says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from toolkit.live.execution_config import IB_STRATEGY, ExecutionSpec
from toolkit.live.orders import OrderSpec

_EASTERN = "US/Eastern"  # IB's zone name in algo times


def ib_time(ts: pd.Timestamp) -> str:
    """An instant as IB writes an algo time: ``yyyymmdd hh:mm:ss US/Eastern``."""
    return ts.tz_convert("America/New_York").strftime(f"%Y%m%d %H:%M:%S {_EASTERN}")


def algo_params(spec: ExecutionSpec, now: pd.Timestamp) -> tuple[tuple[str, str], ...]:
    """IB's ``algoParams`` (tag, value) of an ``ib_twap`` / ``ib_vwap`` / ``ib_adaptive``
    order sent at ``now`` (UTC), in IB's tag names; flags as ``"1"`` / ``"0"``."""
    out: list[tuple[str, str]] = []
    if spec.algo == "ib_adaptive":
        return (("adaptivePriority", str(spec.params["priority"])),)
    if spec.algo == "ib_twap":
        out.append(("strategyType", str(spec.params["strategy_type"])))
    if spec.algo == "ib_vwap" and "max_pct_vol" in spec.params:
        out.append(("maxPctVol", f"{float(spec.params['max_pct_vol']):g}"))
    t0, t1 = window(spec, now)
    out += [("startTime", ib_time(t0)), ("endTime", ib_time(t1))]
    out.append(("allowPastEndTime", "1" if spec.params["allow_past_end"] else "0"))
    if spec.algo == "ib_vwap":
        out.append(("noTakeLiq", "1" if spec.params["no_take_liq"] else "0"))
    return tuple(out)


def window(spec: ExecutionSpec, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The algo's window for an order sent at ``now``; the rest of the session when the
    configured window is already over."""
    t0, t1 = spec.window(now)
    if t1 <= t0:
        t0, t1 = ExecutionSpec(spec.algo, params=spec.params).window(now)
    return t0, t1


def with_ib_algo(order: OrderSpec, spec: ExecutionSpec, now: pd.Timestamp) -> OrderSpec:
    """``order`` (an entry of :func:`toolkit.live.orders.entry_order`) as the IB algo or
    iceberg ``spec`` asks for; unchanged unless ``spec`` is one of IB's."""
    if not spec.at_broker:
        return order
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    tif = "DAY" if order.tif == "OPG" else order.tif
    if spec.algo == "ib_iceberg":
        return replace(order, tif=tif, display_size=int(spec.params["display_size"]))
    return replace(
        order,
        tif=tif,
        algo_strategy=IB_STRATEGY[spec.algo],
        algo_params=algo_params(spec, now),
    )


def window_over(spec: ExecutionSpec, now: pd.Timestamp) -> bool:
    """Whether the configured window had already ended at ``now`` (the log's note)."""
    t0, t1 = spec.window(now)
    return spec.at_broker and spec.algo in ("ib_twap", "ib_vwap") and t1 <= t0


def as_journaled(spec: OrderSpec, extras: Mapping[str, Any]) -> OrderSpec:
    """``spec`` rebuilt from the journal's order row with what it carried
    (:meth:`toolkit.live.journal.Journal.order_extras`): a resend after a crash sends the
    algo, iceberg and OCA group that were journaled, not a plain order."""
    if not extras:
        return spec
    return replace(
        spec,
        algo_strategy=extras.get("algo"),
        algo_params=tuple(extras.get("algo_params", ())),
        display_size=extras.get("display_size"),
        oca_group=extras.get("oca_group"),
        oca_type=extras.get("oca_type"),
    )


def worked_by_broker(spec: OrderSpec) -> bool:
    """Whether the broker works ``spec`` over time (an IB algo or an iceberg): its exits then
    wait until it is done (:mod:`toolkit.live._parent_exits`) instead of riding on it."""
    return spec.algo_strategy is not None or spec.display_size is not None
