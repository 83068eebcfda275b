"""Discriminant analysis from per-class statistics against scikit-learn."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)

from sklearn_ooc.discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)

from .conftest import fitted_state


def _classes(rng, n_classes=3, offset=0.0, n=300):
    X = (
        np.vstack(
            [
                rng.normal(c, 1.0, (n, 4)) @ rng.normal(size=(4, 4))
                for c in range(n_classes)
            ]
        )
        + offset
    )
    y = np.repeat(np.array(["alpha", "beta", "gamma", "delta"][:n_classes]), n)
    order = rng.permutation(len(X))
    return X[order], y[order]


@pytest.mark.parametrize("solver", ["lsqr", "eigen"])
@pytest.mark.parametrize("shrinkage", [None, 0.3])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("batch_size", [1, 64, 5000])
def test_lda_equals_sklearn(rng, solver, shrinkage, n_classes, batch_size):
    X, y = _classes(rng, n_classes, offset=100.0, n=100)
    ref = LinearDiscriminantAnalysis(solver=solver, shrinkage=shrinkage).fit(X, y)
    ours = OOCLinearDiscriminantAnalysis(
        solver=solver, shrinkage=shrinkage, batch_size=batch_size
    ).fit(X, y)
    assert_array_equal(ours.classes_, ref.classes_)
    for name in ("coef_", "intercept_", "covariance_", "means_", "priors_"):
        assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=1e-8, atol=1e-10, err_msg=name
        )
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-10)
    assert_allclose(
        ours.decision_function(X), ref.decision_function(X), rtol=1e-8, atol=1e-8
    )
    if solver == "eigen":
        assert_allclose(
            ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8
        )
        assert_allclose(
            np.abs(ours.transform(X)), np.abs(ref.transform(X)), rtol=1e-6, atol=1e-8
        )
    else:
        with pytest.raises(NotImplementedError, match="not implemented for 'lsqr'"):
            ours.transform(X)


@pytest.mark.parametrize(
    "solver, params",
    [("svd", {}), ("svd", {"reg_param": 0.2}), ("eigen", {"shrinkage": 0.1})],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_qda_equals_sklearn(rng, npy, solver, params, n_classes):
    X, y = _classes(rng, n_classes, n=200)
    ref = QuadraticDiscriminantAnalysis(
        solver=solver, store_covariance=True, **params
    ).fit(X, y)
    ours = OOCQuadraticDiscriminantAnalysis(
        solver=solver, store_covariance=True, batch_size=50, **params
    ).fit(npy(X), y)
    assert_allclose(ours.means_, ref.means_, rtol=1e-10)
    for a, b in zip(ours.scalings_, ref.scalings_, strict=True):
        assert_allclose(a, b, rtol=1e-8)
    for a, b in zip(ours.covariance_, ref.covariance_, strict=True):
        assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert_allclose(
        ours.decision_function(X), ref.decision_function(X), rtol=1e-8, atol=1e-8
    )
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-7, atol=1e-12)
    assert_array_equal(ours.predict(npy(X)), ref.predict(X))


def test_partial_fit_equals_fit_and_priors(rng):
    X, y = _classes(rng)
    ours = OOCLinearDiscriminantAnalysis(priors=[0.2, 0.3, 0.5])
    for part in np.array_split(np.arange(len(X)), 5):
        ours.partial_fit(X[part], y[part])
    ref = LinearDiscriminantAnalysis(priors=[0.2, 0.3, 0.5]).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)


def test_errors_leave_the_model_unchanged(rng):
    X, y = _classes(rng, n=50)
    model = OOCQuadraticDiscriminantAnalysis().fit(X, y)
    before = fitted_state(model)
    with pytest.raises(ValueError, match="has to be greater than one. Got 1 class"):
        model.fit(X, np.full(len(X), "alpha"))
    X_one = np.vstack([X[:5], X[:1] + 1])
    y_one = np.array(["alpha"] * 5 + ["beta"])
    with pytest.raises(ValueError, match="only 1 sample in class beta"):
        model.fit(X_one, y_one)
    collinear = np.column_stack([X[:, :3], X[:, 0]])
    with pytest.raises(
        np.linalg.LinAlgError, match="not full rank. Increase the value"
    ):
        model.fit(collinear, y)
    assert fitted_state(model) == before


def _assert_same_up_to_signs(ours, ref, **tol):
    """Columns equal up to sign (scikit-learn keeps its LAPACK's signs)."""
    signs = np.sign(np.sum(ours * ref, axis=0))
    assert_allclose(ours * signs, ref, **tol)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("batch_size, n_jobs", [(1, 1), (17, 2), (5000, 1)])
@pytest.mark.parametrize("n_components", [None, 1])
def test_lda_svd_equals_sklearn(rng, n_classes, batch_size, n_jobs, n_components):
    X, y = _classes(rng, n_classes, offset=100.0, n=60)
    ref = LinearDiscriminantAnalysis(
        store_covariance=True, n_components=n_components
    ).fit(X, y)
    ours = OOCLinearDiscriminantAnalysis(
        store_covariance=True,
        n_components=n_components,
        batch_size=batch_size,
        n_jobs=n_jobs,
    ).fit(X, y)
    for name in (
        "coef_",
        "intercept_",
        "covariance_",
        "means_",
        "priors_",
        "xbar_",
        "explained_variance_ratio_",
    ):
        assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=1e-9, atol=1e-12, err_msg=name
        )
    _assert_same_up_to_signs(ours.scalings_, ref.scalings_, rtol=1e-9, atol=1e-12)
    _assert_same_up_to_signs(ours.transform(X), ref.transform(X), rtol=1e-8, atol=1e-9)
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-9)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert_array_equal(ours.predict(X), ref.predict(X))
    names = ours.get_feature_names_out()
    assert_array_equal(names, ref.get_feature_names_out())
    assert not hasattr(
        OOCLinearDiscriminantAnalysis(batch_size=batch_size).fit(X, y), "covariance_"
    )


