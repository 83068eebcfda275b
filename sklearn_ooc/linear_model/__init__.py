"""Linear models fitted out of core."""

from ._logistic import StreamingLogisticRegression
from ._ridge import StreamingRidge
from ._ridge_cv import StreamingRidgeCV
from ._sgd import StreamingSGDClassifier, StreamingSGDRegressor

__all__ = [
    "StreamingLogisticRegression",
    "StreamingRidge",
    "StreamingRidgeCV",
    "StreamingSGDClassifier",
    "StreamingSGDRegressor",
]
