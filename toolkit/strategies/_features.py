"""Shared machinery for strategy features: indicator rows computed once per distinct window.

A grid of parameter sets usually repeats the same indicator windows many times (19,900 SMA
pairs use only 200 windows). ``features_nb`` functions compute each distinct indicator once
into rows of ``aux`` and return, per parameter set, the row numbers its rule reads.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def distinct_rows_nb(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ``values`` and, for each input value, its position among them."""
    uniq = np.unique(values)
    return uniq, np.searchsorted(uniq, values).astype(np.int64)