def test_lda_svd_rank_follows_tol(rng):
    # A feature that is a combination of others: scikit-learn drops the
    # direction whose singular value is below tol, and so do we.
    X, y = _classes(rng, 3, n=50)
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 1]])
    for tol in (1e-4, 0.5):
        ref = LinearDiscriminantAnalysis(tol=tol).fit(X, y)
        ours = OOCLinearDiscriminantAnalysis(tol=tol, batch_size=16).fit(X, y)
        assert ours.scalings_.shape == ref.scalings_.shape
        assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
        assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("solver", ["svd", "lsqr", "eigen"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_lda_float32_has_sklearn_dtypes(rng, solver, n_classes):
    X, y = _classes(rng, n_classes, n=60)
    X = X.astype(np.float32)
    ref = LinearDiscriminantAnalysis(solver=solver).fit(X, y)
    ref64 = LinearDiscriminantAnalysis(solver=solver).fit(X.astype(np.float64), y)
    ours = OOCLinearDiscriminantAnalysis(solver=solver, batch_size=16).fit(X, y)
    for name in ("coef_", "intercept_", "means_", "priors_", "xbar_"):
        if hasattr(ref, name):
            assert getattr(ours, name).dtype == getattr(ref, name).dtype, name
            # Summed in float64: float64's result, rounded once to float32.
            assert_allclose(
                getattr(ours, name), getattr(ref64, name), rtol=1e-6, atol=1e-6
            )
    assert ours.decision_function(X).dtype == ref.decision_function(X).dtype
    assert ours.predict_proba(X).dtype == ref.predict_proba(X).dtype
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize(
    "solver, shrinkage",
    [
        ("svd", None),
        ("lsqr", None),
        ("eigen", None),
        ("lsqr", "auto"),
        ("eigen", "auto"),
    ],
)
def test_lda_far_from_origin(rng, solver, shrinkage):
    # Data at 1e6: compared with scikit-learn on the centered data, where it
    # loses no digits itself.
    X, y = _classes(rng, 3, n=60)
    X -= X.mean(axis=0)
    ref = LinearDiscriminantAnalysis(solver=solver, shrinkage=shrinkage).fit(X, y)
    ours = OOCLinearDiscriminantAnalysis(
        solver=solver, shrinkage=shrinkage, batch_size=7
    ).fit(X + 1e6, y)
    assert_allclose(ours.means_ - 1e6, ref.means_, rtol=1e-9, atol=1e-8)
    if solver != "svd":
        assert_allclose(ours.covariance_, ref.covariance_, rtol=1e-9)
    assert_allclose(ours.predict_proba(X + 1e6), ref.predict_proba(X), atol=1e-8)
    if solver == "svd":
        assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)
        _assert_same_up_to_signs(
            ours.transform(X + 1e6), ref.transform(X), rtol=1e-8, atol=1e-8
        )


def _estimators():
    from sklearn.covariance import (
        OAS,
        EmpiricalCovariance,
        LedoitWolf,
        ShrunkCovariance,
    )

    return [
        {"shrinkage": "auto"},
        {"covariance_estimator": EmpiricalCovariance()},
        {"covariance_estimator": EmpiricalCovariance(assume_centered=True)},
        {"covariance_estimator": ShrunkCovariance(shrinkage=0.3)},
        {"covariance_estimator": ShrunkCovariance(assume_centered=True)},
        {"covariance_estimator": LedoitWolf()},
        {"covariance_estimator": LedoitWolf(assume_centered=True, block_size=2)},
        {"covariance_estimator": OAS()},
        {"covariance_estimator": OAS(assume_centered=True)},
    ]


@pytest.mark.parametrize("params", _estimators())
@pytest.mark.parametrize("solver", ["lsqr", "eigen"])
@pytest.mark.parametrize("n_features", [1, 4])
@pytest.mark.parametrize("batch_size", [1, 33])
def test_lda_covariance_estimators_equal_sklearn(
    rng, params, solver, n_features, batch_size
):
    X, y = _classes(rng, 3, offset=10.0, n=40)
    X = X[:, :n_features]
    ref = LinearDiscriminantAnalysis(solver=solver, **params).fit(X, y)
    ours = OOCLinearDiscriminantAnalysis(
        solver=solver, batch_size=batch_size, **params
    ).fit(X, y)
    assert_allclose(ours.covariance_, ref.covariance_, rtol=1e-10, atol=1e-13)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-7, atol=1e-12)
    centered = getattr(params.get("covariance_estimator"), "assume_centered", False)
    if solver == "eigen" and not centered:
        # (About the origin, the total and within-class covariances are
        # equal: the between-class one is rounding noise, in either.)
        k = ref.explained_variance_ratio_.shape[0]
        assert_allclose(
            ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8
        )
        _assert_same_up_to_signs(
            ours.transform(X)[:, :k], ref.transform(X)[:, :k], rtol=1e-7, atol=1e-9
        )


