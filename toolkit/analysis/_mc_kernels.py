"""Monte Carlo path kernels (numba): resample returns, fold each path into statistics.

Methods: 0 = reshuffle (a permutation of the source, e.g. trade order), 1 = i.i.d. bootstrap,
2 = stationary block bootstrap (Politis & Romano 1994, JASA 89(428)): blocks start at
uniform random positions, their lengths are geometric with mean ``mean_block``, and the
source wraps around circularly. Every path seeds its own generator from (seed, path index),
so results do not depend on how paths are spread over threads.

Random numbers come from xorshift64* (Vigna 2016, "An experimental exploration of
Marsaglia's xorshift generators, scrambled", ACM TOMS 42(4)), seeded per path through
splitmix64: a few instructions per draw, and no shared generator state between threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

SHUFFLE, BOOTSTRAP, STATIONARY = 0, 1, 2
# Per-path statistics columns.
P_FINAL, P_CAGR, P_MAX_DD, P_LONGEST_DD, P_HIT = range(5)
N_PATH_STATS = 5


@njit(cache=True)
def _splitmix64_nb(x: np.uint64) -> np.uint64:
    """One splitmix64 step: turns (seed, path) counters into well-mixed generator states."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _next_nb(state: np.ndarray) -> float:
    """xorshift64*: advance ``state[0]`` and return a uniform float in [0, 1)."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _below_nb(state: np.ndarray, m: int) -> int:
    """Uniform integer in [0, m)."""
    return min(int(_next_nb(state) * m), m - 1)


@njit(cache=True)
def _draw_path_nb(
    source: np.ndarray, method: int, mean_block: float, state: np.ndarray, out: np.ndarray
) -> None:
    m = source.shape[0]
    length = out.shape[0]
    if method == SHUFFLE:
        idx = np.arange(m)
        for i in range(m - 1, 0, -1):  # Fisher-Yates
            j = _below_nb(state, i + 1)
            idx[i], idx[j] = idx[j], idx[i]
        for i in range(length):
            out[i] = source[idx[i % m]]
    elif method == BOOTSTRAP:
        for i in range(length):
            out[i] = source[_below_nb(state, m)]
    else:
        # block lengths ~ Geometric(p = 1 / mean_block) drawn once per block by inversion:
        # the same law as a per-step Bernoulli(p) restart, at one draw per block
        log_q = np.log1p(-1.0 / mean_block) if mean_block > 1.0 else -np.inf
        i = 0
        while i < length:
            k = _below_nb(state, m)
            u = 1.0 - _next_nb(state)  # in (0, 1]
            block = 1 if log_q == -np.inf else 1 + int(np.log(u) / log_q)
            for _ in range(min(block, length - i)):
                out[i] = source[k]
                k += 1
                if k == m:
                    k = 0
                i += 1


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
            if wealth < peak * (1.0 + worst) * (1.0 + 1e-12):  # could be deeper: divide
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
        state = np.empty(1, dtype=np.uint64)
        state[0] = _splitmix64_nb(np.uint64(seed) * np.uint64(0x100000001B3) + np.uint64(p))
        if state[0] == 0:
            state[0] = np.uint64(1)  # xorshift needs a non-zero state
        path = np.empty(length)
        _draw_path_nb(source, method, mean_block, state, path)
        fold_path_nb(path, periods, dd_threshold, fan_steps, fan[p], stats[p])
