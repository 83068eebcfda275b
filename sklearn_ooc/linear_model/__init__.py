"""Linear models fitted out of core."""

from ._bayes import StreamingBayesianRidge
from ._linear_regression import StreamingLinearRegression
from ._logistic import StreamingLogisticRegression
from ._ridge import StreamingRidge
from ._ridge_cv import StreamingRidgeCV
from ._sgd import StreamingSGDClassifier, StreamingSGDRegressor

__all__ = [
    "StreamingBayesianRidge",
    "StreamingLinearRegression",
    "StreamingLogisticRegression",
    "StreamingRidge",
    "StreamingRidgeCV",
    "StreamingSGDClassifier",
    "StreamingSGDRegressor",
]
