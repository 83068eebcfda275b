"""StreamingLogisticRegression: a drop-in for LogisticRegression, fitted exactly."""

import inspect
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression

from sklearn_ooc import out_of_core
from sklearn_ooc.linear_model import StreamingLogisticRegression
from sklearn_ooc.linear_model._logistic import _lasso_quadratic

from .conftest import fitted_state


def _problem(rng, n_classes, offset=0.0, n=600, d=4):
    X = rng.normal(size=(n, d))
    scores = X @ rng.normal(size=(d, n_classes)) + rng.normal(size=(n, n_classes))
    labels = np.array(["no", "yes", "maybe", "later", "never"])[:n_classes]
    return X + offset, labels[np.argmax(scores, axis=1)]


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("offset", [0.0, 100.0])
@pytest.mark.parametrize("batch_size", [7, 600])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_newton_cholesky(rng, n_classes, offset, batch_size, weighted):
    X, y = _problem(rng, n_classes, offset)
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LogisticRegression(
            solver="newton-cholesky", C=0.5, tol=1e-12, max_iter=1000
        ).fit(X, y, sample_weight=w)
    ours = StreamingLogisticRegression(
        C=0.5, tol=1e-12, max_iter=100, batch_size=batch_size
    )
    ours.fit(X, y, sample_weight=w)
    assert_array_equal(ours.classes_, ref.classes_)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-10)
    assert_allclose(
        ours.predict_log_proba(X), ref.predict_log_proba(X), rtol=1e-6, atol=1e-8
    )
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.score(X, y), ref.score(X, y))


def test_default_tolerance_stops_like_sklearn(rng, npy):
    X, y = _problem(rng, 2)
    ref = LogisticRegression(solver="newton-cholesky").fit(X, y)
    ours = StreamingLogisticRegression(batch_size=100).fit(npy(X), y)
    assert ours.n_iter_.shape == (1,)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-4)


def test_separable_data_converges_with_halved_steps(rng):
    X = np.vstack([rng.normal(-5, 1, (50, 2)), rng.normal(5, 1, (50, 2))])
    y = np.repeat([0, 1], 50)
    ref = LogisticRegression(
        solver="newton-cholesky", C=1e4, tol=1e-10, max_iter=500
    ).fit(X, y)
    ours = StreamingLogisticRegression(
        C=1e4, tol=1e-10, max_iter=200, batch_size=30
    ).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)


def test_no_partial_fit_and_bad_input(rng):
    X, y = _problem(rng, 2, n=100)
    model = StreamingLogisticRegression().fit(X, y)
    assert not hasattr(model, "partial_fit")
    before = fitted_state(model)
    with pytest.raises(ValueError, match="at least 2 classes"):
        model.fit(X, np.full(100, "yes"))
    with pytest.raises(ValueError, match="non-zero"):
        model.fit(X, y, sample_weight=np.zeros(100))
    with pytest.raises(ValueError, match="Unknown label type"):
        model.fit(X, rng.normal(size=100))
    assert fitted_state(model) == before


# -- drop-in for LogisticRegression --------------------------------------------------


def _sparse_problem(rng, n_classes, n=300, d=6):
    """Labels from the first features only: the last two are pure noise, so an
    L1 penalty sets (some of) their coefficients to exact zeros."""
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, n_classes))
    W[-2:] = 0.0
    scores = X @ W + rng.normal(size=(n, n_classes))
    return X, np.argmax(scores, axis=1)


def _saga(X, y, **params):
    # saga is the one scikit-learn solver of every l1_ratio; on these small,
    # well-conditioned problems it reaches about 1e-12 with this tolerance.
    return LogisticRegression(solver="saga", tol=1e-13, max_iter=100_000, **params)


