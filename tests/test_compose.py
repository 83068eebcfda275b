"""OOCColumnTransformer: scikit-learn's ColumnTransformer over tables on disk."""

import pickle
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    StandardScaler,
)

from sklearn_ooc import LazyArray, open_array, open_table, out_of_core
from sklearn_ooc.compose import OOCColumnTransformer
from sklearn_ooc.data import _table
from sklearn_ooc.preprocessing import OOCKBinsDiscretizer, StreamingTransformer

from .conftest import fitted_state


def _frame(rng, n=150):
    frame = pd.DataFrame(
        rng.normal(size=(n, 4)) * [1.0, 10.0, 100.0, 2.0] + [0.0, 5.0, -3.0, 40.0],
        columns=["a", "b", "c", "d"],
    )
    frame["y"] = frame @ [1.0, 0.2, 0.01, -0.5] + rng.normal(size=n)
    return frame


@pytest.fixture
def table(tmp_path, rng):
    frame = _frame(rng)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=40)
    return frame, open_table(path)


def _sklearn_ct(**params):
    return ColumnTransformer(
        [
            ("scale", StandardScaler(), ["a", "b"]),
            (
                "log",
                make_pipeline(MinMaxScaler(), FunctionTransformer(np.log1p)),
                ["c"],
            ),
        ],
        **params,
    )


def _batch_size(model, batch_size):
    names = [k for k in model.get_params() if k.endswith("batch_size")]
    return model.set_params(**dict.fromkeys(names, batch_size))


@pytest.mark.parametrize("batch_size", [1, 7, 40, 1000])
@pytest.mark.parametrize("remainder", ["drop", "passthrough"])
def test_pipeline_on_a_table_equals_scikit_learn_on_the_frame(
    table, batch_size, remainder
):
    frame, T = table
    X, y = T.drop(columns="y"), T["y"]
    sk = make_pipeline(_sklearn_ct(remainder=remainder), Ridge(alpha=0.5))
    ours = _batch_size(out_of_core(sk), batch_size)
    assert type(ours[0]) is OOCColumnTransformer
    ours.fit(X, y)
    sk.fit(frame.drop(columns="y"), frame["y"])
    assert_allclose(
        ours.predict(X), sk.predict(frame.drop(columns="y")), rtol=0, atol=1e-10
    )
    lazy = ours[0].transform(X)
    assert isinstance(lazy, LazyArray)
    assert lazy.shape == (len(frame), 3 if remainder == "drop" else 4)
    assert_allclose(
        np.asarray(lazy), sk[0].transform(frame.drop(columns="y")), atol=1e-12
    )
    assert ours[0].output_indices_ == sk[0].output_indices_
    assert_array_equal(ours[0].feature_names_in_, sk[0].feature_names_in_)
    assert ours[0].n_features_in_ == sk[0].n_features_in_ == 4


@pytest.mark.parametrize(
    "columns",
    [
        ["a", "c"],
        [0, 2],
        slice(0, 3, 2),
        np.array([True, False, True, False]),
        lambda X: ["a", "c"],
        make_column_selector(pattern="^[ac]$"),
    ],
    ids=["names", "positions", "slice", "mask", "callable", "selector"],
)
@pytest.mark.parametrize("verbose_feature_names_out", [True, False])
def test_columns_are_selected_as_scikit_learn_selects_them(
    table, columns, verbose_feature_names_out
):
    frame, T = table
    X, Xf = T.drop(columns="y"), frame.drop(columns="y")
    params = dict(
        remainder="passthrough",
        verbose_feature_names_out=verbose_feature_names_out,
        transformer_weights={"s": 3.0},
    )
    sk = ColumnTransformer([("s", StandardScaler(), columns)], **params)
    ours = OOCColumnTransformer(
        [("s", StreamingTransformer(StandardScaler(), batch_size=11), columns)],
        **params,
    )
    got = ours.fit_transform(X)
    expected = sk.fit_transform(Xf)
    assert_allclose(np.asarray(got), expected, atol=1e-12)
    assert_allclose(np.asarray(ours.transform(X)), expected, atol=1e-12)
    assert_array_equal(ours.get_feature_names_out(), sk.get_feature_names_out())
    assert [c for *_, c in ours.transformers_] == [c for *_, c in sk.transformers_]
    assert ours.named_transformers_["remainder"].n_features_in_ == 2


