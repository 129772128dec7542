"""Call a built-in strategy's rule by id inside compiled code.

Kernels that receive a function as an argument cannot be cached by numba, so the sweep
kernel refers to this dispatcher (a global) and passes an integer id instead. Ids follow
``IDS``; a new built-in strategy is added here and in the registry. ``TARGETS`` is no
strategy: its "rule" copies precomputed target rows from ``aux``, which lets the generic
sweep path (a user's signal function, run per parameter set in Python) use the same fused
kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.strategies.donchian import donchian_rule_nb
from toolkit.strategies.rsi_reversion import rsi_reversion_rule_nb
from toolkit.strategies.sma_cross import sma_cross_rule_nb
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
