"""Exact streamed quantiles: RobustScaler, QuantileTransformer,
KBinsDiscretizer and SimpleImputer equal scikit-learn's."""

import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    QuantileTransformer,
    RobustScaler,
)

from sklearn_ooc import open_array, open_table, out_of_core
from sklearn_ooc.data import LazyArray
from sklearn_ooc.preprocessing import (
    OOCKBinsDiscretizer,
    OOCQuantileTransformer,
    OOCRobustScaler,
    OOCSimpleImputer,
)
from sklearn_ooc.preprocessing._quantile import (
    Summed,
    column_medians,
    column_quantiles,
    count_pass,
    float_keys,
    key_values,
    order_statistics,
    weighted_quantiles,
)

METHODS = [
    "linear",
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
]


class _Batch:
    def __init__(self, X, start, w=None):
        self.X, self.start, self.stop = X, start, start + X.shape[0]
        self.sample_weight = w
        self.index, self.y, self.workspace = 0, None, None


def _reducer(X, batch_size, w=None, log=None):
    def reduce(summarize, desc):
        total = None
        for start in range(0, X.shape[0], batch_size):
            ws = None if w is None else w[start : start + batch_size]
            stats = summarize(_Batch(X[start : start + batch_size], start, ws))
            if log is not None and isinstance(stats, Summed):
                log.append(sum(x.size for part in stats.lists for x in part))
            total = stats if total is None else total + stats
        return total

    return reduce