def test_dtype_selector_sees_the_tables_types(tmp_path, rng):
    frame = _frame(rng).drop(columns="y")
    frame["k"] = np.arange(len(frame)) % 3  # integers
    frame["s"] = ["u", "v", "w"] * (len(frame) // 3)
    path = tmp_path / "mixed.parquet"
    frame.to_parquet(path, row_group_size=33)
    loaded = pd.read_parquet(path)
    selector = make_column_selector(dtype_include="float64")
    sk = ColumnTransformer([("s", StandardScaler(), selector)])
    scaler = StreamingTransformer(StandardScaler())
    ours = OOCColumnTransformer([("s", scaler, selector)])
    expected = sk.fit_transform(loaded)
    got = ours.fit_transform(open_table(path))
    assert_allclose(np.asarray(got), expected, atol=1e-12)
    assert_array_equal(ours.get_feature_names_out(), sk.get_feature_names_out())


@pytest.mark.parametrize("source", ["ndarray", "npy", "memmap", "lazy", "frame"])
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_every_source_gives_scikit_learns_output(npy, rng, source, n_jobs):
    frame = _frame(rng).drop(columns="y")
    values = frame.to_numpy()
    path = npy(values)
    data = {
        "ndarray": values,
        "npy": str(path),
        "memmap": np.load(path, mmap_mode="r"),
        "lazy": open_array(path),
        "frame": frame,
    }[source]
    transformers = [
        ("scale", StandardScaler(), [0, 3]),
        ("minmax", MinMaxScaler(), [1]),
        ("drop", "drop", [2]),
    ]
    sk = ColumnTransformer(transformers, n_jobs=n_jobs, remainder="passthrough")
    ours = out_of_core(sk)
    ours.set_params(scale__batch_size=13, minmax__batch_size=13)
    expected = sk.fit_transform(values)
    got = ours.fit_transform(data)
    if source in ("npy", "memmap", "lazy"):
        assert isinstance(got, LazyArray)
    assert_allclose(np.asarray(got), expected, atol=1e-12)
    assert_allclose(np.asarray(ours.transform(data)), expected, atol=1e-12)
    if source != "frame":
        assert_allclose(np.asarray(ours.transform(values)), expected, atol=1e-12)
    assert ours.output_indices_ == sk.output_indices_


def test_a_table_at_transform_is_read_by_column_names(table, tmp_path):
    frame, T = table
    ours = OOCColumnTransformer(
        [("s", StreamingTransformer(StandardScaler()), ["b", "a"])]
    ).fit(T.drop(columns="y"))
    sk = ColumnTransformer([("s", StandardScaler(), ["b", "a"])]).fit(
        frame.drop(columns="y")
    )
    shuffled = frame[["d", "a", "y", "b"]]
    path = tmp_path / "other.parquet"
    shuffled.to_parquet(path)
    got = ours.transform(open_table(path))
    assert_allclose(np.asarray(got), sk.transform(shuffled), atol=1e-12)
    # Fitted on a table, applied to the frame in memory: scikit-learn's way.
    assert_allclose(ours.transform(shuffled), sk.transform(shuffled), atol=1e-12)
    with pytest.raises(ValueError, match=r"columns are missing: \{'b'\}"):
        ours.transform(open_table(path, columns=["a", "d"]))


def test_names_need_names(npy, rng):
    X = open_array(npy(rng.normal(size=(20, 3))))
    ours = OOCColumnTransformer([("s", StreamingTransformer(StandardScaler()), ["a"])])
    with pytest.raises(ValueError, match="only supported for dataframes"):
        ours.fit(X)
    assert not hasattr(ours, "transformers_")


def test_a_failed_fit_leaves_the_fitted_transformer_as_it_was(table, tmp_path):
    frame, T = table
    # KBinsDiscretizer, unlike the scalers, refuses NaN, as scikit-learn's.
    ours = OOCColumnTransformer(
        [("s", OOCKBinsDiscretizer(n_bins=3, encode="ordinal"), ["a", "b"])]
    ).fit(T.drop(columns="y"))
    before = fitted_state(ours)
    bad = frame.assign(b=["x"] * len(frame))
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    with pytest.raises(ValueError, match=r"column 'b' of file .*bad.parquet"):
        ours.fit(open_table(path))
    assert fitted_state(ours) == before
    missing = frame.astype({"a": "float64"})
    missing.loc[57, "a"] = None
    path = tmp_path / "null.parquet"
    missing.to_parquet(path, row_group_size=40)
    with pytest.raises(ValueError, match=r"row 57 .*row group 1, column 'a'"):
        ours.fit(open_table(path))
    assert fitted_state(ours) == before


def test_the_lazy_output_pickles_as_a_reference(table):
    frame, T = table
    ours = OOCColumnTransformer(
        [("s", StreamingTransformer(StandardScaler()), ["a", "b"])],
        remainder="passthrough",
    )
    out = ours.fit_transform(T.drop(columns="y"))
    dumped = pickle.dumps(out)
    assert len(dumped) < 20_000
    assert_allclose(np.asarray(pickle.loads(dumped)), np.asarray(out))
    rows = [3, 100, 7]
    assert_allclose(np.asarray(out[rows]), np.asarray(out)[rows])
    assert_allclose(np.asarray(out[10:90:3]), np.asarray(out)[10:90:3])


def test_nothing_selected_gives_no_columns(table):
    frame, T = table
    ours = OOCColumnTransformer([("s", "drop", ["a"])])
    out = ours.fit_transform(T.drop(columns="y"))
    assert out.shape == (len(frame), 0)
    assert ours.transform(T.drop(columns="y")).shape == (len(frame), 0)
    sk = ColumnTransformer([("s", "drop", ["a"])]).fit(frame)
    assert_array_equal(ours.get_feature_names_out(), sk.get_feature_names_out())


def test_verbose_says_what_scikit_learn_says(table, capsys):
    frame, T = table
    OOCColumnTransformer(
        [("s", StreamingTransformer(StandardScaler()), ["a"])], verbose=True
    ).fit(T)
    assert re.search(
        r"^\[ColumnTransformer\] \.+ \(1 of 1\) Processing s, total=",
        capsys.readouterr().out,
    )


def _count_reads(monkeypatch):
    """Row groups read, by column, with the cache of row groups off."""
    reads = {}
    load = _table._ParquetBackend._load

    def counting(self, p, columns):
        for c in columns:
            reads[c] = reads.get(c, 0) + 1
        return load(self, p, columns)

    monkeypatch.setattr(_table, "_PIECE_CACHE_BYTES", 0)
    monkeypatch.setattr(_table._ParquetBackend, "_load", counting)
    return reads


def test_passes_over_the_table(table, monkeypatch):
    frame, T = table
    n_groups = 4  # 150 rows in row groups of 40
    sk = make_pipeline(_sklearn_ct(), Ridge())
    ours = _batch_size(out_of_core(sk), 40)
    reads = _count_reads(monkeypatch)
    ours.fit(T.drop(columns="y"), T["y"])
    # Two passes: StandardScaler's over a and b and MinMaxScaler's over c,
    # then Ridge's over all (the target with it). FunctionTransformer
    # (stateless) reads a first batch, and a probe of the width of an output
    # a row, in a first row group. Two reads of a row group at the same time
    # (a probe and the read-ahead) share one decoding: a probe may cost none.
    probes = {"a": 1, "b": 1, "c": 2, "y": 0}
    expected = {"a": 2, "b": 2, "c": 2, "y": 1}
    for column, passes in expected.items():
        full = passes * n_groups
        assert full <= reads[column] <= full + probes[column], column


def test_out_of_core_converts_the_column_transformer():
    sk = _sklearn_ct(remainder=MinMaxScaler(), sparse_threshold=0.1, n_jobs=2)
    ours = out_of_core(sk)
    assert type(ours) is OOCColumnTransformer
    params = ours.get_params(deep=False)
    for name, value in sk.get_params(deep=False).items():
        if name not in ("transformers", "remainder"):
            assert params[name] == value
    assert isinstance(ours.remainder, StreamingTransformer)
    assert [c for *_, c in ours.transformers] == [["a", "b"], ["c"]]
    assert type(out_of_core(ours)) is OOCColumnTransformer
    assert repr(clone(ours)) == repr(ours)


# -- the pipeline: strings, numbers and missing values -----------------


def _mixed(rng, n=300):
    frame = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon", "nice", None], size=n),
            "kind": rng.choice(["a", "b", "c"], size=n),
            "area": rng.normal(50.0, 10.0, size=n),
            "rooms": rng.integers(1, 6, size=n).astype(float),
        }
    )
    frame.loc[rng.random(n) < 0.1, "area"] = np.nan
    frame.loc[rng.random(n) < 0.1, "rooms"] = np.nan
    frame["y"] = (
        np.nan_to_num(frame["area"]) * 0.1
        + (frame["kind"] == "b") * 2.0
        + rng.normal(size=n)
    )
    return frame


