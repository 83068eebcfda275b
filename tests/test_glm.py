"""Poisson, Gamma and Tweedie regression: scikit-learn's minimizer, streamed."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from sklearn_ooc import open_table, out_of_core
from sklearn_ooc.linear_model import (
    StreamingGammaRegressor,
    StreamingPoissonRegressor,
    StreamingTweedieRegressor,
)

from .conftest import fitted_state

N = 800
CASES = {
    "poisson": (StreamingPoissonRegressor, PoissonRegressor, "poisson", {}),
    "gamma": (StreamingGammaRegressor, GammaRegressor, "gamma", {}),
    "tweedie 1.5": (StreamingTweedieRegressor, TweedieRegressor, "poisson",
                    {"power": 1.5}),
    "tweedie normal": (StreamingTweedieRegressor, TweedieRegressor, "gamma",
                       {"power": 0.0}),
    "tweedie 3 log": (StreamingTweedieRegressor, TweedieRegressor, "gamma",
                      {"power": 3.0, "link": "log"}),
}  # fmt: skip


def _problem(rng, kind, offset=0.0):
    X = rng.normal(size=(N, 3))
    mean = np.exp(X @ [0.3, -0.2, 0.1] + 0.5)
    y = (
        rng.poisson(mean).astype(float)
        if kind == "poisson"
        else rng.gamma(3.0, mean / 3)
    )
    return X + offset, y


def _reference(cls, params, X, y, w=None):
    """scikit-learn's minimizer to far below our tolerance (Newton-Cholesky)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(solver="newton-cholesky", tol=1e-14, max_iter=1000, **params).fit(
            X, y, sample_weight=w
        )


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch_size", [7, 300, N])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_scikit_learn(case, batch_size, n_jobs, weighted):
    ours, theirs, kind, params = CASES[case]
    rng = np.random.default_rng(0)
    X, y = _problem(rng, kind)
    w = rng.uniform(0, 2, size=N) if weighted else None
    ref = _reference(theirs, dict(alpha=0.1, **params), X, y, w)
    model = ours(alpha=0.1, tol=1e-12, batch_size=batch_size, n_jobs=n_jobs, **params)
    model.fit(X, y, sample_weight=w)
    # The inverse Gaussian loss (power 3) has pointwise Hessians of both
    # signs: scikit-learn's Newton solver then hands over to L-BFGS, whose
    # stop leaves the minimizer to about 1e-9.
    rtol = 1e-7 if params.get("power") == 3.0 else 1e-9
    assert_allclose(model.coef_, ref.coef_, rtol=rtol, atol=1e-2 * rtol)
    assert_allclose(model.intercept_, ref.intercept_, rtol=rtol, atol=1e-2 * rtol)
    assert_allclose(model.predict(X), ref.predict(X), rtol=rtol)
    assert model.score(X, y, w) == pytest.approx(ref.score(X, y, w), rel=rtol)


def test_default_tolerance_and_solvers_reach_the_same_model():
    """With scikit-learn's defaults (lbfgs, tol=1e-4) both stop near the same
    minimizer; every solver value fits the same model here."""
    rng = np.random.default_rng(1)
    X, y = _problem(rng, "poisson")
    ref = PoissonRegressor().fit(X, y)
    for solver in ("lbfgs", "newton-cholesky"):
        model = StreamingPoissonRegressor(solver=solver, batch_size=100).fit(X, y)
        assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
        assert model.n_iter_ <= 10


def test_offset_rows_and_no_intercept():
    rng = np.random.default_rng(2)
    X, y = _problem(rng, "poisson", offset=1e6)
    ref = _reference(PoissonRegressor, {"alpha": 0.0}, X - 1e6, y)
    model = StreamingPoissonRegressor(alpha=0.0, tol=1e-12, batch_size=200).fit(X, y)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-7)
    X, y = _problem(rng, "poisson", offset=0.5)
    ref = _reference(PoissonRegressor, {"fit_intercept": False}, X, y)
    model = StreamingPoissonRegressor(fit_intercept=False, tol=1e-12).fit(X, y)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-9)
    assert model.intercept_ == ref.intercept_ == 0.0


def test_warm_start_tables_and_out_of_core(tmp_path):
    rng = np.random.default_rng(3)
    X, y = _problem(rng, "gamma")
    cold = StreamingGammaRegressor(tol=1e-12).fit(X, y)
    warm = StreamingGammaRegressor(tol=1e-12, warm_start=True).fit(X, y)
    n_cold = warm.n_iter_
    warm.fit(X, y)
    assert warm.n_iter_ < n_cold
    assert_allclose(warm.coef_, cold.coef_, rtol=1e-9)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=100)
    T = open_table(tmp_path / "t.parquet")
    model = StreamingGammaRegressor(tol=1e-12, batch_size=128)
    model.fit(T.drop(columns="y"), T["y"])
    assert_allclose(model.coef_, cold.coef_, rtol=1e-9)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    converted = out_of_core(TweedieRegressor(power=1.2, link="log", alpha=0.3))
    assert isinstance(converted, StreamingTweedieRegressor)
    assert (converted.power, converted.link, converted.alpha) == (1.2, "log", 0.3)


def test_bad_targets_name_their_row_and_change_nothing():
    rng = np.random.default_rng(4)
    X, y = _problem(rng, "gamma")
    model = StreamingGammaRegressor(batch_size=100).fit(X, y)
    state = fitted_state(model)
    bad = y.copy()
    bad[345] = 0.0
    with pytest.raises(ValueError, match="out of the valid range.*at row 345"):
        model.fit(X, bad)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        StreamingGammaRegressor(max_iter=1, tol=1e-12).fit(X, y)
    assert fitted_state(model) == state
