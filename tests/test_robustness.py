"""Numerical robustness: badly conditioned data, read from a memory map in batches.

Every public estimator with an in-memory scikit-learn reference is fitted from
a ``.npy`` memory map in several small batches on three kinds of hard data

- ``offset``: mean 1e8, standard deviation 1e-2 (digits lost to the offset);
- ``scales``: columns scaled 1e-5, 1 and 1e5 (ten orders of magnitude);
- ``near_duplicate``: the last column is the first plus 1e-9 noise;

and, for the mixture and k-means, from a start where one component or
cluster loses all its points. Each fit either matches the reference or
raises the same kind of error, and never returns NaN or inf silently.

Tolerances. Where scikit-learn itself loses digits (the offset case for the
mixture, logistic regression, discriminant analysis, kernel ridge and the
cross-validation scores), the reference is fitted on the translated data
``X - 1e8``: the subtraction is exact in float64 (Sterbenz), and the models
are the same up to moving the means or the intercept. Attributes expressed in
the raw coordinates are then only defined to the rounding of numbers of size
1e8: ``np.spacing(1e8) = 1.5e-8`` is ``QUANTUM = 1.5e-6`` of the spread of the
data, and that, times a small factor, is the offset tolerance. Elsewhere the
tolerance comes from the conditioning of the problem, as stated at each test.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import LinAlgError
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.impute import SimpleImputer
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (
    ARDRegression,
    BayesianRidge,
    GammaRegressor,
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import (
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    SplineTransformer,
)
from sklearn.utils import get_tags

from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.decomposition import OOCPCA
from sklearn_ooc.discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)
from sklearn_ooc.kernel_ridge import OOCKernelRidge
from sklearn_ooc.linear_model import (
    StreamingARDRegression,
    StreamingBayesianRidge,
    StreamingGammaRegressor,
    StreamingLinearRegression,
    StreamingLogisticRegression,
    StreamingPoissonRegressor,
    StreamingRidge,
    StreamingRidgeCV,
    StreamingSGDClassifier,
    StreamingSGDRegressor,
    StreamingTweedieRegressor,
)
from sklearn_ooc.mixture import OOCGaussianMixture
from sklearn_ooc.preprocessing import (
    OOCKBinsDiscretizer,
    OOCOneHotEncoder,
    OOCOrdinalEncoder,
    OOCQuantileTransformer,
    OOCRobustScaler,
    OOCSimpleImputer,
    OOCSplineTransformer,
)
from sklearn_ooc.utils import all_estimators

N = 300
BATCH = 37  # nine batches, the last one short
OFFSET = 1e8
SPREAD = 1e-2  # standard deviation of the offset data
QUANTUM = np.spacing(OFFSET) / SPREAD  # 1.5e-6
EPS = np.finfo(np.float64).eps
CASES = ["offset", "scales", "near_duplicate"]
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]

# Estimators without an in-memory scikit-learn equal: the wrappers run a
# scikit-learn estimator themselves (OOCColumnTransformer runs the
# transformers it is given, each tested on its own); OOCMixture and
# BayesClassifier (pomegranate's) have no counterpart: tests/test_nb.py
# compares the classifier with in-memory references. (The SGD estimators
# take scikit-learn's per-row steps in its order: they have one.) The HMMs'
# reference is hmmlearn, not scikit-learn: tests/test_hmm.py,
# tests/test_hmm_discrete.py and tests/test_gmmhmm.py compare them
# (GaussianHMM and GMMHMM far from the origin too).
WITHOUT_REFERENCE = {
    "BayesClassifier",
    "BayesianNetwork",
    "CategoricalHMM",
    "GMMHMM",
    "GaussianHMM",
    "MarkovChain",
    "PoissonHMM",
    "Incremental",
    "OOCColumnTransformer",
    "OOCMixture",
    "StreamingTransformer",
}
TESTED_HERE = {
    "OOCEmpiricalCovariance",
    "OOCGraphicalLasso",
    "OOCLedoitWolf",
    "OOCOAS",
    "OOCShrunkCovariance",
    "OOCBayesianGaussianMixture",
    "OOCGaussianMixture",
    "OOCKMeans",
    "OOCPCA",
    "OOCFactorAnalysis",
    "OOCTruncatedSVD",
    "OOCPLSRegression",
    "OOCPLSCanonical",
    "OOCCCA",
    "OOCGaussianNB",
    "OOCMultinomialNB",
    "OOCComplementNB",
    "OOCBernoulliNB",
    "OOCCategoricalNB",
    "OOCSelectKBest",
    "OOCSelectPercentile",
    "OOCSelectFpr",
    "OOCSelectFdr",
    "OOCSelectFwe",
    "OOCGenericUnivariateSelect",
    "OOCVarianceThreshold",
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
    "StreamingMultiTaskElasticNet",
    "StreamingMultiTaskElasticNetCV",
    "StreamingMultiTaskLasso",
    "StreamingMultiTaskLassoCV",
    "StreamingGammaRegressor",
    "StreamingPoissonRegressor",
    "StreamingTweedieRegressor",
    "StreamingLinearRegression",
    "StreamingRidge",
    "StreamingRidgeCV",
    "StreamingLogisticRegression",
    "OOCLinearDiscriminantAnalysis",
    "OOCQuadraticDiscriminantAnalysis",
    "OOCKernelRidge",
    "StreamingSGDClassifier",
    "StreamingSGDRegressor",
    "OOCKBinsDiscretizer",
    "OOCOneHotEncoder",
    "OOCOrdinalEncoder",
    "OOCQuantileTransformer",
    "OOCRobustScaler",
    "OOCSimpleImputer",
    "OOCSplineTransformer",
}

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# -- data -------------------------------------------------------------------------


def _problem(case, n=N, seed=0, n_classes=3):
    """Rows of ``case``, their classes, a regression target, and the offset.

    The classes and the target are functions of the standardized rows, so
    every kind of data holds the same problem.
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3)) @ [[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]
    scores = Z @ rng.normal(size=(3, n_classes)) + rng.normal(size=(n, n_classes))
    labels = np.argmax(scores, axis=1)
    Z += 1.5 * labels[:, None]
    y = (Z / Z.std(axis=0)) @ [1.0, -2.0, 0.5] + rng.normal(size=n)
    offset = 0.0
    if case == "offset":
        offset = OFFSET
        X = Z * SPREAD + offset
    elif case == "scales":
        X = Z * np.logspace(-5, 5, 3)
    elif case == "near_duplicate":
        X = Z.copy()
        X[:, 2] = X[:, 0] + 1e-9 * rng.normal(size=n)
    else:
        raise ValueError(case)
    return X, np.array(["a", "b", "c"])[labels], y, offset


@pytest.fixture
def memmap(tmp_path):
    """Save an array to a .npy file and open it as a read-only memory map."""
    counter = iter(range(1000))

    def open_(array):
        path = tmp_path / f"X{next(counter)}.npy"
        np.save(path, array)
        return np.load(path, mmap_mode="r")

    return open_


# -- helpers ----------------------------------------------------------------------


def _float_attributes(estimator):
    """The public fitted attributes (``name_``) that hold floats."""
    for name, value in vars(estimator).items():
        if name.startswith("_") or not name.endswith("_"):
            continue
        if isinstance(value, list | tuple):
            try:
                value = np.asarray(value)
            except ValueError:  # ragged
                continue
        if isinstance(value, float | np.floating) or (
            isinstance(value, np.ndarray) and value.dtype.kind == "f"
        ):
            yield name, np.asarray(value)


def _assert_finite(ours, ref=None, outputs=()):
    """Every float fitted attribute and output of ``ours`` is finite, except
    where the reference's own attribute is not."""
    checked = 0
    for name, value in _float_attributes(ours):
        if ref is not None and hasattr(ref, name):
            reference = np.asarray(getattr(ref, name), dtype=np.float64)
            if not np.all(np.isfinite(reference)):
                continue
        assert np.all(np.isfinite(value)), f"{name} is not finite: {value}"
        checked += 1
    assert checked > 0
    for i, output in enumerate(outputs):
        assert np.all(np.isfinite(output)), f"output {i} is not finite"


def _close(actual, desired, rtol, scale=None, err_msg=""):
    """``|actual - desired| <= rtol * scale`` entrywise, ``scale`` the largest
    entry of ``desired`` unless given: a normwise relative comparison, which
    is what rounding bounds give for matrices and vectors."""
    desired = np.asarray(desired, dtype=np.float64)
    if scale is None:
        scale = np.abs(desired).max()
    assert_allclose(actual, desired, rtol=0, atol=rtol * scale, err_msg=err_msg)


def test_every_estimator_with_a_reference_is_tested_here():
    names = {name for name, _ in all_estimators()}
    assert names - WITHOUT_REFERENCE == TESTED_HERE


# -- OOCGaussianMixture -----------------------------------------------------------


def _mixture_start(X, offset, covariance_type, k):
    """Means on the first rows, precisions from the spread of the data."""
    variance = np.var(np.asarray(X) - offset, axis=0)
    d = X.shape[1]
    precisions = {
        "full": np.array([np.diag(1 / variance)] * k),
        "tied": np.diag(1 / variance),
        "diag": np.ones((k, d)) / variance,
        "spherical": np.ones(k) / variance.mean(),
    }[covariance_type]
    return {
        "n_components": k,
        "covariance_type": covariance_type,
        "weights_init": np.full(k, 1.0 / k),
        "means_init": np.array(X[:k], dtype=np.float64),
        "precisions_init": precisions,
        "tol": 0.0,
        "max_iter": 8,
    }


def _translated_mixture(X, offset, params):
    """GaussianMixture on ``X - offset``: the same model, moved to the origin.

    At the offset scikit-learn computes tied, diagonal and spherical
    covariances from raw second moments and fails ("ill-defined empirical
    covariance") where the model is well defined, and its diagonal and
    spherical log-probabilities expand ``|x - mean|^2`` and lose every digit.
    The mixture is equivariant under translation: the reference is fitted,
    and predicts, on the translated rows.
    """
    params = {**params, "means_init": params["means_init"] - offset}
    return GaussianMixture(**params).fit(np.asarray(X) - offset)


def _assert_same_mixture(ours, ref, X, offset, rtol, spread):
    """``ref`` is fitted on ``X - offset``."""
    assert ours.n_iter_ == ref.n_iter_
    _close(ours.weights_, ref.weights_, rtol, err_msg="weights_")
    # Means at the offset are numbers of size 1e8: compared to the spread.
    _close(ours.means_ - offset, ref.means_, rtol, spread, "means_")
    for name in ("covariances_", "precisions_", "precisions_cholesky_"):
        _close(getattr(ours, name), getattr(ref, name), rtol, err_msg=name)
    assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=rtol)
    assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=rtol)
    translated = np.asarray(X) - offset
    proba = ours.predict_proba(X)
    _close(proba, ref.predict_proba(translated), rtol, 1.0, "predict_proba")
    scores = ours.score_samples(X)
    _close(scores, ref.score_samples(translated), rtol, err_msg="score_samples")
    assert_array_equal(ours.predict(X), ref.predict(translated))
    _assert_finite(ours, ref, outputs=(proba, scores))