def _users_pipeline(**encoder):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    return make_pipeline(
        ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", **encoder),
                    ["city", "kind"],
                ),
                (
                    "num",
                    make_pipeline(SimpleImputer(), StandardScaler()),
                    ["area", "rooms"],
                ),
            ]
        ),
        Ridge(),
    )


@pytest.fixture
def mixed(tmp_path, rng):
    path = tmp_path / "mixed.parquet"
    _mixed(rng).to_parquet(path, row_group_size=64)
    return pd.read_parquet(path), open_table(path)


@pytest.mark.parametrize("batch_size, n_jobs", [(5, None), (64, 2), (1000, None)])
def test_the_users_pipeline_on_a_parquet_table(mixed, batch_size, n_jobs):
    loaded, T = mixed
    sk = _users_pipeline()
    ours = _batch_size(out_of_core(sk), batch_size)
    ours.set_params(columntransformer__n_jobs=n_jobs)
    numeric = ours[0].transformers[1][1]
    assert [type(s).__name__ for _, s in numeric.steps] == [
        "OOCSimpleImputer",
        "StreamingTransformer",
    ]
    ours.fit(T.drop(columns="y"), T["y"])
    sk.fit(loaded.drop(columns="y"), loaded["y"])
    assert not sk[0].sparse_output_  # dense: scikit-learn's Ridge is exact
    X = T.drop(columns="y")
    assert_allclose(
        ours.predict(X), sk.predict(loaded.drop(columns="y")), rtol=0, atol=1e-10
    )
    assert_array_equal(ours[0].get_feature_names_out(), sk[0].get_feature_names_out())
    assert_allclose(
        np.asarray(ours[0].transform(X)),
        sk[0].transform(loaded.drop(columns="y")),
        rtol=0,
        atol=1e-12,
    )
    # New rows with a city never seen: ignored, as scikit-learn ignores it.
    new = loaded.drop(columns="y").head(7).assign(city="lille")
    assert_allclose(ours.predict(new), sk.predict(new), rtol=0, atol=1e-10)


