"""The numba threads' shared work counter: every item goes to exactly one thread, and a thread
held up on a dear item leaves the rest to the others (what prange alone does not do)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from toolkit._work_queue import COUNTER_SIZE, take_next_nb


@intrinsic
def _count(typingctx: Any, counter: Any) -> Any:
    """``counter[0]`` read atomically (a plain read in a poll loop is hoisted out of it)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], arr, [zero])
        return builder.load_atomic(ptr, "monotonic", 8)

    return types.int64(counter), codegen


@njit(parallel=True, cache=True)
def _deal(items: int, workers: int, hold_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Which worker took each item; with ``hold_first`` the one that took item 0 waits (up to
    ~10^9 polls) until every item has been taken."""
    counter = np.zeros(COUNTER_SIZE, dtype=np.int64)
    taker = np.full(items, -1, dtype=np.int64)
    taken = np.zeros(workers, dtype=np.int64)
    for w in prange(workers):
        while True:
            i = take_next_nb(counter)
            if i >= items:
                break
            taker[i] = w
            taken[w] += 1
            if hold_first and i == 0:
                polls = 0
                while _count(counter) < items and polls < 1_000_000_000:
                    polls += 1
    return taker, taken


@pytest.mark.parametrize("workers", [1, 2, 7])
def test_every_item_goes_to_exactly_one_worker(workers: int) -> None:
    taker, taken = _deal(10_000, workers, False)
    assert (taker >= 0).all() and (taker < workers).all()
    assert taken.sum() == 10_000 and np.bincount(taker, minlength=workers).tolist() == taken.tolist()


def test_a_worker_held_on_one_item_leaves_the_rest_to_the_others() -> None:
    if numba.get_num_threads() < 2:
        pytest.fail("needs 2 numba threads (this machine has 2 cores)")
    taker, taken = _deal(64, 2, True)
    held = taker[0]
    # prange alone would have given the held worker items 0-31 (equal contiguous shares)
    assert taken[held] == 1 and taken[1 - held] == 63
