"""Call a built-in strategy's rule by id inside compiled code.

Kernels that receive a function as an argument cannot be cached by numba, so the sweep
kernel refers to this dispatcher (a global) and passes an integer id instead. Ids follow
``IDS``; a new built-in strategy is added here and in the registry. ``TARGETS`` is no
strategy: its "rule" copies precomputed target rows from ``aux``, which lets the generic
sweep path (a user's signal function, run per parameter set in Python) use the same fused
kernels.

Two forms of a rule: :func:`rule_nb` writes the target of every bar (what the per-bar driver
reads), :func:`changes_nb` only its change points (what the change-point driver reads).
``sma_cross`` emits change points directly; the others write their array and
:func:`target_changes_nb` extracts them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.strategies.donchian import donchian_rule_nb
from toolkit.strategies.rsi_reversion import rsi_reversion_rule_nb
from toolkit.strategies.sma_cross import sma_cross_changes_nb, sma_cross_rule_nb
from toolkit.strategies.tsmom import tsmom_rule_nb

TARGETS = "_targets"
IDS: dict[str, int] = {"sma_cross": 0, "rsi_reversion": 1, "donchian": 2, "tsmom": 3, TARGETS: 4}


@njit(cache=True)
def targets_rule_nb(aux: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """Copy the precomputed target row ``aux[index[0]]`` into ``out``."""
    row = aux[index[0]]
    for t in range(out.shape[0]):
        out[t] = row[t]


@njit(cache=True)
def rule_nb(
    sid: int,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    out: np.ndarray,
) -> None:
    """Run the rule of strategy ``sid`` (see IDS) into ``out``."""
    if sid == 0:
        sma_cross_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    elif sid == 1:
        rsi_reversion_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    elif sid == 2:
        donchian_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    elif sid == 3:
        tsmom_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    elif sid == 4:
        targets_rule_nb(aux, index, out)
    else:
        raise ValueError("unknown strategy id")


@njit(cache=True)
def target_changes_nb(target: np.ndarray, cp_bar: np.ndarray, cp_val: np.ndarray) -> int:
    """The change points of a whole target array (bar 0, then every bar whose value differs
    from the previous one; a run of NaN is one change point); returns their count."""
    cur = target[0]
    cp_bar[0] = 0
    cp_val[0] = cur
    m = 1
    for t in range(1, target.shape[0]):
        v = target[t]
        if v != cur and not (v != v and cur != cur):
            cp_bar[m] = t
            cp_val[m] = v
            m += 1
            cur = v
    return m


@njit(cache=True)
def changes_nb(
    sid: int,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    work: np.ndarray,
    cp_bar: np.ndarray,
    cp_val: np.ndarray,
) -> int:
    """The target of strategy ``sid`` as change points into ``cp_bar``/``cp_val`` (each of
    n bars); returns their count. ``work`` (float64, n bars) is scratch."""
    if sid == 0:
        return sma_cross_changes_nb(aux, params, index, work, cp_bar, cp_val)
    if sid == 4:
        return target_changes_nb(aux[index[0]], cp_bar, cp_val)
    rule_nb(sid, open_, high, low, close, volume, aux, params, index, work)
    return target_changes_nb(work, cp_bar, cp_val)
