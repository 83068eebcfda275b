"""Exact scikit-learn estimators for data larger than memory."""

from ._out_of_core import out_of_core
from .data import LazyArray, Table, open_array, open_table
from .wrappers import Incremental

__version__ = "0.1.0.dev0"

__all__ = [
    "Incremental",
    "LazyArray",
    "Table",
    "__version__",
    "open_array",
    "open_table",
    "out_of_core",
]