# offset: parameters in raw coordinates are defined to QUANTUM (measured up to
# 1e-6 on the probabilities); near_duplicate: reg_covar=1e-6 added to a
# covariance with a zero eigenvalue makes it conditioned at ~1e6, so the
# precisions carry ~1e6 * eps = 2e-10 of rounding (measured 2e-10).
MIXTURE_RTOL = {"offset": 10 * QUANTUM, "scales": 1e-12, "near_duplicate": 1e-8}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", CASES)
def test_gaussian_mixture(memmap, case, covariance_type):
    X, _, _, offset = _problem(case)
    params = _mixture_start(X, offset, covariance_type, k=2)
    ours = OOCGaussianMixture(batch_size=BATCH, **params).fit(memmap(X))
    ref = _translated_mixture(X, offset, params)
    spread = np.sqrt(np.var(X - offset, axis=0).max())
    _assert_same_mixture(ours, ref, X, offset, MIXTURE_RTOL[case], spread)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_mixture_component_that_loses_its_points(memmap, covariance_type):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, 3))
    X[: N // 2] += 3.0
    params = _mixture_start(X, 0.0, covariance_type, k=3)
    params["means_init"][2] = 1e3  # responsibilities exp(-1e6 / 2) = 0
    ours = OOCGaussianMixture(batch_size=BATCH, **params).fit(memmap(X))
    ref = GaussianMixture(**params).fit(X)
    # The component is empty in both (scikit-learn keeps 10 eps of weight).
    assert ref.weights_[2] < 1e-15 and ours.weights_[2] < 1e-15
    _assert_same_mixture(ours, ref, X, 0.0, 1e-12, 1.0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bayesian_gaussian_mixture(memmap, case, covariance_type):
    from sklearn.mixture import BayesianGaussianMixture

    from sklearn_ooc.mixture import OOCBayesianGaussianMixture

    X, _, _, offset = _problem(case)
    # The same start: k-means on all the rows (fewer than init_size), whose
    # hard assignments do not depend on the offset; the priors' defaults,
    # the data's mean and covariance, are ours at the offset and
    # scikit-learn's of the translated rows.
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        init_params="kmeans",
        random_state=0,
        max_iter=20,
    )
    ours = OOCBayesianGaussianMixture(batch_size=BATCH, **params).fit(memmap(X))
    ref = BayesianGaussianMixture(**params).fit(X - offset)
    assert ours.n_iter_ == ref.n_iter_
    spread = np.sqrt(np.var(X - offset, axis=0).max())
    _close(ours.means_ - offset, ref.means_, MIXTURE_RTOL[case], spread)
    _close(ours.weights_, ref.weights_, MIXTURE_RTOL[case], 1.0)
    assert_allclose(ours.lower_bound_, np.ravel(ref.lower_bound_)[0], rtol=1e-6)
    _assert_finite(ours, ref)


# -- OOCKMeans --------------------------------------------------------------------


def _assert_same_kmeans(ours, ref, X, offset, spread):
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    # Centers at the offset are defined to a few units of np.spacing(1e8).
    _close(
        ours.cluster_centers_ - offset,
        ref.cluster_centers_ - offset,
        1e-12 if offset == 0 else 10 * QUANTUM,
        spread,
    )
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)
    # KMeans.transform and predict expand |x - c|^2 without centering and
    # return noise at the offset: the distances are computed here directly.
    translated = np.asarray(X) - offset
    centers = ref.cluster_centers_ - offset
    expected = np.linalg.norm(translated[:, None, :] - centers[None], axis=2)
    distances = ours.transform(X)
    _close(distances, expected, 10 * QUANTUM, spread)
    assert_array_equal(ours.predict(X), np.argmin(expected, axis=1))
    score = ours.score(X)
    assert_allclose(score, -np.sum(expected.min(axis=1) ** 2), rtol=1e-5)
    _assert_finite(ours, ref, outputs=(distances, score))


@pytest.mark.parametrize("case", CASES)
def test_kmeans(memmap, case):
    # scikit-learn's KMeans subtracts the mean of the data before Lloyd's
    # iterations, so its fit at the offset is accurate: the raw reference.
    X, _, _, offset = _problem(case)
    init = X[:3].copy()
    ref = KMeans(3, init=init, n_init=1, algorithm="lloyd").fit(X)
    ours = OOCKMeans(3, init=init, batch_size=BATCH).fit(memmap(X))
    spread = np.sqrt(np.var(X - offset, axis=0).max())
    _assert_same_kmeans(ours, ref, memmap(X), offset, spread)


@pytest.mark.parametrize("case", CASES)
def test_kmeans_cluster_that_loses_its_points(memmap, case):
    X, _, _, offset = _problem(case)
    spread = np.sqrt(np.var(X - offset, axis=0).max())
    init = np.vstack([X[:3], X[:1] + 1e3 * spread])  # no row is nearest to it
    ref = KMeans(4, init=init, n_init=1, algorithm="lloyd").fit(X)
    ours = OOCKMeans(4, init=init, batch_size=BATCH).fit(memmap(X))
    # scikit-learn moves the empty center to the row farthest from its own.
    assert np.all(np.bincount(ref.labels_, minlength=4) > 0)
    assert np.abs(ours.cluster_centers_[3] - init[3]).max() > 100 * spread
    _assert_same_kmeans(ours, ref, memmap(X), offset, spread)


