"""StreamingLasso, StreamingElasticNet and their CV versions against scikit-learn.

The reference is scikit-learn with ``precompute=True``: the same coordinate
descent on the same Gram matrix, so the models agree to rounding (the
tolerance is set far below it, so that both stop at the same sweep). Its
default (descent on the rows) reaches the same solution to ``tol``.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.linear_model import (
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    MultiTaskElasticNet,
    MultiTaskElasticNetCV,
    MultiTaskLasso,
    MultiTaskLassoCV,
)
from sklearn.model_selection import ShuffleSplit

from sklearn_ooc import out_of_core
from sklearn_ooc.linear_model import (
    StreamingElasticNet,
    StreamingElasticNetCV,
    StreamingLasso,
    StreamingLassoCV,
    StreamingMultiTaskElasticNet,
    StreamingMultiTaskElasticNetCV,
    StreamingMultiTaskLasso,
    StreamingMultiTaskLassoCV,
)

TIGHT = dict(tol=1e-12, max_iter=100_000)


def _problem(n=240, d=6, offset=0.0, dtype=np.float64, targets=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    coef = np.array([2.0, 0.0, -1.0, 0.0, 0.5, 0.0][:d])
    y = X @ coef + 0.5 * rng.normal(size=n) + 3.0
    if targets:
        y = np.column_stack([y, X @ coef[::-1] - 1.0 + rng.normal(size=n)])
    w = rng.uniform(0, 2, size=n) * (rng.random(n) > 0.1)
    return (X + offset).astype(dtype), y, w


@pytest.fixture
def npy(tmp_path):
    def save(array, name="X.npy"):
        path = tmp_path / name
        np.save(path, array)
        return np.load(path, mmap_mode="r")

    return save


@pytest.mark.parametrize("batch_size", [1, 17, 1000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_elastic_net_equals_sklearn(npy, batch_size, n_jobs, weighted, fit_intercept):
    X, y, w = _problem()
    sw = w if weighted else None
    params = dict(alpha=0.05, l1_ratio=0.6, fit_intercept=fit_intercept, **TIGHT)
    ref = ElasticNet(precompute=True, **params).fit(X, y, sample_weight=sw)
    ours = StreamingElasticNet(n_jobs=n_jobs, **params)
    ours.fit(npy(X), y, sample_weight=sw, batch_size=batch_size)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-12, atol=1e-13)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.dual_gap_, ref.dual_gap_, rtol=0, atol=1e-12)
    # To the coefficients' tolerance: a prediction near zero (one in 240
    # here, at 2e-3) keeps its absolute error, not its relative one.
    assert_allclose(
        ours.predict(npy(X, "P.npy")), ref.predict(X), rtol=1e-12, atol=1e-13
    )
    # Zeros where scikit-learn's are zeros: the same sparsity pattern.
    assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)


@pytest.mark.parametrize("alpha", [1e-3, 0.1, 2.0])
def test_lasso_equals_sklearn_default_to_its_tolerance(npy, alpha):
    X, y, _ = _problem()
    ours = StreamingLasso(alpha=alpha).fit(npy(X), y, batch_size=50)
    # The default descends on the rows: the same solution, to tol.
    ref = Lasso(alpha=alpha).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, atol=1e-3 * np.abs(ref.coef_).max())
    tight = StreamingLasso(alpha=alpha, **TIGHT).fit(npy(X, "Y.npy"), y)
    exact = Lasso(alpha=alpha, precompute=True, **TIGHT).fit(X, y)
    assert_allclose(tight.coef_, exact.coef_, rtol=1e-12, atol=1e-13)


def test_far_from_the_origin_loses_no_digits(npy):
    # scikit-learn centers X in memory; at 1e6 its Gram keeps its digits
    # too, so the reference is the translated data (the same model).
    X, y, w = _problem(offset=1e6)
    ours = StreamingLasso(alpha=0.02, **TIGHT).fit(npy(X), y, sample_weight=w)
    ref = Lasso(alpha=0.02, precompute=True, **TIGHT)
    ref.fit(X - 1e6, y, sample_weight=w)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-10)
    intercept = ref.intercept_ - 1e6 * ref.coef_.sum()
    assert_allclose(ours.intercept_, intercept, rtol=1e-9)


def test_float32_rows_give_the_float64_model_within_float32_rounding(npy):
    X, y, _ = _problem(dtype=np.float32)
    ours = StreamingElasticNet(alpha=0.05, **TIGHT).fit(npy(X), y, batch_size=33)
    assert ours.coef_.dtype == np.float32 and ours.intercept_.dtype == np.float32
    ref = ElasticNet(alpha=0.05, precompute=True, **TIGHT)
    ref.fit(X.astype(np.float64), y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6)


def test_several_targets_one_descent_each(npy):
    X, y, w = _problem(targets=2)
    params = dict(alpha=0.1, l1_ratio=0.3, **TIGHT)
    ours = StreamingElasticNet(**params).fit(npy(X), y, sample_weight=w)
    ref = ElasticNet(precompute=True, **params).fit(X, y, sample_weight=w)
    assert ours.coef_.shape == (2, 6) and ours.intercept_.shape == (2,)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    assert_allclose(ours.dual_gap_, ref.dual_gap_, atol=1e-12)
    assert ours.n_iter_ == ref.n_iter_


def test_random_selection_follows_sklearns_draws(npy):
    X, y, _ = _problem()
    params = dict(alpha=0.05, selection="random", random_state=3, **TIGHT)
    ours = StreamingLasso(**params).fit(npy(X), y)
    ref = Lasso(precompute=True, **params).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    assert ours.n_iter_ == ref.n_iter_


def test_positive_and_warm_start(npy):
    X, y, _ = _problem()
    ours = StreamingLasso(alpha=0.01, positive=True, **TIGHT).fit(npy(X), y)
    ref = Lasso(alpha=0.01, positive=True, precompute=True, **TIGHT).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    assert np.all(ours.coef_ >= 0)
    warm = StreamingLasso(alpha=0.2, warm_start=True, **TIGHT).fit(X, y)
    ref = Lasso(alpha=0.2, warm_start=True, precompute=True, **TIGHT).fit(X, y)
    warm.set_params(alpha=0.1).fit(X, y)
    ref.set_params(alpha=0.1).fit(X, y)
    assert warm.n_iter_ == ref.n_iter_
    assert_allclose(warm.coef_, ref.coef_, rtol=1e-12, atol=1e-13)


def test_partial_fit_is_the_model_of_all_rows_seen():
    X, y, w = _problem()
    model = StreamingElasticNet(alpha=0.05, **TIGHT)
    for start in range(0, 240, 80):
        rows = slice(start, start + 80)
        model.partial_fit(X[rows], y[rows], sample_weight=w[rows])
    ref = ElasticNet(alpha=0.05, precompute=True, **TIGHT)
    ref.fit(X, y, sample_weight=w)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    assert model.n_samples_seen_ == 240


def test_a_users_gram_is_checked_as_sklearn_checks_it():
    X, y, _ = _problem()
    gram = X.T @ X
    ours = StreamingLasso(alpha=0.1, precompute=gram, fit_intercept=False, **TIGHT)
    ref = Lasso(alpha=0.1, precompute=gram, fit_intercept=False, **TIGHT)
    assert_allclose(ours.fit(X, y).coef_, ref.fit(X, y).coef_, rtol=1e-12)
    bad = gram.copy()
    bad[3, 4] += 1.0
    with pytest.raises(ValueError, match=r"For element \(3,4\) we computed"):
        StreamingLasso(precompute=bad, fit_intercept=False).fit(X, y)
    with pytest.warns(UserWarning, match="X was centered to fit intercept"):
        StreamingLasso(precompute=gram).fit(X, y)


def test_bad_input_leaves_the_model_unchanged():
    X, y, _ = _problem()
    model = StreamingLasso(alpha=0.1).fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="every row seen has weight zero"):
        model.fit(X, y, sample_weight=np.zeros(len(y)))
    Z = X.copy()
    Z[7, 2] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        model.fit(Z, y, batch_size=5)
    assert_array_equal(model.coef_, coef)
    with pytest.raises(ValueError, match="positive=True is not allowed"):
        StreamingLasso(positive=True).fit(X, np.column_stack([y, y]))
    with pytest.warns(UserWarning, match="With alpha=0"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            StreamingLasso(alpha=0.0, max_iter=5).fit(X, y)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lasso_cv_equals_sklearn(npy, weighted, fit_intercept):
    X, y, w = _problem()
    sw = w if weighted else None
    params = dict(cv=4, alphas=30, fit_intercept=fit_intercept, **TIGHT)
    ref = LassoCV(precompute=True, **params).fit(X, y, sample_weight=sw)
    ours = StreamingLassoCV(n_jobs=2, **params)
    ours.fit(npy(X), y, sample_weight=sw, batch_size=23)
    assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-13)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (30, 4)
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-11)
    # The same alpha of the grid (whose values agree to rounding).
    assert list(ours.alphas_).index(ours.alpha_) == list(ref.alphas_).index(ref.alpha_)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-12, atol=1e-13)
    assert ours.n_iter_ == ref.n_iter_


def test_elastic_net_cv_chooses_l1_ratio_as_sklearn(npy):
    X, y, w = _problem(offset=1e6)
    params = dict(l1_ratio=[0.2, 0.9], cv=3, alphas=12, **TIGHT)
    ours = StreamingElasticNetCV(**params).fit(npy(X), y, sample_weight=w)
    ref = ElasticNetCV(precompute=True, **params).fit(X - 1e6, y, sample_weight=w)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (2, 12, 3)
    assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-9)
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-8)
    assert (ours.alpha_, ours.l1_ratio_) == pytest.approx((ref.alpha_, ref.l1_ratio_))
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-9)


def test_cv_with_given_alphas_and_a_splitter(npy):
    X, y, _ = _problem()
    splitter = ShuffleSplit(n_splits=3, test_size=0.3, random_state=0)
    params = dict(alphas=[1.0, 0.01, 0.1], cv=splitter, **TIGHT)
    ref = LassoCV(precompute=True, **params).fit(X, y)
    ours = StreamingLassoCV(**params).fit(npy(X), y)
    assert_array_equal(ours.alphas_, [1.0, 0.1, 0.01])
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-11)
    assert ours.alpha_ == ref.alpha_


def test_cv_refuses_several_targets_and_flattens_a_column():
    X, y, _ = _problem()
    with pytest.raises(ValueError, match="use MultiTaskLassoCV"):
        StreamingLassoCV().fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="use MultiTaskElasticNetCV"):
        StreamingElasticNetCV().fit(X, np.column_stack([y, y]))
    with pytest.warns(DataConversionWarning):
        model = StreamingLassoCV(cv=3, alphas=5).fit(X, y[:, None])
    assert model.coef_.shape == (6,)
    with pytest.raises(ValueError, match="not supported for l1_ratio=0"):
        StreamingElasticNetCV(l1_ratio=0.0).fit(X, y)


def test_out_of_core_converts_sklearns_models():
    for ref, ours in [
        (Lasso(alpha=0.3, selection="random"), StreamingLasso),
        (ElasticNet(l1_ratio=0.2), StreamingElasticNet),
        (LassoCV(cv=3), StreamingLassoCV),
        (ElasticNetCV(l1_ratio=[0.1, 0.5]), StreamingElasticNetCV),
        (MultiTaskLasso(alpha=0.2), StreamingMultiTaskLasso),
        (MultiTaskElasticNet(l1_ratio=0.3), StreamingMultiTaskElasticNet),
        (MultiTaskLassoCV(cv=4), StreamingMultiTaskLassoCV),
        (MultiTaskElasticNetCV(eps=0.01), StreamingMultiTaskElasticNetCV),
    ]:
        converted = out_of_core(ref)
        assert type(converted) is ours
        for key, value in ref.get_params().items():
            assert converted.get_params()[key] == value


# -- multi-task -------------------------------------------------------------------


def _tasks(n=240, d=6, offset=0.0, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    coef = rng.normal(size=(d, 3)) * (rng.random((d, 1)) > 0.4)
    Y = X @ coef + rng.normal(size=(n, 3)) + [1.0, -2.0, 0.5]
    w = rng.uniform(0, 2, size=n) * (rng.random(n) > 0.1)
    return X + offset, Y, w


@pytest.mark.parametrize("batch_size", [1, 50])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("selection", ["cyclic", "random"])
def test_multi_task_elastic_net_equals_sklearn(
    npy, batch_size, n_jobs, weighted, selection
):
    X, Y, w = _tasks()
    sw = w if weighted else None
    params = dict(alpha=0.3, l1_ratio=0.4, selection=selection, random_state=0)
    ref = MultiTaskElasticNet(**params, **TIGHT).fit(X, Y, sample_weight=sw)
    ours = StreamingMultiTaskElasticNet(n_jobs=n_jobs, **params, **TIGHT)
    ours.fit(npy(X), Y, sample_weight=sw, batch_size=batch_size)
    # The same sweeps in the same order (scikit-learn's xorshift draws for
    # 'random'), on the Gram instead of the residuals.
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-12, atol=1e-13)
    assert_allclose(ours.eps_, ref.eps_, rtol=1e-12)
    # The gap is a difference of quadratic forms in the Gram: rounding of
    # ||Y||^2 (1e3 here), where scikit-learn sums the residuals' squares.
    assert abs(ours.dual_gap_) <= 1e-12 * np.sum(Y**2) and ours.dual_gap_ <= ours.eps_


def test_multi_task_lasso_far_from_the_origin_and_warm(npy):
    X, Y, w = _tasks(offset=1e6)
    ours = StreamingMultiTaskLasso(alpha=0.2, **TIGHT).fit(npy(X), Y, sample_weight=w)
    ref = MultiTaskLasso(alpha=0.2, **TIGHT).fit(X - 1e6, Y, sample_weight=w)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-10)
    warm = StreamingMultiTaskLasso(alpha=0.5, warm_start=True, **TIGHT).fit(X, Y)
    ref = MultiTaskLasso(alpha=0.5, warm_start=True, **TIGHT).fit(X - 1e6, Y)
    warm.set_params(alpha=0.2).fit(X, Y)
    ref.set_params(alpha=0.2).fit(X - 1e6, Y)
    assert warm.n_iter_ == ref.n_iter_
    assert_allclose(warm.coef_, ref.coef_, rtol=1e-9, atol=1e-10)


def test_multi_task_models_refuse_one_target():
    X, Y, _ = _tasks()
    with pytest.raises(ValueError, match="For mono-task outputs, use Lasso$"):
        StreamingMultiTaskLasso().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="For mono-task outputs, use ElasticNet$"):
        StreamingMultiTaskElasticNet().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="For mono-task outputs, use LassoCV"):
        StreamingMultiTaskLassoCV().fit(X, Y[:, 0])


@pytest.mark.parametrize("weighted", [False, True])
def test_multi_task_cv_equals_sklearn(npy, weighted):
    X, Y, w = _tasks()
    sw = w if weighted else None
    params = dict(cv=3, alphas=8, **TIGHT)
    ref = MultiTaskLassoCV(**params).fit(X, Y, sample_weight=sw)
    ours = StreamingMultiTaskLassoCV(**params).fit(npy(X), Y, sample_weight=sw)
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-11)
    assert list(ours.alphas_).index(ours.alpha_) == list(ref.alphas_).index(ref.alpha_)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    params["l1_ratio"] = [0.3, 0.8]
    ref = MultiTaskElasticNetCV(**params).fit(X, Y, sample_weight=sw)
    ours = StreamingMultiTaskElasticNetCV(**params)
    ours.fit(npy(X, "Z.npy"), Y, sample_weight=sw)
    assert ours.mse_path_.shape == (2, 8, 3)
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-11)
    assert ours.l1_ratio_ == ref.l1_ratio_
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("targets", [None, 2])
def test_paths_from_one_pass(npy, targets):
    from sklearn.linear_model import enet_path as sklearn_enet_path

    from sklearn_ooc.linear_model import enet_path, lasso_path

    X, y, _ = _problem(targets=targets)
    params = dict(l1_ratio=0.7, eps=1e-2, alphas=12, return_n_iter=True, **TIGHT)
    # scikit-learn's paths do not center: neither do ours. One target runs
    # on the Gram in both; several, on the rows in scikit-learn's.
    precompute = X.T @ X if targets is None else False
    ref = sklearn_enet_path(X, y, precompute=precompute, **params)
    ours = enet_path(npy(X), y, batch_size=29, **params)
    assert_allclose(ours[0], ref[0], rtol=1e-12)
    assert_allclose(ours[1], ref[1], rtol=1e-10, atol=1e-12)
    assert ours[3] == ref[3]
    lasso = lasso_path(npy(X, "L.npy"), y, alphas=[0.5, 0.05], **TIGHT)
    assert_allclose(
        lasso[1],
        sklearn_enet_path(
            X, y, l1_ratio=1.0, alphas=[0.5, 0.05], precompute=precompute, **TIGHT
        )[1],
        rtol=1e-10,
        atol=1e-12,
    )


def test_float32_rows_in_the_multi_task_and_cv_models(npy):
    X, Y, _ = _tasks()
    X32 = npy(X.astype(np.float32), "F.npy")
    multi = StreamingMultiTaskLasso(alpha=0.2, **TIGHT).fit(X32, Y)
    ref = MultiTaskLasso(alpha=0.2, **TIGHT).fit(X.astype(np.float32).astype(float), Y)
    assert multi.coef_.dtype == np.float32
    assert_allclose(multi.coef_, ref.coef_, rtol=1e-6, atol=1e-6)
    cv = StreamingLassoCV(cv=3, alphas=6, **TIGHT).fit(X32, Y[:, 0])
    ref = LassoCV(cv=3, alphas=6, precompute=True, **TIGHT)
    ref.fit(X.astype(np.float32).astype(float), Y[:, 0])
    assert cv.coef_.dtype == np.float32
    assert list(cv.alphas_).index(cv.alpha_) == list(ref.alphas_).index(ref.alpha_)
    assert_allclose(cv.mse_path_, ref.mse_path_, rtol=1e-9)