def test_signature_is_logistic_regressions():
    theirs = inspect.signature(LogisticRegression).parameters
    ours = inspect.signature(StreamingLogisticRegression).parameters
    for name, parameter in theirs.items():
        assert name in ours
        assert ours[name].default == parameter.default, name
        assert ours[name].kind == parameter.kind, name
    assert {"batch_size", "checkpoint"} <= set(ours)
    # What IterativeMixin reads and logistic regression takes is a parameter.
    for name in ("warm_start", "random_state"):
        assert name not in vars(StreamingLogisticRegression)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("class_weight", ["balanced", "dict"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("batch_size", [7, 600])
def test_class_weight_equals_sklearn(
    rng, n_classes, class_weight, weighted, batch_size
):
    X, y = _problem(rng, n_classes)
    # Unbalanced classes, so that 'balanced' weighs them apart.
    keep = (y != y[0]) | (rng.uniform(size=len(y)) < 0.3)
    X, y = X[keep], y[keep]
    if class_weight == "dict":
        class_weight = {"no": 3.0, "yes": 0.5}
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    ref = LogisticRegression(
        solver="newton-cholesky",
        class_weight=class_weight,
        C=0.5,
        tol=1e-12,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    ours = StreamingLogisticRegression(
        class_weight=class_weight, C=0.5, tol=1e-12, batch_size=batch_size
    ).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-10)
    # The weights do change the model.
    plain = StreamingLogisticRegression(C=0.5, tol=1e-12).fit(X, y, sample_weight=w)
    assert np.max(np.abs(plain.coef_ - ours.coef_)) > 1e-3


def test_balanced_class_weight_is_counted_by_streaming(rng, npy):
    X, y = _problem(rng, 3, n=500)
    y = np.where(rng.uniform(size=len(y)) < 0.6, "no", y)
    w = rng.uniform(0.5, 2, len(X))
    ref = LogisticRegression(
        solver="newton-cholesky", class_weight="balanced", tol=1e-12, max_iter=100
    ).fit(X, y, sample_weight=w)
    # n_jobs=2 and a .npy file: the counts are merged across threads.
    ours = StreamingLogisticRegression(
        class_weight="balanced", tol=1e-12, batch_size=13, n_jobs=2
    ).fit(npy(X), y, sample_weight=w)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("batch_size", [7, 300])
def test_l1_and_elastic_net_equal_saga(rng, n_classes, l1_ratio, batch_size):
    X, y = _sparse_problem(rng, n_classes)
    ref = _saga(X, y, C=0.1, l1_ratio=l1_ratio).fit(X, y)
    ours = StreamingLogisticRegression(
        solver="saga", C=0.1, l1_ratio=l1_ratio, tol=1e-10, batch_size=batch_size
    ).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    # Exact zeros where saga's are, and only there: the others are clear.
    assert np.any(ref.coef_ == 0)
    assert np.min(np.abs(ref.coef_[ref.coef_ != 0])) > 1e-4
    assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-8)


@pytest.mark.parametrize(
    "dtype, offset, weighted, n_jobs",
    [
        (np.float32, 0.0, False, 1),
        (np.float64, 1e6, False, 2),
        (np.float64, 0.0, True, 2),
        (np.float32, 0.0, True, 1),
    ],
)
def test_elastic_net_on_float32_offset_and_weighted_rows(
    rng, npy, dtype, offset, weighted, n_jobs
):
    X, y = _sparse_problem(rng, 3)
    X = X.astype(dtype)
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    # The reference sees the same values, in float64 and without the offset
    # (which moves the intercepts only).
    ref = _saga(X, y, C=0.2, l1_ratio=0.7)
    ref.fit(X.astype(np.float64), y, sample_weight=w)
    ours = StreamingLogisticRegression(
        solver="saga", C=0.2, l1_ratio=0.7, tol=1e-10, batch_size=29, n_jobs=n_jobs
    ).fit(npy(X + dtype(offset)), y, sample_weight=w)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-7)
    assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert_allclose(
        ours.predict_proba(X + dtype(offset)),
        ref.predict_proba(X.astype(np.float64)),
        atol=1e-6,
    )