# -- covariance estimators ------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "name", ["EmpiricalCovariance", "ShrunkCovariance", "OAS", "LedoitWolf"]
)
def test_covariance(memmap, case, name):
    import sklearn.covariance

    import sklearn_ooc.covariance

    X, _, _, offset = _problem(case)
    ours = getattr(sklearn_ooc.covariance, "OOC" + name)(batch_size=BATCH)
    ours.fit(memmap(X))
    # scikit-learn's covariance loses digits at the offset: its reference is
    # fitted on the translated rows, whose covariance is the same.
    ref = getattr(sklearn.covariance, name)().fit(X - offset)
    scale = np.abs(ref.covariance_).max()
    assert_allclose(ours.covariance_, ref.covariance_, rtol=0, atol=1e-9 * scale)
    assert_allclose(ours.location_ - offset, ref.location_, rtol=0, atol=1e-6)


# -- naive Bayes and feature selection -----------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_gaussian_naive_bayes(memmap, case):
    from sklearn.naive_bayes import GaussianNB

    from sklearn_ooc.naive_bayes import OOCGaussianNB

    X, labels, _, offset = _problem(case)
    ours = OOCGaussianNB(batch_size=BATCH).fit(memmap(X), labels)
    # The model of the translated rows is the translated model.
    ref = GaussianNB().fit(X - offset, labels)
    scale = np.abs(ref.theta_).max()
    assert_allclose(
        ours.theta_ - offset, ref.theta_, rtol=0, atol=1e-9 * scale + EPS * offset
    )
    assert_allclose(ours.var_, ref.var_, rtol=1e-6)
    assert_array_equal(ours.predict(memmap(X)), ref.predict(X - offset))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB", "BernoulliNB"])
def test_discrete_naive_bayes(memmap, case, name):
    import sklearn.naive_bayes

    import sklearn_ooc.naive_bayes

    X, labels, _, _ = _problem(case)
    X = np.abs(X)  # counts and frequencies are non-negative
    ours = getattr(sklearn_ooc.naive_bayes, "OOC" + name)(batch_size=BATCH)
    ours.fit(memmap(X), labels)
    ref = getattr(sklearn.naive_bayes, name)().fit(X, labels)
    assert_allclose(ours.feature_count_, ref.feature_count_, rtol=1e-12)
    assert_allclose(ours.feature_log_prob_, ref.feature_log_prob_, rtol=1e-10)
    # At the offset the classes' log-likelihoods differ in their last digits
    # only (every feature is 1e8): the argmax is rounding, the values agree.
    assert_allclose(
        ours.predict_joint_log_proba(memmap(X)),
        ref.predict_joint_log_proba(X),
        rtol=1e-10,
    )


@pytest.mark.parametrize("case", CASES)
def test_categorical_naive_bayes(memmap, case):
    from sklearn.naive_bayes import CategoricalNB

    from sklearn_ooc.naive_bayes import OOCCategoricalNB

    X, labels, _, offset = _problem(case)
    # Categories: the rows' ranks in five bins of each column.
    codes = np.argsort(np.argsort(X - offset, axis=0), axis=0) * 5 // len(X)
    ours = OOCCategoricalNB(batch_size=BATCH).fit(memmap(codes), labels)
    ref = CategoricalNB().fit(codes, labels)
    for a, b in zip(ours.feature_log_prob_, ref.feature_log_prob_, strict=True):
        assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "name, params",
    [
        ("SelectKBest", dict(k=2)),
        ("SelectPercentile", dict(percentile=50)),
        ("SelectFpr", dict(alpha=0.01)),
        ("SelectFdr", dict(alpha=0.01)),
        ("SelectFwe", dict(alpha=0.01)),
        ("GenericUnivariateSelect", dict(mode="k_best", param=2)),
    ],
)
def test_univariate_selection(memmap, case, name, params):
    import sklearn.feature_selection

    import sklearn_ooc.feature_selection

    X, labels, _, offset = _problem(case)
    ours = getattr(sklearn_ooc.feature_selection, "OOC" + name)(
        batch_size=BATCH, **params
    ).fit(memmap(X), labels)
    # scikit-learn's sums of squares about the origin lose digits at the
    # offset: its reference scores the translated rows, whose scores are the
    # same.
    ref = getattr(sklearn.feature_selection, name)(**params).fit(X - offset, labels)
    assert_allclose(ours.scores_, ref.scores_, rtol=1e-6)
    assert_array_equal(ours.get_support(), ref.get_support())


@pytest.mark.parametrize("case", CASES)
def test_variance_threshold(memmap, case):
    from sklearn_ooc.feature_selection import OOCVarianceThreshold

    X, _, _, offset = _problem(case)
    ours = OOCVarianceThreshold(1e-12, batch_size=BATCH).fit(memmap(X))
    assert_allclose(ours.variances_, np.var(X - offset, axis=0), rtol=1e-7)


# -- the PLS family ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["PLSRegression", "PLSCanonical", "CCA"])
def test_pls(memmap, case, name):
    import sklearn.cross_decomposition

    import sklearn_ooc.cross_decomposition

    if name == "CCA" and case == "near_duplicate":
        pytest.skip(
            "CCA's pinv(X) on two columns equal to 1e-9: the weights go to their "
            "difference, a direction rounding decides (scikit-learn's too)"
        )
    X, _, y, offset = _problem(case)
    Y = np.column_stack([y, X[:, 0] - offset + y])
    ours = getattr(sklearn_ooc.cross_decomposition, "OOC" + name)(
        1, batch_size=BATCH
    ).fit(memmap(X), Y)
    # scikit-learn centers the rows first: on the translated rows its model
    # is the same, without the digits the offset costs.
    ref = getattr(sklearn.cross_decomposition, name)(1).fit(X - offset, Y)
    # On the ill-conditioned cases (columns of 1e-5 to 1e5, two columns
    # equal to 1e-9) the products route keeps fewer digits than scikit-learn's
    # deflated rows: the predictions agree to 1e-6 of their scale.
    # CCA's power method stops at tol=1e-6 on the squared change of the
    # weights, far from its fixed point: the two fits stop apart, by 1e-5.
    expected = ref.predict(X - offset)
    scale = np.abs(expected).max() * (1e-4 if name == "CCA" else 1e-6)
    assert_allclose(ours.predict(memmap(X)), expected, rtol=0, atol=scale)


# -- OOCTruncatedSVD ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_truncated_svd(memmap, case):
    from sklearn.decomposition import TruncatedSVD

    from sklearn_ooc.decomposition import OOCTruncatedSVD

    X, _, _, _ = _problem(case)
    ours = OOCTruncatedSVD(2, random_state=0, batch_size=BATCH).fit(memmap(X))
    # Not centered: the data as they are, for both. A singular value is known
    # to eps times the largest (at the offset, 3e9 beside 0.18), by either
    # solver.
    ref = TruncatedSVD(2, random_state=0).fit(X)
    atol = 10 * EPS * ref.singular_values_[0]
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-9, atol=atol)
    # Each power iteration here is one pass, A.T (A Q): the square of a
    # condition of 1.7e10 at the offset costs the second component digits
    # that scikit-learn's alternating QR keeps (measured against LAPACK's SVD
    # of the rows: 2e-7 here, 3e-9 there; 1e-16 both in the other cases).
    atol = 1e-6 if case == "offset" else 1e-12
    assert_allclose(ours.components_, ref.components_, rtol=0, atol=atol)


