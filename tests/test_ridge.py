"""StreamingRidge: equal to scikit-learn's Ridge, whatever the batches."""

import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ooc.linear_model import StreamingRidge

from .conftest import file_digest, fitted_state

N = 1500


def _problem(rng, *, n=N, d=5, n_targets=None, offset=0.0, dtype=np.float64):
    X = rng.normal(size=(n, d)) + offset
    coef = rng.uniform(-2, 2, size=(d,) if n_targets is None else (d, n_targets))
    y = (
        (X - offset) @ coef
        + 3.0
        + rng.normal(size=coef.shape[1:] and (n, n_targets) or n)
    )
    return X.astype(dtype), y


def _reference(X, y, alpha=1.0, sample_weight=None, fit_intercept=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        return Ridge(alpha=alpha, solver="cholesky", fit_intercept=fit_intercept).fit(
            X.astype(np.float64), y, sample_weight=sample_weight
        )


def _assert_same_model(model, ref, y, rtol=1e-8):
    assert_allclose(
        model.coef_, ref.coef_, rtol=rtol, atol=rtol * np.abs(ref.coef_).max()
    )
    # The intercept of offset data is a difference of large numbers: its
    # scale is that of the targets.
    assert_allclose(
        model.intercept_, ref.intercept_, rtol=rtol, atol=rtol * np.abs(y).mean()
    )


@pytest.mark.parametrize("batch_size", [1, 7, 1000, N])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_sklearn_ridge(rng, batch_size, n_jobs, dtype, offset, weighted):
    X, y = _problem(rng, offset=offset, dtype=dtype)
    w = rng.uniform(0, 3, size=N) if weighted else None
    model = StreamingRidge(alpha=2.0, batch_size=batch_size, n_jobs=n_jobs)
    model.fit(X, y, sample_weight=w)
    # Computations are in float64 for float32 input too, so the reference is
    # Ridge on the same values in float64; Ridge in float32 only agrees to
    # float32 precision (below).
    _assert_same_model(model, _reference(X, y, 2.0, w), y)
    assert model.n_samples_seen_ == N
    assert model.coef_.dtype == np.float64


def test_float32_agrees_with_sklearn_float32_to_its_precision(rng):
    X, y = _problem(rng, dtype=np.float32)
    model = StreamingRidge(batch_size=100).fit(X, y)
    ref32 = Ridge(solver="cholesky").fit(X, y.astype(np.float32))
    assert ref32.coef_.dtype == np.float32
    assert_allclose(model.coef_, ref32.coef_, rtol=1e-4)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_multi_target_with_an_alpha_per_target(rng, batch_size):
    X, y = _problem(rng, n_targets=3, offset=1e6)
    alpha = np.array([0.1, 1.0, 10.0])
    model = StreamingRidge(alpha=alpha, batch_size=batch_size).fit(X, y)
    ref = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    _assert_same_model(model, ref, y)
    assert model.coef_.shape == (3, 5) and model.intercept_.shape == (3,)
    # A prediction of offset data is a difference of terms of size
    # |X| |coef|: it is exact to the rounding of those terms.
    rounding = 1e-15 * np.abs(X).max() * np.abs(ref.coef_).sum(axis=1).max()
    assert_allclose(model.predict(X), ref.predict(X), rtol=0, atol=50 * rounding)


def test_column_y_keeps_sklearn_shapes(rng):
    X, y = _problem(rng)
    model = StreamingRidge(batch_size=64).fit(X, y[:, None])
    ref = Ridge(solver="cholesky").fit(X, y[:, None])
    assert model.coef_.shape == ref.coef_.shape
    assert model.intercept_.shape == ref.intercept_.shape == (1,)
    assert model.predict(X).shape == ref.predict(X).shape
    _assert_same_model(model, ref, y)
    one_d = StreamingRidge(batch_size=64).fit(X, y)
    assert isinstance(one_d.intercept_, float) and one_d.predict(X).shape == (N,)


def test_without_intercept(rng):
    X, y = _problem(rng, offset=10.0)
    w = rng.uniform(0, 1, size=N)
    model = StreamingRidge(fit_intercept=False, batch_size=37).fit(
        X, y, sample_weight=w
    )
    ref = _reference(X, y, sample_weight=w, fit_intercept=False)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-8)
    assert model.intercept_ == 0.0


def test_alpha_count_must_match_targets(rng):
    X, y = _problem(rng, n_targets=2)
    with pytest.raises(
        ValueError,
        match="Number of targets and number of penalties do not correspond: 2 != 3",
    ):
        StreamingRidge(alpha=np.ones(3)).fit(X, y)


