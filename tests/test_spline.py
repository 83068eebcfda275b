"""PolynomialFeatures and SplineTransformer out of core equal scikit-learn's."""

import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, SplineTransformer

from sklearn_ooc import open_array, open_table, out_of_core
from sklearn_ooc.data import LazyArray
from sklearn_ooc.preprocessing import OOCSplineTransformer, StreamingTransformer

from .conftest import fitted_state

COLUMNS = ["a", "b", "c"]


def _data(n=83, dtype=np.float64, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 1e-3]
    X[:, 0] = np.round(X[:, 0] * 2)  # ties
    return (X + offset).astype(dtype)


def _weights(n=83, seed=1):
    w = np.random.default_rng(seed).integers(0, 4, size=n).astype(np.float64)
    w[[0, -1]] = 0.0  # the extremes of zero weight
    return w


def _sources(X, tmp_path, name="X"):
    """The same rows as an ndarray, a .npy file, a memmap, a DataFrame and a
    Parquet table (several row groups)."""
    npy = os.fspath(tmp_path / f"{name}.npy")
    np.save(npy, X)
    parquet = os.fspath(tmp_path / f"{name}.parquet")
    frame = pd.DataFrame(X, columns=COLUMNS[: X.shape[1]])
    frame.to_parquet(parquet, row_group_size=20)
    return {
        "ndarray": X,
        "npy": npy,
        "memmap": open_array(npy),
        "pandas": frame,
        "parquet": open_table(parquet),
    }


# -- PolynomialFeatures -------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"degree": 3, "interaction_only": True},
        {"degree": (2, 3), "include_bias": False},
        {"degree": 2, "order": "F"},
    ],
)
@pytest.mark.parametrize("source", ["ndarray", "npy", "memmap", "pandas", "parquet"])
def test_polynomial_features_equal_scikit_learn(params, source, tmp_path):
    X = _data()
    sources = _sources(X, tmp_path)
    ours = out_of_core(PolynomialFeatures(**params))
    assert isinstance(ours, StreamingTransformer)
    ours.set_params(batch_size=9)
    ours.fit(sources[source])
    named = source in ("pandas", "parquet")
    theirs = PolynomialFeatures(**params).fit(
        pd.DataFrame(X, columns=COLUMNS) if named else X
    )
    np.testing.assert_array_equal(ours.transformer_.powers_, theirs.powers_)
    assert ours.transformer_.n_output_features_ == theirs.n_output_features_
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
    if named:
        assert list(ours.feature_names_in_) == COLUMNS
    got = ours.transform(sources[source])
    if source in ("memmap", "parquet"):
        assert isinstance(got, LazyArray)
    expected = theirs.transform(sources["pandas"] if named else X)
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_polynomial_ridge_pipeline_on_a_table_equals_scikit_learn(tmp_path):
    rng = np.random.default_rng(5)
    X = _data(n=150) + [0.0, 0.0, 3.0]
    y = X[:, 0] * X[:, 1] - X[:, 2] ** 2 + rng.normal(size=150) * 0.1
    frame = pd.DataFrame(X, columns=COLUMNS).assign(y=y)
    path = os.fspath(tmp_path / "xy.parquet")
    frame.to_parquet(path, row_group_size=40)
    table = open_table(path)
    pipe = make_pipeline(PolynomialFeatures(2), Ridge(alpha=0.5))
    ours = out_of_core(pipe)
    assert [type(s).__name__ for _, s in ours.steps] == [
        "StreamingTransformer",
        "StreamingRidge",
    ]
    ours.fit(table[COLUMNS], table["y"])
    theirs = pipe.fit(frame[COLUMNS], y)
    expected = theirs.predict(frame[COLUMNS])
    got = np.asarray(ours.predict(table[COLUMNS]))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * np.abs(y).max())
    got = ours.predict(frame[COLUMNS])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * np.abs(y).max())