# -- OOCFactorAnalysis -----------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_factor_analysis(memmap, case):
    from sklearn.decomposition import FactorAnalysis

    from sklearn_ooc.decomposition import OOCFactorAnalysis

    X, _, _, offset = _problem(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = OOCFactorAnalysis(2, tol=1e-6, batch_size=BATCH).fit(memmap(X))
        # scikit-learn centers the rows before its SVD: on the translated rows
        # its model is the same, without the digits the offset costs.
        ref = FactorAnalysis(2, svd_method="lapack", tol=1e-6).fit(X - offset)
    if case != "offset":
        # Columns 1e-5 to 1e5, or two columns equal to 1e-9: the noise of a
        # column falls to its floor or the scaled covariance's eigenvalues
        # span ten orders, and its eigen-decomposition keeps eps times the
        # largest, where scikit-learn's SVD of the rows keeps the square root.
        # The route of the covariance costs digits of the noise variances
        # there (1e-3); the honest property is the fit: our model is as
        # likely as scikit-learn's, to 1e-8.
        X_ref = X - offset
        assert ours.score(X) >= ref.score(X_ref) - 1e-8 * abs(ref.score(X_ref))
        assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-3)
        return
    scale = np.abs(ref.get_covariance()).max()
    assert_allclose(ours.get_covariance(), ref.get_covariance(), atol=1e-12 * scale)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.loglike_, ref.loglike_, rtol=1e-9)
    assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-9)


# -- OOCPCA -----------------------------------------------------------------------


def _pca_tolerances(ref):
    """Rounding of an eigen-decomposition of the covariance: ``eps * largest``
    on the variances (absolute), ``eps * largest / gap`` on the components.
    That is the precision of the covariance route ours takes (as scikit-learn's
    ``svd_solver='covariance_eigh'``); the SVD of the reference is better."""
    variances = ref.explained_variance_
    gap = np.min(-np.diff(variances))
    return 10 * EPS * variances[0], 10 * EPS * variances[0] / gap


@pytest.mark.parametrize("case", CASES)
def test_pca(memmap, case):
    X, _, _, offset = _problem(case)
    data = memmap(X)
    ours = OOCPCA(svd_solver="full", batch_size=BATCH).fit(data)
    # PCA computes the mean in pairwise summation and subtracts it: at the
    # offset the reference loses ~1e-11 of the variances (measured); on the
    # translated rows it does not, and the covariance is the same.
    ref = PCA(svd_solver="full").fit(X - offset)
    variance_atol, component_atol = _pca_tolerances(ref)
    assert ours.n_components_ == ref.n_components_ == 3
    assert_allclose(ours.components_, ref.components_, rtol=0, atol=component_atol)
    assert_allclose(
        ours.explained_variance_, ref.explained_variance_, rtol=0, atol=variance_atol
    )
    assert_allclose(
        ours.explained_variance_ratio_,
        ref.explained_variance_ratio_,
        rtol=0,
        atol=variance_atol / ref.explained_variance_.sum(),
    )
    assert_allclose(
        ours.singular_values_**2,
        ref.singular_values_**2,
        rtol=0,
        atol=variance_atol * (N - 1),
    )
    _close(ours.mean_ - offset, ref.mean_, 10 * QUANTUM, SPREAD if offset else None)
    projected = ours.transform(data)
    row_norm = np.linalg.norm(X - X.mean(axis=0), axis=1).max()
    assert_allclose(
        projected,
        ref.transform(X - offset),
        rtol=0,
        atol=component_atol * row_norm + (10 * QUANTUM * SPREAD if offset else 0),
    )
    back = ours.inverse_transform(projected)
    assert_allclose(back - offset, X - offset, rtol=0, atol=1e-9 * row_norm)
    _assert_finite(ours, ref, outputs=(projected, back))


@pytest.mark.parametrize(
    "case",
    [
        "offset",
        "scales",
    ],
)
def test_pca_score(memmap, case):
    # With near-duplicate columns scikit-learn's own score is -inf (its
    # covariance is singular to working precision): no reference to meet.
    X, _, _, offset = _problem(case)
    ours = OOCPCA(svd_solver="full", batch_size=BATCH).fit(memmap(X))
    ref = PCA(svd_solver="full").fit(X - offset)
    reference = ref.score(X - offset)
    assert np.isfinite(reference)
    # The log-likelihood is a sum of O(1) terms: 1e-9 covers the rounding
    # (translated rows: measured 2e-14; the raw reference loses 7e-12).
    assert_allclose(ours.score(memmap(X)), reference, rtol=1e-9)
    # Each row's log-likelihood moves with mean_, defined at the offset to
    # QUANTUM of the spread; the errors cancel in the mean over the rows
    # (their centered sum is zero), not row by row.
    assert_allclose(
        ours.score_samples(memmap(X)),
        ref.score_samples(X - offset),
        rtol=10 * QUANTUM if offset else 1e-9,
    )


def _svd_precision(ref):
    """Relative precision of the reference's variances: the SVD has every
    singular value to ``eps * s_max``, so ``s_k**2`` to
    ``2 eps s_max / s_k`` (times a small factor); at least 1e-12."""
    s = ref.singular_values_
    return max(1e-12, 20 * EPS * s[0] / s[-1])


@pytest.mark.parametrize("case", ["offset", "scales", "near_duplicate"])
def test_pca_variances_to_the_precision_of_the_reference(memmap, case):
    X, _, _, offset = _problem(case)
    ours = OOCPCA(svd_solver="full", batch_size=BATCH).fit(memmap(X))
    ref = PCA(svd_solver="full").fit(X - offset)
    rtol = _svd_precision(ref)  # 2e-14, 6e-5 and 2e-5 for the three cases
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=rtol)
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=rtol)


@pytest.mark.parametrize("case", ["offset", "scales", "near_duplicate"])
def test_pca_whiten(memmap, case):
    X, _, _, offset = _problem(case)
    data = memmap(X)
    ours = OOCPCA(whiten=True, svd_solver="full", batch_size=BATCH).fit(data)
    ref = PCA(whiten=True, svd_solver="full").fit(X - offset)
    whitened = ours.transform(data)
    back = ours.inverse_transform(whitened)
    assert np.all(np.isfinite(ref.transform(X - offset)))
    _assert_finite(ours, ref, outputs=(whitened, back))
    # Whitened columns have unit variance, to the precision of the variances.
    variance = np.var(whitened, axis=0, ddof=1)
    assert_allclose(variance, 1.0, rtol=_svd_precision(ref))
    row_norm = np.linalg.norm(X - X.mean(axis=0), axis=1).max()
    assert_allclose(back - offset, X - offset, rtol=0, atol=1e-9 * row_norm)


# -- StreamingLinearRegression -----------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_linear_regression(memmap, case):
    X, _, y, offset = _problem(case)
    data = memmap(X)
    ours = StreamingLinearRegression(batch_size=BATCH).fit(data, y)
    # scikit-learn centers the offset rows with a mean rounded at their size
    # (1e8), which costs its singular values 1e-11 and its coefficients 2e-8
    # at this spread; the factor of the shifted rows keeps them. The
    # reference is fitted on the translated rows (exact: X - offset loses
    # nothing), the same model.
    ref = LinearRegression().fit(X - offset, y)
    # The factor of the rows has their singular values to rounding, and the
    # same cutoff (tol) decides the rank: the near-duplicate column and the
    # column of scale 1e-5 beside one of 1e5 fall below it in both.
    assert ours.rank_ == ref.rank_
    _close(ours.singular_, ref.singular_, 1e-12, err_msg="singular_")
    _close(ours.coef_, ref.coef_, 1e-9, err_msg="coef_")
    intercept = ref.intercept_ - ref.coef_ @ np.full(3, offset)
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum()
    assert_allclose(ours.intercept_, intercept, rtol=1e-10, atol=rounding)
    prediction = ours.predict(data)
    assert_allclose(prediction, ref.predict(X - offset), rtol=1e-10, atol=rounding)
    _assert_finite(ours, ref, outputs=(prediction,))


@pytest.mark.parametrize("case", CASES)
def test_bayesian_ridge(memmap, case):
    X, _, y, offset = _problem(case)
    ours = StreamingBayesianRidge(batch_size=BATCH).fit(memmap(X), y)
    # As for LinearRegression: the reference on the translated rows.
    ref = BayesianRidge().fit(X - offset, y)
    for name in ("coef_", "sigma_"):
        _close(getattr(ours, name), getattr(ref, name), 1e-8, err_msg=name)
    assert_allclose([ours.alpha_, ours.lambda_], [ref.alpha_, ref.lambda_], rtol=1e-8)
    intercept = ref.intercept_ - ref.coef_ @ np.full(3, offset)
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum()
    assert_allclose(ours.intercept_, intercept, rtol=1e-9, atol=rounding)
    _, std = ours.predict(memmap(X), return_std=True)
    assert_allclose(std, ref.predict(X - offset, return_std=True)[1], rtol=1e-8)
    _assert_finite(ours, ref, outputs=(std,))