def test_l1_fit_is_the_same_for_every_batch_size_and_thread_count(rng):
    X, y = _sparse_problem(rng, 3)
    fits = [
        StreamingLogisticRegression(
            solver="saga",
            C=0.1,
            l1_ratio=1,
            tol=1e-10,
            batch_size=batch_size,
            n_jobs=n_jobs,
        ).fit(X, y)
        for batch_size, n_jobs in [(300, 1), (11, 1), (11, 2)]
    ]
    for fit in fits[1:]:
        assert_allclose(fit.coef_, fits[0].coef_, rtol=1e-12, atol=1e-14)
    # Threads reduce in batch order: bitwise the same as one thread.
    assert_array_equal(fits[2].coef_, fits[1].coef_)
    assert_array_equal(fits[2].intercept_, fits[1].intercept_)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_no_penalty_equals_sklearn(rng, n_classes):
    X, y = _problem(rng, n_classes)
    ref = LogisticRegression(
        solver="newton-cholesky", C=np.inf, tol=1e-12, max_iter=100
    ).fit(X, y)
    ours = StreamingLogisticRegression(C=np.inf, tol=1e-12, batch_size=50).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-10)
    # C=inf ignores l1_ratio; penalty=None is C=inf, with sklearn's warnings.
    l1 = StreamingLogisticRegression(
        solver="saga", C=np.inf, l1_ratio=1, tol=1e-12
    ).fit(X, y)
    assert_allclose(l1.coef_, ours.coef_, rtol=1e-9, atol=1e-12)
    none = StreamingLogisticRegression(penalty=None, C=0.01, tol=1e-12)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        with pytest.warns(UserWarning, match="penalty=None will ignore the C"):
            none.fit(X, y)
    assert_allclose(none.coef_, ours.coef_, rtol=1e-9, atol=1e-12)


