"""Linear models fitted out of core."""

from ._bayes import StreamingARDRegression, StreamingBayesianRidge
from ._coordinate_descent import (
    StreamingElasticNet,
    StreamingElasticNetCV,
    StreamingLasso,
    StreamingLassoCV,
    StreamingMultiTaskElasticNet,
    StreamingMultiTaskElasticNetCV,
    StreamingMultiTaskLasso,
    StreamingMultiTaskLassoCV,
    enet_path,
    lasso_path,
)
from ._glm import (
    StreamingGammaRegressor,
    StreamingPoissonRegressor,
    StreamingTweedieRegressor,
)
from ._least_angle import (
    StreamingLars,
    StreamingLarsCV,
    StreamingLassoLars,
    StreamingLassoLarsCV,
    StreamingLassoLarsIC,
    lars_path,
)
from ._linear_regression import StreamingLinearRegression
from ._logistic import StreamingLogisticRegression
from ._ridge import StreamingRidge
from ._ridge_cv import StreamingRidgeCV
from ._sgd import StreamingSGDClassifier, StreamingSGDRegressor

__all__ = [
    "StreamingGammaRegressor",
    "StreamingPoissonRegressor",
    "StreamingTweedieRegressor",
    "StreamingARDRegression",
    "StreamingBayesianRidge",
    "StreamingElasticNet",
    "StreamingElasticNetCV",
    "StreamingLasso",
    "StreamingLassoCV",
    "StreamingLars",
    "StreamingLarsCV",
    "StreamingLassoLars",
    "StreamingLassoLarsCV",
    "StreamingLassoLarsIC",
    "StreamingLinearRegression",
    "StreamingLogisticRegression",
    "StreamingMultiTaskElasticNet",
    "StreamingMultiTaskElasticNetCV",
    "StreamingMultiTaskLasso",
    "StreamingMultiTaskLassoCV",
    "StreamingRidge",
    "StreamingRidgeCV",
    "StreamingSGDClassifier",
    "StreamingSGDRegressor",
    "enet_path",
    "lars_path",
    "lasso_path",
]