@pytest.mark.parametrize("case", CASES)
def test_ard_regression(memmap, case):
    X, _, y, offset = _problem(case)
    ours = StreamingARDRegression(batch_size=BATCH).fit(memmap(X), y)
    ref = ARDRegression().fit(X - offset, y)
    for name in ("coef_", "lambda_", "sigma_"):
        _close(getattr(ours, name), getattr(ref, name), 1e-7, err_msg=name)
    assert_allclose(ours.alpha_, ref.alpha_, rtol=1e-8)
    intercept = ref.intercept_ - ref.coef_ @ np.full(3, offset)
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum()
    assert_allclose(ours.intercept_, intercept, rtol=1e-9, atol=rounding)
    _, std = ours.predict(memmap(X), return_std=True)
    assert_allclose(std, ref.predict(X - offset, return_std=True)[1], rtol=1e-7)
    _assert_finite(ours, ref, outputs=(std,))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("family", ["poisson", "gamma", "tweedie"])
def test_glm(memmap, case, family):
    X, _, y, offset = _problem(case)
    mean = np.exp(0.3 * (y - y.mean()) / y.std())
    rng = np.random.default_rng(1)
    target = rng.poisson(mean).astype(float) if family != "gamma" else mean
    ours_cls, ref_cls, params = {
        "poisson": (StreamingPoissonRegressor, PoissonRegressor, {}),
        "gamma": (StreamingGammaRegressor, GammaRegressor, {}),
        "tweedie": (StreamingTweedieRegressor, TweedieRegressor, {"power": 1.5}),
    }[family]
    ours = ours_cls(alpha=1e-3, tol=1e-12, batch_size=BATCH, **params)
    ours.fit(memmap(X), target)
    # The reference on the translated rows: the same model (the intercept
    # takes the translation), scikit-learn's Newton solver to its limit.
    ref = ref_cls(alpha=1e-3, solver="newton-cholesky", tol=1e-14, **params)
    ref.fit(X - offset, target)
    # The column scales 1e-5 ... 1e5 condition the Hessian at ~1e20 there:
    # the coefficients agree to what that conditioning leaves.
    rtol = 1e-4 if case == "scales" else 1e-8
    _close(ours.coef_, ref.coef_, rtol, err_msg="coef_")
    prediction = ours.predict(memmap(X))
    # The linear predictor at the offset is a difference of terms of size
    # |X| |coef|, exact to their rounding (the log link makes it relative).
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum()
    assert_allclose(
        np.log(prediction),
        np.log(ref.predict(X - offset)),
        rtol=0,
        atol=rtol + rounding,
    )
    _assert_finite(ours, ref, outputs=(prediction,))


# -- StreamingLasso, StreamingElasticNet and their CV versions --------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "name, params",
    [("Lars", {}), ("LassoLars", dict(alpha=0.01)), ("LassoLarsIC", {})],
)
def test_least_angle(memmap, case, name, params):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, _, y, offset = _problem(case)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(**params)
    ours.fit(memmap(X), y, batch_size=BATCH)
    # scikit-learn's path from the Gram of the centered rows, as ours.
    ref = getattr(sklearn.linear_model, name)(precompute=True, **params)
    ref.fit(X - offset, y)
    spread = X.std(axis=0)
    _close(ours.coef_ * spread, ref.coef_ * spread, 1e-7, err_msg="coef_")
    _close(ours.alphas_, ref.alphas_, 1e-7, err_msg="alphas_")
    # Predictions at the offset are differences of terms of size |X| |coef|,
    # as in test_ridge.
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum()
    prediction = ours.predict(memmap(X))
    assert_allclose(prediction, ref.predict(X - offset), rtol=1e-7, atol=rounding)
    _assert_finite(ours, ref, outputs=(prediction,))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["LarsCV", "LassoLarsCV"])
def test_least_angle_cv(memmap, case, name):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, _, y, offset = _problem(case)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(cv=3)
    ours.fit(memmap(X), y, batch_size=BATCH)
    ref = getattr(sklearn.linear_model, name)(cv=3, precompute=True)
    ref.fit(X - offset, y)
    best = ours.mse_path_.mean(axis=1).min()
    assert best == pytest.approx(ref.mse_path_.mean(axis=1).min(), rel=1e-6)
    _assert_finite(ours, ref)
    if case == "near_duplicate":
        # The near-duplicate column enters the paths at alphas of 1e-11
        # decided by the rounding of its 1e-9 difference (in scikit-learn's
        # paths too): which of those near-zero alphas wins is rounding.
        return
    assert_allclose(ours.cv_alphas_, ref.cv_alphas_, rtol=1e-7)
    # As test_lasso_and_elastic_net_cv: QUANTUM relative at the offset.
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5 if offset else 1e-7)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-7)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["MultiTaskLasso", "MultiTaskElasticNet"])
def test_multi_task_lasso_and_elastic_net(memmap, case, name):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, _, y, offset = _problem(case)
    Y = np.column_stack([y, np.roll(y, 1)])
    params = dict(alpha=0.05, tol=1e-14, max_iter=100_000)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(**params)
    ours.fit(memmap(X), Y, batch_size=BATCH)
    # scikit-learn descends on the centered rows, we on their Gram: the
    # same sweeps, products rounded in another order.
    ref = getattr(sklearn.linear_model, name)(**params).fit(X - offset, Y)
    spread = X.std(axis=0)
    _close(ours.coef_ * spread, ref.coef_ * spread, 1e-7, err_msg="coef_")
    prediction = ours.predict(memmap(X))
    assert_allclose(prediction, ref.predict(X - offset), rtol=1e-7, atol=1e-7)
    _assert_finite(ours, ref, outputs=(prediction,))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["MultiTaskLassoCV", "MultiTaskElasticNetCV"])
def test_multi_task_lasso_and_elastic_net_cv(memmap, case, name):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, _, y, offset = _problem(case)
    Y = np.column_stack([y, np.roll(y, 1)])
    params = dict(cv=3, alphas=10, tol=1e-14, max_iter=100_000)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(**params)
    ours.fit(memmap(X), Y, batch_size=BATCH)
    ref = getattr(sklearn.linear_model, name)(**params).fit(X - offset, Y)
    assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-9)
    # As test_lasso_and_elastic_net_cv: QUANTUM relative at the offset.
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5 if offset else 1e-7)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-9)
    _assert_finite(ours, ref)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["Lasso", "ElasticNet"])
def test_lasso_and_elastic_net(memmap, case, name):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, _, y, offset = _problem(case)
    params = dict(alpha=0.05, tol=1e-14, max_iter=100_000)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(**params)
    ours.fit(memmap(X), y, batch_size=BATCH)
    # scikit-learn with precompute=True descends on the Gram of the centered
    # rows as we do; the translated rows are the same model.
    ref = getattr(sklearn.linear_model, name)(precompute=True, **params)
    ref.fit(X - offset, y)
    # The descent amplifies the rounding of the Gram by its conditioning
    # (1e20 before scaling for the scales case, where scikit-learn's own
    # Gram rounds alike): normwise in units of each column's spread.
    spread = X.std(axis=0)
    _close(ours.coef_ * spread, ref.coef_ * spread, 1e-7, err_msg="coef_")
    prediction = ours.predict(memmap(X))
    assert_allclose(prediction, ref.predict(X - offset), rtol=1e-7, atol=1e-7)
    _assert_finite(ours, ref, outputs=(prediction,))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["LassoCV", "ElasticNetCV"])
def test_lasso_and_elastic_net_cv(memmap, case, name):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, _, y, offset = _problem(case)
    params = dict(cv=3, alphas=10, tol=1e-14, max_iter=100_000)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(**params)
    ours.fit(memmap(X), y, batch_size=BATCH)
    ref = getattr(sklearn.linear_model, name)(precompute=True, **params)
    ref.fit(X - offset, y)
    assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-9)
    # Fold errors are quadratic forms in the fold statistics: at the offset
    # the residual means are differences of terms 1e10 times the residuals
    # (QUANTUM relative, as in test_ridge_cv; measured 6e-7).
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5 if offset else 1e-7)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-9)
    _assert_finite(ours, ref)