def test_every_solver_name_fits_the_same_model(rng):
    X, y = _problem(rng, 3)
    ref = LogisticRegression(
        solver="newton-cholesky", C=0.5, tol=1e-12, max_iter=100
    ).fit(X, y)
    fits = {
        solver: StreamingLogisticRegression(
            solver=solver, C=0.5, tol=1e-12, batch_size=50
        ).fit(X, y)
        for solver in ["lbfgs", "newton-cg", "newton-cholesky", "sag", "saga"]
    }
    # The same iterations; each name stops by its own solver's rule (sag and
    # saga: the relative change of the weights).
    for solver in ["newton-cg", "newton-cholesky"]:
        assert_array_equal(fits[solver].coef_, fits["lbfgs"].coef_)
        assert_array_equal(fits[solver].intercept_, fits["lbfgs"].intercept_)
    assert_array_equal(fits["sag"].coef_, fits["saga"].coef_)
    for fit in fits.values():
        assert_allclose(fit.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
        assert_allclose(fit.intercept_, ref.intercept_, rtol=1e-7, atol=1e-10)


def test_liblinear_and_dual_raise_as_in_sklearn(rng):
    X, y = _problem(rng, 2, n=100)
    model = StreamingLogisticRegression().fit(X, y)
    before = fitted_state(model)
    # scikit-learn's message for dual=True with any other solver.
    with pytest.raises(
        ValueError, match="Solver saga supports only dual=False, got dual=True"
    ):
        model.set_params(solver="saga", dual=True).fit(X, y)
    cases = [
        (dict(l1_ratio=0.5), "Only 'saga' solver supports elasticnet penalty"),
        (dict(C=np.inf), "C=np.inf as well as penalty=None is not supported"),
        (dict(l1_ratio=1, dual=True), "penalty='l1' and loss='logistic_regression'"),
    ]
    for params, message in cases:
        theirs = LogisticRegression(solver="liblinear", **params)
        with pytest.raises(ValueError, match=re.escape(message)):
            theirs.fit(X, y)
        model.set_params(solver="liblinear", dual=False, l1_ratio=0.0, C=1.0)
        with pytest.raises(ValueError, match=re.escape(message)):
            model.set_params(**params).fit(X, y)
    # scikit-learn's _check_solver: L1 terms need saga (or liblinear).
    for solver, l1_ratio, message in [
        ("lbfgs", 1, "Solver lbfgs supports only 'l2' or None penalties, got l1"),
        ("sag", 0.5, "Solver sag supports only 'l2' or None penalties, got elastic"),
        ("newton-cholesky", 1, "Solver newton-cholesky supports only 'l2' or None"),
    ]:
        for estimator in (LogisticRegression, StreamingLogisticRegression):
            with pytest.raises(ValueError, match=re.escape(message)):
                estimator(solver=solver, l1_ratio=l1_ratio).fit(X, y)
    Xm, ym = _problem(rng, 3, n=100)
    for estimator in (LogisticRegression, StreamingLogisticRegression):
        with pytest.raises(ValueError, match="does not support multiclass"):
            estimator(solver="liblinear").fit(Xm, ym)
        with pytest.raises(ValueError, match="maximum value > 1e30"):
            estimator(solver="liblinear").fit(np.vstack([X[:-1], [1e31] * 4]), y)
    model.set_params(solver="lbfgs", dual=False, l1_ratio=0.0, C=1.0)
    assert fitted_state(model) == before
    # out_of_core converts every parameter, liblinear's too.
    assert isinstance(
        out_of_core(LogisticRegression(solver="liblinear")),
        StreamingLogisticRegression,
    )
    theirs = LogisticRegression(
        C=0.3,
        l1_ratio=0.5,
        solver="saga",
        class_weight="balanced",
        warm_start=True,
        random_state=0,
        intercept_scaling=2.0,
        max_iter=50,
    )
    ours = out_of_core(theirs)
    assert isinstance(ours, StreamingLogisticRegression)
    params = ours.get_params()
    for name, value in theirs.get_params().items():
        assert params[name] == value, name


def test_penalty_parameter_is_deprecated_as_in_sklearn(rng):
    X, y = _sparse_problem(rng, 2)
    l1 = StreamingLogisticRegression(solver="saga", C=0.1, l1_ratio=1, tol=1e-10).fit(
        X, y
    )
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        by_name = StreamingLogisticRegression(
            solver="saga", penalty="l1", l1_ratio=1, C=0.1, tol=1e-10
        )
        by_name.fit(X, y)
    assert_array_equal(by_name.coef_, l1.coef_)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        with pytest.raises(ValueError, match="l1_ratio must be specified"):
            StreamingLogisticRegression(
                solver="saga", penalty="elasticnet", l1_ratio=None
            ).fit(X, y)
    l2 = StreamingLogisticRegression(tol=1e-10).fit(X, y)
    with pytest.warns(FutureWarning, match="'l1_ratio=None' was deprecated"):
        none = StreamingLogisticRegression(l1_ratio=None, tol=1e-10).fit(X, y)
    assert_array_equal(none.coef_, l2.coef_)
    # As scikit-learn: penalty='l2' wins over l1_ratio, with three warnings.
    with (
        pytest.warns(FutureWarning, match="'penalty' was deprecated"),
        pytest.warns(UserWarning, match="l1_ratio parameter is only used when"),
    ):
        with pytest.warns(UserWarning, match="Inconsistent values: penalty=l2"):
            mixed = StreamingLogisticRegression(penalty="l2", l1_ratio=0.5, tol=1e-10)
            mixed.fit(X, y)
    assert_array_equal(mixed.coef_, l2.coef_)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_warm_start_equals_sklearn_and_starts_from_the_fit(rng, n_classes):
    X, y = _problem(rng, n_classes)
    X2, y2 = _problem(rng, n_classes)
    cold = StreamingLogisticRegression(C=0.5, tol=1e-12).fit(X2, y2)
    model = StreamingLogisticRegression(C=0.5, tol=1e-12, warm_start=True)
    model.fit(X, y).fit(X2, y2)
    ref = LogisticRegression(
        solver="newton-cholesky", C=0.5, tol=1e-12, warm_start=True
    )
    ref.fit(X, y).fit(X2, y2)
    assert_allclose(model.coef_, cold.coef_, rtol=1e-8, atol=1e-11)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    # From the solution of the same data the first pass finds the optimum.
    start = model.coef_.copy(), model.intercept_.copy()
    model.fit(X2, y2)
    assert model.n_iter_.tolist() == [1] and cold.n_iter_[0] > 2
    # No iteration at all keeps the previous model.
    model.set_params(max_iter=0).fit(X2, y2)
    assert_allclose(model.coef_, start[0], rtol=1e-12, atol=1e-14)
    assert_allclose(model.intercept_, start[1], rtol=1e-12, atol=1e-14)
    # Without warm_start every fit starts from zero.
    model.set_params(max_iter=100, warm_start=False).fit(X2, y2)
    assert model.n_iter_[0] == cold.n_iter_[0]


def test_warm_start_into_l1_and_shape_mismatch(rng):
    X, y = _sparse_problem(rng, 3)
    l1 = StreamingLogisticRegression(solver="saga", C=0.1, l1_ratio=1, tol=1e-10).fit(
        X, y
    )
    model = StreamingLogisticRegression(C=0.1, tol=1e-10, warm_start=True).fit(X, y)
    model.set_params(solver="saga", l1_ratio=1).fit(X, y)
    assert_allclose(model.coef_, l1.coef_, rtol=1e-7, atol=1e-10)
    assert_array_equal(model.coef_ == 0, l1.coef_ == 0)
    before = fitted_state(model)
    binary = y == y[0]
    with pytest.raises(
        ValueError,
        match=re.escape("Initialization coef is of shape (3, 7), expected shape (7,)"),
    ):
        model.fit(X, binary)
    assert fitted_state(model) == before


def test_sparsify_densify(rng):
    X, y = _sparse_problem(rng, 3)
    model = StreamingLogisticRegression(
        solver="saga", C=0.1, l1_ratio=1, tol=1e-10
    ).fit(X, y)
    dense = model.coef_.copy()
    proba = model.predict_proba(X)
    labels = model.predict(X)
    assert sp.issparse(model.sparsify().coef_)
    assert model.coef_.nnz == np.count_nonzero(dense) < dense.size
    assert_allclose(model.predict_proba(X), proba, rtol=1e-12, atol=1e-15)
    assert_array_equal(model.predict(X), labels)
    assert isinstance(model.densify().coef_, np.ndarray)
    assert_array_equal(model.coef_, dense)
    with pytest.raises(NotFittedError):
        StreamingLogisticRegression().sparsify()


@pytest.mark.parametrize(
    "solver, message",
    [
        ("lbfgs", "lbfgs failed to converge after 2 iteration(s) (status=1)"),
        ("newton-cg", "newton-cg failed to converge at loss = "),
        ("newton-cholesky", "Newton solver did not converge after 2 iterations"),
        ("sag", "The max_iter was reached which means the coef_ did not converge"),
        ("saga", "The max_iter was reached which means the coef_ did not converge"),
        ("liblinear", "Liblinear failed to converge, increase the number of"),
    ],
)
def test_convergence_warning_and_n_iter(rng, solver, message):
    X, y = _problem(rng, 2)
    # scikit-learn's own solver warns with the same text.
    with pytest.warns(ConvergenceWarning, match=re.escape(message)):
        LogisticRegression(solver=solver, tol=1e-15, max_iter=2).fit(X, y)
    model = StreamingLogisticRegression(solver=solver, tol=1e-15, max_iter=2)
    with pytest.warns(ConvergenceWarning, match=re.escape(message)):
        model.fit(X, y)
    assert model.n_iter_.shape == (1,) and model.n_iter_.dtype == np.int32
    assert model.n_iter_[0] == 2
    X, y = _problem(rng, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        StreamingLogisticRegression(solver="saga", l1_ratio=0.5, max_iter=100).fit(X, y)


def test_random_state_and_intercept_scaling_change_nothing(rng):
    X, y = _problem(rng, 2)
    base = StreamingLogisticRegression(solver="saga", l1_ratio=0.3, tol=1e-10).fit(X, y)
    other = StreamingLogisticRegression(
        solver="saga", l1_ratio=0.3, tol=1e-10, random_state=7, intercept_scaling=5.0
    ).fit(X, y)
    assert_array_equal(other.coef_, base.coef_)
    assert_array_equal(other.intercept_, base.intercept_)


def _naive_lasso_quadratic_kkt(H, g, w, l1, penalized, z):
    """Largest violation of the optimality conditions of the lasso model."""
    grad = g + H @ (z - w)
    violation = np.abs(grad)
    on = penalized & (z != 0)
    violation[on] = np.abs(grad[on] + l1 * np.sign(z[on]))
    off = penalized & (z == 0)
    violation[off] = np.maximum(np.abs(grad[off]) - l1, 0)
    return violation.max()


@pytest.mark.parametrize("seed", range(5))
def test_lasso_quadratic_meets_the_optimality_conditions(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(40, 12))
    H = A.T @ A / 40
    g = rng.normal(size=12)
    w = rng.normal(size=12) * (rng.uniform(size=12) < 0.5)
    penalized = np.arange(12) % 4 != 3
    z = _lasso_quadratic(H, g, w, 0.3, penalized)
    assert _naive_lasso_quadratic_kkt(H, g, w, 0.3, penalized, z) < 1e-10
    assert np.any(z[penalized] == 0)


def test_pure_l1_with_four_classes_reaches_sagas_objective(rng):
    # Its minimizers may form a segment (see the Notes of the class): the
    # objective, not the coefficients, is what is the same.
    X, y = _sparse_problem(rng, 4)
    ref = _saga(X, y, C=0.2, l1_ratio=1).fit(X, y)
    ours = StreamingLogisticRegression(
        solver="saga", C=0.2, l1_ratio=1, tol=1e-10, batch_size=37
    ).fit(X, y)

    def objective(model):
        scores = model.decision_function(X)
        loss = logsumexp(scores, axis=1) - scores[np.arange(len(y)), y]
        return 0.2 * loss.sum() + np.abs(model.coef_).sum()

    assert objective(ours) <= objective(ref) * (1 + 1e-12)
    assert_allclose(objective(ours), objective(ref), rtol=1e-10)


def test_checkpoint_resumes_an_l1_fit_and_knows_its_start(rng, tmp_path):
    X, y = _sparse_problem(rng, 3)
    path = tmp_path / "fit.ckpt"

    def model(max_iter, **params):
        return StreamingLogisticRegression(
            solver="saga",
            C=0.1,
            l1_ratio=0.5,
            tol=0,
            max_iter=max_iter,
            batch_size=50,
            **params,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model(2, checkpoint=path, warm_start=True).fit(X, y)
        resumed = model(5, checkpoint=path, warm_start=True).fit(X, y)
        whole = model(5).fit(X, y)
    assert_array_equal(resumed.coef_, whole.coef_)
    assert_array_equal(resumed.intercept_, whole.intercept_)
    # A warm start begins elsewhere: the checkpoint of the cold fit is not its.
    with pytest.raises(ValueError, match="other data or with other parameters"):
        resumed.set_params(max_iter=6).fit(X, y)


# -- liblinear, float32, callbacks ---------------------------------------------------


def _liblinear(**params):
    # liblinear stops at its own tolerance; this one brings it to about 1e-10.
    return LogisticRegression(solver="liblinear", tol=1e-12, max_iter=10_000, **params)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"fit_intercept": False},
        {"dual": True},
        {"intercept_scaling": 4.0, "C": 0.3},
        {"l1_ratio": 1, "C": 0.2},
        {"l1_ratio": 1, "C": 0.2, "intercept_scaling": 3.0},
        {"l1_ratio": 1, "fit_intercept": False},
        {"class_weight": "balanced"},
        {"class_weight": {"no": 2.0, "yes": 0.5}, "l1_ratio": 1},
    ],
)
@pytest.mark.parametrize("batch_size, n_jobs", [(7, 1), (40, 2), (600, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_liblinear_equals_sklearn(rng, params, batch_size, n_jobs, dtype, weighted):
    # liblinear penalizes the coefficient of a constant intercept_scaling
    # column: the offset is modest, liblinear itself loses digits at 1e6.
    X, y = _sparse_problem(rng, 2)
    X = (X + 3.0).astype(dtype)
    y = np.array(["no", "yes"])[y]
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    with warnings.catch_warnings():
        # At this tolerance its L1 solver may stop at max_iter, well within 1e-8.
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = _liblinear(**params).fit(X, y, sample_weight=w)
    ours = StreamingLogisticRegression(
        solver="liblinear", tol=1e-8, batch_size=batch_size, n_jobs=n_jobs, **params
    ).fit(X, y, sample_weight=w)
    # As liblinear: float64 coefficients, intercept 0.0 without an intercept.
    assert ours.coef_.dtype == ref.coef_.dtype == np.float64
    assert type(ours.intercept_) is type(ref.intercept_)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    if params.get("l1_ratio") == 1:
        assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6)
    assert_array_equal(ours.predict(X), ref.predict(X))


def test_liblinear_ignores_warm_start_as_sklearn(rng):
    X, y = _problem(rng, 2, n=200)
    model = StreamingLogisticRegression(solver="liblinear", warm_start=True)
    model.fit(X, y)
    first = model.coef_.copy()
    model.set_params(max_iter=1)
    with pytest.warns(ConvergenceWarning, match="Liblinear failed to converge"):
        model.fit(X, y)
    # A warm start would stay at the solution; liblinear starts from zero.
    assert not np.allclose(model.coef_, first)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("batch_size", [9, 600])
def test_float32_input_keeps_float32_as_sklearn(
    rng, n_classes, fit_intercept, batch_size
):
    X, y = _problem(rng, n_classes)
    X32 = X.astype(np.float32)
    params = dict(C=0.5, tol=1e-10, fit_intercept=fit_intercept)
    ref = LogisticRegression(solver="newton-cholesky", max_iter=100, **params)
    with warnings.catch_warnings():
        # Its float32 line search gives up near the solution, then lbfgs ends.
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X32, y)
    ours = StreamingLogisticRegression(batch_size=batch_size, **params).fit(X32, y)
    assert ours.coef_.dtype == ref.coef_.dtype == np.float32
    assert ours.intercept_.dtype == ref.intercept_.dtype == np.float32
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)
    assert StreamingLogisticRegression().fit(X, y).coef_.dtype == np.float64


