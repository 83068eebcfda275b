"""numba kernels: functions over arrays and scalars only, no classes, no I/O."""

from ._moments import (
    column_sums_and_cross,
    first_negative,
    first_nonfinite_row,
    shifted_weighted_rows,
)

__all__ = [
    "column_sums_and_cross",
    "first_negative",
    "first_nonfinite_row",
    "shifted_weighted_rows",
]
