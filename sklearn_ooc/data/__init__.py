"""The data layer: batches read from arrays, memory maps, ``.npy`` files, stores
and tables."""

from ._lazy import LazyArray, open_array
from ._npy import open_npy
from ._plan import EpochPlan
from ._progress import Progress, progress_line
from ._scratch import remove_stale, scratch_dir, scratch_path  # noqa: F401
from ._sequences import SequenceSource, check_lengths, lengths_from_column
from ._source import (
    AUTO_BATCH_BYTES,
    Batch,
    BatchSource,
    check_batch_size,
    check_batches_per_epoch,
    open_rows,
    resolve_batch_size,
)
from ._table import Table, open_table

__all__ = [
    "AUTO_BATCH_BYTES",
    "Batch",
    "BatchSource",
    "EpochPlan",
    "LazyArray",
    "Progress",
    "SequenceSource",
    "Table",
    "check_batch_size",
    "check_batches_per_epoch",
    "check_lengths",
    "lengths_from_column",
    "open_array",
    "open_npy",
    "open_rows",
    "open_table",
    "progress_line",
    "resolve_batch_size",
]
