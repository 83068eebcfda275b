"""Finite data whose products leave float64's range: the exact model, or an error.

Values beyond about 1e154 in magnitude square beyond float64's largest number
(1.8e308), values below about 1e-154 square below its normal numbers: the
cross-products behind every closed-form model overflow to inf or underflow to
zero. scikit-learn (1.x) then raises an error that does not say why (Ridge,
LDA, PCA with ``covariance_eigh``: "array must not contain infs or NaNs",
"Eigenvalues did not converge") or silently returns a wrong model:
Ridge(alpha=0) on X * 1e-200 has zero coefficients, PCA(svd_solver="full")
on X * 1e153 infinite variances, QDA on X * 2**510 predicts at chance;
LinearRegression, which never forms the products, gets them right.

Here the statistics scale such columns by powers of two, which rounds nothing:
where float64 can hold the model, it is that of the data scaled into range,
scaled back -- compared below with scikit-learn on the unscaled data. Where it
cannot (coefficients, variances or covariances beyond float64), a ValueError
says which, and what to do, and an estimator fitted before keeps its state.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.linear_model import Ridge

from sklearn_ooc.decomposition import OOCPCA
from sklearn_ooc.discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)
from sklearn_ooc.linear_model import StreamingRidge, StreamingRidgeCV

from .conftest import fitted_state

N = 300
_rng = np.random.default_rng(7)
X = _rng.normal(size=(N, 3)) * [1.0, 2.0, 0.5] + [0.5, -3.0, 1.0]
Y = np.column_stack(
    [X @ [1.0, -2.0, 4.0] + 0.3, X @ [0.5, 1.0, 0.0] - 2.0]
) + 0.1 * _rng.normal(size=(N, 2))
W = _rng.uniform(0.5, 2.0, size=N)
LABELS = (X[:, 0] - 0.3 * X[:, 1] + 0.5 * _rng.normal(size=N) > 1.5).astype(int)
LABELS3 = LABELS + (X[:, 2] > 1.3)


def _refused(est, fit, match):
    """``fit(est)`` raises a ValueError matching ``match``, and ``est``,
    fitted before on ordinary data, is left exactly as it was."""
    before = fitted_state(est)
    with pytest.raises(ValueError, match=match):
        fit(est)
    assert fitted_state(est) == before


# -- ridge -----------------------------------------------------------------------

# (scale of X, alpha): the model of X * s with alpha is that of X with
# alpha / s**2, times 1 / s. Where alpha / s**2 is below float64's range the
# penalty is nothing beside X's products (scikit-learn's alpha=0).
RIDGE_CASES = [
    (1e160, 1.0),
    (1e200, 1.0),
    (2.0**600, 1.0),
    (2.0**510, 2.0**1010),
    (1e-160, 1e-300),
    (1e-200, 0.0),
    (2.0**-600, 0.0),
    (2.0**-500, 2.0**-990),
]


# A first partial_fit of one row, with alpha=0, is singular: it says so.
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
@pytest.mark.parametrize(
    "scale, alpha",
    RIDGE_CASES,
    ids=[
        "1e160",
        "1e200",
        "2**600",
        "2**510",
        "1e-160",
        "1e-200",
        "2**-600",
        "2**-500",
    ],
)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_on_x_beyond_float64_squares_is_sklearn_on_x_scaled_back(
    scale, alpha, fit_intercept, weighted
):
    w = W if weighted else None
    model = StreamingRidge(alpha=alpha, fit_intercept=fit_intercept, batch_size=64)
    model.fit(X * scale, Y, sample_weight=w)
    reference = Ridge(
        alpha=alpha / scale / scale, fit_intercept=fit_intercept, solver="cholesky"
    ).fit(X, Y, sample_weight=w)
    assert_allclose(model.coef_ * scale, reference.coef_, rtol=1e-9)
    assert_allclose(model.intercept_, reference.intercept_, rtol=1e-9, atol=1e-9)
    assert_allclose(model.score(X * scale, Y), reference.score(X, Y), rtol=1e-12)
    # One row at a time into partial_fit merges the same statistics.
    parts = StreamingRidge(alpha=alpha, fit_intercept=fit_intercept)
    for a, b in [(0, 1), (1, 64), (64, N)]:
        parts.partial_fit(X[a:b] * scale, Y[a:b], None if w is None else w[a:b])
    assert_allclose(parts.coef_ * scale, reference.coef_, rtol=1e-9)


@pytest.mark.parametrize("scale", [1e200, 2.0**-600], ids=["1e200", "2**-600"])
def test_ridge_on_y_beyond_float64_squares(scale):
    # One target scaled, one not: coefficients and R² of each as unscaled.
    y = Y * [scale, 1.0]
    model = StreamingRidge(alpha=2.0, batch_size=50).fit(X, y)
    reference = Ridge(alpha=2.0).fit(X, Y)
    assert_allclose(model.coef_ / [[scale], [1.0]], reference.coef_, rtol=1e-10)
    assert_allclose(model.intercept_ / [scale, 1.0], reference.intercept_, rtol=1e-10)
    # R² of y * 1e200 is a ratio of sums of squares of 1e400: r2_score
    # returns NaN for it (and 1.0 for y * 2**-600, whose squares vanish).
    assert_allclose(model.score(X, y), reference.score(X, Y), rtol=1e-12)


@pytest.mark.parametrize(
    "scale_x, scale_y, match",
    [
        (1e-200, 1e200, r"target\(s\) \[0, 1\] exceed float64's range"),
        (1e200, 1e-200, r"target\(s\) \[0, 1\] fall below float64's range"),
    ],
    ids=["1e400", "1e-400"],
)
def test_ridge_coefficients_beyond_float64_are_refused(scale_x, scale_y, match):
    # Least squares (alpha=0: a penalty would dominate X * 1e-200's products)
    # with coefficients of about y / X = 1e400, or 1e-400: no float64 holds
    # them.
    est = StreamingRidge(alpha=0.0, batch_size=100).fit(X, Y)
    _refused(est, lambda e: e.fit(X * scale_x, Y * scale_y), match + ".*scale y or X")
    _refused(
        StreamingRidgeCV(alphas=[0.0], cv=3).fit(X, Y),
        lambda e: e.fit(X * scale_x, Y * scale_y),
        match,
    )


def test_ridge_cv_on_y_beyond_float64_squares():
    # R² of each fold is a ratio: y * 2**600 chooses the alpha of y. Unscaled,
    # the folds' sums of squares of y overflow and every score is NaN.
    alphas = [0.01, 1.0, 30.0, 1e3]
    y = Y[:, 0] + 2 * _rng.normal(size=N)
    reference = StreamingRidgeCV(alphas=alphas, cv=5, batch_size=64).fit(X, y)
    for scale in (2.0**600, 2.0**-600):
        model = StreamingRidgeCV(alphas=alphas, cv=5, batch_size=64).fit(X, y * scale)
        assert model.alpha_ == reference.alpha_
        assert_allclose(model.best_score_, reference.best_score_, rtol=1e-12)
        assert_allclose(
            model.cv_results_["mean_test_score"],
            reference.cv_results_["mean_test_score"],
            rtol=1e-12,
        )
        assert_allclose(model.coef_ / scale, reference.coef_, rtol=1e-10)


def test_ridge_cv_on_x_beyond_float64_squares():
    # X * 2**510: X's products (300 * 2**1020) overflow; with alphas * 2**1020
    # the problem is that of X with the alphas, scaled.
    alphas = np.array([0.01, 0.3, 3.0])
    y = Y[:, 0] + 2 * _rng.normal(size=N)
    reference = StreamingRidgeCV(alphas=alphas, cv=5, batch_size=64).fit(X, y)
    scale = 2.0**510
    model = StreamingRidgeCV(alphas=alphas * scale**2, cv=5, batch_size=64).fit(
        X * scale, y
    )
    assert model.alpha_ == reference.alpha_ * scale**2
    assert_allclose(
        model.cv_results_["mean_test_score"],
        reference.cv_results_["mean_test_score"],
        rtol=1e-10,
    )
    assert_allclose(model.coef_ * scale, reference.coef_, rtol=1e-10)


def test_ridge_cv_mean_squared_errors_beyond_float64_are_refused():
    # Errors of y * 2**600 square to 2**1200: not a float64 score.
    est = StreamingRidgeCV(scoring="neg_mean_squared_error", cv=5).fit(X, Y[:, 0])
    _refused(
        est,
        lambda e: e.fit(X, Y[:, 0] * 2.0**600),
        r"mean squared errors of the folds exceed float64's range.*scoring='r2'",
    )
    _refused(
        est,
        lambda e: e.fit(X, Y[:, 0] * 2.0**-600),
        r"mean squared errors of the folds fall below float64's range",
    )


# -- PCA -------------------------------------------------------------------------


@pytest.mark.parametrize("svd_solver", ["covariance_eigh", "full"])
@pytest.mark.parametrize("n_components", [None, 2, "mle"])
def test_pca_of_x_whose_scatter_overflows_is_sklearn_on_x_scaled_back(
    svd_solver, n_components
):
    # X * 1e153: variances of 1e306 fit in float64, their sums over 300 rows
    # (and the squared singular values) do not. scikit-learn's covariance_eigh
    # returns NaN, its full solver infinite variances.
    scale = 1e153
    model = OOCPCA(n_components=n_components, svd_solver=svd_solver, batch_size=64)
    model.fit(X * scale)
    reference = PCA(n_components=n_components, svd_solver="full").fit(X)
    assert model.n_components_ == reference.n_components_
    assert_allclose(model.components_, reference.components_, atol=1e-10)
    assert_allclose(
        model.explained_variance_ / scale**2, reference.explained_variance_, rtol=1e-10
    )
    assert_allclose(
        model.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-10
    )
    assert_allclose(
        model.singular_values_ / scale, reference.singular_values_, rtol=1e-10
    )
    assert_allclose(
        model.noise_variance_ / scale**2, reference.noise_variance_, rtol=1e-9
    )
    assert_allclose(model.mean_ / scale, reference.mean_, rtol=1e-13)
    assert_allclose(
        model.transform(X * scale) / scale, reference.transform(X), atol=1e-9
    )


@pytest.mark.parametrize("svd_solver", ["covariance_eigh", "full"])
@pytest.mark.parametrize(
    "scale, match",
    [
        (1e200, r"about 1e\+(399|40\d), exceeds float64's range"),
        (1e-200, r"about 1e-(399|40\d), falls below float64's range"),
    ],
    ids=["1e200", "1e-200"],
)
def test_pca_variances_beyond_float64_are_refused(svd_solver, scale, match):
    est = OOCPCA(svd_solver=svd_solver, batch_size=64).fit(X)
    _refused(est, lambda e: e.fit(X * scale), match + ".*StandardScaler")
    if scale > 1:
        # Added to X's rows, rows at 1e-200 change nothing; at 1e200 they
        # carry the variance beyond float64 too.
        _refused(est, lambda e: e.partial_fit(X * scale), match)


# -- discriminant analysis -------------------------------------------------------

LDA_CASES = [
    {"solver": "lsqr"},
    {"solver": "eigen"},
    {"solver": "lsqr", "shrinkage": 0.2},
    {"solver": "eigen", "shrinkage": 0.3},
]


@pytest.mark.parametrize(
    "params", LDA_CASES, ids=["lsqr", "eigen", "lsqr-shrunk", "eigen-shrunk"]
)
@pytest.mark.parametrize("labels", [LABELS, LABELS3], ids=["2 classes", "3 classes"])
def test_lda_on_x_whose_scatter_overflows_is_sklearn_on_x_scaled_back(params, labels):
    # X * 2**510: covariances of about 2**1020 fit in float64, the classes'
    # scatters (and scikit-learn's intermediate products) do not.
    scale = 2.0**510
    model = OOCLinearDiscriminantAnalysis(batch_size=64, **params)
    model.fit(X * scale, labels)
    reference = LinearDiscriminantAnalysis(**params).fit(X, labels)
    assert_allclose(model.coef_ * scale, reference.coef_, rtol=1e-8, atol=1e-8)
    assert_allclose(model.intercept_, reference.intercept_, rtol=1e-8, atol=1e-8)
    assert_allclose(
        model.covariance_ / scale**2, reference.covariance_, rtol=1e-10, atol=1e-12
    )
    assert_allclose(
        model.predict_proba(X * scale), reference.predict_proba(X), atol=1e-10
    )
    if params["solver"] == "eigen":
        assert_allclose(
            model.explained_variance_ratio_,
            reference.explained_variance_ratio_,
            rtol=1e-8,
        )


@pytest.mark.parametrize("solver", ["lsqr", "eigen"])
@pytest.mark.parametrize(
    "scale, match",
    [
        (1e200, r"feature\(s\) \[0, 1, 2\] exceed float64's range"),
        (1e-200, r"feature\(s\) \[0, 1, 2\] fall below float64's range"),
    ],
    ids=["1e200", "1e-200"],
)
def test_lda_covariances_beyond_float64_are_refused(solver, scale, match):
    # scikit-learn raises "array must not contain infs or NaNs" at 1e200 and
    # returns zero coefficients at 1e-200.
    est = OOCLinearDiscriminantAnalysis(solver=solver, batch_size=64).fit(X, LABELS)
    _refused(est, lambda e: e.fit(X * scale, LABELS), match + ".*StandardScaler")


@pytest.mark.parametrize("solver", ["svd", "eigen"])
def test_qda_on_x_whose_scatter_overflows_is_sklearn_on_x_scaled_back(solver):
    scale = 2.0**510
    model = OOCQuadraticDiscriminantAnalysis(solver=solver, batch_size=64)
    model.fit(X * scale, LABELS3)
    reference = QuadraticDiscriminantAnalysis(solver=solver).fit(X, LABELS3)
    for got, expected in zip(model.scalings_, reference.scalings_, strict=True):
        assert_allclose(got / scale**2, expected, rtol=1e-10)
    # The log-determinants grow by 3 * log(2**1020): a few digits of theirs
    # go to the scale.
    assert_allclose(
        model.predict_proba(X * scale), reference.predict_proba(X), atol=1e-9
    )


@pytest.mark.parametrize("solver", ["svd", "eigen"])
def test_qda_variances_beyond_float64_are_refused(solver):
    # scikit-learn's QDA predicts at chance on X * 1e200, silently.
    est = OOCQuadraticDiscriminantAnalysis(solver=solver).fit(X, LABELS)
    _refused(
        est,
        lambda e: e.fit(X * 1e200, LABELS),
        r"variances of class 0 exceed float64's range.*StandardScaler",
    )
