"""Every registered estimator is a drop-in for its scikit-learn counterpart.

For each scikit-learn class registered with :func:`sklearn_ooc.out_of_core`:
our constructor takes every parameter of scikit-learn's, of the same kind
(positional or keyword-only) and with the same default (our extra
parameters, such as ``batch_size``, are allowed); ``out_of_core`` turns an
instance with non-default values into our class with the same values; and a
transformer names its outputs as scikit-learn's does.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import ClassNamePrefixFeaturesOutMixin, clone
from sklearn.feature_selection import chi2, f_regression, r_regression
from sklearn.utils import Bunch

from sklearn_ooc import out_of_core
from sklearn_ooc._out_of_core import _REGISTRY, _load_registry

_load_registry()
PAIRS = sorted(
    ((sk, ours) for sk, (ours, _) in _REGISTRY.items()), key=lambda p: p[0].__name__
)
IDS = [sk.__name__ for sk, _ in PAIRS]

# Defaults of ours that differ from scikit-learn's on purpose:
# {(scikit-learn class name, parameter): reason}. None today: every default
# is scikit-learn's.
DIFFERENT_DEFAULTS: dict[tuple[str, str], str] = {}

# A few non-default values of each counterpart's parameters (valid at
# construction; some combinations would be refused by fit, which is not
# called here).
NON_DEFAULTS = {
    "EmpiricalCovariance": dict(store_precision=False, assume_centered=True),
    "ShrunkCovariance": dict(assume_centered=True, shrinkage=0.3),
    "OAS": dict(store_precision=False, assume_centered=True),
    "LedoitWolf": dict(assume_centered=True, block_size=2),
    "GraphicalLasso": dict(alpha=0.2, mode="lars", tol=1e-3, max_iter=50),
    # hmmlearn's models (registered where hmmlearn is installed).
    "CategoricalHMM": dict(
        n_components=3,
        startprob_prior=2.0,
        emissionprob_prior=1.5,
        n_features=5,
        algorithm="map",
        random_state=1,
        n_iter=20,
        tol=1e-4,
        params="st",
        init_params="e",
        implementation="scaling",
    ),
    "GMMHMM": dict(
        n_components=3,
        n_mix=2,
        min_covar=1e-2,
        startprob_prior=2.0,
        transmat_prior=2.0,
        weights_prior=2.0,
        means_prior=0.5,
        means_weight=0.1,
        covars_prior=0.5,
        covars_weight=2.0,
        algorithm="map",
        covariance_type="full",
        random_state=0,
        n_iter=5,
        tol=1e-3,
        verbose=True,
        params="stm",
        init_params="stm",
        implementation="scaling",
    ),
    "GaussianHMM": dict(
        n_components=4,
        covariance_type="full",
        min_covar=1e-2,
        transmat_prior=1.5,
        means_weight=0.5,
        covars_prior=0.1,
        algorithm="map",
        random_state=2,
        n_iter=30,
        tol=1e-3,
        verbose=True,
        params="stm",
        init_params="sc",
        implementation="scaling",
    ),
    "PoissonHMM": dict(
        n_components=2,
        lambdas_prior=1.0,
        lambdas_weight=0.5,
        random_state=3,
        n_iter=5,
        params="sl",
    ),
    "GenericUnivariateSelect": dict(score_func=f_regression, mode="k_best", param=2),
    "SelectFdr": dict(score_func=chi2, alpha=0.01),
    "SelectFpr": dict(score_func=f_regression, alpha=0.01),
    "SelectFwe": dict(score_func=r_regression, alpha=0.01),
    "SelectKBest": dict(score_func=f_regression, k=3),
    "SelectPercentile": dict(score_func=chi2, percentile=30),
    "VarianceThreshold": dict(threshold=0.5),
    "GaussianNB": dict(priors=[0.3, 0.7], var_smoothing=1e-6),
    "MultinomialNB": dict(alpha=0.5, force_alpha=False, fit_prior=False),
    "ComplementNB": dict(alpha=0.5, class_prior=[0.4, 0.6], norm=True),
    "BernoulliNB": dict(alpha=2.0, binarize=0.5, fit_prior=False),
    "CategoricalNB": dict(alpha=0.5, class_prior=[0.5, 0.5], min_categories=4),
    "TruncatedSVD": dict(
        n_components=3,
        algorithm="arpack",
        n_iter=3,
        n_oversamples=5,
        power_iteration_normalizer="QR",
        random_state=1,
        tol=1e-6,
    ),
    "PLSRegression": dict(n_components=3, scale=False, max_iter=100, tol=1e-8),
    "PLSCanonical": dict(n_components=1, algorithm="svd", max_iter=50, tol=1e-4),
    "CCA": dict(n_components=1, scale=False, max_iter=200, tol=1e-7),
    "FactorAnalysis": dict(
        n_components=2,
        tol=1e-4,
        max_iter=50,
        noise_variance_init=[1.0, 2.0, 3.0],
        svd_method="lapack",
        rotation="varimax",
    ),
    "ColumnTransformer": dict(
        transformers=[("first", "passthrough", [0]), ("rest", "drop", [1, 2])],
        remainder="passthrough",
        sparse_threshold=0.1,
        n_jobs=2,
        transformer_weights={"first": 2.0},
        verbose=True,
        verbose_feature_names_out=False,
    ),
    "BayesianGaussianMixture": dict(
        n_components=3,
        covariance_type="diag",
        tol=1e-4,
        reg_covar=1e-5,
        max_iter=50,
        n_init=2,
        init_params="random",
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=0.5,
        mean_precision_prior=2.0,
        mean_prior=np.zeros(2),
        degrees_of_freedom_prior=3.0,
        covariance_prior=np.ones(2),
        random_state=0,
        warm_start=True,
        verbose=1,
        verbose_interval=5,
    ),
    "GaussianMixture": dict(
        n_components=3,
        covariance_type="diag",
        tol=1e-4,
        reg_covar=1e-5,
        max_iter=50,
        n_init=2,
        init_params="random",
        means_init=np.zeros((3, 2)),
        random_state=0,
        warm_start=True,
        verbose=1,
        verbose_interval=5,
    ),
    "KBinsDiscretizer": dict(
        n_bins=3,
        encode="ordinal",
        strategy="uniform",
        quantile_method="linear",
        dtype=np.float32,
        subsample=None,
        random_state=0,
    ),
    "KMeans": dict(
        n_clusters=4,
        init="random",
        n_init=3,
        max_iter=50,
        tol=1e-3,
        random_state=0,
        copy_x=False,
        algorithm="elkan",
    ),
    "OneHotEncoder": dict(
        categories=[[0.0, 1.0, 2.0]],
        drop="first",
        sparse_output=False,
        dtype=np.float32,
        handle_unknown="infrequent_if_exist",
        min_frequency=2,
        max_categories=5,
    ),
    "OrdinalEncoder": dict(
        categories=[[0.0, 1.0, 2.0]],
        dtype=np.float32,
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=-2,
        min_frequency=2,
        max_categories=5,
    ),
    "PCA": dict(
        n_components=3,
        copy=False,
        whiten=True,
        svd_solver="randomized",
        tol=0.1,
        iterated_power=4,
        n_oversamples=5,
        power_iteration_normalizer="QR",
        random_state=0,
    ),
    "ARDRegression": dict(
        max_iter=20,
        tol=1e-5,
        alpha_1=1e-3,
        alpha_2=2e-3,
        lambda_1=3e-3,
        lambda_2=4e-3,
        compute_score=True,
        threshold_lambda=10.0,
        fit_intercept=False,
        copy_X=False,
        verbose=True,
    ),
    "BayesianRidge": dict(
        max_iter=20,
        tol=1e-5,
        alpha_1=1e-3,
        alpha_2=2e-3,
        lambda_1=3e-3,
        lambda_2=4e-3,
        alpha_init=0.5,
        lambda_init=2.0,
        compute_score=True,
        fit_intercept=False,
        copy_X=False,
        verbose=True,
    ),
    "PoissonRegressor": dict(
        alpha=0.5,
        fit_intercept=False,
        solver="newton-cholesky",
        max_iter=20,
        tol=1e-6,
        warm_start=True,
        verbose=1,
    ),
    "GammaRegressor": dict(
        alpha=0.5,
        fit_intercept=False,
        solver="newton-cholesky",
        max_iter=20,
        tol=1e-6,
        warm_start=True,
        verbose=1,
    ),
    "TweedieRegressor": dict(
        power=1.5,
        alpha=0.5,
        fit_intercept=False,
        link="log",
        solver="newton-cholesky",
        max_iter=20,
        tol=1e-6,
        warm_start=True,
        verbose=1,
    ),
    "LinearRegression": dict(fit_intercept=False, copy_X=False, tol=1e-4, n_jobs=2),
    "LinearDiscriminantAnalysis": dict(
        solver="lsqr",
        shrinkage="auto",
        priors=np.array([0.25, 0.75]),
        n_components=1,
        store_covariance=True,
        tol=1e-3,
    ),
    "QuadraticDiscriminantAnalysis": dict(
        priors=np.array([0.25, 0.75]),
        reg_param=0.1,
        store_covariance=True,
        tol=1e-3,
    ),
    "KernelRidge": dict(
        alpha=0.5,
        kernel="rbf",
        gamma=0.2,
        degree=2,
        coef0=0.5,
        kernel_params={"unused": 1},
    ),
    "LogisticRegression": dict(
        C=0.5,
        l1_ratio=0.5,
        tol=1e-3,
        fit_intercept=False,
        class_weight="balanced",
        random_state=0,
        solver="saga",
        max_iter=500,
        warm_start=True,
    ),
    "QuantileTransformer": dict(
        n_quantiles=50,
        output_distribution="normal",
        ignore_implicit_zeros=True,
        subsample=500,
        random_state=0,
        copy=False,
    ),
    "ElasticNet": dict(
        alpha=0.3,
        l1_ratio=0.7,
        fit_intercept=False,
        precompute=True,
        max_iter=50,
        copy_X=False,
        tol=1e-3,
        warm_start=True,
        positive=True,
        random_state=0,
        selection="random",
    ),
    "Lasso": dict(
        alpha=0.3,
        fit_intercept=False,
        precompute=True,
        copy_X=False,
        max_iter=50,
        tol=1e-3,
        warm_start=True,
        positive=True,
        random_state=0,
        selection="random",
    ),
    "LassoCV": dict(
        eps=1e-2,
        alphas=(0.5, 2.0),
        fit_intercept=False,
        precompute=True,
        max_iter=50,
        tol=1e-3,
        copy_X=False,
        cv=3,
        verbose=1,
        n_jobs=2,
        positive=True,
        random_state=0,
        selection="random",
    ),
    "ElasticNetCV": dict(
        l1_ratio=(0.2, 0.8),
        eps=1e-2,
        alphas=7,
        fit_intercept=False,
        precompute=False,
        max_iter=50,
        tol=1e-3,
        cv=3,
        copy_X=False,
        verbose=1,
        n_jobs=2,
        positive=True,
        random_state=0,
        selection="random",
    ),
    "Lars": dict(
        fit_intercept=False,
        verbose=1,
        precompute=True,
        n_nonzero_coefs=3,
        eps=1e-12,
        copy_X=False,
        fit_path=False,
        jitter=0.1,
        random_state=0,
    ),
    "LassoLars": dict(
        alpha=0.3,
        fit_intercept=False,
        verbose=1,
        precompute=True,
        max_iter=50,
        eps=1e-12,
        copy_X=False,
        fit_path=False,
        positive=True,
        jitter=0.1,
        random_state=0,
    ),
    "LarsCV": dict(
        fit_intercept=False,
        verbose=1,
        max_iter=50,
        precompute=True,
        cv=3,
        max_n_alphas=20,
        n_jobs=2,
        eps=1e-12,
        copy_X=False,
    ),
    "LassoLarsCV": dict(
        fit_intercept=False,
        verbose=1,
        max_iter=50,
        precompute=True,
        cv=3,
        max_n_alphas=20,
        n_jobs=2,
        eps=1e-12,
        copy_X=False,
        positive=True,
    ),
    "LassoLarsIC": dict(
        criterion="bic",
        fit_intercept=False,
        verbose=1,
        precompute=True,
        max_iter=50,
        eps=1e-12,
        copy_X=False,
        positive=True,
        noise_variance=2.0,
    ),
    "MultiTaskElasticNet": dict(
        alpha=0.3,
        l1_ratio=0.7,
        fit_intercept=False,
        copy_X=False,
        max_iter=50,
        tol=1e-3,
        warm_start=True,
        random_state=0,
        selection="random",
    ),
    "MultiTaskLasso": dict(
        alpha=0.3,
        fit_intercept=False,
        copy_X=False,
        max_iter=50,
        tol=1e-3,
        warm_start=True,
        random_state=0,
        selection="random",
    ),
    "MultiTaskLassoCV": dict(
        eps=1e-2,
        alphas=(0.5, 2.0),
        fit_intercept=False,
        max_iter=50,
        tol=1e-3,
        copy_X=False,
        cv=3,
        verbose=1,
        n_jobs=2,
        random_state=0,
        selection="random",
    ),
    "MultiTaskElasticNetCV": dict(
        l1_ratio=(0.2, 0.8),
        eps=1e-2,
        alphas=7,
        fit_intercept=False,
        max_iter=50,
        tol=1e-3,
        cv=3,
        copy_X=False,
        verbose=1,
        n_jobs=2,
        random_state=0,
        selection="random",
    ),
    "Ridge": dict(
        alpha=0.3,
        fit_intercept=False,
        copy_X=False,
        max_iter=100,
        tol=1e-3,
        solver="cholesky",
        random_state=0,
    ),
    "RidgeCV": dict(
        alphas=(0.5, 2.0),
        fit_intercept=False,
        scoring="neg_mean_squared_error",
        cv=3,
        gcv_mode="svd",
        alpha_per_target=True,
    ),
    "RobustScaler": dict(
        with_centering=False,
        with_scaling=False,
        quantile_range=(10.0, 90.0),
        copy=False,
        unit_variance=True,
    ),
    "SGDClassifier": dict(
        loss="log_loss",
        penalty="elasticnet",
        alpha=1e-3,
        l1_ratio=0.3,
        max_iter=20,
        tol=None,
        epsilon=0.2,
        random_state=0,
        learning_rate="constant",
        eta0=0.1,
        class_weight="balanced",
        average=True,
    ),
    "SimpleImputer": dict(
        missing_values=-1.0,
        strategy="constant",
        fill_value=0.0,
        copy=False,
        add_indicator=True,
        keep_empty_features=True,
    ),
    "SGDRegressor": dict(
        loss="huber",
        penalty="l1",
        alpha=1e-3,
        max_iter=20,
        tol=None,
        epsilon=0.2,
        random_state=0,
        learning_rate="constant",
        eta0=0.1,
        average=True,
    ),
    "SplineTransformer": dict(
        n_knots=4,
        degree=2,
        knots="quantile",
        extrapolation="periodic",
        include_bias=False,
        order="F",
        handle_missing="zeros",
        sparse_output=True,
    ),
}


def _same(a, b):
    """Equal values of the same type (``1`` is not ``1.0``; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, float) and np.isnan(a):
        return np.isnan(b)
    return a == b