def _awkward(n=257, seed=0):
    """Columns with ties, NaN, huge and tiny magnitudes, signed zeros."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 1] = np.round(X[:, 1] * 2)
    X[:, 2] = rng.lognormal(sigma=30, size=n) * rng.choice([-1, 1], n)
    X[:, 3] = rng.choice([-0.0, 0.0, 5e-324, -5e-324, 1.0], n)
    X[rng.random(n) < 0.15, 4] = np.nan
    return X


def test_float_keys_order_and_round_trip():
    values = np.array([-np.inf, -1e308, -1.0, -5e-324, 0.0, 5e-324, 1.0, 1e308])
    keys = float_keys(values)
    assert np.all(np.diff(keys.astype(object)) > 0)
    np.testing.assert_array_equal(key_values(keys), values)
    # -0.0 is 0.0, as for np.sort
    assert float_keys([-0.0])[0] == float_keys([0.0])[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 13, 1000])
def test_column_quantiles_equal_numpy_bitwise(dtype, batch_size):
    X = _awkward().astype(dtype)
    reduce = _reducer(X, batch_size)
    counts, mins, maxs = count_pass(reduce, X.shape[1])
    levels = np.array([0, 0.1, 2.5, 25, 33.3, 50, 75, 99.9, 100])
    q = np.true_divide(levels, 100)
    for method in METHODS:
        got = column_quantiles(reduce, counts, mins, maxs, q, dtype, method=method)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanpercentile(X, levels, axis=0, method=method)
        assert got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref, err_msg=method)
    medians = column_medians(reduce, counts, mins, maxs, dtype)
    np.testing.assert_array_equal(medians, np.nanmedian(X, axis=0))


def test_selection_holds_at_most_the_budget():
    X = _awkward(n=3000)
    log = []
    reduce = _reducer(X, 100, log=log)
    counts, mins, maxs = count_pass(reduce, X.shape[1])
    ranks = [np.array([0, n // 3, n // 2, n - 1]) for n in counts]
    found = order_statistics(reduce, counts, mins, maxs, ranks, budget=40)
    for j in range(X.shape[1]):
        column = np.sort(X[:, j][~np.isnan(X[:, j])])
        for r in ranks[j]:
            assert found[j][int(r)] == column[r]
    # values collected per pass never exceed the budget (summed over batches)
    assert log and max(log) <= 40


def test_selection_of_an_all_nan_column_is_nan():
    X = np.c_[np.arange(10.0), np.full(10, np.nan)]
    reduce = _reducer(X, 3)
    counts, mins, maxs = count_pass(reduce, 2)
    got = column_quantiles(reduce, counts, mins, maxs, np.array([0.5]), np.float64)
    assert got[0, 0] == 4.5 and np.isnan(got[0, 1])


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_quantiles_equal_scikit_learn(average, dtype):
    from sklearn.utils.stats import _weighted_percentile

    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(301, 3)) * 3).astype(dtype)
    w = rng.integers(0, 4, size=301).astype(np.float64)
    levels = np.linspace(0, 100, 9)
    got = weighted_quantiles(
        _reducer(X, 17, w), [0, 1, 2], levels, dtype, average=average, budget=30
    )
    for j in range(3):
        ref = _weighted_percentile(X[:, j], w.astype(dtype), levels, average=average)
        np.testing.assert_array_equal(got[j], ref)


# -- the estimators -----------------------------------------------------------


def _with_nan(n=211, n_features=4, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    X[:, 1] = X[:, 1] * 10 + 5
    X[:, 2] = X[:, 2] * 1e-3 + 1e6
    X[:, -1] = np.round(X[:, -1])
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def _fit_both(ours, theirs, X, **fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, **fit)
        ours.fit(X, **fit)
    return ours, theirs


def _equal(a, b):
    if sp.issparse(a):
        a, b = a.toarray(), b.toarray()
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size,n_jobs", [(1, None), (17, 2), (1000, None)])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"quantile_range": (10.0, 90.0), "unit_variance": True},
        {"with_centering": False},
        {"with_scaling": False},
    ],
)
def test_robust_scaler_equals_scikit_learn(dtype, batch_size, n_jobs, params):
    X = _with_nan().astype(dtype)
    ours, theirs = _fit_both(
        OOCRobustScaler(batch_size=batch_size, n_jobs=n_jobs, **params),
        RobustScaler(**params),
        X,
    )
    for name in ("center_", "scale_"):
        if getattr(theirs, name) is None:
            assert getattr(ours, name) is None
        else:
            _equal(getattr(ours, name), getattr(theirs, name))
    _equal(ours.transform(X), theirs.transform(X))
    _equal(ours.inverse_transform(X), theirs.inverse_transform(X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [7, 1000])
@pytest.mark.parametrize(
    "params",
    [
        {"n_quantiles": 1000},
        {"n_quantiles": 37, "output_distribution": "normal"},
        {"n_quantiles": 50, "subsample": 90, "random_state": 4},
        {"n_quantiles": 100, "subsample": None},
    ],
)
def test_quantile_transformer_equals_scikit_learn(dtype, batch_size, params):
    X = _with_nan().astype(dtype)
    ours, theirs = _fit_both(
        OOCQuantileTransformer(batch_size=batch_size, **params),
        QuantileTransformer(**params),
        X,
    )
    _equal(ours.quantiles_, theirs.quantiles_)
    _equal(ours.references_, theirs.references_)
    assert ours.n_quantiles_ == theirs.n_quantiles_
    _equal(ours.transform(X), theirs.transform(X))
    Xt = theirs.transform(X)
    _equal(ours.inverse_transform(Xt), theirs.inverse_transform(Xt))


def _kbins_data(dtype, n=223):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(n, 4))
    X[:, 1] = rng.exponential(size=n) ** 3
    X[:, 2] = np.r_[rng.normal(size=n // 2), 10 + rng.normal(size=n - n // 2)]
    X[:, 3] = np.round(X[:, 3] * 2)
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [9, 1000])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"strategy": "uniform", "n_bins": [2, 3, 4, 5]},
        {"quantile_method": "linear", "n_bins": 7, "encode": "onehot-dense"},
        {"quantile_method": "inverted_cdf", "encode": "ordinal"},
        {"quantile_method": "hazen", "n_bins": 12},
        {"encode": "ordinal", "subsample": 60, "random_state": 0},
        {"strategy": "uniform", "dtype": np.float32},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_kbins_discretizer_equals_scikit_learn(dtype, batch_size, params, weighted):
    method = params.get("quantile_method", "averaged_inverted_cdf")
    strategy = params.get("strategy", "quantile")
    if (
        weighted
        and strategy == "quantile"
        and method
        not in (
            "inverted_cdf",
            "averaged_inverted_cdf",
        )
    ):
        X, w = _kbins_data(dtype), np.ones(223)
        with pytest.raises(ValueError) as theirs:
            KBinsDiscretizer(**params).fit(X, sample_weight=w)
        ours = OOCKBinsDiscretizer(batch_size=batch_size, **params)
        with pytest.raises(ValueError) as error:
            ours.fit(X, sample_weight=w)
        assert str(error.value) == str(theirs.value)
        assert not hasattr(ours, "bin_edges_")
        return
    X = _kbins_data(dtype)
    w = np.random.default_rng(5).integers(0, 4, X.shape[0]).astype(float)
    fit = {"sample_weight": w} if weighted else {}
    ours, theirs = _fit_both(
        OOCKBinsDiscretizer(batch_size=batch_size, **params),
        KBinsDiscretizer(**params),
        X,
        **fit,
    )
    for a, b in zip(ours.bin_edges_, theirs.bin_edges_, strict=True):
        _equal(a, b)
    _equal(ours.n_bins_, theirs.n_bins_)
    _equal(ours.transform(X), theirs.transform(X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [9, 1000])
@pytest.mark.parametrize("weighted", [False, True])
def test_kbins_kmeans_equals_scikit_learn_to_rounding(dtype, batch_size, weighted):
    # An empty cluster is reseeded with the row farthest from its center; from
    # uniform starts the smallest and the largest value are exactly as far,
    # and in float32 the rounding of the centering decides between them
    # (column 1 has such a tie): float64 only there.
    columns = [0, 1, 2] if dtype == np.float64 else [0, 2]
    X = _kbins_data(dtype)[:, columns]
    w = np.random.default_rng(5).integers(1, 4, X.shape[0]).astype(float)
    fit = {"sample_weight": w} if weighted else {}
    params = {"strategy": "kmeans", "n_bins": 4, "encode": "ordinal"}
    ours, theirs = _fit_both(
        OOCKBinsDiscretizer(batch_size=batch_size, **params),
        KBinsDiscretizer(**params),
        X,
        **fit,
    )
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    for a, b in zip(ours.bin_edges_, theirs.bin_edges_, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol)
    np.testing.assert_array_equal(ours.transform(X), theirs.transform(X))


def test_kbins_warnings_as_scikit_learn():
    X = np.c_[np.ones(20), np.r_[np.zeros(18), 1.0, 2.0]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = OOCKBinsDiscretizer(n_bins=3, batch_size=6).fit(X)
    messages = [str(w.message) for w in caught]
    assert "Feature 0 is constant and will be replaced with 0." in messages
    assert any("Bins whose width are too small" in m for m in messages)
    theirs = KBinsDiscretizer(n_bins=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X)
    _equal(ours.n_bins_, theirs.n_bins_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 17, 1000])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"strategy": "median"},
        {"strategy": "most_frequent"},
        {"strategy": "constant", "fill_value": 3.5},
        {"strategy": "mean", "add_indicator": True, "keep_empty_features": True},
        {"strategy": "median", "keep_empty_features": True},
    ],
)
def test_simple_imputer_equals_scikit_learn(dtype, batch_size, params):
    X = _with_nan(n=97, n_features=5).astype(dtype)
    X[:, 4] = np.nan  # an empty column
    ours, theirs = _fit_both(
        OOCSimpleImputer(batch_size=batch_size, **params), SimpleImputer(**params), X
    )
    a, b = ours.statistics_, theirs.statistics_
    assert a.dtype == b.dtype
    if params.get("strategy", "mean") == "mean":
        # scikit-learn sums float32 in float32; ours are centered float64 sums
        tol = 1e-6 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    elif b.dtype == object:
        assert [str(v) for v in a] == [str(v) for v in b]
    else:
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, ref = ours.transform(X), theirs.transform(X)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
def test_simple_imputer_numeric_placeholder(strategy):
    X = np.random.default_rng(0).integers(-1, 4, size=(120, 3))
    ours, theirs = _fit_both(
        OOCSimpleImputer(missing_values=-1, strategy=strategy, batch_size=11),
        SimpleImputer(missing_values=-1, strategy=strategy),
        X,
    )
    np.testing.assert_allclose(
        ours.statistics_.astype(float), theirs.statistics_.astype(float), rtol=1e-14
    )
    assert ours._fit_dtype == theirs._fit_dtype
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), rtol=1e-14)


# -- sources ------------------------------------------------------------------

ESTIMATORS = [
    (lambda: OOCRobustScaler(batch_size=40), RobustScaler),
    (lambda: OOCQuantileTransformer(n_quantiles=30, batch_size=40), None),
    (lambda: OOCSimpleImputer(strategy="median", batch_size=40), SimpleImputer),
]


def _reference(make):
    ours = make()
    params = {
        k: v
        for k, v in ours.get_params().items()
        if k not in ("batch_size", "n_jobs", "verbose")
    }
    return ours._sklearn_class(**params)


@pytest.mark.parametrize("make", [m for m, _ in ESTIMATORS])
def test_sources_memmap_dataframe_parquet_lazy(make, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X = _with_nan(n=150, n_features=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    theirs = _reference(make).fit(df)
    expected = theirs.transform(df)

    npy = os.fspath(tmp_path / "X.npy")
    np.save(npy, X)
    parquet = os.fspath(tmp_path / "X.parquet")
    pq.write_table(
        pa.table({c: X[:, i] for i, c in enumerate("abc")}), parquet, row_group_size=32
    )
    table = open_table(parquet)
    for source in (np.load(npy, mmap_mode="r"), npy, df, table, parquet):
        ours = make().fit(source)
        for name in ("center_", "scale_", "quantiles_", "statistics_"):
            if hasattr(theirs, name):
                expected_attr = getattr(theirs, name)
                np.testing.assert_array_equal(getattr(ours, name), expected_attr)
        np.testing.assert_array_equal(ours.transform(source), expected)
    assert list(make().fit(table).feature_names_in_) == ["a", "b", "c"]
    lazy = open_array(npy)
    out = make().fit(lazy).transform(lazy)
    assert isinstance(out, LazyArray)
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_kbins_onehot_from_a_file_is_sparse(tmp_path):
    X = _kbins_data(np.float64)
    path = os.fspath(tmp_path / "X.npy")
    np.save(path, X)
    ours = OOCKBinsDiscretizer(batch_size=50).fit(path)
    theirs = KBinsDiscretizer().fit(X)
    out = ours.transform(path)
    assert sp.issparse(out)
    np.testing.assert_array_equal(out.toarray(), theirs.transform(X).toarray())


def test_pipeline_of_converted_steps(tmp_path):
    X = _with_nan(n=120, n_features=3)
    pipe = make_pipeline(
        SimpleImputer(strategy="median"), RobustScaler(), KBinsDiscretizer(n_bins=3)
    )
    converted = out_of_core(pipe)
    assert [type(s).__name__ for _, s in converted.steps] == [
        "OOCSimpleImputer",
        "OOCRobustScaler",
        "OOCKBinsDiscretizer",
    ]
    path = os.fspath(tmp_path / "X.npy")
    np.save(path, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = converted.fit(open_array(path)).transform(open_array(path))
        ref = pipe.fit(X).transform(X)
    got = got.toarray() if sp.issparse(got) else np.asarray(got)
    np.testing.assert_array_equal(got, ref.toarray())


def test_pickle_round_trip():
    X = _with_nan()
    ours = OOCQuantileTransformer(n_quantiles=20, batch_size=30).fit(X)
    again = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(again.transform(X), ours.transform(X))


# -- bad input ------------------------------------------------------------------


def test_infinity_is_refused_and_the_estimator_unchanged(tmp_path):
    X = _with_nan()
    ours = OOCRobustScaler(batch_size=20).fit(X)
    before = (ours.center_.copy(), ours.scale_.copy())
    bad = X.copy()
    bad[45, 2] = np.inf
    path = os.fspath(tmp_path / "bad.npy")
    np.save(path, bad)
    with pytest.raises(ValueError, match=r"infinity at row 45 \(batch 2.*bad\.npy"):
        ours.fit(path)
    np.testing.assert_array_equal(ours.center_, before[0])
    np.testing.assert_array_equal(ours.scale_, before[1])


def test_kbins_refuses_nan_naming_the_row():
    X = _kbins_data(np.float64)
    X[30, 1] = np.nan
    ours = OOCKBinsDiscretizer(batch_size=20)
    with pytest.raises(ValueError, match="NaN at row 30"):
        ours.fit(X)
    assert not hasattr(ours, "bin_edges_")


def test_errors_as_scikit_learn():
    X = _with_nan()
    with pytest.raises(ValueError, match="Invalid quantile range"):
        OOCRobustScaler(quantile_range=(80.0, 20.0)).fit(X)
    with pytest.raises(ValueError, match="number of quantiles cannot be greater"):
        OOCQuantileTransformer(n_quantiles=100, subsample=50).fit(X)
    with pytest.raises(ValueError, match="quantile_method should either be"):
        OOCKBinsDiscretizer(quantile_method="linear").fit(
            _kbins_data(np.float64), sample_weight=np.ones(223)
        )
    with pytest.raises(ValueError, match="at least one non-zero"):
        OOCKBinsDiscretizer().fit(_kbins_data(np.float64), sample_weight=np.zeros(223))
    imputer = OOCSimpleImputer(strategy=np.nanmedian)
    with pytest.raises(ValueError, match="cannot be computed out of core"):
        imputer.fit(X)
    assert not hasattr(imputer, "statistics_")


def test_non_numeric_table_column_is_named(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = os.fspath(tmp_path / "t.parquet")
    pq.write_table(pa.table({"a": [1.0, 2.0], "s": ["x", "y"]}), path)
    with pytest.raises(ValueError, match="'s'"):
        OOCRobustScaler().fit(open_table(path))


def test_nulls_of_a_parquet_table_are_missing_values(tmp_path):
    pytest.importorskip("pyarrow")
    X = _with_nan(n=120, n_features=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    path = os.fspath(tmp_path / "nulls.parquet")
    df.to_parquet(path, row_group_size=25)  # pandas writes NaN as nulls
    for ours, theirs in [
        (
            OOCSimpleImputer(strategy="median", batch_size=30),
            SimpleImputer(strategy="median"),
        ),
        (OOCRobustScaler(batch_size=30), RobustScaler()),
    ]:
        ours.fit(open_table(path))
        theirs.fit(df)
        np.testing.assert_array_equal(ours.transform(path), theirs.transform(df))


@pytest.mark.parametrize(
    "params",
    [
        {"strategy": "most_frequent"},
        {"strategy": "constant"},
        {"strategy": "most_frequent", "add_indicator": True},
        {"strategy": "most_frequent", "keep_empty_features": True},
        {"strategy": "constant", "fill_value": "zz", "keep_empty_features": True},
    ],
)
def test_simple_imputer_on_string_columns_of_a_table(params, tmp_path):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "s": rng.choice(["b", "a", "c", None], n),
            "t": rng.choice(["x", "y", None], n),
            "empty": pd.Series([None] * n, dtype=object),
        }
    )
    path = os.fspath(tmp_path / "strings.parquet")
    frame.to_parquet(path, row_group_size=7)
    loaded = pd.read_parquet(path)
    theirs = SimpleImputer(**params).fit(loaded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.transform(loaded)
    for source in (path, open_table(path), loaded):
        ours = OOCSimpleImputer(batch_size=9, **params).fit(source)
        assert list(map(str, ours.statistics_)) == list(map(str, theirs.statistics_))
        assert list(ours.feature_names_in_) == ["s", "t", "empty"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = ours.transform(source)
        assert got.shape == expected.shape
        assert list(map(str, got.ravel())) == list(map(str, expected.ravel()))


def test_simple_imputer_mean_of_strings_is_refused(tmp_path):
    pytest.importorskip("pyarrow")
    path = os.fspath(tmp_path / "s.parquet")
    pd.DataFrame({"s": ["a", None, "b"]}).to_parquet(path)
    ours = OOCSimpleImputer(strategy="mean")
    with pytest.raises(ValueError, match="Cannot use mean strategy with non-numeric"):
        ours.fit(path)
    assert not hasattr(ours, "statistics_")