def test_the_users_pipeline_reads_each_column_in_its_transformers_passes(
    mixed, monkeypatch
):
    from sklearn_ooc.preprocessing import OOCSimpleImputer

    loaded, T = mixed
    n_groups = 5  # 300 rows in row groups of 64
    reads = _count_reads(monkeypatch)
    OOCSimpleImputer(batch_size=64).fit(T[["area", "rooms"]].with_nan())
    imputer_passes = reads["area"] // n_groups
    reads.clear()
    ours = _batch_size(out_of_core(_users_pipeline()), 64)
    ours.fit(T.drop(columns="y"), T["y"])
    passes = {c: reads[c] // n_groups for c in reads}
    # The encoder's pass and Ridge's over the strings; the imputer's, the
    # scaler's and Ridge's over the numbers; the target with Ridge's. Apart
    # from them, a row is read to probe the width of an output.
    assert passes == {
        "city": 2,
        "kind": 2,
        "area": imputer_passes + 2,
        "rooms": imputer_passes + 2,
        "y": 1,
    }
    assert all(reads[c] - passes[c] * n_groups <= 2 for c in reads)


def test_a_sparse_output_of_scikit_learn_is_read_dense(mixed):
    loaded, T = mixed
    X, Xf = T.drop(columns="y"), loaded.drop(columns="y")
    sk = ColumnTransformer(
        [("cat", _users_pipeline()[0].transformers[0][1], ["city", "kind"])],
        sparse_threshold=0.9,
    )
    ours = out_of_core(sk)
    expected = sk.fit_transform(Xf)
    assert sk.sparse_output_
    got = ours.fit_transform(X)
    assert not ours.sparse_output_
    assert_array_equal(np.asarray(got), expected.toarray())


def test_nulls_without_an_imputer_name_their_place(mixed):
    loaded, T = mixed
    # KBinsDiscretizer, unlike the scalers, refuses NaN, as scikit-learn's.
    ours = out_of_core(
        ColumnTransformer(
            [("num", KBinsDiscretizer(n_bins=3, encode="ordinal"), ["area", "rooms"])]
        )
    )
    row = int(np.flatnonzero(loaded["area"].isna())[0])
    with pytest.raises(
        ValueError, match=rf"row {row} .*mixed.parquet', row group 0, column 'area'"
    ):
        ours.fit(T)
    assert not hasattr(ours, "transformers_")


def test_an_unseen_category_names_its_place(mixed, tmp_path):
    loaded, T = mixed
    sk = _users_pipeline()
    sk[0].transformers[0][1].set_params(handle_unknown="error")
    ours = out_of_core(sk).fit(T.drop(columns="y"), T["y"])
    before = fitted_state(ours[0])
    path = tmp_path / "new.parquet"
    loaded.assign(city="lille").to_parquet(path, row_group_size=64)
    with pytest.raises(ValueError, match=r"unknown categories.*lille.*new.parquet"):
        ours.predict(open_table(path).drop(columns="y"))
    assert fitted_state(ours[0]) == before


def test_a_search_over_the_pipeline_reads_its_folds_from_the_table(table):
    from sklearn.model_selection import GridSearchCV, KFold

    frame, T = table
    search = GridSearchCV(
        make_pipeline(_sklearn_ct(remainder="passthrough"), Ridge()),
        {
            "columntransformer__scale__with_mean": [True, False],
            "ridge__alpha": [0.1, 10.0],
        },
        cv=KFold(3),
    )
    ours = out_of_core(search)
    assert "columntransformer__scale__transformer__with_mean" in ours.param_grid
    ours.fit(T.drop(columns="y"), T["y"])
    search.fit(frame.drop(columns="y"), frame["y"])
    assert ours.best_params_.keys() == {
        "columntransformer__scale__transformer__with_mean",
        "ridge__alpha",
    }
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        rtol=1e-10,
    )