def _parameters(cls):
    return {
        name: p
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
    }


@pytest.mark.parametrize("sklearn_class, ours", PAIRS, ids=IDS)
def test_constructor_has_every_parameter_with_sklearns_default(sklearn_class, ours):
    theirs, mine = _parameters(sklearn_class), _parameters(ours)
    missing = sorted(set(theirs) - set(mine))
    assert not missing, f"{ours.__name__} lacks {missing}"
    for name, p in theirs.items():
        assert mine[name].kind == p.kind, f"{name}: {mine[name].kind} != {p.kind}"
        if (sklearn_class.__name__, name) in DIFFERENT_DEFAULTS:
            assert not _same(mine[name].default, p.default), (
                f"{name}'s default is scikit-learn's again: remove it from "
                "DIFFERENT_DEFAULTS"
            )
            continue
        assert _same(mine[name].default, p.default), (
            f"{ours.__name__}({name}={mine[name].default!r}) where "
            f"{sklearn_class.__name__} has {name}={p.default!r}"
        )


def test_every_registered_class_has_non_default_values_here():
    missing = sorted(set(IDS) - set(NON_DEFAULTS))
    assert not missing, f"add non-default values of {missing} to NON_DEFAULTS"


@pytest.mark.parametrize("sklearn_class, ours", PAIRS, ids=IDS)
def test_out_of_core_keeps_non_default_values(sklearn_class, ours):
    if sklearn_class.__name__ not in NON_DEFAULTS:
        pytest.fail(f"add non-default values of {sklearn_class.__name__} here")
    params = NON_DEFAULTS[sklearn_class.__name__]
    defaults = {name: p.default for name, p in _parameters(sklearn_class).items()}
    assert all(not _same(v, defaults[k]) for k, v in params.items())
    original = sklearn_class(**params)
    converted = out_of_core(original)
    assert type(converted) is ours
    got = converted.get_params(deep=False)
    for name, value in original.get_params(deep=False).items():
        assert _same(got[name], value), f"{name}: {got[name]!r} != {value!r}"
    # The converted estimator is an ordinary one: it clones alike.
    cloned = clone(converted).get_params(deep=False)
    for name in params:
        assert _same(cloned[name], got[name])


