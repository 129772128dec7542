"""TWAP: n slices within one share of each other summing to the parent, fewer evenly spaced
slices for a small parent, a minimum size, and seeded randomisation that keeps all that."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigError
from toolkit.execution import twap, twap_sizes

START = pd.Timestamp("2024-05-17 13:30", tz="UTC")
END = pd.Timestamp("2024-05-17 14:30", tz="UTC")


def test_hand_example() -> None:
    children = twap(10, START, END, 4)
    assert children.quantity.tolist() == [2, 3, 2, 3]  # floor((j+1)10/4) - floor(j 10/4)
    assert (children.frame().index - START).total_seconds().tolist() == [0, 900, 1800, 2700]
    assert set(children.order_type) == {"MKT"} and np.isnan(children.limit).all()
    assert children.remaining == 0


def test_a_parent_smaller_than_n_makes_fewer_evenly_spaced_slices() -> None:
    children = twap(3, START, END, 10)  # nautilus's TWAP fails here
    assert children.quantity.tolist() == [1, 1, 1]
    assert (children.frame().index - START).total_seconds().tolist() == [0, 1200, 2400]


def test_minimum_size() -> None:
    assert twap_sizes(250, 10, min_size=100).tolist() == [125, 125]
    assert twap_sizes(50, 10, min_size=100).tolist() == [50]  # below the minimum: whole


@settings(max_examples=60, deadline=None)
@given(
    q=st.integers(1, 100_000),
    n=st.integers(1, 400),
    min_size=st.integers(1, 500),
    jitter=st.sampled_from([0.0, 0.1, 0.5, 0.9]),
    seed=st.integers(0, 2**32 - 1),
)
def test_sizes_property(q: int, n: int, min_size: int, jitter: float, seed: int) -> None:
    sizes = twap_sizes(q, n, min_size=min_size, size_jitter=jitter, seed=seed)
    assert sizes.sum() == q
    assert sizes.size == max(1, min(n, q // min_size))
    assert sizes.min() >= min(min_size, q)
    if jitter == 0.0:
        assert sizes.max() - sizes.min() <= 1
    else:
        even = q / sizes.size
        assert sizes.max() <= max(np.ceil(even * (1 + jitter)), -(-q // sizes.size))
        assert sizes.min() >= min(max(min_size, np.floor(even * (1 - jitter))), q // sizes.size)
    again = twap_sizes(q, n, min_size=min_size, size_jitter=jitter, seed=seed)
    assert np.array_equal(sizes, again)  # reproducible per seed


@settings(max_examples=30, deadline=None)
@given(q=st.integers(1, 10_000), n=st.integers(1, 120), seed=st.integers(0, 1000))
def test_jittered_times_stay_in_their_slots(q: int, n: int, seed: int) -> None:
    children = twap(q, START, END, n, time_jitter=1.0, size_jitter=0.3, seed=seed)
    k = len(children)
    slot = (END - START) / k
    offsets = children.frame().index - START
    assert (offsets >= np.arange(k) * slot).all() and (offsets < (np.arange(k) + 1) * slot).all()
    assert children.quantity.sum() == q
    same = twap(q, START, END, n, time_jitter=1.0, size_jitter=0.3, seed=seed)
    assert np.array_equal(children.time, same.time)
    assert np.array_equal(children.quantity, same.quantity)


def test_seeds_differ() -> None:
    a = twap(10_000, START, END, 50, time_jitter=0.5, size_jitter=0.5, seed=1)
    b = twap(10_000, START, END, 50, time_jitter=0.5, size_jitter=0.5, seed=2)
    assert not np.array_equal(a.quantity, b.quantity)
    assert not np.array_equal(a.time, b.time)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantity": 0}, "positive whole number"),
        ({"quantity": 2.5}, "positive whole number"),
        ({"n": 0}, "number of TWAP slices"),
        ({"min_size": 0}, "smallest slice"),
        ({"end": START}, "end must come after"),
        ({"time_jitter": 1.5}, "time_jitter"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"quantity": 100, "start": START, "end": END, "n": 10}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        twap(**args)  # type: ignore[arg-type]
