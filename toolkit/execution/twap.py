"""TWAP: a parent split evenly over a time window.

Exactly ``n`` slices whose sizes differ by at most one share and add up to the parent, at
``start + j (end - start) / n``. When the parent cannot make ``n`` slices of ``min_size``
shares, it makes fewer (``quantity // min_size``, at least one), still evenly spaced over the
whole window -- unlike a remainder slice appended at the end (nautilus's TWAP), which fails
for a parent smaller than the slice count. A parent below ``min_size`` is sent whole.

Optional seeded randomisation (so the slices are harder to spot, reproducible per seed):
``time_jitter`` moves each slice inside its own slot (a fraction of the slot; order and
window kept), ``size_jitter`` lets sizes wander within [max(min_size, floor(b (1 - s))),
ceil(b (1 + s))] for the even size b, by transfers between neighbours (the sum stays the
parent's).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError
from toolkit.execution._kernels import even_split_nb, jitter_sizes_nb
from toolkit.execution.orders import ChildOrders, check_quantity, market_children


def twap_sizes(
    quantity: int,
    n: int,
    *,
    min_size: int = 1,
    size_jitter: float = 0.0,
    seed: int | None = None,
) -> np.ndarray:
    """The slice sizes of :func:`twap` (int64), without times."""
    q = check_quantity(quantity)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ConfigError(f"n={n!r}: the number of TWAP slices must be a whole number >= 1.")
    if isinstance(min_size, bool) or int(min_size) != min_size or min_size < 1:
        raise ConfigError(f"min_size={min_size!r}: the smallest slice must be >= 1 share.")
    if not 0.0 <= size_jitter < 1.0:
        raise ConfigError(f"size_jitter={size_jitter!r}: a fraction in [0, 1) of the even size.")
    k = max(1, min(int(n), q // int(min_size)))
    sizes = even_split_nb(q, k)
    if size_jitter > 0.0 and k > 1:
        rng = np.random.default_rng(seed)
        lo, hi = _size_bounds(q, k, int(min_size), size_jitter)
        sizes = jitter_sizes_nb(sizes, lo, hi, rng.random(k - 1))
    return np.asarray(sizes)


def _size_bounds(quantity: int, k: int, min_size: int, size_jitter: float) -> tuple[int, int]:
    """The band a randomised slice stays in (it always holds the even split's sizes)."""
    even = quantity / k
    lo = max(min_size, math.floor(even * (1 - size_jitter)))
    hi = math.ceil(even * (1 + size_jitter))
    return min(lo, quantity // k), max(hi, -(-quantity // k))


def twap(
    quantity: int,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    n: int,
    *,
    min_size: int = 1,
    time_jitter: float = 0.0,
    size_jitter: float = 0.0,
    seed: int | None = None,
) -> ChildOrders:
    """Market children of a TWAP over [start, end) (see the module docstring). Naive times are
    taken as UTC. Pure: the same arguments (and seed) give the same children."""
    t0, t1 = _utc(start, "start"), _utc(end, "end")
    if t1 <= t0:
        raise ConfigError(f"TWAP window {t0} .. {t1}: the end must come after the start.")
    if not 0.0 <= time_jitter <= 1.0:
        raise ConfigError(f"time_jitter={time_jitter!r}: a fraction in [0, 1] of a slot.")
    sizes = twap_sizes(quantity, n, min_size=min_size, size_jitter=size_jitter, seed=seed)
    k = sizes.size
    slot = (t1 - t0).value / k  # nanoseconds
    offsets = np.arange(k) * slot
    if time_jitter > 0.0:
        # a second stream of the same seed, so sizes do not depend on time_jitter
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        offsets = offsets + rng.random(k) * time_jitter * slot
    times = (t0.value + np.floor(offsets).astype(np.int64)).astype("datetime64[ns]")
    return market_children(int(quantity), times, np.full(k, -1, np.int64), sizes)


def _utc(value: pd.Timestamp | str, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}={value!r} is not a time: {exc}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
