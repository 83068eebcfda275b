"""out_of_core: scikit-learn estimators, pipelines and searches converted."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import HuberRegressor, LogisticRegression, Ridge
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_ooc import open_array, out_of_core
from sklearn_ooc._out_of_core import _REGISTRY, _load_registry
from sklearn_ooc.preprocessing import StreamingTransformer


def _registry():
    _load_registry()
    return sorted(_REGISTRY.items(), key=lambda item: item[0].__name__)


# Constructor arguments without a default.
_REQUIRED = {"ColumnTransformer": {"transformers": []}}


@pytest.mark.parametrize(
    "sklearn_class, ours", [(k, v[0]) for k, v in _registry()], ids=lambda c: c.__name__
)
def test_each_counterpart_keeps_every_parameter_it_shares(sklearn_class, ours):
    required = _REQUIRED.get(sklearn_class.__name__, {})
    try:
        converted = out_of_core(sklearn_class(**required))
    except ValueError as error:
        # A default we cannot honour yet is refused by name, never dropped.
        assert sklearn_class.__name__ in str(error)
        return
    assert type(converted) is ours
    theirs = sklearn_class(**required).get_params(deep=False)
    for name, value in converted.get_params(deep=False).items():
        if name in theirs:
            assert repr(value) == repr(theirs[name]), name


def test_a_pipeline_converted_fits_what_scikit_learn_fits(rng, npy):
    X = rng.normal(size=(300, 4)) * [1, 10, 100, 1000] + 5
    y = (X[:, 0] + X[:, 1] / 10 > 5).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, tol=1e-10))
    before = repr(pipeline.get_params())
    ours = out_of_core(pipeline)
    assert repr(pipeline.get_params()) == before
    assert [type(s).__name__ for _, s in ours.steps] == [
        "StreamingTransformer",
        "StreamingLogisticRegression",
    ]
    # Step names stay the user's, so their set_params and grids still apply.
    ours.set_params(logisticregression__batch_size=64)
    ours.fit(open_array(npy(X)), y)
    pipeline.fit(X, y)
    assert_allclose(
        ours.predict_proba(X), pipeline.predict_proba(X), rtol=1e-6, atol=1e-9
    )


def test_a_column_transformer_is_converted_column_by_column():
    transformer = ColumnTransformer(
        [
            ("scale", StandardScaler(), [0, 1]),
            ("log", FunctionTransformer(np.log1p), [2]),
        ],
        remainder="drop",
    )
    converted = out_of_core(transformer)
    assert type(converted).__name__ == "OOCColumnTransformer"
    steps = {name: step for name, step, _ in converted.transformers}
    assert isinstance(steps["scale"], StreamingTransformer)
    assert isinstance(steps["log"].transformer, FunctionTransformer)
    assert [cols for _, _, cols in converted.transformers] == [[0, 1], [2]]
    assert converted.remainder == "drop"


def test_a_search_is_rebuilt_with_its_grid_names_translated(rng):
    search = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("model", KernelRidge())]),
        [
            {"scale__with_mean": [True, False], "model__alpha": [0.1, 1.0]},
            {"scale": [StandardScaler(with_std=False), "passthrough"]},
        ],
        cv=KFold(3),
    )
    converted = out_of_core(search)
    first, second = converted.param_grid
    assert first.keys() == {"scale__transformer__with_mean", "model__alpha"}
    assert isinstance(second["scale"][0], StreamingTransformer)
    assert second["scale"][0].transformer.with_std is False
    assert second["scale"][1] == "passthrough"
    X = rng.normal(size=(90, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=90)
    converted.fit(X, y)
    search.fit(X, y)
    assert converted.best_index_ == search.best_index_
    assert_allclose(
        converted.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        rtol=1e-8,
    )


def test_randomized_search_keeps_its_distributions():
    from scipy.stats import loguniform

    distribution = loguniform(1e-3, 1e2)
    search = RandomizedSearchCV(GaussianMixture(), {"reg_covar": distribution})
    converted = out_of_core(search)
    assert converted.param_distributions["reg_covar"] is distribution
    assert type(converted.estimator).__name__ == "OOCGaussianMixture"


@pytest.mark.parametrize(
    "estimator, message",
    [
        (
            make_pipeline(StandardScaler(), KNeighborsClassifier()),
            r"Pipeline, step 'kneighborsclassifier': KNeighborsClassifier has no "
            "exact out-of-core",
        ),
        (
            make_pipeline(StandardScaler(), HuberRegressor()),
            r"Pipeline, step 'huberregressor': HuberRegressor has no exact "
            "out-of-core",
        ),
        (
            GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3]}),
            r"GridSearchCV, estimator: KNeighborsClassifier has no exact",
        ),
    ],
)
def test_what_has_no_equivalent_is_named(estimator, message):
    before = repr(estimator.get_params())
    with pytest.raises(ValueError, match=message):
        out_of_core(estimator)
    assert repr(estimator.get_params()) == before


def test_ours_and_passthrough_are_kept():
    from sklearn_ooc.linear_model import StreamingRidge

    pipeline = Pipeline([("a", "passthrough"), ("b", StreamingRidge(alpha=2.0))])
    converted = out_of_core(pipeline)
    assert converted.steps[0][1] == "passthrough"
    assert converted.steps[1][1] is not pipeline.steps[1][1]
    assert repr(converted.steps[1][1]) == repr(clone(pipeline.steps[1][1]))


def _exact_cases():
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    # Parameters that choose how scikit-learn computes, not what: the
    # converted estimator fits the same model.
    return [
        (Ridge(alpha=2.0, solver="sag", tol=1e-12, max_iter=100_000), "predict"),
        (Ridge(alpha=2.0, positive=True, tol=1e-12, max_iter=100_000), "predict"),
        (KMeans(3, algorithm="elkan", n_init=1, random_state=0), "predict"),
        (PCA(2, svd_solver="full", random_state=0, copy=False), "transform"),
        (QuadraticDiscriminantAnalysis(reg_param=0.1), "predict_proba"),
    ]


@pytest.mark.parametrize(
    "estimator, method",
    _exact_cases(),
    ids=lambda e: e if isinstance(e, str) else type(e).__name__,
)
def test_converted_estimators_fit_the_same_model(rng, estimator, method):
    X = rng.normal(size=(200, 4)) + rng.integers(0, 3, size=(200, 1)) * 4
    y = (X.sum(axis=1) > 12).astype(int)
    ours = out_of_core(estimator).set_params(batch_size=17)
    # copy=False lets scikit-learn center X in place.
    expected = getattr(clone(estimator).fit(X.copy(), y), method)(X.copy())
    got = getattr(ours.fit(X, y), method)(X)
    if method == "transform":  # components are defined up to their sign
        got = got * np.sign(got[0]) * np.sign(expected[0])
    assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
