"""scikit-learn's estimator checks over every public estimator of the package."""

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ooc.hmm import MarkovChain
from sklearn_ooc.preprocessing import StreamingTransformer
from sklearn_ooc.utils import all_estimators

from .conftest import DISCRETE_ROWS

# Small batches and blocks so that the checks exercise multi-batch reads,
# merges and epochs.
TINY = {"batch_size": 7, "buffer_mb": 0.001, "memory_limit_mb": 0.001}

# Meta-estimators get a wrapped estimator, and enough epochs to learn.
WRAPPED = {
    "Incremental": [
        {"estimator": SGDRegressor(random_state=0), "max_iter": 20, "batch_size": 8},
        {"estimator": SGDClassifier(random_state=0), "max_iter": 20, "batch_size": 8},
    ],
    "OOCColumnTransformer": [
        {"transformers": [("scale", StreamingTransformer(StandardScaler()), [0, 1])]},
    ],
    # As scikit-learn checks its own: one component, for targets of one
    # column (canonical modes have at most as many components as targets).
    "OOCCCA": [{"n_components": 1}],
    "OOCPLSCanonical": [{"n_components": 1}],
    "OOCPLSRegression": [{"n_components": 1}],
    # As scikit-learn checks its own: a known noise variance, which a fit on
    # fewer rows than features cannot estimate.
    "StreamingLassoLarsIC": [{"noise_variance": 1.0}],
    "StreamingTransformer": [
        {"transformer": StandardScaler()},
        {"transformer": FunctionTransformer(np.log1p)},
    ],
}


def _instances():
    for name, cls in all_estimators():
        for wrapped in WRAPPED.get(name, [{}]):
            params = cls(**wrapped).get_params() if wrapped else cls().get_params()
            tiny = {k: v for k, v in TINY.items() if k in params}
            yield cls(**{**tiny, **wrapped})


def _expected_failed_checks(estimator):
    if type(estimator).__name__ == "OOCColumnTransformer":
        # As scikit-learn marks them for its own ColumnTransformer: it hands
        # each transformer its columns unchecked.
        reason = "as scikit-learn's ColumnTransformer"
        return dict.fromkeys(
            [
                "check_complex_data",
                "check_estimators_empty_data_messages",
                "check_estimator_sparse_array",
                "check_estimator_sparse_matrix",
                "check_fit2d_1feature",
            ],
            reason,
        )
    if type(estimator).__name__ in {"StreamingSGDClassifier", "StreamingSGDRegressor"}:
        # As scikit-learn marks them for its own SGDClassifier and SGDRegressor.
        reason = "sample_weight is not equivalent to removing/repeating samples."
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    if type(estimator).__name__.endswith("HMM") or isinstance(estimator, MarkovChain):
        # As hmmlearn's: fit(X, lengths) takes the lengths of the sequences
        # second, so the checks' targets are read as lengths (which do not
        # sum to the rows, or hold a sequence of zero rows, or one sequence
        # longer than a batch), and fit refuses them.
        reason = "the second argument of fit is hmmlearn's lengths, not y"
        failed = {}
        if type(estimator).__name__ in DISCRETE_ROWS:
            failed["check_fit2d_1sample"] = (
                f"the check's row of real values is refused before its count: "
                f"a {type(estimator).__name__} reads "
                f"{DISCRETE_ROWS[type(estimator).__name__]}"
            )
        return failed | dict.fromkeys(
            [
                "check_dict_unchanged",
                "check_dont_overwrite_parameters",
                "check_dtype_object",
                "check_estimators_dtypes",
                "check_estimators_fit_returns_self",
                "check_estimators_nan_inf",
                "check_estimators_overwrite_params",
                "check_estimators_pickle",
                "check_estimators_pickle(readonly_memmap=True)",
                "check_f_contiguous_array_estimator",
                "check_fit2d_1feature",
                "check_fit2d_predict1d",
                "check_fit_check_is_fitted",
                "check_fit_idempotent",
                "check_fit_score_takes_y",
                "check_methods_sample_order_invariance",
                "check_methods_subset_invariance",
                "check_n_features_in",
                "check_n_features_in_after_fitting",
                "check_pipeline_consistency",
                "check_positive_only_tag_during_fit",
                "check_readonly_memmap_input",
            ],
            reason,
        )
    if type(estimator).__name__ == "BayesianNetwork":
        # The checks' rows are real values; a Bayesian network reads category
        # codes and refuses them, naming the row (tests/test_bayesian_network.py
        # tests it on codes).
        reason = (
            "the checks' rows are real values; it reads "
            + DISCRETE_ROWS["BayesianNetwork"]
        )
        return dict.fromkeys(
            [
                "check_all_zero_sample_weights_error",
                "check_dict_unchanged",
                "check_dont_overwrite_parameters",
                "check_dtype_object",
                "check_estimators_dtypes",
                "check_estimators_fit_returns_self",
                "check_estimators_nan_inf",
                "check_estimators_overwrite_params",
                "check_estimators_pickle",
                "check_estimators_pickle(readonly_memmap=True)",
                "check_f_contiguous_array_estimator",
                "check_fit2d_1feature",
                "check_fit2d_1sample",
                "check_fit2d_predict1d",
                "check_fit_check_is_fitted",
                "check_fit_idempotent",
                "check_fit_score_takes_y",
                "check_methods_sample_order_invariance",
                "check_methods_subset_invariance",
                "check_n_features_in",
                "check_n_features_in_after_fitting",
                "check_pipeline_consistency",
                "check_positive_only_tag_during_fit",
                "check_readonly_memmap_input",
                "check_sample_weight_equivalence_on_dense_data",
                "check_sample_weights_list",
            ],
            reason,
        )
    if type(estimator).__name__ in {"OOCCCA", "OOCPLSCanonical", "OOCPLSRegression"}:
        # scikit-learn's checks know its PLS family by name (their list
        # CROSS_DECOMPOSITION): for those alone they accept the (x_scores,
        # y_scores) that fit_transform(X, y) returns and the list n_iter_.
        reason = "checks that special-case scikit-learn's PLS classes by name"
        return dict.fromkeys(
            [
                "check_transformer_data_not_an_array",
                "check_transformer_general",
                "check_transformer_general(readonly_memmap=True)",
                "check_transformer_n_iter",
            ],
            reason,
        )
    if type(estimator).__name__ == "OOCKMeans":
        # As scikit-learn marks them for its own KMeans: k-means++ draws its
        # seeds among the rows that exist, so a weight of 2 is not the same
        # as a repeated row.
        reason = "sample_weight is not equivalent to removing/repeating samples"
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}