# -- StreamingRidge and StreamingRidgeCV ------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_ridge(memmap, case):
    # Ridge centers X itself (a pairwise-summed mean), so the raw reference
    # is accurate at the offset too.
    X, _, y, offset = _problem(case)
    data = memmap(X)
    ours = StreamingRidge(alpha=1.0, batch_size=BATCH).fit(data, y)
    ref = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    # Cholesky's error depends on the conditioning of X^T X + I after
    # diagonal scaling (van der Sluis), which the column scales 1e-5 ... 1e5
    # leave at ~10, and the near-duplicate direction is held by alpha=1 at
    # ~1e3: 1e-10 normwise is generous (measured 9e-14 at most).
    _close(ours.coef_, ref.coef_, 1e-10, err_msg="coef_")
    # Intercept and predictions at the offset are differences of terms of
    # size |X| |coef| = 3e10: exact to the rounding of those terms.
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum()
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=rounding)
    prediction = ours.predict(data)
    assert_allclose(prediction, ref.predict(X), rtol=1e-10, atol=rounding)
    _assert_finite(ours, ref, outputs=(prediction,))


@pytest.mark.parametrize("case", CASES)
def test_ridge_cv(memmap, case):
    X, _, y, offset = _problem(case)
    alphas = [1e-3, 1.0, 1e3]
    ours = StreamingRidgeCV(alphas=alphas, cv=5, batch_size=BATCH).fit(memmap(X), y)
    # GridSearchCV scores Ridge's predictions, which at the offset round at
    # |X| |coef| = 3e10 (its scores move by 4e-7 between raw and translated
    # rows): the reference is fitted on the translated rows, the same model.
    ref = GridSearchCV(Ridge(solver="cholesky"), {"alpha": alphas}, cv=KFold(5))
    ref.fit(X - offset, y)
    assert ours.alpha_ == ref.best_params_["alpha"]
    # Our fold scores are quadratic forms in the fold statistics; at the
    # offset the fold residual means are differences of 3e10-sized terms,
    # ~1e-6 of the residual spread (measured 6e-8 on the R^2).
    rtol = 1e-6 if offset else 1e-10
    for key in ["mean_test_score"] + [f"split{k}_test_score" for k in range(5)]:
        _close(ours.cv_results_[key], ref.cv_results_[key], rtol, 1.0, key)
    assert_array_equal(
        ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"]
    )
    best = ref.best_estimator_
    _close(ours.coef_, best.coef_, 1e-10, err_msg="coef_")
    rounding = 100 * EPS * np.abs(X).max() * np.abs(best.coef_).sum()
    assert_allclose(
        ours.intercept_,
        best.intercept_ - best.coef_ @ np.full(3, offset),
        rtol=1e-10,
        atol=rounding,
    )
    _assert_finite(ours, best, outputs=(ours.predict(memmap(X)),))


# -- StreamingLogisticRegression --------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_logistic_regression(memmap, case):
    X, labels, _, offset = _problem(case)
    data = memmap(X)
    ours = StreamingLogisticRegression(tol=1e-10, max_iter=100, batch_size=BATCH)
    ours.fit(data, labels)
    # newton-cholesky does not center X: at the offset the intercept column
    # is 1e8 times the spread of the others and scikit-learn returns, without
    # a warning, coefficients wrong by a factor 1e9. The reference is fitted
    # on the translated rows, the same model with the intercept moved.
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=1000)
    ref.fit(X - offset, labels)
    assert_array_equal(ours.classes_, ref.classes_)
    # Both Newton iterations stop at tol=1e-10 on the gradient; the Hessian's
    # conditioning (1e10 in the scales case, with the 1 / C = 1 penalty)
    # leaves 1e-11 normwise (measured).
    _close(ours.coef_, ref.coef_, 1e-8, err_msg="coef_")
    # In raw coordinates the intercept is -coef . 1e8 (4.6e8): rounded at
    # |coef| |X| eps, and so are the decision values.
    rounding = 100 * EPS * np.abs(X).max() * np.abs(ref.coef_).sum(axis=1).max()
    intercept = ref.intercept_ - ref.coef_ @ np.full(3, offset)
    assert_allclose(ours.intercept_, intercept, rtol=1e-8, atol=rounding)
    decision = ours.decision_function(data)
    reference = ref.decision_function(X - offset)
    # Adding one vector to the coefficients of every class changes neither
    # the likelihood nor the probabilities; only the penalty pins it, at a
    # curvature of 1 against 1e10 * n (scales case). Both solvers leave it
    # at a few 1e-10 on the 1e5 column: decision values move together by
    # up to 1e-4 per row. The probabilities depend on the rest.
    centered = decision - decision.mean(axis=1, keepdims=True)
    expected = reference - reference.mean(axis=1, keepdims=True)
    scale = np.abs(expected).max()
    assert_allclose(centered, expected, rtol=0, atol=1e-8 * scale + rounding)
    assert np.all(np.abs(decision - reference) < 1e-3)
    proba = ours.predict_proba(data)
    assert_allclose(proba, ref.predict_proba(X - offset), rtol=0, atol=1e-8 + rounding)
    assert_array_equal(ours.predict(data), ref.predict(X - offset))
    _assert_finite(ours, ref, outputs=(decision, proba))


# -- OOCLinearDiscriminantAnalysis ------------------------------------------------


def _fit_lda(estimator, X, labels):
    try:
        return estimator.fit(X, labels)
    except LinAlgError as error:
        return error


def _unresolved(covariance):
    """Eigenvectors of a covariance whose eigenvalue is below its rounding
    (``n_features * eps * largest``): along them the coefficients
    ``covariance^-1 means`` are decided by rounding, in scikit-learn too."""
    values, vectors = np.linalg.eigh(covariance)
    return vectors[:, values <= len(values) * EPS * values.max()]


def _raw_coef(ref, offset):
    """The reference's coefficients in raw coordinates.

    With two classes ``coef_`` is ``cov^-1 (mean_1 - mean_0)``, the same
    after a translation; with more, each class has ``cov^-1 mean_k``, which
    moves by ``cov^-1 offset``.
    """
    if len(ref.classes_) == 2:
        return ref.coef_
    return ref.coef_ + np.linalg.solve(ref.covariance_, np.full(3, offset))


# With three classes and the offset, scikit-learn's per-class coefficients are
# 1e12 and its decision values in raw coordinates 1e20 (exactly: they share a
# per-row term c^T cov^-1 x of that size): their differences are below the
# rounding of float64 whatever the arithmetic, so that pair is not asked for.
LDA_CASES = [
    (case, n_classes, solver)
    for case in CASES
    for n_classes in (2, 3)
    for solver in ("lsqr", "eigen")
    if not (case == "offset" and n_classes == 3)
]


