"""Matrix decompositions fitted out of core."""

from ._factor_analysis import OOCFactorAnalysis
from ._pca import OOCPCA
from ._truncated_svd import OOCTruncatedSVD

__all__ = ["OOCFactorAnalysis", "OOCPCA", "OOCTruncatedSVD"]