def test_polynomial_and_splines_inside_a_column_transformer(tmp_path):
    X = _data(n=90)
    frame = pd.DataFrame(X, columns=COLUMNS)
    path = os.fspath(tmp_path / "x.parquet")
    frame.to_parquet(path, row_group_size=25)
    ct = ColumnTransformer(
        [
            ("poly", PolynomialFeatures(2), ["a", "b"]),
            ("spline", SplineTransformer(n_knots=4, knots="quantile"), ["c"]),
        ]
    )
    ours = out_of_core(ct).fit(open_table(path))
    theirs = ct.fit(frame)
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
    np.testing.assert_allclose(
        np.asarray(ours.transform(open_table(path))),
        theirs.transform(frame),
        rtol=1e-12,
        atol=1e-12,
    )


def test_polynomial_features_fit_checks_every_row():
    X = _data(n=40)
    X[33, 1] = np.nan  # in the last batch, which the fit does not learn from
    ours = StreamingTransformer(PolynomialFeatures(), batch_size=10)
    with pytest.raises(ValueError, match="NaN at row 33"):
        ours.fit(X)
    assert not hasattr(ours, "transformer_")
    with pytest.raises(ValueError, match="does not take sample_weight"):
        ours.fit(_data(n=40), sample_weight=np.ones(40))


# -- SplineTransformer: fitted attributes -------------------------------------


def _assert_same_splines(ours, theirs):
    assert len(ours.bsplines_) == len(theirs.bsplines_)
    for a, b in zip(ours.bsplines_, theirs.bsplines_, strict=True):
        assert type(a) is type(b)
        assert a.t.dtype == b.t.dtype
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.c, b.c)
        assert (a.k, a.extrapolate) == (b.k, b.extrapolate)
    assert ours.n_features_out_ == theirs.n_features_out_
    assert ours.n_features_in_ == theirs.n_features_in_
    if hasattr(theirs, "feature_names_in_"):
        np.testing.assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    else:
        assert not hasattr(ours, "feature_names_in_")
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())


def _transform_both(ours, theirs, X):
    """Both transforms, or both errors (same type and text)."""
    try:
        expected = theirs.transform(X)
    except ValueError as error:
        with pytest.raises(ValueError) as raised:
            ours.transform(X)
        assert str(raised.value) == str(error)
        return
    got = ours.transform(X)
    if sp.issparse(expected):
        assert sp.issparse(got) and got.format == expected.format
        got, expected = got.toarray(), expected.toarray()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


KNOTS = ["uniform", "quantile", "array"]
EXTRAPOLATIONS = ["error", "constant", "linear", "continue", "periodic"]


def _knots(kind, X):
    if kind != "array":
        return kind
    lo, hi = X.min(axis=0), X.max(axis=0)
    return np.linspace(lo - 0.5 * (hi - lo), hi, 6)