@pytest.mark.parametrize("case, n_classes, solver", LDA_CASES)
def test_lda_statistics_and_coefficients(memmap, case, n_classes, solver):
    X, labels, _, offset = _problem(case, n_classes=n_classes)
    ours = _fit_lda(
        OOCLinearDiscriminantAnalysis(solver=solver, batch_size=BATCH),
        memmap(X),
        labels,
    )
    # scikit-learn's class means and covariances are accurate at the offset;
    # the reference is fitted on the translated rows so that its intercepts
    # are too (see test_lda_decisions).
    ref = _fit_lda(LinearDiscriminantAnalysis(solver=solver), X - offset, labels)
    if case == "near_duplicate" and solver == "eigen":
        # eigh(between, within) needs a Cholesky factor of the within-class
        # covariance, whose smallest eigenvalue (1e-18) is below the rounding
        # (eps * 1) of any way to compute it: the factor exists or not by
        # rounding, in scikit-learn too: on seeds 0 to 7 of this data both
        # fail on 5 (two classes) or 3 (three classes), and one of the two on
        # each of the others, ours as often as scikit-learn. Asserted: no
        # NaN, and a failure is scipy's, which says what failed, as for
        # scikit-learn.
        for outcome in (ours, ref):
            if isinstance(outcome, LinAlgError):
                assert "not positive definite" in str(outcome)
        if not isinstance(ours, LinAlgError):
            _assert_finite(ours)
        return
    assert not isinstance(ref, Exception) and not isinstance(ours, Exception)
    assert_array_equal(ours.classes_, ref.classes_)
    assert_allclose(ours.priors_, ref.priors_, rtol=1e-15)
    spread = SPREAD if offset else None
    _close(ours.means_ - offset, ref.means_, 10 * QUANTUM, spread, "means_")
    _close(ours.covariance_, ref.covariance_, 1e-12, err_msg="covariance_")
    # The coefficients come, as in scikit-learn, from the means in raw
    # coordinates: at the offset means defined to QUANTUM of the spread
    # (measured 1e-6). In the scales case lstsq of a covariance conditioned
    # at 1e20 leaves 1e-10 (measured 1.4e-10). With near-duplicate columns
    # they are compared where the covariance is resolved: scikit-learn's
    # lstsq keeps a 4e-16 singular value of its covariance that is rounding
    # (the true one is 1e-18) and puts 1.3e5 along it, ours drops its own.
    rtol = {"offset": 10 * QUANTUM, "scales": 1e-9, "near_duplicate": 1e-10}[case]
    null = _unresolved(ref.covariance_)
    resolved = np.eye(3) - null @ null.T
    expected = _raw_coef(ref, offset)
    _close(ours.coef_ @ resolved, expected @ resolved, rtol, err_msg="coef_")
    if solver == "eigen":
        assert_allclose(
            ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol
        )
    _assert_finite(ours, ref)


@pytest.mark.parametrize(
    "case, n_classes, solver",
    [
        params
        for params in LDA_CASES
        if params[0] != "near_duplicate" or params[2] != "eigen"
    ],
)
def test_lda_decisions(memmap, case, n_classes, solver):
    X, labels, _, offset = _problem(case, n_classes=n_classes)
    data = memmap(X)
    ours = OOCLinearDiscriminantAnalysis(solver=solver, batch_size=BATCH)
    ours.fit(data, labels)
    ref = LinearDiscriminantAnalysis(solver=solver).fit(X - offset, labels)
    decision = ours.decision_function(data)
    reference = ref.decision_function(X - offset)
    if n_classes > 2:
        # Per-class scores are defined up to a common per-row term (with an
        # offset c it is c^T cov^-1 x); the probabilities depend on the rest.
        decision = decision - decision.mean(axis=1, keepdims=True)
        reference = reference - reference.mean(axis=1, keepdims=True)
    # The decision values are O(10); lstsq in the scales case leaves 1e-10.
    # Along an unresolved direction v of the covariance the coefficients are
    # rounding noise, weighed by the rows' and the means' tiny extent along v.
    null = _unresolved(ref.covariance_)
    noise = np.abs(ours.coef_ @ null).max(initial=0) + np.abs(
        _raw_coef(ref, offset) @ null
    ).max(initial=0)
    extent = np.abs((X - offset) @ null).max(initial=0) + np.abs(ref.means_ @ null).max(
        initial=0
    )
    atol = 1e-8 * np.abs(reference).max() + 2 * noise * extent
    assert_allclose(decision, reference, rtol=0, atol=atol, err_msg="decision")
    proba = ours.predict_proba(data)
    assert_allclose(proba, ref.predict_proba(X - offset), rtol=0, atol=atol)
    assert_array_equal(ours.predict(data), ref.predict(X - offset))
    _assert_finite(ours, ref, outputs=(decision, proba))


# -- OOCQuadraticDiscriminantAnalysis ---------------------------------------------


@pytest.mark.parametrize("solver", ["svd", "eigen"])
@pytest.mark.parametrize("case", CASES)
def test_qda_refuses_rank_deficiency_like_sklearn(memmap, case, solver):
    # tol=1e-4 is an absolute floor on the class variances: the offset data
    # (variances 1e-4), the 1e-5 column (1e-10) and the near-duplicate
    # direction (1e-18) are all below it, for scikit-learn as for us.
    X, labels, _, _ = _problem(case)
    param = "reg_param" if solver == "svd" else "shrinkage"
    message = (
        r"The covariance matrix of class a is not full rank\. "
        rf"Increase the value of `{param}`"
    )
    with pytest.raises(LinAlgError, match=message):
        QuadraticDiscriminantAnalysis(solver=solver).fit(X, labels)
    with pytest.raises(LinAlgError, match=message):
        OOCQuadraticDiscriminantAnalysis(solver=solver, batch_size=BATCH).fit(
            memmap(X), labels
        )


# The parameters that make each problem well posed, and the tolerance on the
# decision values. In the scales case the class covariances span 1e-10 ...
# 1e10, and an eigen-decomposition of them (ours, for both solvers) agrees
# with the SVD of the class rows (scikit-learn's solver='svd') to ~1e-5:
# scikit-learn's own solver='eigen' is 4.5e-6 from its SVD on this data, ours
# 9e-6 (and 4.6e-6 from scikit-learn's eigen).
QDA_CASES = [
    ("offset", {"tol": 1e-10}, 10 * QUANTUM),
    ("scales", {"tol": 1e-14}, 2e-5),
    ("scales", {"reg_param": 0.01}, 2e-5),
    ("near_duplicate", {"reg_param": 0.01}, 1e-12),
    ("near_duplicate", {"solver": "eigen", "shrinkage": 0.1}, 1e-12),
]


@pytest.mark.parametrize("case, params, rtol", QDA_CASES)
def test_qda(memmap, case, params, rtol):
    X, labels, _, offset = _problem(case)
    data = memmap(X)
    ours = OOCQuadraticDiscriminantAnalysis(
        store_covariance=True, batch_size=BATCH, **params
    ).fit(data, labels)
    # scikit-learn subtracts each class mean before its SVD: accurate at the
    # offset; the translated rows give the same model with the means moved.
    ref = QuadraticDiscriminantAnalysis(store_covariance=True, **params)
    ref.fit(X - offset, labels)
    spread = SPREAD if offset else None
    _close(ours.means_ - offset, ref.means_, 10 * QUANTUM, spread, "means_")
    for mine, theirs in zip(ours.scalings_, ref.scalings_, strict=True):
        # An eigen-decomposition has the variances to eps * largest (1e10 in
        # the scales case: measured 3.8e-6 on the variance of 0.3).
        assert_allclose(mine, theirs, rtol=rtol, atol=10 * EPS * theirs.max())
    for mine, theirs in zip(ours.covariance_, ref.covariance_, strict=True):
        _close(mine, theirs, rtol, err_msg="covariance_")
    decision = ours.decision_function(data)
    _close(decision, ref.decision_function(X - offset), rtol, err_msg="decision")
    proba = ours.predict_proba(data)
    _close(proba, ref.predict_proba(X - offset), rtol, 1.0, "predict_proba")
    assert_array_equal(ours.predict(data), ref.predict(X - offset))
    _assert_finite(ours, ref, outputs=(decision, proba))


def test_qda_tiny_tol_on_near_duplicate_columns(memmap):
    X, labels, _, _ = _problem("near_duplicate")
    ref = QuadraticDiscriminantAnalysis(tol=1e-30).fit(X, labels)
    ours = OOCQuadraticDiscriminantAnalysis(tol=1e-30, batch_size=BATCH)
    ours.fit(memmap(X), labels)
    for mine, theirs in zip(ours.scalings_, ref.scalings_, strict=True):
        assert_allclose(mine, theirs, rtol=1e-5)


# -- OOCKernelRidge ---------------------------------------------------------------


def _gamma(X, offset):
    """A bandwidth at the scale of the data (translation invariant)."""
    return 1.0 / np.var(X - offset, axis=0).sum()