@pytest.mark.parametrize("source", ["csv", "feather", "duckdb", "pandas", "polars"])
def test_every_kind_of_table_gives_scikit_learns_model(tmp_path, rng, source):
    from sklearn.preprocessing import OneHotEncoder

    n = 120
    frame = pd.DataFrame(
        {
            "city": rng.choice(["a", "b", "c"], size=n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n) * 5.0 + 1.0,
        }
    )
    frame["y"] = frame["x"] + (frame["city"] == "b") + rng.normal(size=n)
    if source == "csv":
        frame.to_csv(tmp_path / "t.csv", index=False)
        T = open_table(tmp_path / "t.csv")
    elif source == "feather":
        frame.to_feather(tmp_path / "t.feather")
        T = open_table(tmp_path / "t.feather")
    elif source == "duckdb":
        pytest.importorskip("duckdb")
        frame.to_parquet(tmp_path / "t.parquet")
        path = (tmp_path / "t.parquet").as_posix()
        T = open_table(f"SELECT * FROM '{path}'", database=":memory:")
    elif source == "polars":
        pl = pytest.importorskip("polars")
        T = open_table(pl.from_pandas(frame))
    else:
        T = open_table(frame)
    sk = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(), ["city"]), ("n", StandardScaler(), ["x", "z"])]
        ),
        Ridge(),
    )
    ours = _batch_size(out_of_core(sk), 17)
    ours.fit(T.drop(columns="y"), T["y"])
    sk.fit(frame.drop(columns="y"), frame["y"])
    assert_allclose(
        ours.predict(T.drop(columns="y")),
        sk.predict(frame.drop(columns="y")),
        rtol=0,
        atol=1e-10,
    )


def test_passed_through_nulls_are_nan_as_pandas_reads_them(tmp_path, rng):
    frame = _frame(rng).drop(columns="y")
    frame.loc[[3, 77], "c"] = np.nan
    path = tmp_path / "nan.parquet"
    frame.to_parquet(path, row_group_size=50)
    loaded = pd.read_parquet(path)
    transformers = [("s", StandardScaler(), ["a"]), ("p", "passthrough", ["c"])]
    sk = ColumnTransformer(transformers, remainder="passthrough")
    ours = out_of_core(sk)
    expected = sk.fit_transform(loaded)
    got = np.asarray(ours.fit_transform(open_table(path)))
    assert_array_equal(np.isnan(got), np.isnan(expected))
    assert_allclose(got, expected, atol=1e-12)
    assert_array_equal(ours.get_feature_names_out(), sk.get_feature_names_out())
