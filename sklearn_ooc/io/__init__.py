"""Tools around the data: ``.npy`` writers and synthetic data sets."""

from ._npy_writer import NpyWriter
from ._synthetic import write_mixture, write_regression

__all__ = ["NpyWriter", "write_mixture", "write_regression"]
