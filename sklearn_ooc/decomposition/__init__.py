"""Matrix decompositions fitted out of core."""

from ._factor_analysis import OOCFactorAnalysis
from ._pca import OOCPCA

__all__ = ["OOCFactorAnalysis", "OOCPCA"]
