"""numba kernels: functions over arrays and scalars only, no classes, no I/O."""

from ._columns import rows_from_columns
from ._gaussian import (
    diag_em_rows,
    diag_log_prob,
    lloyd_rows,
    nearest_center,
    projected_em_rows,
    projected_log_prob,
    subtract_shift,
)
from ._hmm import (
    hmm_diag_sums,
    hmm_log_pass,
    hmm_scaling_pass,
    hmm_segment_backward,
    hmm_segment_forward,
    hmm_segment_viterbi_backtrack,
    hmm_segment_viterbi_forward,
    hmm_viterbi,
    sequence_batches,
)
from ._logistic import logistic_rows
from ._moments import (
    centered_columns,
    column_sums_and_cross,
    first_negative,
    first_nonfinite_row,
    least_squares_rows,
    shifted_column_sums,
    shifted_weighted_rows,
)
from ._pairwise import (
    chi2_block,
    laplacian_block,
    polynomial_from_dot,
    rbf_from_dot,
    sigmoid_from_dot,
)
from ._parquet import decode_chunk, dictionary_values, levels_equal
from ._permute import permute_rows_inplace
from ._sgd import linear_outputs, reset_wscale, sgd_rows, shuffle_index
from ._structure import best_network_order, best_parent_sets, count_families

__all__ = [
    "best_network_order",
    "best_parent_sets",
    "chi2_block",
    "centered_columns",
    "column_sums_and_cross",
    "count_families",
    "decode_chunk",
    "diag_em_rows",
    "diag_log_prob",
    "dictionary_values",
    "first_negative",
    "first_nonfinite_row",
    "hmm_diag_sums",
    "hmm_log_pass",
    "hmm_scaling_pass",
    "hmm_segment_backward",
    "hmm_segment_forward",
    "hmm_segment_viterbi_backtrack",
    "hmm_segment_viterbi_forward",
    "hmm_viterbi",
    "laplacian_block",
    "least_squares_rows",
    "levels_equal",
    "linear_outputs",
    "lloyd_rows",
    "logistic_rows",
    "nearest_center",
    "permute_rows_inplace",
    "rows_from_columns",
    "polynomial_from_dot",
    "projected_em_rows",
    "projected_log_prob",
    "rbf_from_dot",
    "reset_wscale",
    "sequence_batches",
    "sgd_rows",
    "shifted_column_sums",
    "shifted_weighted_rows",
    "shuffle_index",
    "sigmoid_from_dot",
    "subtract_shift",
]
