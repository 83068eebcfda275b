"""Feature selection from statistics streamed over the rows."""

from ._univariate import (
    OOCGenericUnivariateSelect,
    OOCSelectFdr,
    OOCSelectFpr,
    OOCSelectFwe,
    OOCSelectKBest,
    OOCSelectPercentile,
    chi2,
    f_classif,
    f_regression,
    r_regression,
)
from ._variance_threshold import OOCVarianceThreshold

__all__ = [
    "OOCGenericUnivariateSelect",
    "OOCSelectFdr",
    "OOCSelectFpr",
    "OOCSelectFwe",
    "OOCSelectKBest",
    "OOCSelectPercentile",
    "OOCVarianceThreshold",
    "chi2",
    "f_classif",
    "f_regression",
    "r_regression",
]