def test_estimators_are_found():
    names = [name for name, _ in all_estimators()]
    assert {
        "Incremental",
        "OOCColumnTransformer",
        "OOCEmpiricalCovariance",
        "OOCGraphicalLasso",
        "OOCLedoitWolf",
        "OOCOAS",
        "OOCShrunkCovariance",
        "CategoricalHMM",
        "GMMHMM",
        "GaussianHMM",
        "MarkovChain",
        "PoissonHMM",
        "OOCCCA",
        "OOCFactorAnalysis",
        "OOCPLSCanonical",
        "OOCPLSRegression",
        "OOCTruncatedSVD",
        "BayesClassifier",
        "BayesianNetwork",
        "OOCBernoulliNB",
        "OOCCategoricalNB",
        "OOCComplementNB",
        "OOCGaussianNB",
        "OOCMultinomialNB",
        "OOCBayesianGaussianMixture",
        "OOCGaussianMixture",
        "OOCGenericUnivariateSelect",
        "OOCSelectFdr",
        "OOCSelectFpr",
        "OOCSelectFwe",
        "OOCSelectKBest",
        "OOCSelectPercentile",
        "OOCVarianceThreshold",
        "OOCKMeans",
        "OOCLinearDiscriminantAnalysis",
        "OOCMixture",
        "OOCPCA",
        "OOCQuadraticDiscriminantAnalysis",
        "OOCKernelRidge",
        "OOCKBinsDiscretizer",
        "OOCOneHotEncoder",
        "OOCOrdinalEncoder",
        "OOCQuantileTransformer",
        "OOCRobustScaler",
        "OOCSimpleImputer",
        "OOCSplineTransformer",
        "StreamingARDRegression",
        "StreamingBayesianRidge",
        "StreamingElasticNet",
        "StreamingElasticNetCV",
        "StreamingGammaRegressor",
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
        "StreamingPoissonRegressor",
        "StreamingRidge",
        "StreamingRidgeCV",
        "StreamingSGDClassifier",
        "StreamingSGDRegressor",
        "StreamingTransformer",
        "StreamingTweedieRegressor",
    } == set(names)


@parametrize_with_checks(
    list(_instances()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
