"""Permuting the rows of a buffer in place."""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def permute_rows_inplace(rows, perm):
    """Reorder ``rows`` so that row ``i`` becomes the old row ``perm[i]``.

    ``rows`` is a C-contiguous ``(n, row_bytes)`` uint8 view of any array;
    ``perm`` a permutation of ``range(n)``. Follows each cycle of ``perm``
    with one row of scratch, so the result equals ``rows[perm]`` without a
    second buffer.

    Raises ValueError, with ``rows`` unchanged, if ``perm`` is not a
    permutation of ``range(n)``.
    """
    n = rows.shape[0]
    if perm.shape[0] != n:
        raise ValueError("permute_rows_inplace: perm needs one entry per row")
    done = np.zeros(n, dtype=np.bool_)
    # An index out of range would be read out of bounds, and a repeated one
    # would trap the cycle walk below in a loop that never ends.
    for i in range(n):
        j = perm[i]
        if j < 0 or j >= n or done[j]:
            raise ValueError("permute_rows_inplace: perm is not a permutation")
        done[j] = True
    done[:] = False
    held = np.empty(rows.shape[1], dtype=np.uint8)
    for start in range(n):
        if done[start]:
            continue
        held[:] = rows[start]
        i = start
        while True:
            done[i] = True
            j = perm[i]
            if j == start:
                rows[i] = held
                break
            rows[i] = rows[j]
            i = j