@pytest.mark.parametrize(
    "case, kernel, solver",
    [
        ("offset", "rbf", "cholesky"),
        ("offset", "rbf", "cg"),
        ("offset", "laplacian", "cholesky"),
        ("offset", "laplacian", "cg"),
        ("scales", "rbf", "cholesky"),
        ("scales", "linear", "cholesky"),
        ("scales", "laplacian", "cg"),
        ("near_duplicate", "rbf", "cholesky"),
        ("near_duplicate", "linear", "cholesky"),
        ("near_duplicate", "rbf", "cg"),
    ],
)
def test_kernel_ridge(memmap, case, kernel, solver):
    # The linear kernel is not translation invariant: at the offset
    # K = X X^T is 3e16 times a matrix of ones, conditioned at 1e19 with
    # alpha=1, and has no accurate solution in float64 (not tested there).
    X, _, y, offset = _problem(case)
    params = {"alpha": 1.0, "kernel": kernel}
    if kernel != "linear":
        params["gamma"] = _gamma(X, offset) ** (0.5 if kernel == "laplacian" else 1)
    # The 0.7 MB matrix is built from blocks of 45 rows (cholesky, within
    # memory_limit_mb=1) or recomputed in blocks of 114 (cg, 0.2).
    ours = OOCKernelRidge(
        **params,
        solver=solver,
        memory_limit_mb=1 if solver == "cholesky" else 0.2,
        tol=1e-13,
        random_state=0,
    ).fit(memmap(X), y)
    # rbf and laplacian are translation invariant: the reference on the
    # translated rows is the same model (scikit-learn's rbf on the raw rows
    # at the offset is noise).
    ref = KernelRidge(**params).fit(X - offset, y)
    # Any solve of (K + alpha I) c = y is exact to cond * eps, and both
    # implementations are only that accurate (measured in the scales case
    # with the linear kernel, cond 3e12: both 3e-4 from the exact solution,
    # 2e-4 apart); CG stops at tol=1e-13 on the residual, times cond.
    gamma = {"gamma": params["gamma"]} if "gamma" in params else {}
    K = pairwise_kernels(X - offset, metric=kernel, **gamma)
    cond = 1 + np.linalg.norm(K, 2) / params["alpha"]
    rtol = max(1e-11, 10 * cond * EPS, 10 * cond * 1e-13 if solver == "cg" else 0)
    _close(ours.dual_coef_, ref.dual_coef_, rtol, err_msg="dual_coef_")
    test_rows = X[::7] + 0.0  # a copy: not the training rows' object
    prediction = ours.predict(memmap(test_rows))
    _close(prediction, ref.predict(test_rows - offset), rtol, err_msg="predict")
    _assert_finite(ours, ref, outputs=(prediction,))


# -- StreamingSGDRegressor and StreamingSGDClassifier -----------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("classifier", [False, True])
@pytest.mark.parametrize("shuffle", [True, False])
def test_sgd(memmap, case, classifier, shuffle):
    # The same per-row steps in the same order (scikit-learn's permutation,
    # or the file's), read in blocks of about BATCH rows: the same
    # floating-point operations on the same numbers. On the offset and
    # scales data the steps of the default schedules are far too large and
    # both reach the same huge (finite) weights; the comparison is still
    # to rounding, since nothing is summed in another order.
    X, labels, y, _ = _problem(case)
    target = labels if classifier else y
    Ours, Theirs = (
        (StreamingSGDClassifier, SGDClassifier)
        if classifier
        else (StreamingSGDRegressor, SGDRegressor)
    )
    params = {"random_state": 0, "shuffle": shuffle}
    buffer_mb = BATCH * X.shape[1] * X.itemsize / 2**20
    data = memmap(X)
    ours = Ours(buffer_mb=buffer_mb, **params).fit(data, target)
    ref = Theirs(**params).fit(X, target)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.t_ == ref.t_
    _close(ours.coef_, ref.coef_, 1e-12, err_msg="coef_")
    _close(ours.intercept_, ref.intercept_, 1e-12, err_msg="intercept_")
    if classifier:
        outputs = (ours.decision_function(data),)
        reference = ref.decision_function(X)
        assert_array_equal(ours.predict(data), ref.predict(X))
    else:
        outputs = (ours.predict(data),)
        reference = ref.predict(X)
    _close(outputs[0], reference, 1e-12, err_msg="outputs")
    _assert_finite(ours, ref, outputs=outputs)


# -- the preprocessing transformers -----------------------------------------------
# Order statistics (medians, quantiles, bin edges, categories) are values of
# the data: found exactly from batches, they equal scikit-learn's bit for
# bit, at the offset too. Means (SimpleImputer, the k-means bin edges) are
# sums of the batches' sums: exact to the rounding of the data, which at the
# offset is QUANTUM of the spread. The same 1e-12 normwise bound covers both
# (measured: 1e-15 at most, relative to the largest value).

PREPROCESSING = {
    "robust": (OOCRobustScaler, RobustScaler, {}),
    "robust 10-90, unit variance": (
        OOCRobustScaler,
        RobustScaler,
        {"quantile_range": (10.0, 90.0), "unit_variance": True},
    ),
    "quantile uniform": (
        OOCQuantileTransformer,
        QuantileTransformer,
        {"n_quantiles": 50},
    ),
    "quantile normal": (
        OOCQuantileTransformer,
        QuantileTransformer,
        {"n_quantiles": 50, "output_distribution": "normal"},
    ),
    "kbins quantile": (
        OOCKBinsDiscretizer,
        KBinsDiscretizer,
        {
            "n_bins": 4,
            "encode": "ordinal",
            "strategy": "quantile",
            "quantile_method": "averaged_inverted_cdf",
        },
    ),
    "kbins uniform": (
        OOCKBinsDiscretizer,
        KBinsDiscretizer,
        {"n_bins": 4, "encode": "ordinal", "strategy": "uniform"},
    ),
    "kbins kmeans": (
        OOCKBinsDiscretizer,
        KBinsDiscretizer,
        {"n_bins": 4, "encode": "ordinal", "strategy": "kmeans"},
    ),
    "imputer mean": (OOCSimpleImputer, SimpleImputer, {"strategy": "mean"}),
    "imputer median": (OOCSimpleImputer, SimpleImputer, {"strategy": "median"}),
    "one-hot": (OOCOneHotEncoder, OneHotEncoder, {"sparse_output": False}),
    "ordinal": (OOCOrdinalEncoder, OrdinalEncoder, {}),
    "spline uniform": (OOCSplineTransformer, SplineTransformer, {}),
    "spline quantile": (
        OOCSplineTransformer,
        SplineTransformer,
        {"knots": "quantile", "extrapolation": "linear"},
    ),
}


def _close_with_nan(actual, desired, rtol, err_msg=""):
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert_array_equal(np.isnan(actual), np.isnan(desired), err_msg=err_msg)
    scale = np.nanmax(np.abs(desired)) if np.isfinite(desired).any() else 0.0
    assert_allclose(actual, desired, rtol=0, atol=rtol * scale, err_msg=err_msg)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", list(PREPROCESSING))
def test_preprocessing(memmap, name, case):
    ours_class, ref_class, params = PREPROCESSING[name]
    X, _, _, _ = _problem(case)
    if get_tags(ours_class()).input_tags.allow_nan:
        # Missing values, in two batches: left out of the statistics (a
        # category of their own for the encoders).
        X[5, 1] = X[77, 0] = np.nan
    ref = ref_class(**params).fit(X)
    data = memmap(X)
    ours = ours_class(batch_size=BATCH, **params).fit(data)
    checked = 0
    for attribute, expected in vars(ref).items():
        if attribute.startswith("_") or not attribute.endswith("_"):
            continue
        value = getattr(ours, attribute)
        if attribute == "bsplines_":  # a BSpline per column: their knots
            value, expected = ([s.t for s in v] for v in (value, expected))
        # one array per column
        if attribute in ("bin_edges_", "categories_", "bsplines_"):
            for j, (a, b) in enumerate(zip(value, expected, strict=True)):
                _close_with_nan(a, b, 1e-12, err_msg=f"{attribute}[{j}]")
        elif isinstance(expected, np.ndarray) and expected.dtype.kind in "fiub":
            _close_with_nan(value, expected, 1e-12, err_msg=attribute)
        else:
            continue
        checked += 1
    assert checked > 0
    output = np.asarray(ours.transform(data))
    _close_with_nan(output, ref.transform(X), 1e-12, err_msg="transform")
