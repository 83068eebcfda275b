"""Linear models fitted out of core."""

from ._ridge import StreamingRidge
from ._ridge_cv import StreamingRidgeCV
from ._sgd import StreamingSGDClassifier, StreamingSGDRegressor

__all__ = [
    "StreamingRidge",
    "StreamingRidgeCV",
    "StreamingSGDClassifier",
    "StreamingSGDRegressor",
]