@pytest.mark.parametrize("params", _estimators())
@pytest.mark.parametrize("batch_size", [1, 33])
def test_qda_covariance_estimators_equal_sklearn(rng, params, batch_size):
    X, y = _classes(rng, 3, offset=10.0, n=40)
    ref = QuadraticDiscriminantAnalysis(
        solver="eigen", store_covariance=True, **params
    ).fit(X, y)
    ours = OOCQuadraticDiscriminantAnalysis(
        solver="eigen", store_covariance=True, batch_size=batch_size, **params
    ).fit(X, y)
    for a, b in zip(ours.covariance_, ref.covariance_, strict=True):
        assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    for a, b in zip(ours.scalings_, ref.scalings_, strict=True):
        assert_allclose(a, b, rtol=1e-9)
    for a, b in zip(ours.rotations_, ref.rotations_, strict=True):
        _assert_same_up_to_signs(a, b, rtol=1e-7, atol=1e-9)
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-9)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert_allclose(
        ours.predict_log_proba(X), ref.predict_log_proba(X), rtol=1e-8, atol=1e-10
    )


def test_fourth_moments_merge_as_one_pass(rng):
    from sklearn_ooc.discriminant_analysis._discriminant_analysis import (
        _FourthMoments,
    )

    X = rng.normal(3.0, 2.0, (50, 3))
    whole = _FourthMoments.of_rows(X)
    merged = _FourthMoments.of_rows(X[:0])
    for part in np.array_split(X, [1, 2, 20, 21, 49]):
        merged = merged + _FourthMoments.of_rows(part)
    U = X - X.mean(axis=0)
    assert merged.count == 50
    assert_allclose(merged.mean, X.mean(axis=0), rtol=1e-14)
    assert_allclose(whole.s11, U.T @ U, rtol=1e-12)
    for name in ("s11", "s21", "s22"):
        assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-11)
    assert_allclose(merged.s22, (U**2).T @ U**2, rtol=1e-12)
    assert_allclose(merged.s21, (U**2).T @ U, rtol=1e-10, atol=1e-10)
    about_origin = merged.about(-merged.mean)
    assert_allclose(about_origin[2], (X**2).T @ X**2, rtol=1e-12)


def test_partial_fit_equals_fit_for_svd_and_auto(rng):
    X, y = _classes(rng, 3, n=50)
    for params in ({}, {"solver": "lsqr", "shrinkage": "auto"}):
        ours = OOCLinearDiscriminantAnalysis(**params)
        for part in np.array_split(np.arange(len(X)), 4):
            ours.partial_fit(X[part], y[part])
        ref = LinearDiscriminantAnalysis(**params).fit(X, y)
        assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)
        assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-9)


def test_lda_priors_as_sklearn(rng):
    X, y = _classes(rng, 2, n=30)
    with pytest.warns(UserWarning, match="The priors do not sum to 1"):
        ours = OOCLinearDiscriminantAnalysis(priors=[0.5, 0.6]).fit(X, y)
    ref = LinearDiscriminantAnalysis(priors=[0.5, 0.6]).fit(X, y)
    assert_allclose(ours.priors_, ref.priors_)
    with pytest.raises(ValueError, match="priors must be non-negative"):
        OOCLinearDiscriminantAnalysis(priors=[1.5, -0.5]).fit(X, y)


