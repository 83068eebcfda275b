"""Matrix decompositions fitted out of core."""

from ._pca import OOCPCA

__all__ = ["OOCPCA"]