def test_singular_system_falls_back_to_minimum_norm_solution(rng):
    X = rng.normal(size=(50, 3))
    X = np.hstack([X, X[:, :1]])  # a duplicated column
    y = X @ [1.0, 2.0, 3.0, 0.0] + 1.0
    with pytest.warns(LinAlgWarning, match="using the minimum-norm least-squares"):
        model = StreamingRidge(alpha=0.0, batch_size=9).fit(X, y)
    # The minimum-norm least-squares solution of the centered problem splits
    # the weight of the duplicated column evenly.
    Xc = X - X.mean(axis=0)
    min_norm = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    assert_allclose(model.coef_, min_norm, rtol=1e-6)
    assert_allclose(model.coef_, [0.5, 2.0, 3.0, 0.5], rtol=1e-6)
    assert_allclose(model.predict(X), y, rtol=1e-8)


@pytest.mark.parametrize("kind", ["ndarray", "memmap", "path"])
def test_inputs_from_disk(rng, npy, kind):
    X, y = _problem(rng)
    X_path, y_path = npy(X, "X.npy"), npy(y, "y.npy")
    data = {
        "ndarray": (X, y),
        "memmap": (np.load(X_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")),
        "path": (str(X_path), y_path),
    }[kind]
    model = StreamingRidge(batch_size=128).fit(*data)
    _assert_same_model(model, _reference(X, y), y)
    assert_allclose(model.predict(data[0]), model.predict(X), rtol=1e-14)
    assert_allclose(model.score(*data), r2_score(y, model.predict(X)), rtol=1e-12)


def test_bitwise_identical_for_every_n_jobs(rng):
    X, y = _problem(rng, offset=1e6)
    fits = [StreamingRidge(batch_size=13, n_jobs=j).fit(X, y) for j in (1, 2, 4)]
    for other in fits[1:]:
        assert other.coef_.tobytes() == fits[0].coef_.tobytes()
        assert other.intercept_ == fits[0].intercept_


def test_summaries_then_from_summaries_equals_fit(rng):
    X, y = _problem(rng, offset=1e6)
    model = StreamingRidge(batch_size=50)
    for i in range(5):
        model.summarize(X[i * 300 : (i + 1) * 300], y[i * 300 : (i + 1) * 300])
    assert not hasattr(model, "coef_")
    model.from_summaries()
    _assert_same_model(model, StreamingRidge().fit(X, y), y, rtol=1e-12)
    with pytest.raises(ValueError, match="no pending statistics: call summarize"):
        model.from_summaries()


def test_partial_fit_sequence_equals_fit_on_the_concatenation(rng):
    X, y = _problem(rng, offset=1e6)
    w = rng.uniform(0, 2, size=N)
    model = StreamingRidge(batch_size=64)
    for a, b in [(0, 1), (1, 400), (400, 401), (401, N)]:
        model.partial_fit(X[a:b], y[a:b], sample_weight=w[a:b])
    assert model.n_samples_seen_ == N
    _assert_same_model(model, _reference(X, y, sample_weight=w), y, rtol=1e-10)


def test_batches_per_epoch_fits_the_first_batches(rng):
    X, y = _problem(rng)
    model = StreamingRidge(batch_size=100).fit(X, y, batches_per_epoch=3)
    assert model.n_samples_seen_ == 300
    _assert_same_model(model, _reference(X[:300], y[:300]), y)


def test_call_overrides_do_not_change_parameters(rng):
    X, y = _problem(rng)
    model = StreamingRidge(batch_size=100)
    out = io.StringIO()
    model.set_params(verbose=1)
    with redirect_stdout(out):
        model.fit(X, y, batch_size=7)
    assert model.get_params()["batch_size"] == 100
    assert "fit: 1,500 rows in 215 batch(es) of up to 7 rows" in out.getvalue()


def test_score_equals_r2_score_with_weights_and_outputs(rng):
    X, y = _problem(rng, n_targets=2, offset=1e3)
    w = rng.uniform(0, 2, size=N)
    model = StreamingRidge(alpha=50.0, batch_size=71).fit(X, y)
    expected = r2_score(y, model.predict(X), sample_weight=w)
    assert_allclose(model.score(X, y, sample_weight=w), expected, rtol=1e-12)


def test_unfitted_model_refuses_to_predict(rng):
    with pytest.raises(NotFittedError):
        StreamingRidge().predict(np.ones((2, 2)))
    model = StreamingRidge().summarize(np.ones((3, 2)), np.ones(3))
    with pytest.raises(NotFittedError):
        model.predict(np.ones((2, 2)))


def test_in_pipeline_and_grid_search_like_ridge(rng):
    X, y = _problem(rng, n=300)
    grid = {"ridge__alpha": [0.1, 10.0, 1000.0]}
    ours = GridSearchCV(
        make_pipeline(StandardScaler(), StreamingRidge(batch_size=32)),
        {"streamingridge__alpha": grid["ridge__alpha"]},
        cv=3,
    ).fit(X, y)
    ref = GridSearchCV(
        make_pipeline(StandardScaler(), Ridge(solver="cholesky")), grid, cv=3
    ).fit(X, y)
    assert (
        ours.best_params_["streamingridge__alpha"] == ref.best_params_["ridge__alpha"]
    )
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        ref.cv_results_["mean_test_score"],
        rtol=1e-10,
    )


def test_dataframe_feature_names(rng):
    pd = pytest.importorskip("pandas")
    X, y = _problem(rng, n=50)
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = StreamingRidge(batch_size=8).fit(frame, y)
    assert_array_equal(model.feature_names_in_, list("abcde"))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_allclose(model.predict(X), model.predict(frame))


# -- bad input leaves everything as it was ----------------------------------


@pytest.fixture
def fitted(rng):
    X, y = _problem(rng, n=200)
    return StreamingRidge(batch_size=20).fit(X, y), X, y


def _check_unchanged(model, call, error, match):
    before = fitted_state(model)
    with pytest.raises(error, match=match):
        call()
    assert fitted_state(model) == before


def test_nan_in_the_middle_of_a_file_leaves_model_and_file_unchanged(fitted, npy, rng):
    model, X, y = fitted
    bad = rng.normal(size=(200, 5))
    bad[133, 4] = np.nan
    path = npy(bad, "bad.npy")
    digest = file_digest(path)
    for call in (
        lambda: model.fit(path, y),
        lambda: model.partial_fit(np.load(path, mmap_mode="r"), y),
        lambda: model.summarize(path, y),
    ):
        _check_unchanged(
            model,
            call,
            ValueError,
            r"X contains NaN at row 133 \(batch 6, rows 120-139\)",
        )
    assert file_digest(path) == digest
    assert not hasattr(model, "_pending_stats")


@pytest.mark.parametrize(
    "make_call, error, match",
    [
        (lambda m, X, y: m.fit(X, y[:-1]), ValueError, "y has 199 rows but X has 200"),
        (
            lambda m, X, y: m.partial_fit(X[:, :3], y),
            ValueError,
            "X has 3 features, but StreamingRidge is expecting 5 features as input",
        ),
        (
            lambda m, X, y: m.partial_fit(X, np.c_[y, y]),
            ValueError,
            r"y has 2 target\(s\) but StreamingRidge was fitted with 1",
        ),
        (
            lambda m, X, y: m.fit(X, y, sample_weight=-np.ones(200)),
            ValueError,
            "sample_weight contains a negative weight",
        ),
        (
            lambda m, X, y: m.fit(X, y, sample_weight=np.zeros(200)),
            ValueError,
            "Sample weights must contain at least one non-zero number",
        ),
        (lambda m, X, y: m.fit(X, None), ValueError, "requires y to be passed"),
        (
            lambda m, X, y: m.fit(X, y, batch_size=0),
            ValueError,
            "batch_size must be a positive int or 'auto'",
        ),
        (
            lambda m, X, y: m.fit(X, y, batches_per_epoch=-2),
            ValueError,
            "batches_per_epoch must be None or a positive int",
        ),
        (lambda m, X, y: m.predict(X[:, :4]), ValueError, "X has 4 features"),
    ],
)
def test_bad_input_leaves_the_model_unchanged(fitted, make_call, error, match):
    model, X, y = fitted
    _check_unchanged(model, lambda: make_call(model, X, y), error, match)


def test_bad_files_leave_the_model_unchanged(fitted, tmp_path, npy, rng):
    model, X, y = fitted
    objects = np.empty((200, 5), dtype=object)
    objects[:] = 1.0
    object_path = tmp_path / "objects.npy"
    np.save(object_path, objects, allow_pickle=True)
    truncated = npy(X, "truncated.npy")
    with open(truncated, "r+b") as f:
        f.truncate(1000)
    cases = [
        (object_path, ValueError, "holds Python objects"),
        (truncated, ValueError, "is truncated"),
        (tmp_path / "missing.npy", FileNotFoundError, "does not exist"),
        (tmp_path, IsADirectoryError, "is a directory"),
    ]
    for path, error, match in cases:
        digest = file_digest(path) if path.is_file() else None
        _check_unchanged(model, lambda p=path: model.fit(p, y), error, match)
        if digest:
            assert file_digest(path) == digest


def test_keyboard_interrupt_leaves_the_model_unchanged(fitted, monkeypatch):
    model, X, y = fitted
    calls = []
    original = type(model)._summarize

    def interrupted(self, batch):
        calls.append(batch.index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(type(model), "_summarize", interrupted)
    _check_unchanged(model, lambda: model.fit(X * 2, y), KeyboardInterrupt, None)
    assert len(calls) == 3


def test_partial_fit_without_y_is_refused(fitted):
    model, X, y = fitted
    _check_unchanged(
        model, lambda: model.partial_fit(X), ValueError, "requires y to be passed"
    )
    _check_unchanged(
        model, lambda: model.summarize(X), ValueError, "requires y to be passed"
    )


def test_no_intercept_is_a_float_zero_like_sklearn(rng):
    X, y = _problem(rng, n_targets=2)
    ours = StreamingRidge(fit_intercept=False).fit(X, y)
    ref = Ridge(fit_intercept=False).fit(X, y)
    assert ours.intercept_ == ref.intercept_ == 0.0
