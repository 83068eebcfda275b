"""X checked for NaN and infinity by its statistics, not as it is read.

Estimators whose moments show a non-finite value (``_summaries_reveal_nonfinite``)
skip the data layer's pass over each batch; the rows are checked only where
the statistics are not finite or the summary fails, with the same error.
"""

import resource
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sklearn_ooc._engine import Engine
from sklearn_ooc._stats import GroupedMoments, Moments, RootMoments
from sklearn_ooc.covariance import OOCEmpiricalCovariance
from sklearn_ooc.cross_decomposition import OOCPLSRegression
from sklearn_ooc.data import BatchSource
from sklearn_ooc.data._source import _BatchMaker
from sklearn_ooc.decomposition import OOCPCA, OOCFactorAnalysis
from sklearn_ooc.discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)
from sklearn_ooc.linear_model import (
    StreamingBayesianRidge,
    StreamingLinearRegression,
    StreamingRidge,
)
from sklearn_ooc.naive_bayes import OOCGaussianNB

ESTIMATORS = {
    "ridge": lambda **kw: StreamingRidge(batch_size=50, **kw),
    "pca": lambda **kw: OOCPCA(2, batch_size=50, svd_solver="covariance_eigh", **kw),
    "covariance": lambda **kw: OOCEmpiricalCovariance(batch_size=50, **kw),
    "pls": lambda **kw: OOCPLSRegression(1, batch_size=50, **kw),
    "factor_analysis": lambda **kw: OOCFactorAnalysis(2, batch_size=50, **kw),
    "linear_regression": lambda **kw: StreamingLinearRegression(batch_size=50, **kw),
    "bayesian_ridge": lambda **kw: StreamingBayesianRidge(batch_size=50, **kw),
    "pca_full": lambda **kw: OOCPCA(2, batch_size=50, svd_solver="full", **kw),
    "lda_svd": lambda **kw: OOCLinearDiscriminantAnalysis(batch_size=50, **kw),
    "lda_lsqr_ledoit_wolf": lambda **kw: OOCLinearDiscriminantAnalysis(
        solver="lsqr", shrinkage="auto", batch_size=50, **kw
    ),
    "lda_eigen": lambda **kw: OOCLinearDiscriminantAnalysis(
        solver="eigen", batch_size=50, **kw
    ),
    "qda": lambda **kw: OOCQuadraticDiscriminantAnalysis(batch_size=50, **kw),
    "gaussian_nb": lambda **kw: OOCGaussianNB(batch_size=50, **kw),
}
# These take class labels: the sign of the target.
CLASSIFIERS = {"lda_svd", "lda_lsqr_ledoit_wolf", "lda_eigen", "qda", "gaussian_nb"}


@pytest.fixture
def checked(monkeypatch):
    """The names of the inputs the data layer checks for NaN and infinity."""
    names = []
    finite = _BatchMaker.finite

    def recording(self, block, name, *args):
        names.append(name)
        return finite(self, block, name, *args)

    monkeypatch.setattr(_BatchMaker, "finite", recording)
    return names


def _rows(rng, n=300, d=4, name=None):
    X, y = rng.normal(size=(n, d)) + 1e6, rng.normal(size=n)
    return X, (y > 0).astype(int) if name in CLASSIFIERS else y


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_finite_rows_are_not_read_again_to_be_checked(rng, checked, name, n_jobs):
    X, y = _rows(rng, name=name)
    ESTIMATORS[name](n_jobs=n_jobs).fit(X, y)
    # A y (where the estimator reads it) is still checked as it is read.
    assert set(checked) <= {"y"}


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "name, dtype",
    [(name, np.float64) for name in ESTIMATORS]
    # float32 rows that these multiply in float32.
    + [("ridge", np.float32), ("pca", np.float32)],
)
def test_a_bad_value_is_reported_as_the_read_reports_it(
    rng, name, dtype, value, n_jobs
):
    X, y = _rows(rng, name=name)
    X = X.astype(dtype)
    X[137, 3] = value
    expected = BatchSource(X, batch_size=50)
    with pytest.raises(ValueError) as read_error:
        expected.read(2)
    fitted = ESTIMATORS[name](n_jobs=n_jobs).fit(X[:100], y[:100])
    before = {k: np.copy(v) for k, v in vars(fitted).items() if k.endswith("_")}
    with pytest.raises(ValueError) as fit_error:
        fitted.fit(X, y)
    assert str(fit_error.value) == str(read_error.value)
    assert "row 137 (batch 2, rows 100-149)" in str(fit_error.value)
    for key, value_before in before.items():
        np.testing.assert_array_equal(getattr(fitted, key), value_before)


@pytest.mark.parametrize(
    "name", ["ridge", "linear_regression", "bayesian_ridge", "gaussian_nb"]
)
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_bad_value_in_a_row_of_zero_weight_is_still_refused(rng, value, dtype, name):
    X, y = _rows(rng, name=name)
    X = X.astype(dtype)
    X[201, 0] = value
    w = np.ones(len(y))
    w[201] = 0.0
    with pytest.raises(ValueError, match=r"at row 201 \(batch 4, rows 200-249\)"):
        ESTIMATORS[name]().fit(X, y, sample_weight=w)


