"""What both sweep drivers fold a simulation into: running totals touched at fills, and the
metric row made from them at the end (numba).

The drivers (:mod:`toolkit.sweep._kernels` per bar, :mod:`toolkit.sweep._changes` from change
point to change point) keep no per-bar arrays: fees, closed trades and wins accumulate in a
small float64 row here, equity in the running sums of :mod:`toolkit.metrics._kernels`.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

from toolkit.engine._step import T_PNL, affordable_nb, buy_qty_nb, execute_nb
from toolkit.engine.commissions import commission_nb, max_buy_qty_nb
from toolkit.metrics._kernels import (
    cagr_from_wealth_nb,
    sharpe_from_sums_nb,
    sortino_from_sums_nb,
)
from toolkit.risk.rules import kill_switch_nb


def _inline_copy(fn: Any, **callees: Any) -> Any:
    """``fn`` (a numba dispatcher) compiled once more from its own source, inlined into its
    caller, with the named callees replaced by their inline copies."""
    py = fn.py_func
    namespace = {**py.__globals__, **callees}
    copy = types.FunctionType(py.__code__, namespace, py.__name__, py.__defaults__)
    return njit(inline="always")(copy)


# The engine's execute_nb compiled a second time with its whole chain (sizing, commission,
# booking) inlined into _execute_nb: the sweep pays it on every fill of every parameter set,
# where the calls cost as much as the work (~45 -> ~27 ns a fill). Same source, more
# compiling in the sweep; the engine calls the ordinary functions (it compiles faster).
_commission_inline_nb = _inline_copy(commission_nb)
_affordable_inline_nb = _inline_copy(
    affordable_nb,
    commission_nb=_commission_inline_nb,
    max_buy_qty_nb=_inline_copy(max_buy_qty_nb),
)
_execute_inline_nb = _inline_copy(
    execute_nb,
    commission_nb=_commission_inline_nb,
    buy_qty_nb=_inline_copy(
        buy_qty_nb, commission_nb=_commission_inline_nb, affordable_nb=_affordable_inline_nb
    ),
)

# Running totals of one simulation (a float64 row; touched at fills and at the end).
A_FEES, A_TRADES, A_WINS, A_MONTH_VOL, A_MONTH = range(5)
ACC_SIZE = 5


F = TypeVar("F", bound=Callable[..., Any])

# The risk rule's kill switch compiled once more, inline: called from the drivers, which run
# without numba's reference counting, it then costs no atomic incref/decref of the risk
# vector at every bar they visit (same source; the engine calls the ordinary one).
kill_switch_inline_nb = _inline_copy(kill_switch_nb)


def njit_no_refcount(fn: F) -> F:
    """``njit(cache=True)`` without numba's reference counting (its ``_nrt`` flag), for hot
    functions that allocate nothing: with it, every call increfs and decrefs each array it is
    handed and each one its inlined callees are handed -- atomic operations that cost ~20 ns
    of a ~60 ns fill and a fifth of a visited bar, paid for every parameter set.

    numba compiles the functions such a function calls without reference counting too (a
    callee that does not set the flag inherits it) and caches that version under the key the
    counted one uses: a callee that returns an array (a view), compiled first from here, is
    later loaded by counted callers, which then release a reference it never took -- the
    array freed under them, the heap corrupted. Such a callee must be ``inline="always"``
    (compiled into each caller with the caller's flag); tests/sweep/test_no_refcount.py walks
    every call these functions make to check."""
    jit: Any = njit
    return cast(F, jit(cache=True, _nrt=False)(fn))


@njit_no_refcount
def execute_fold_nb(
    st: np.ndarray,
    acc: np.ndarray,
    scratch: np.ndarray,
    pos: float,
    cash: float,
    qty: float,
    price: float,
    budget: float,
    cost: np.ndarray,
    fractional: bool,
    bar: int,
    month: int,
) -> tuple[float, float, float]:
    """The engine's :func:`execute_nb`, with the monthly volume reset at the fill (it only
    matters at fills) and the trade closed, if any, counted (from its P&L) instead of
    recorded.
    Returns (filled qty, cash, pos)."""
    if acc[A_MONTH] != month:
        acc[A_MONTH] = month
        acc[A_MONTH_VOL] = 0.0
    q, fee, cash, pos, acc[A_MONTH_VOL], closed = _execute_inline_nb(
        st, pos, cash, qty, price, budget, cost, acc[A_MONTH_VOL], fractional, bar,
        int(np.int64(0)), scratch, int(np.int64(0)), True,
    )  # fmt: skip
    acc[A_FEES] += fee
    if closed > 0:
        acc[A_TRADES] += 1.0
        acc[A_WINS] += 1.0 if scratch[0, T_PNL] > 0.0 else 0.0  # a coin toss: a select
    return q, cash, pos


# The fill compiled into the change-point driver where its next-open orders fill: no call,
# no array structs passed (the headline sweep's simulation ~1.5-2 ms less of ~48 ms CPU).
# Its commission is inlined, a buy's trimming (affordable_nb: taken when the open gapped up)
# stays a call, and the driver's same-bar fill stays a call too: this costs ~3 s more of the
# first sweep's compile (25 -> 28 s here); the whole chain inlined at both sites cost ~15 s.
execute_fold_inline_nb = _inline_copy(
    execute_fold_nb,
    _execute_inline_nb=_inline_copy(execute_nb, commission_nb=_commission_inline_nb),
)


@njit(cache=True)
def finish_nb(
    out: np.ndarray,
    acc: np.ndarray,
    init_cash: float,
    final: float,
    n: int,
    s1: float,
    s2: float,
    down: float,
    mdd: float,
    invested: int,
    periods: float,
) -> None:
    """METRICS of one run from its running sums (formulas of toolkit.metrics)."""
    wealth = final / init_cash
    out[0] = wealth - 1.0
    out[1] = cagr_from_wealth_nb(wealth, n, periods)
    out[2] = sharpe_from_sums_nb(s1, s2, n, periods)
    out[3] = sortino_from_sums_nb(s1, down, n, periods)
    out[4] = mdd
    out[5] = acc[A_TRADES]
    out[6] = acc[A_WINS] / acc[A_TRADES] if acc[A_TRADES] > 0 else np.nan
    out[7] = invested / n if n > 0 else np.nan
    out[8] = acc[A_FEES]
    out[9] = final
