"""How a live slot's orders are executed: ``[strategies.execution]`` of a live config.

``algo`` picks one of three families:

* ``"none"`` (default): one order per decision, as the engine sends it (market, market-on-open,
  limit or stop; :mod:`toolkit.live.orders`);
* OUR schedules -- ``"twap"``, ``"vwap"``, ``"pov"``, ``"iceberg"``, ``"adaptive_limit"``: the
  bridge works a parent with :mod:`toolkit.execution`'s schedules, child by child (the same
  functions as the execution backtest);
* IB's algos -- ``"ib_twap"``, ``"ib_vwap"``, ``"ib_adaptive"`` (one order carrying
  ``algoStrategy`` Twap / Vwap / Adaptive and its ``algoParams``) and ``"ib_iceberg"`` (one
  order with ``displaySize``): the broker works it (the gateway simulator with the same
  schedules, :mod:`toolkit.gateway.algos`).

The other keys of the table are the algo's parameters, in snake_case (IB's own tag names --
``maxPctVol``, ``adaptivePriority``, ``strategyType``, ``allowPastEndTime``, ``noTakeLiq``,
``displaySize`` -- are accepted as aliases). Ranges are IB's where IB has one (``maxPctVol``
0.01-0.5, IB API documentation "IB Algos") and :mod:`toolkit.execution`'s otherwise, so a
config that loads is an order the gateway does not refuse.

``start`` / ``end`` bound the working window in exchange time (New York): ``"HH:MM"`` or
``"HH:MM:SS"`` within the regular session, or for ``end`` a duration after the start written
``"+30min"`` / ``"+1h"``; no ``start`` is "when the order is placed", no ``end`` the session's
close. :meth:`ExecutionSpec.window` turns them into the UTC instants of one session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from toolkit._toml import Table
from toolkit.data import calendar
from toolkit.errors import ConfigError

OUR_ALGOS = ("twap", "vwap", "pov", "iceberg", "adaptive_limit")
IB_ALGOS = ("ib_twap", "ib_vwap", "ib_adaptive", "ib_iceberg")
ALGOS = ("none", *OUR_ALGOS, *IB_ALGOS)
# algos without a working window (one resting order, or our limit tactic's own clock)
NO_WINDOW = ("none", "ib_adaptive", "ib_iceberg")
PRIORITIES = ("Patient", "Normal", "Urgent")  # IB's adaptivePriority values
TWAP_TYPES = ("Marketable", "Matching Midpoint", "Matching Same Side", "Matching Last")

Value = float | int | str | bool


@dataclass(frozen=True)
class Param:
    """One algo parameter: TOML type, range (inclusive; ``above`` exclusive), choices,
    default (None: absent unless written) and IB's tag when IB has one."""

    kind: type
    default: Value | None = None
    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple[str, ...] | None = None
    ib_tag: str | None = None
    required: bool = False


_PCT = Param(float, None, 0.01, 0.5, ib_tag="maxPctVol")
_SEED = Param(int, None, 0, 2**63 - 1)
PARAMS: dict[str, dict[str, Param]] = {
    "none": {},
    "twap": {
        "slices": Param(int, None, 1, 100_000),
        "min_size": Param(int, 1, 1),
        "time_jitter": Param(float, 0.0, 0.0, 1.0),
        "size_jitter": Param(float, 0.0, 0.0, 0.99),
        "seed": _SEED,
        "max_pct_vol": _PCT,
    },
    "vwap": {"max_pct_vol": _PCT, "lookback": Param(int, 20, 1, 250)},
    "pov": {"rate": Param(float, 0.05, None, 0.5, above=0.0), "lag": Param(int, 1, 0, 1)},
    "iceberg": {
        "display_size": Param(int, None, 1, required=True, ib_tag="displaySize"),
        "display_jitter": Param(float, 0.0, 0.0, 0.99),
        "seed": _SEED,
    },
    "adaptive_limit": {
        "priority": Param(str, "Normal", choices=PRIORITIES, ib_tag="adaptivePriority")
    },
    "ib_twap": {
        "strategy_type": Param(str, "Marketable", choices=TWAP_TYPES, ib_tag="strategyType"),
        "allow_past_end": Param(bool, False, ib_tag="allowPastEndTime"),
    },
    "ib_vwap": {
        "max_pct_vol": _PCT,
        "no_take_liq": Param(bool, False, ib_tag="noTakeLiq"),
        "allow_past_end": Param(bool, False, ib_tag="allowPastEndTime"),
    },
    "ib_adaptive": {
        "priority": Param(str, "Normal", choices=PRIORITIES, ib_tag="adaptivePriority")
    },
    "ib_iceberg": {"display_size": Param(int, None, 1, required=True, ib_tag="displaySize")},
}
# IB's algoStrategy per ib_* algo (ib_iceberg is a plain order with displaySize)
IB_STRATEGY = {"ib_twap": "Twap", "ib_vwap": "Vwap", "ib_adaptive": "Adaptive"}