@pytest.mark.parametrize("name", ["ridge", "linear_regression"])
def test_values_that_overflow_are_not_mistaken_for_bad_ones(rng, name):
    # Finite values whose squares leave float64: the statistics' own
    # rescaling (Ridge's) or the factorization's handles them, and the check
    # of the rows finds nothing.
    X, y = _rows(rng)
    X[:, 1] *= 1e300
    model = ESTIMATORS[name]().fit(X, y)
    reference = ESTIMATORS[name]().set_params(batch_size=300).fit(X, y)
    # The coefficient of the scaled column is about 1e-300 (rounding's below
    # 1e-16: compared to the others').
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-9, atol=1e-12)


class _Flagged:
    """A statistic that says it is not finite, and sums."""

    def __init__(self, rows):
        self.rows = rows

    def __add__(self, other):
        return _Flagged(self.rows + other.rows)

    def is_finite(self):
        return False


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_engine_checks_where_the_statistics_say_so_and_keeps_the_result(
    rng, checked, n_jobs
):
    X = rng.normal(size=(40, 3))
    source = BatchSource(X, batch_size=10)
    total = Engine(n_jobs=n_jobs).reduce(
        source,
        range(4),
        lambda batch: _Flagged(batch.X.shape[0]),
        finite_if=lambda stats: stats.is_finite(),
    )
    assert total.rows == 40
    # Read unchecked, then checked because the statistics were not finite.
    assert checked.count("X") == 4


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_engine_reports_a_bad_row_before_the_summary_error_it_caused(rng, n_jobs):
    X = rng.normal(size=(40, 3))
    X[23, 1] = np.nan

    def summarize(batch):
        if np.isnan(batch.X).any():
            raise ZeroDivisionError("a summary that fails on NaN")
        return batch.X.shape[0]

    with pytest.raises(ValueError, match=r"NaN at row 23 \(batch 2, rows 20-29\)"):
        Engine(n_jobs=n_jobs).reduce(
            BatchSource(X, batch_size=10),
            range(4),
            summarize,
            finite_if=lambda stats: True,
        )


def test_engine_reraises_a_summary_error_on_finite_rows(rng):
    X = rng.normal(size=(40, 3))

    def summarize(batch):
        raise ZeroDivisionError("not about the rows")

    with pytest.raises(ZeroDivisionError, match="not about the rows"):
        Engine().reduce(
            BatchSource(X, batch_size=10),
            range(4),
            summarize,
            finite_if=lambda stats: True,
        )


def _faults_of_this_thread():
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_minflt + usage.ru_majflt


@pytest.mark.skipif(
    not hasattr(resource, "RUSAGE_THREAD"), reason="needs per-thread page faults"
)
def test_the_reading_thread_maps_the_pages_of_a_batch_it_did_not_check(tmp_path):
    # The check for NaN used to bring a memory map's pages in on the thread
    # reading ahead; left to the statistics, the rows are still brought in
    # there, not by the thread that computes on them.
    path = tmp_path / "X.npy"
    # 64 MiB: dozens of faults to map it here (page cache folios of up to
    # 2 MiB), thousands with 4 KiB pages.
    np.save(path, np.ones((1 << 20, 8)))
    source = BatchSource(str(path), batch_size=1 << 20)
    with ThreadPoolExecutor(1) as reader:
        batch = reader.submit(source.read, 0, defer_finite=True).result()
    before = _faults_of_this_thread()
    assert batch.X.sum() == 1 << 23
    assert _faults_of_this_thread() - before < 8


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("batch_shape", [(), (2,)])
def test_moments_are_finite_unless_a_mean_or_a_square_is_not(diagonal, batch_shape):
    moments = Moments.zero(3, batch_shape=batch_shape, diagonal=diagonal)
    assert moments.is_finite()
    for where, value in [("mean", np.nan), ("square", np.inf), ("square", np.nan)]:
        bad = Moments.zero(3, batch_shape=batch_shape, diagonal=diagonal)
        target = bad.mean if where == "mean" else bad.scatter
        index = (..., 1) if where == "mean" or diagonal else (..., 1, 1)
        target[index] = value
        assert not bad.is_finite()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 7, 2_499])
def test_a_root_of_rows_is_finite_unless_a_row_is_not(rng, value, row):
    # The first row is the shift the others are centered by; rows past the
    # first chunk are factored in a later one.
    X = rng.normal(size=(2_500, 3)) + 1e6
    assert RootMoments.of_rows(X).is_finite()
    X[row, 1] = value
    assert not RootMoments.of_rows(X).is_finite()
    labels = np.arange(2_500) % 2
    assert not GroupedMoments.of_batch(
        X, labels, of_rows=RootMoments.of_rows
    ).is_finite()
    assert GroupedMoments.of_batch(
        np.delete(X, row, axis=0), np.delete(labels, row), of_rows=RootMoments.of_rows
    ).is_finite()