@pytest.mark.parametrize("knots", KNOTS)
@pytest.mark.parametrize("extrapolation", EXTRAPOLATIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_spline_transformer_equals_scikit_learn(knots, extrapolation, weighted, dtype):
    X = _data(dtype=dtype)
    w = _weights() if weighted else None
    params = dict(n_knots=4, degree=2, knots=_knots(knots, X))
    params["extrapolation"] = extrapolation
    theirs = SplineTransformer(**params).fit(X, sample_weight=w)
    wider = np.r_[X, X[:5] * 3 - 1, X[:5] * 3 + 1].astype(dtype)  # extrapolated
    for batch_size, n_jobs in [(1, None), (10, 2), (1000, None)]:
        ours = OOCSplineTransformer(batch_size=batch_size, n_jobs=n_jobs, **params)
        ours.fit(X, sample_weight=w)
        _assert_same_splines(ours, theirs)
        if dtype == np.float32 and weighted and knots == "quantile":
            # scikit-learn keeps these knots in float32, which its BSplines
            # refuse to evaluate: the same error here
            with pytest.raises(ValueError) as raised:
                theirs.transform(X)
            with pytest.raises(ValueError, match=str(raised.value)[:20]):
                ours.transform(X)
            continue
        _transform_both(ours, theirs, X)
        _transform_both(ours, theirs, wider)


@pytest.mark.parametrize("knots", ["uniform", "quantile"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_offset_data(knots, dtype):
    X = _data(dtype=dtype, offset=1e6)
    theirs = SplineTransformer(knots=knots).fit(X)
    ours = OOCSplineTransformer(knots=knots, batch_size=7).fit(X)
    _assert_same_splines(ours, theirs)
    _transform_both(ours, theirs, X)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"include_bias": False, "degree": 1, "n_knots": 7},
        {"order": "F", "degree": 0},
        {"sparse_output": True, "extrapolation": "linear"},
        {"sparse_output": True, "extrapolation": "periodic", "knots": "quantile"},
    ],
)
@pytest.mark.parametrize("source", ["ndarray", "npy", "memmap", "pandas", "parquet"])
def test_sources(params, source, tmp_path):
    X = _data()
    sources = _sources(X, tmp_path)
    named = source in ("pandas", "parquet")
    reference = sources["pandas"] if named else X
    theirs = SplineTransformer(**params).fit(reference)
    ours = OOCSplineTransformer(batch_size=11, **params).fit(sources[source])
    _assert_same_splines(ours, theirs)
    expected = theirs.transform(reference)
    got = ours.transform(sources[source])
    if source in ("ndarray", "pandas"):  # scikit-learn's own transform
        _transform_both(ours, theirs, reference)
        return
    if source in ("memmap", "parquet"):
        assert isinstance(got, LazyArray)
        got = np.asarray(got)
    # out of core, the rows of sparse_output=True are dense
    expected = expected.toarray() if sp.issparse(expected) else expected
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_streams_into_a_pipeline(tmp_path):
    X = _data(n=120)
    y = np.sin(X[:, 0]) + X[:, 1] / 10
    path = os.fspath(tmp_path / "X.npy")
    np.save(path, X)
    pipe = make_pipeline(SplineTransformer(n_knots=6, knots="quantile"), Ridge(1e-3))
    ours = out_of_core(pipe)
    assert type(ours.steps[0][1]) is OOCSplineTransformer
    ours.set_params(splinetransformer__batch_size=25, ridge__batch_size=25)
    ours.fit(open_array(path), y)
    theirs = pipe.fit(X, y)
    np.testing.assert_allclose(
        ours.predict(open_array(path)), theirs.predict(X), rtol=1e-10, atol=1e-10
    )


def test_out_of_core_keeps_the_parameters():
    theirs = SplineTransformer(
        7, 2, knots="quantile", extrapolation="periodic", include_bias=False
    )
    ours = out_of_core(theirs)
    assert type(ours) is OOCSplineTransformer
    params = ours.get_params()
    for name, value in theirs.get_params().items():
        assert params[name] == value


# -- missing values -----------------------------------------------------------


def _with_nan(dtype=np.float64):
    X = _data(dtype=dtype)
    X[[3, 40, 41], 1] = np.nan
    X[70, 0] = np.nan
    return X


