"""Monte Carlo path kernels (numba): resample returns, fold each path into statistics.

Methods: 0 = reshuffle (a permutation of the source, e.g. trade order), 1 = i.i.d. bootstrap,
2 = stationary block bootstrap (Politis & Romano 1994, JASA 89(428)): blocks start at
uniform random positions, their lengths are geometric with mean ``mean_block``, and the
source wraps around circularly. Every path seeds its own generator from (seed, path index),
so results do not depend on how paths are spread over threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

SHUFFLE, BOOTSTRAP, STATIONARY = 0, 1, 2
# Per-path statistics columns.
P_FINAL, P_CAGR, P_MAX_DD, P_LONGEST_DD, P_HIT = range(5)
N_PATH_STATS = 5


@njit(cache=True)
def _draw_path_nb(source: np.ndarray, method: int, mean_block: float, out: np.ndarray) -> None:
    m = source.shape[0]
    length = out.shape[0]
    if method == SHUFFLE:
        idx = np.arange(m)
        for i in range(m - 1, 0, -1):  # Fisher-Yates
            j = np.random.randint(0, i + 1)
            idx[i], idx[j] = idx[j], idx[i]
        for i in range(length):
            out[i] = source[idx[i % m]]
    elif method == BOOTSTRAP:
        for i in range(length):
            out[i] = source[np.random.randint(0, m)]
    else:
        p_new = 1.0 / mean_block
        k = np.random.randint(0, m)
        for i in range(length):
            if i > 0:
                k = np.random.randint(0, m) if np.random.random() < p_new else (k + 1) % m
            out[i] = source[k]


@njit(cache=True)
def fold_path_nb(
    path: np.ndarray,
    periods: float,
    dd_threshold: float,
    fan_steps: np.ndarray,
    fan_row: np.ndarray,
    stats_row: np.ndarray,
) -> None:
    """Compound one path of returns from wealth 1 into ``stats_row`` (N_PATH_STATS values);
    record wealth after the counts of returns in ``fan_steps`` into ``fan_row``."""
    length = path.shape[0]
    wealth = 1.0
    peak = 1.0
    worst = 0.0
    under = 0
    longest = 0
    f = 0
    for i in range(length):
        wealth *= 1.0 + path[i]
        if wealth >= peak:
            peak = wealth
            under = 0
        else:
            under += 1
            if under > longest:
                longest = under
            dd = wealth / peak - 1.0
            if dd < worst:
                worst = dd
        while f < fan_steps.shape[0] and fan_steps[f] == i + 1:
            fan_row[f] = wealth
            f += 1
    stats_row[P_FINAL] = wealth
    stats_row[P_CAGR] = wealth ** (periods / length) - 1.0 if wealth > 0 else -1.0
    stats_row[P_MAX_DD] = worst
    stats_row[P_LONGEST_DD] = longest
    stats_row[P_HIT] = 1.0 if worst <= -dd_threshold else 0.0


@njit(parallel=True, cache=True)
def simulate_paths_nb(
    source: np.ndarray,
    n_paths: int,
    length: int,
    method: int,
    mean_block: float,
    seed: int,
    periods: float,
    dd_threshold: float,
    fan_steps: np.ndarray,
    stats: np.ndarray,
    fan: np.ndarray,
) -> None:
    """Fill ``stats`` (n_paths x N_PATH_STATS) and ``fan`` (n_paths x len(fan_steps)).

    Wealth starts at 1 and compounds the drawn returns. ``fan`` records wealth after the
    steps listed in ``fan_steps`` (sorted, 1-based counts of returns applied).
    """
    for p in prange(n_paths):
        np.random.seed((seed * 1_000_003 + p) % 4_294_967_296)
        path = np.empty(length)
        _draw_path_nb(source, method, mean_block, path)
        fold_path_nb(path, periods, dd_threshold, fan_steps, fan[p], stats[p])
