"""A shared counter numba threads take work items from, in order, as they free up.

numba's ``prange`` deals its iterations out in equal contiguous shares up front, under every
threading layer and whatever ``numba.set_parallel_chunksize`` says (measured here with numba
0.68: 16 iterations, the first 10^5 times dearer, chunk size 0 or 1 -- thread 0 ran
iterations 0-7, thread 1 iterations 8-15 and then idled). Work whose items cost unlike, or a
thread the machine deschedules for a while, then leaves the other threads waiting at the
loop's end. A ``prange`` over the threads whose bodies each take the next item from this
counter until none is left balances itself, and keeps the threads on neighbouring items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from numba import types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic

cgutils: Any = _cgutils  # untyped

# int64s of a counter array (``np.zeros(COUNTER_SIZE, np.int64)``; the count is word 0):
# the word alone in two cache lines, which the threads write
COUNTER_SIZE = 16


@intrinsic
def _fetch_add(typingctx: Any, counter: Any) -> Any:
    """``counter[0] += 1`` as one atomic read-modify-write; returns the value before."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None  # numba then reports a typing error naming the argument
    sig = types.int64(counter)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arr_ty = signature.args[0]
        arr = context.make_array(arr_ty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, arr_ty, arr, [zero])
        one = context.get_constant(types.int64, 1)
        # "monotonic": the count itself is all that must be atomic (each item's output is
        # its own; the parallel region's end orders them for the caller)
        return builder.atomic_rmw("add", ptr, one, "monotonic")

    return sig, codegen


take_next_nb = cast(Callable[[Any], int], _fetch_add)
"""``take_next_nb(counter)``: the next item's number (0, 1, 2, ... across all threads; each
number goes to one thread only). Callable from numba code only."""
