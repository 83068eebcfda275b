"""Linear models fitted out of core."""

from ._ridge import StreamingRidge
from ._sgd import StreamingSGDClassifier, StreamingSGDRegressor

__all__ = ["StreamingRidge", "StreamingSGDClassifier", "StreamingSGDRegressor"]
