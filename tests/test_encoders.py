"""OOCOneHotEncoder and OOCOrdinalEncoder: scikit-learn's encoders, streamed."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from sklearn_ooc import open_table, out_of_core
from sklearn_ooc.data import LazyArray
from sklearn_ooc.preprocessing import (
    CategoryCounts,
    OOCOneHotEncoder,
    OOCOrdinalEncoder,
)

from .conftest import fitted_state

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

BATCH_SIZES = [1, 4, 7, 1000]


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "city": pd.Series(
                rng.choice(
                    ["Oslo", "Rome", "Kyiv", "Lima", None],
                    n,
                    p=[0.4, 0.3, 0.15, 0.05, 0.1],
                ),
                dtype=object,
            ),
            "n": rng.choice([3, 1, 2, 9], n, p=[0.5, 0.3, 0.15, 0.05]),
            "f": rng.choice([0.5, -1.5, 2.0, np.nan], n),
            "kind": pd.Categorical(rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1])),
        }
    )


@pytest.fixture
def frame():
    return _frame()


@pytest.fixture
def parquet(tmp_path, frame):
    path = tmp_path / "d.parquet"
    frame.to_parquet(path, row_group_size=9)
    return path


def _same_array(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape
    if a.dtype.kind == "O":
        assert [x if x == x else "NaN" for x in a.tolist()] == [
            x if x == x else "NaN" for x in b.tolist()
        ]
    else:
        np.testing.assert_array_equal(a, b)


def _assert_same_encoder(ours, ref):
    assert len(ours.categories_) == len(ref.categories_)
    for a, b in zip(ours.categories_, ref.categories_, strict=True):
        _same_array(a, b)
    assert ours.n_features_in_ == ref.n_features_in_
    if hasattr(ref, "feature_names_in_"):
        np.testing.assert_array_equal(ours.feature_names_in_, ref.feature_names_in_)
    if ref._infrequent_enabled:
        for a, b in zip(
            ours.infrequent_categories_, ref.infrequent_categories_, strict=True
        ):
            assert (a is None) == (b is None)
            if a is not None:
                _same_array(a, b)
    if hasattr(ref, "drop_idx_"):
        if ref.drop_idx_ is None:
            assert ours.drop_idx_ is None
        else:
            np.testing.assert_array_equal(ours.drop_idx_, ref.drop_idx_)
    np.testing.assert_array_equal(
        ours.get_feature_names_out(), ref.get_feature_names_out()
    )


def _dense(out):
    return out.toarray() if hasattr(out, "toarray") else np.asarray(out)


ONE_HOT_PARAMS = [
    {},
    {"handle_unknown": "ignore"},
    {"min_frequency": 5},
    {"min_frequency": 0.1, "handle_unknown": "infrequent_if_exist"},
    {"max_categories": 3, "handle_unknown": "infrequent_if_exist"},
    {"max_categories": 2, "min_frequency": 4, "drop": "first"},
    {"drop": "if_binary", "sparse_output": False, "dtype": np.float32},
    {"drop": "first", "handle_unknown": "warn"},
    {"feature_name_combiner": lambda f, c: f"{f}={c}"},
]

ORDINAL_PARAMS = [
    {},
    {"min_frequency": 5},
    {"max_categories": 3},
    {"handle_unknown": "use_encoded_value", "unknown_value": -1},
    {"encoded_missing_value": -2, "dtype": np.int64},
    {"dtype": np.float32, "min_frequency": 0.2},
]


@pytest.mark.parametrize("params", ONE_HOT_PARAMS)
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_one_hot_equals_scikit_learn_on_a_dataframe(frame, params, batch_size):
    ref = OneHotEncoder(**params).fit(frame)
    ours = OOCOneHotEncoder(batch_size=batch_size, **params).fit(frame)
    _assert_same_encoder(ours, ref)
    out, expected = ours.transform(frame), ref.transform(frame)
    assert type(out) is type(expected)
    np.testing.assert_array_equal(_dense(out), _dense(expected))
    assert _dense(out).dtype == _dense(expected).dtype


@pytest.mark.parametrize("params", ORDINAL_PARAMS)
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_ordinal_equals_scikit_learn_on_a_dataframe(frame, params, batch_size):
    ref = OrdinalEncoder(**params).fit(frame)
    ours = OOCOrdinalEncoder(batch_size=batch_size, **params).fit(frame)
    _assert_same_encoder(ours, ref)
    out, expected = ours.transform(frame), ref.transform(frame)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(
        ours.inverse_transform(out).astype(str),
        ref.inverse_transform(expected).astype(str),
    )


@pytest.mark.parametrize(
    "cls, ref_cls, params",
    [(OOCOneHotEncoder, OneHotEncoder, p) for p in ONE_HOT_PARAMS[:6]]
    + [(OOCOrdinalEncoder, OrdinalEncoder, p) for p in ORDINAL_PARAMS],
)
@pytest.mark.parametrize("batch_size", [4, 1000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_parquet_table_equals_scikit_learn_on_the_loaded_frame(
    parquet, cls, ref_cls, params, batch_size, n_jobs
):
    T = open_table(parquet)
    loaded = pd.read_parquet(parquet)
    ref = ref_cls(**params).fit(loaded)
    ours = cls(batch_size=batch_size, n_jobs=n_jobs, **params).fit(T)
    _assert_same_encoder(ours, ref)
    out = ours.transform(T)
    assert isinstance(out, LazyArray)
    expected = _dense(ref.transform(loaded))
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(np.asarray(out), expected)
    # Rows read lazily, in any order (a fold of a cross-validation).
    rows = np.array([17, 3, 3, 40])
    np.testing.assert_array_equal(out.take(rows), expected[rows])
    np.testing.assert_array_equal(np.asarray(out[::5]), expected[::5])
    # The lazy output pickles as a reference to the file.
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(out))), expected)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numeric_memmap_and_lazy_array(tmp_path, batch_size, dtype):
    rng = np.random.default_rng(1)
    X = rng.choice([0.5, 2.0, -1.0, np.nan], size=(50, 3)).astype(dtype)
    path = tmp_path / "X.npy"
    np.save(path, X)
    ref = OneHotEncoder(min_frequency=3, sparse_output=False).fit(X)
    memmap = np.load(path, mmap_mode="r")
    ours = OOCOneHotEncoder(min_frequency=3, sparse_output=False, batch_size=batch_size)
    _assert_same_encoder(ours.fit(memmap), ref)
    _assert_same_encoder(ours.fit(str(path)), ref)
    out = ours.transform(str(path))
    assert isinstance(out, LazyArray)
    np.testing.assert_array_equal(np.asarray(out), ref.transform(X))
    np.testing.assert_array_equal(ours.transform(memmap), ref.transform(X))


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_object_and_string_arrays(batch_size):
    X = np.array(
        [["b", 1, None], ["a", 3, "u"], ["b", 1, "v"], ["c", 2, None], ["a", 1, "u"]],
        dtype=object,
    )
    for ref_cls, cls in [
        (OneHotEncoder, OOCOneHotEncoder),
        (OrdinalEncoder, OOCOrdinalEncoder),
    ]:
        ref = ref_cls().fit(X)
        ours = cls(batch_size=batch_size).fit(X)
        _assert_same_encoder(ours, ref)
        np.testing.assert_array_equal(
            _dense(ours.transform(X)), _dense(ref.transform(X))
        )
    # Fixed-width strings keep their dtype, as scikit-learn's categories do.
    S = np.array([["dog"], ["cat"], ["emu"], ["cat"]])
    ours = OOCOrdinalEncoder(batch_size=batch_size).fit(S)
    _assert_same_encoder(ours, OrdinalEncoder().fit(S))
    # A list of lists.
    rows = [["x", 1], ["y", 2], ["x", 2]]
    _assert_same_encoder(
        OOCOneHotEncoder(batch_size=batch_size).fit(rows), OneHotEncoder().fit(rows)
    )


def test_explicit_categories(frame):
    cats = [
        ["Rome", "Oslo", "Kyiv", "Lima", None],
        [1, 2, 3, 9],
        [-1.5, 0.5, 2.0, np.nan],
        ["z", "y", "x"],
    ]
    for params in [{}, {"min_frequency": 6}]:
        ref = OneHotEncoder(categories=cats, **params).fit(frame)
        ours = OOCOneHotEncoder(categories=cats, batch_size=7, **params).fit(frame)
        _assert_same_encoder(ours, ref)
        np.testing.assert_array_equal(
            ours.transform(frame).toarray(), ref.transform(frame).toarray()
        )


def test_explicit_categories_missing_a_value_raises_as_scikit_learn(frame, parquet):
    cats = [
        ["Rome", "Oslo", "Kyiv", None],
        [1, 2, 3, 9],
        [-1.5, 0.5, 2.0, np.nan],
        ["x", "y", "z"],
    ]
    with pytest.raises(ValueError) as expected:
        OneHotEncoder(categories=cats).fit(frame)
    encoder = OOCOneHotEncoder(categories=cats, batch_size=7)
    with pytest.raises(
        ValueError, match=r"Found unknown categories \['Lima'\] in column 0"
    ):
        encoder.fit(frame)
    assert (
        str(expected.value)
        == "Found unknown categories ['Lima'] in column 0 during fit"
    )
    assert not hasattr(encoder, "categories_")
    # Unordered numeric categories.
    with pytest.raises(ValueError, match="Unsorted categories are not supported"):
        OOCOrdinalEncoder(categories=[[3, 1, 2, 9]]).fit(frame[["n"]])
    with pytest.raises(ValueError, match="Shape mismatch"):
        OOCOrdinalEncoder(categories=[[1, 2]]).fit(open_table(parquet))


def test_dictionaries_that_differ_between_row_groups_are_unified(tmp_path):
    path = tmp_path / "dict.parquet"
    schema = pa.schema([("c", pa.dictionary(pa.int32(), pa.string()))])
    with pq.ParquetWriter(path, schema) as writer:
        # The same codes mean other values in each row group.
        for values in (["b", "a", "b"], ["z", "b", None], ["a", "a", "q"]):
            writer.write_table(
                pa.table({"c": pa.array(values).dictionary_encode()}, schema=schema)
            )
    T = open_table(path)
    loaded = pd.read_parquet(path)
    ours = OOCOneHotEncoder(batch_size=2, min_frequency=2).fit(T)
    ref = OneHotEncoder(min_frequency=2).fit(loaded)
    _assert_same_encoder(ours, ref)
    _same_array(
        ours.categories_[0], np.array(["a", "b", "q", "z", np.nan], dtype=object)
    )
    np.testing.assert_array_equal(
        np.asarray(ours.transform(T)), ref.transform(loaded).toarray()
    )


def test_csv_and_polars(tmp_path, frame):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    loaded = pd.read_csv(path)
    ref = OrdinalEncoder(min_frequency=3).fit(loaded)
    ours = OOCOrdinalEncoder(min_frequency=3, batch_size=11).fit(open_table(path))
    _assert_same_encoder(ours, ref)
    np.testing.assert_array_equal(
        np.asarray(ours.transform(str(path))), ref.transform(loaded)
    )
    pl = pytest.importorskip("polars")
    polars_frame = pl.from_pandas(frame.drop(columns="kind"))
    ref = OneHotEncoder().fit(polars_frame)
    ours = OOCOneHotEncoder(batch_size=8).fit(polars_frame)
    _assert_same_encoder(ours, ref)
    np.testing.assert_array_equal(
        ours.transform(polars_frame).toarray(), ref.transform(polars_frame).toarray()
    )


def test_unknown_category_in_a_table_names_file_and_row_group(tmp_path, frame, parquet):
    encoder = OOCOneHotEncoder(batch_size=7).fit(open_table(parquet))
    other = frame.copy()
    other.loc[47, "city"] = "Nuuk"
    path = tmp_path / "other.parquet"
    other.to_parquet(path, row_group_size=9)
    before = fitted_state(encoder)
    out = encoder.transform(open_table(path))
    with pytest.raises(ValueError) as error:
        np.asarray(out)
    text = str(error.value)
    assert "Found unknown categories ['Nuuk'] in column 0 during transform" in text
    assert "row 47 of the table" in text
    assert "row group 5" in text and "other.parquet" in text
    # Read batch by batch (as a pipeline's next step reads it): the same.
    with pytest.raises(ValueError, match="row 47 of the table.*row group 5"):
        out.rows(45, 50)
    # Rows read by index (a fold): the row of the table, not of the fold.
    with pytest.raises(ValueError, match="row 47 of the table.*row group 5"):
        out.take([50, 47, 3])
    assert fitted_state(encoder) == before


def test_failed_fit_leaves_the_encoder_unchanged(tmp_path, frame):
    encoder = OOCOrdinalEncoder(batch_size=5).fit(frame)
    before = fitted_state(encoder)
    mixed = pd.DataFrame({"v": pd.Series(["a", "b", 3, "c"] * 5, dtype=object)})
    path = tmp_path / "mixed.npy"
    with pytest.raises(TypeError, match="uniformly strings or numbers"):
        OrdinalEncoder().fit(mixed)
    with pytest.raises(TypeError, match="uniformly strings or numbers"):
        encoder.fit(mixed)
    assert fitted_state(encoder) == before
    # A mix across batches only (every batch uniform) fails the same way.
    across = pd.DataFrame({"v": pd.Series(["a", "b", "c", 1, 2, 3], dtype=object)})
    with pytest.raises(TypeError, match="uniformly strings or numbers"):
        encoder.fit(across, batch_size=3)
    assert fitted_state(encoder) == before
    assert not path.exists()


def test_parameter_errors_as_scikit_learn(frame):
    X = frame[["f"]]
    for params in [
        {"handle_unknown": "use_encoded_value", "unknown_value": 1},
        {"unknown_value": -1},
        {"encoded_missing_value": 0},
        {"dtype": np.int64},
    ]:
        with pytest.raises((ValueError, TypeError)) as expected:
            OrdinalEncoder(**params).fit(X)
        with pytest.raises(type(expected.value)) as got:
            OOCOrdinalEncoder(batch_size=3, **params).fit(X)
        assert str(got.value) == str(expected.value)


def test_category_counts_merge_exactly():
    rng = np.random.default_rng(3)
    values = rng.choice(np.array(["a", "b", "c", None, np.nan], dtype=object), 40)
    numbers = rng.choice([1.0, 2.0, np.nan], 40)
    whole = CategoryCounts.of([values, numbers])
    for cut in [1, 13, 39]:
        left = CategoryCounts.of([values[:cut], numbers[:cut]])
        right = CategoryCounts.of([values[cut:], numbers[cut:]])
        assert left + right == whole
        assert right + left == whole
        assert (left + right) + CategoryCounts() == whole
        assert CategoryCounts() + whole == whole
    parts = [
        CategoryCounts.of([values[i : i + 7], numbers[i : i + 7]])
        for i in range(0, 40, 7)
    ]
    assert parts[0] + (parts[1] + parts[2]) == (parts[0] + parts[1]) + parts[2]
    cats, counts = whole.categories(0)
    _same_array(cats, np.array(["a", "b", "c", None, np.nan], dtype=object))
    expected = [np.sum(values == v) for v in ["a", "b", "c"]] + [
        sum(v is None for v in values),
        sum(isinstance(v, float) for v in values),
    ]
    np.testing.assert_array_equal(counts, expected)
    merged = pickle.loads(pickle.dumps(whole))
    assert merged == whole
    assert merged.categories(1)[1].sum() == 40


def test_out_of_core_pipeline_on_a_table(parquet):
    loaded = pd.read_parquet(parquet)
    rng = np.random.default_rng(0)
    loaded["y"] = rng.normal(size=len(loaded))
    path = parquet.with_name("y.parquet")
    loaded.to_parquet(path, row_group_size=9)
    T = open_table(path)
    features = ["city", "n", "kind"]
    # Dense output: scikit-learn's Ridge solves a sparse problem iteratively
    # (to tol=1e-4), a dense one exactly.
    ref = make_pipeline(
        OneHotEncoder(handle_unknown="ignore", sparse_output=False), Ridge(alpha=0.5)
    )
    model = out_of_core(ref)
    assert type(model.steps[0][1]) is OOCOneHotEncoder
    model.set_params(onehotencoder__batch_size=8)
    model.fit(T[features], T["y"])
    ref.fit(loaded[features], loaded["y"])
    np.testing.assert_allclose(
        model.predict(T[features]), ref.predict(loaded[features]), rtol=0, atol=1e-10
    )


def test_string_target_from_a_table_column(tmp_path):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from sklearn_ooc.discriminant_analysis import OOCLinearDiscriminantAnalysis

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    labels = np.where(X[:, 0] + rng.normal(size=80) > 0, "yes", "no").astype(object)
    labels[:5] = "maybe"
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame["y"] = labels
    path = tmp_path / "labels.parquet"
    frame.to_parquet(path, row_group_size=16)
    T = open_table(path)
    ours = OOCLinearDiscriminantAnalysis(batch_size=10).fit(T.drop(columns="y"), T["y"])
    ref = LinearDiscriminantAnalysis().fit(frame[["a", "b"]], frame["y"])
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-10)
    np.testing.assert_array_equal(
        ours.predict(T.drop(columns="y")), ref.predict(frame[["a", "b"]])
    )


def test_string_target_logistic_regression(tmp_path):
    from sklearn_ooc.linear_model import StreamingLogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame["y"] = np.where(X[:, 0] > 0, "pos", "neg").astype(object)
    path = tmp_path / "labels.parquet"
    frame.to_parquet(path, row_group_size=16)
    T = open_table(path)
    model = StreamingLogisticRegression(batch_size=10).fit(T[["a", "b"]], T["y"])
    assert model.classes_.tolist() == ["neg", "pos"]
    assert set(model.predict(T[["a", "b"]]).tolist()) <= {"neg", "pos"}
    assert (model.predict(T[["a", "b"]]) == frame["y"].to_numpy()).mean() > 0.9


@pytest.mark.parametrize(
    "cls, ref_cls",
    [(OOCOneHotEncoder, OneHotEncoder), (OOCOrdinalEncoder, OrdinalEncoder)],
)
def test_dask_dataframe_counts_partitions_where_they_live(frame, cls, ref_cls):
    dd = pytest.importorskip("dask.dataframe")
    # Dask stores strings with pd.NA, which scikit-learn does not encode.
    frame = frame.assign(city=frame["city"].fillna("unknown"))
    D = dd.from_pandas(frame, npartitions=5)
    loaded = D.compute()
    ref = ref_cls(min_frequency=4).fit(loaded)
    ours = cls(min_frequency=4).fit(D)
    _assert_same_encoder(ours, ref)
    assert ours.category_counts_.n_samples == len(frame)
    out = ours.transform(D)
    assert type(out).__module__.startswith("dask")
    np.testing.assert_array_equal(out.compute(), _dense(ref.transform(loaded)))


def test_column_transformer_pipeline_on_a_table(tmp_path):
    pytest.importorskip("sklearn_ooc.compose")
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "city": pd.Series(rng.choice(["a", "b", "c", None], n), dtype=object),
            "kind": rng.choice(["x", "y"], n),
            "u": rng.normal(size=n),
            "v": rng.normal(size=n) * 10 + 3,
        }
    )
    frame["y"] = rng.normal(size=n) + (frame["city"] == "a")
    path = tmp_path / "mixed.parquet"
    frame.to_parquet(path, row_group_size=16)
    T = open_table(path)
    loaded = pd.read_parquet(path)
    ref = make_pipeline(
        ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ["city", "kind"],
                ),
                ("num", StandardScaler(), ["u", "v"]),
            ]
        ),
        Ridge(),
    )
    model = out_of_core(ref)
    model.fit(T.drop(columns="y"), T["y"])
    ref.fit(loaded.drop(columns="y"), loaded["y"])
    np.testing.assert_allclose(
        model.predict(T.drop(columns="y")),
        ref.predict(loaded.drop(columns="y")),
        rtol=0,
        atol=1e-10,
    )


@given(
    values=st.lists(
        st.one_of(st.sampled_from(["a", "b", "c", "d"]), st.none(), st.just(np.nan)),
        min_size=1,
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=5),
)
def test_any_partition_gives_the_same_counts(values, cuts):
    column = np.empty(len(values), dtype=object)
    column[:] = values
    bounds = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    parts = [
        CategoryCounts.of([column[a:b]])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    whole = CategoryCounts.of([column])
    assert total == whole
    cats, counts = total.categories(0)
    ref = OrdinalEncoder(min_frequency=2).fit(column.reshape(-1, 1))
    _same_array(cats, ref.categories_[0])
    assert counts.sum() == len(values)
