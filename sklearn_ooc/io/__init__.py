"""Tools around the data: ``.npy`` writers and synthetic data sets."""

from ._convert import ConversionError, convert, describe_npy
from ._npy_writer import NpyWriter
from ._shuffle import shuffle_on_disk
from ._synthetic import write_mixture, write_regression

__all__ = [
    "ConversionError",
    "NpyWriter",
    "convert",
    "describe_npy",
    "shuffle_on_disk",
    "write_mixture",
    "write_regression",
]