def _prefixed_transformers():
    return [
        (sk, ours)
        for sk, ours in PAIRS
        if issubclass(sk, ClassNamePrefixFeaturesOutMixin)
    ]


def test_the_prefixed_transformers_are_the_expected_ones():
    names = sorted(sk.__name__ for sk, _ in _prefixed_transformers())
    assert names == [
        "CCA",
        "FactorAnalysis",
        "KMeans",
        "LinearDiscriminantAnalysis",
        "PCA",
        "PLSCanonical",
        "PLSRegression",
        "TruncatedSVD",
    ]


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 5) + np.repeat(np.eye(4, 5) * 5, 10, axis=0)
    y = np.repeat(np.arange(4), 10) % 3
    return Bunch(X=X, y=y)


@pytest.mark.parametrize(
    "sklearn_class, ours",
    _prefixed_transformers(),
    ids=[sk.__name__ for sk, _ in _prefixed_transformers()],
)
def test_output_feature_names_are_sklearns(sklearn_class, ours, blobs):
    params = {"random_state": 0} if "random_state" in _parameters(ours) else {}
    if sklearn_class.__name__ in {"CCA", "PLSCanonical", "PLSRegression"}:
        params["n_components"] = 1  # one component for a target of one column
    ref = sklearn_class(**params).fit(blobs.X, blobs.y)
    model = ours(**params).fit(blobs.X, blobs.y)
    expected = ref.get_feature_names_out()
    assert expected[0].startswith(sklearn_class.__name__.lower())
    assert_array_equal(model.get_feature_names_out(), expected)
    assert model.get_feature_names_out().dtype == expected.dtype
    names = [f"x{i}" for i in range(blobs.X.shape[1])]
    assert_array_equal(model.get_feature_names_out(names), expected)
    with pytest.raises(ValueError, match="input_features should have length"):
        ref.get_feature_names_out(names[1:])
    with pytest.raises(ValueError, match="input_features should have length"):
        model.get_feature_names_out(names[1:])


def test_a_subclass_keeps_its_counterparts_prefix(blobs):
    from sklearn_ooc.decomposition import OOCPCA

    class MyPCA(OOCPCA):
        pass

    names = MyPCA(2).fit(blobs.X).get_feature_names_out()
    assert_array_equal(names, ["pca0", "pca1"])