def test_errors_are_sklearn_and_name_the_alternative(rng):
    from sklearn.cluster import KMeans
    from sklearn.covariance import LedoitWolf, MinCovDet, ShrunkCovariance

    X, y = _classes(rng, 2, n=20)
    model = OOCLinearDiscriminantAnalysis(solver="lsqr").fit(X, y)
    coef = model.coef_.copy()
    cases = [
        ({"solver": "svd", "shrinkage": "auto"}, NotImplementedError, "shrinkage not"),
        (
            {"solver": "svd", "covariance_estimator": LedoitWolf()},
            ValueError,
            "covariance estimator is not supported with svd solver",
        ),
        (
            {"shrinkage": 0.1, "covariance_estimator": ShrunkCovariance()},
            ValueError,
            "Only one of the two can be set",
        ),
        (
            {"covariance_estimator": MinCovDet()},
            ValueError,
            r"MinCovDet\(\) cannot be fitted out of core.*LedoitWolf",
        ),
        (
            {"covariance_estimator": KMeans(2)},
            ValueError,
            "cannot be fitted out of core",
        ),
        (
            {"covariance_estimator": ShrunkCovariance(shrinkage=2.0)},
            ValueError,
            "The 'shrinkage' parameter of ShrunkCovariance must be",
        ),
    ]
    for params, error, message in cases:
        model.set_params(**{"solver": "lsqr", **params})
        with pytest.raises(error, match=message):
            model.fit(X, y)
        assert_array_equal(model.coef_, coef)
        model.set_params(shrinkage=None, covariance_estimator=None)
    with pytest.raises(ValueError, match="The number of samples must be more"):
        OOCLinearDiscriminantAnalysis().fit(X[:2], ["a", "b"])
    qda = OOCQuadraticDiscriminantAnalysis(covariance_estimator=LedoitWolf())
    with pytest.raises(ValueError, match="not supported with solver='svd'. Try"):
        qda.fit(X, y)
    with pytest.raises(NotImplementedError, match="shrinkage not supported"):
        OOCQuadraticDiscriminantAnalysis(shrinkage="auto").fit(X, y)
    with pytest.raises(np.linalg.LinAlgError, match="When using `solver='svd'`"):
        OOCQuadraticDiscriminantAnalysis(reg_param=0.3).fit(X[:9], [1] * 6 + [2] * 3)


def test_qda_svd_float32_dtypes(rng):
    X, y = _classes(rng, 2, n=40)
    X = X.astype(np.float32)
    for solver in ("svd", "eigen"):
        ref = QuadraticDiscriminantAnalysis(solver=solver, store_covariance=True)
        ref.fit(X, y)
        ours = OOCQuadraticDiscriminantAnalysis(
            solver=solver, store_covariance=True, batch_size=9
        ).fit(X, y)
        assert ours.means_.dtype == ref.means_.dtype
        assert ours.scalings_[0].dtype == ref.scalings_[0].dtype
        assert ours.rotations_[0].dtype == ref.rotations_[0].dtype
        assert ours.covariance_[0].dtype == ref.covariance_[0].dtype
        assert_allclose(
            ours.predict_proba(X), ref.predict_proba(X), rtol=1e-4, atol=1e-6
        )


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_lda_svd_badly_scaled(rng, scale):
    # Squares of such rows leave float64's range; the svd solver never forms
    # them: the model is that of the unscaled rows, scaled.
    X, y = _classes(rng, 3, n=40)
    ref = LinearDiscriminantAnalysis().fit(X, y)
    ours = OOCLinearDiscriminantAnalysis(batch_size=16).fit(X * scale, y)
    assert_allclose(ours.coef_ * scale, ref.coef_, rtol=1e-10)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)
    assert_allclose(ours.predict_proba(X * scale), ref.predict_proba(X), atol=1e-12)


def test_partial_fit_refuses_statistics_of_other_parameters(rng):
    X, y = _classes(rng, 2, n=20)
    model = OOCLinearDiscriminantAnalysis().partial_fit(X, y)
    coef = model.coef_.copy()
    model.set_params(solver="lsqr", shrinkage="auto")
    with pytest.raises(ValueError, match="do not fit the current solver"):
        model.partial_fit(X, y)
    assert_array_equal(model.coef_, coef)
    model.set_params(solver="svd", shrinkage=None).partial_fit(X, y)
    ref = LinearDiscriminantAnalysis().fit(np.vstack([X, X]), np.concatenate([y, y]))
    assert_allclose(model.coef_, ref.coef_, rtol=1e-9)