@pytest.mark.parametrize("knots", ["uniform", "quantile"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse_output", [False, True])
def test_handle_missing_zeros(knots, weighted, sparse_output):
    X = _with_nan()
    w = _weights() if weighted else None
    params = dict(knots=knots, handle_missing="zeros", sparse_output=sparse_output)
    theirs = SplineTransformer(**params).fit(X, sample_weight=w)
    ours = OOCSplineTransformer(batch_size=10, **params).fit(X, sample_weight=w)
    _assert_same_splines(ours, theirs)
    _transform_both(ours, theirs, X)


def test_all_nan_column_as_scikit_learn():
    X = _data()
    X[:, 2] = np.nan
    for knots in ("uniform", "quantile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            theirs = SplineTransformer(knots=knots, handle_missing="zeros").fit(X)
        ours = OOCSplineTransformer(knots=knots, handle_missing="zeros", batch_size=9)
        ours.fit(X)
        _assert_same_splines(ours, theirs)


def test_nulls_of_a_table_are_missing_values(tmp_path):
    X = _with_nan()
    frame = pd.DataFrame(X, columns=COLUMNS)
    path = os.fspath(tmp_path / "nulls.parquet")
    frame.to_parquet(path, row_group_size=20)  # NaN written as nulls
    for knots in ("uniform", "quantile"):
        theirs = SplineTransformer(knots=knots, handle_missing="zeros").fit(frame)
        ours = OOCSplineTransformer(knots=knots, handle_missing="zeros", batch_size=13)
        ours.fit(open_table(path))
        _assert_same_splines(ours, theirs)
        got = ours.transform(open_table(path))
        assert isinstance(got, LazyArray)
        np.testing.assert_array_equal(np.asarray(got), theirs.transform(frame))


def test_nan_is_an_error_by_default(tmp_path):
    X = _with_nan()
    with pytest.raises(ValueError, match="handle_missing='error'") as theirs:
        SplineTransformer().fit(X)
    ours = OOCSplineTransformer(batch_size=10)
    with pytest.raises(ValueError) as raised:
        ours.fit(X)
    message = str(raised.value)
    assert message.startswith(str(theirs.value))
    assert "row 3 " in message
    assert not hasattr(ours, "bsplines_")
    path = os.fspath(tmp_path / "nulls.parquet")
    pd.DataFrame(X, columns=COLUMNS).to_parquet(path, row_group_size=20)
    with pytest.raises(ValueError, match="handle_missing='zeros'") as raised:
        ours.fit(open_table(path))
    assert "'b'" in str(raised.value)  # the column of the null
    assert not hasattr(ours, "bsplines_")


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, X, fit, match",
    [
        ({}, np.ones((1, 2)), {}, "Found array with 1 sample"),
        ({"extrapolation": "periodic", "n_knots": 3}, None, {}, "degree < n_knots"),
        ({"knots": np.array([[0.0, 1.0]])}, None, {}, "must be >= 2"),
        ({"knots": np.zeros((3, 2))}, None, {}, "n_features is violated"),
        ({"knots": np.array([[0.0] * 3, [1.0] * 3, [0.5] * 3])}, None, {}, "sorted"),
        ({"n_knots": 1}, None, {}, "n_knots"),
        ({"knots": "tiles"}, None, {}, "knots"),
        ({}, None, {"sample_weight": np.zeros(83)}, "at least one non-zero"),
        ({"knots": "quantile"}, None, {"sample_weight": np.zeros(83)}, "non-zero"),
    ],
)
def test_errors_as_scikit_learn(params, X, fit, match):
    X = _data() if X is None else X
    with pytest.raises(ValueError, match=match) as theirs:
        SplineTransformer(**params).fit(X, **fit)
    ours = OOCSplineTransformer(batch_size=10, **params)
    with pytest.raises(type(theirs.value)) as raised:
        ours.fit(X, **fit)
    expected = str(theirs.value).replace("SplineTransformer", "OOCSplineTransformer")
    assert str(raised.value) in (str(theirs.value), expected)
    assert "bsplines_" not in ours.__dict__


def test_failed_fit_leaves_the_estimator_unchanged():
    ours = OOCSplineTransformer(batch_size=10).fit(_data())
    before = fitted_state(ours)
    with pytest.raises(ValueError, match="NaN"):
        ours.fit(_with_nan())
    with pytest.raises(ValueError, match="non-zero"):
        ours.fit(_data(), sample_weight=np.zeros(83))
    assert fitted_state(ours) == before


def test_pickle_and_transform_errors():
    X = _data()
    ours = pickle.loads(pickle.dumps(OOCSplineTransformer(batch_size=9).fit(X)))
    theirs = SplineTransformer().fit(X)
    _transform_both(ours, theirs, X)
    with pytest.raises(ValueError, match="features"):
        ours.transform(X[:, :2])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_quantile_knots_with_fractional_weights(dtype):
    # the weighted percentiles compare cumulative weights; these sums are
    # not exact, and still select scikit-learn's values
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 2)).astype(dtype)
    w = rng.random(200)
    theirs = SplineTransformer(knots="quantile", n_knots=7).fit(X, sample_weight=w)
    ours = OOCSplineTransformer(knots="quantile", n_knots=7, batch_size=13)
    ours.fit(X, sample_weight=w)
    _assert_same_splines(ours, theirs)


def test_fit_transform_with_weights_and_pandas_output():
    frame = pd.DataFrame(_data(), columns=COLUMNS)
    w = _weights()
    theirs = SplineTransformer(knots="quantile").set_output(transform="pandas")
    ours = OOCSplineTransformer(knots="quantile", batch_size=8)
    ours.set_output(transform="pandas")
    expected = theirs.fit_transform(frame, sample_weight=w)
    got = ours.fit_transform(frame, sample_weight=w)
    pd.testing.assert_frame_equal(got, expected)