def _recording():
    from sklearn.callback.tests._utils import RecordingCallback

    return RecordingCallback()


@pytest.mark.parametrize("max_iter", [0, 2, 100])
def test_callbacks_see_the_tasks_of_sklearns_lbfgs(rng, max_iter):
    X, y = _problem(rng, 2, n=100)
    counts = []
    for estimator in (LogisticRegression, StreamingLogisticRegression):
        callback = _recording()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = estimator(max_iter=max_iter).set_callbacks(callback).fit(X, y)
        names = [record["name"] for record in callback.record]
        assert names.count("setup") == names.count("teardown") == 1
        # The fit, an iteration (at least one), and one never run.
        tasks = 1 + max(model.n_iter_[0], 1) + 1
        assert names.count("on_fit_task_begin") == tasks
        assert names.count("on_fit_task_end") == tasks
        counts.append(len(names))
    assert not hasattr(model, "_callback_fit_ctx")


@pytest.mark.parametrize("n_classes", [2, 3])
def test_callbacks_get_the_model_of_each_iteration(rng, n_classes):
    X, y = _problem(rng, n_classes, n=100)
    callback = _recording()
    model = StreamingLogisticRegression(batch_size=30).set_callbacks(callback)
    model.fit(X, y)
    ends = [
        record
        for record in callback.record
        if record["name"] == "on_fit_task_end" and "iter" in record["context"].task_name
    ]
    assert len(ends) == model.n_iter_[0] + 1
    for i, record in enumerate(ends[:-1]):
        fitted = record["kwargs"]["fitted_estimator"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            expected = StreamingLogisticRegression(max_iter=i + 1).fit(X, y)
        assert_allclose(fitted.coef_, expected.coef_)
        assert_allclose(fitted.intercept_, expected.intercept_)
        assert_array_equal(fitted.predict(X), expected.predict(X))
    assert ends[-1]["kwargs"]["fitted_estimator"] is None
    assert_allclose(ends[-2]["kwargs"]["fitted_estimator"].coef_, model.coef_)


def test_callbacks_of_other_solvers_warn_as_sklearn():
    for estimator in (LogisticRegression, StreamingLogisticRegression):
        with pytest.warns(UserWarning, match="only supported in LogisticRegression"):
            estimator(solver="saga").set_callbacks(_recording())


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("params", [{}, {"fit_intercept": False}, {"tol": 1e-8}])
@pytest.mark.parametrize("batch_size, n_jobs", [(7, 2), (300, 1)])
def test_liblinear_l2_stops_where_liblinear_does(rng, C, params, batch_size, n_jobs):
    # Its trust-region Newton iterations themselves: at its (default)
    # tolerance too, the same coefficients and iteration count.
    X, y = _sparse_problem(rng, 2)
    X = X + 2.0
    w = rng.uniform(0.5, 2, len(X))
    ref = LogisticRegression(solver="liblinear", C=C, **params)
    ref.fit(X, y, sample_weight=w)
    ours = StreamingLogisticRegression(
        solver="liblinear", C=C, batch_size=batch_size, n_jobs=n_jobs, **params
    ).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)
    assert_array_equal(ours.n_iter_, ref.n_iter_)


def test_checkpoint_resumes_liblinears_trust_region(rng, tmp_path):
    X, y = _sparse_problem(rng, 2)
    path = tmp_path / "fit.ckpt"

    def model(max_iter, **params):
        return StreamingLogisticRegression(
            solver="liblinear", tol=1e-14, max_iter=max_iter, batch_size=50, **params
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model(2, checkpoint=path).fit(X, y)
        resumed = model(5, checkpoint=path).fit(X, y)
        whole = model(5).fit(X, y)
    assert_array_equal(resumed.coef_, whole.coef_)
    assert_array_equal(resumed.intercept_, whole.intercept_)
    assert_array_equal(resumed.n_iter_, whole.n_iter_)