@dataclass(frozen=True)
class ExecutionSpec:
    """A slot's execution: ``algo`` (one of :data:`ALGOS`), the window's ``start``/``end`` as
    written (see the module docstring) and ``params`` (snake_case names; every parameter with
    a default is present)."""

    algo: str = "none"
    start: str | None = None
    end: str | None = None
    params: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        where = f"execution algo {self.algo!r}"
        check_spec(self.algo, self.start, self.end, dict(self.params), where)
        full = _with_defaults(self.algo, dict(self.params))
        object.__setattr__(self, "params", MappingProxyType(full))

    @property
    def ours(self) -> bool:
        """Worked by the bridge with :mod:`toolkit.execution`'s schedules."""
        return self.algo in OUR_ALGOS

    @property
    def at_broker(self) -> bool:
        """One order the broker works (an IB algo or an iceberg)."""
        return self.algo in IB_ALGOS

    def param(self, name: str) -> Value | None:
        """Parameter ``name`` (None when unset and without a default)."""
        return self.params.get(name)

    def window(self, when: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The UTC instants [start, end) of the working window of an order placed at ``when``,
        in the session the order works in (:func:`toolkit.data.calendar.working_day`):
        clipped to the regular session, never before ``when``; start == end when the window
        is already over."""
        when = pd.Timestamp(when)
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
        day = calendar.working_day(when)
        opens, closes = calendar.session_open(day), calendar.session_close(day)
        t0 = max(when, opens)
        if self.start is not None:
            t0 = max(t0, _at(day, _clock(self.start)))
        if self.end is None:
            t1 = closes
        elif self.end.startswith("+"):
            t1 = t0 + _duration(self.end)
        else:
            t1 = _at(day, _clock(self.end))
        t1 = min(t1, closes)
        return t0, max(t0, t1)


def parse_execution(path: Path, name: str, table: Any, order_type: str = "market") -> ExecutionSpec:
    """``[strategies.execution]`` (``name`` is its place, e.g. ``strategies #1.execution``)
    validated into an :class:`ExecutionSpec`; :class:`ConfigError` naming file and key.
    ``order_type`` is the research config's ``[engine] order_type`` (IB's algos take market
    or limit orders, an iceberg a limit order)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: [{name}] must be a table, got {type(table).__name__}.")
    algo = table.get("algo", "none")
    if not isinstance(algo, str) or algo not in ALGOS:
        raise ConfigError(
            f"{path}: [{name}] algo = {algo!r} is not an execution algo; choose one of "
            f"{', '.join(map(repr, ALGOS))}."
        )
    specs = PARAMS[algo]
    aliases = {tag: k for k, q in specs.items() if (tag := q.ib_tag) is not None}
    allowed = ("algo", "start", "end", *specs, *aliases)
    sec = Table(path, name, table, allowed)
    raw: dict[str, Any] = {}
    for key in map(str, table):
        if key in ("algo", "start", "end"):
            continue
        canon: str = aliases.get(key, key)
        if canon in raw:
            raise ConfigError(
                f"{sec.where(key)}: {canon} is written twice (as {canon} and "
                f"{specs[canon].ib_tag}); keep one."
            )
        p = specs[canon]
        kinds: tuple[type, ...] = (float,) if p.kind is float else (p.kind,)
        raw[canon] = sec.get(key, kinds, None, p.choices, p.low, p.high, above=p.above)
    start, end = sec.get("start", str), sec.get("end", str)
    try:
        spec = ExecutionSpec(algo, start, end, raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: [{name}] {exc}") from None
    allowed = ("limit",) if algo == "ib_iceberg" else ("market", "limit")
    if spec.at_broker and order_type not in allowed:
        raise ConfigError(
            f"{sec.where('algo')} = {algo!r} needs [engine] order_type "
            f"{' or '.join(map(repr, allowed))} in the research config, not {order_type!r}."
        )
    return spec


def check_spec(
    algo: str, start: str | None, end: str | None, params: dict[str, Any], where: str
) -> None:
    """The checks of :class:`ExecutionSpec` (one-line :class:`ConfigError` messages)."""
    if algo not in ALGOS:
        raise ConfigError(f"{where} is not an execution algo; choose one of {', '.join(ALGOS)}.")
    specs = PARAMS[algo]
    for key, value in params.items():
        p = specs.get(key)
        if p is None:
            allowed = ", ".join(specs) or "none"
            raise ConfigError(
                f"{key} is not a parameter of algo {algo!r} (its parameters: {allowed})."
            )
        _check_value(key, value, p)
    for key, p in specs.items():
        if p.required and key not in params:
            raise ConfigError(f"algo {algo!r} needs {key} (e.g. {key} = 100).")
    if algo in NO_WINDOW and (start is not None or end is not None):
        raise ConfigError(
            f"algo {algo!r} has no working window: drop start/end "
            "(they apply to twap, vwap, pov, iceberg, adaptive_limit, ib_twap, ib_vwap)."
        )
    t0 = _clock(start, "start") if start is not None else None
    if end is not None:
        if end.startswith("+"):
            _duration(end)
        else:
            t1 = _clock(end, "end")
            if t0 is not None and t1 <= t0:
                raise ConfigError(f"end = {end!r} must come after start = {start!r}.")


def _check_value(key: str, value: Any, p: Param) -> None:
    ok_type = (
        isinstance(value, bool)
        if p.kind is bool
        else not isinstance(value, bool)
        and isinstance(value, (int, float) if p.kind is float else p.kind)
    )
    if p.kind is int and isinstance(value, float) and value.is_integer():
        ok_type = True
    if not ok_type:
        raise ConfigError(f"{key} = {value!r} has the wrong type: expected {p.kind.__name__}.")
    if p.choices is not None and value not in p.choices:
        raise ConfigError(
            f"{key} = {value!r} is not allowed; choose one of {', '.join(map(repr, p.choices))}."
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
        if not math.isfinite(x):
            raise ConfigError(f"{key} = {value!r}: expected a finite number.")
        if (p.low is not None and x < p.low) or (p.high is not None and x > p.high):
            raise ConfigError(f"{key} = {value!r} is out of range [{p.low}, {p.high}].")
        if p.above is not None and not x > p.above:
            raise ConfigError(f"{key} = {value!r} must be greater than {p.above:g}.")


def _with_defaults(algo: str, params: dict[str, Any]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for key, p in PARAMS[algo].items():
        value = params.get(key, p.default)
        if value is None:
            continue
        if p.kind is int and not isinstance(value, bool):
            value = int(value)
        elif p.kind is float:
            value = float(value)
        out[key] = value
    return out


def _clock(text: str, key: str = "time") -> time:
    """``"HH:MM"`` / ``"HH:MM:SS"`` New York time within the regular session (09:30-16:00)."""
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            t = pd.to_datetime(text, format=fmt).time()
            break
        except (ValueError, TypeError):
            continue
    else:
        raise ConfigError(
            f"{key} = {text!r} is not a time: write 'HH:MM' or 'HH:MM:SS' in New York time "
            "(or, for end, a duration like '+30min')."
        )
    if not time(9, 30) <= t <= time(16, 0):
        raise ConfigError(
            f"{key} = {text!r} is outside the regular session (09:30-16:00 New York)."
        )
    return t


def _duration(text: str) -> pd.Timedelta:
    try:
        d = pd.Timedelta(text[1:])
    except ValueError:
        d = pd.Timedelta(0)
    if pd.isna(d) or d <= pd.Timedelta(0) or d > pd.Timedelta(hours=6.5):
        raise ConfigError(
            f"end = {text!r} is not a duration after the start: write e.g. '+30min' or '+2h' "
            "(at most a session, 6.5 hours)."
        )
    return pd.Timedelta(d)


def _at(day: Any, t: time) -> pd.Timestamp:
    local = pd.Timestamp.combine(day, t).tz_localize(calendar.NEW_YORK)
    return local.tz_convert("UTC")
