"""Dask DataFrames as inputs: estimators fitted where the partitions live,
and lazy tables that compute one partition at a time."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from sklearn_ooc import open_table, out_of_core  # noqa: E402
from sklearn_ooc.cluster import OOCKMeans  # noqa: E402
from sklearn_ooc.decomposition import OOCPCA  # noqa: E402
from sklearn_ooc.discriminant_analysis import (  # noqa: E402
    OOCLinearDiscriminantAnalysis,
)
from sklearn_ooc.linear_model import StreamingRidge  # noqa: E402
from sklearn_ooc.preprocessing import OOCOneHotEncoder  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _numbers(dtype=np.float64, n=90, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 100.0, -3.0],
        columns=["a", "b", "c"],
    ).astype(dtype)
    frame["n"] = rng.integers(0, 5, size=n)
    frame["y"] = frame[["a", "b", "c"]].to_numpy(np.float64) @ [1.0, -0.5, 2.0]
    frame["y"] += rng.normal(size=n)
    frame["w"] = rng.uniform(0.5, 2.0, size=n)
    frame["label"] = np.where(frame["a"] > 0, "pos", "neg")
    return frame


FEATURES = ["a", "b", "c", "n"]


def _split(frame, n):
    bounds = np.linspace(0, len(frame), n + 1).astype(int)
    return [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _chunks_of(D):
    lengths = D.map_partitions(len).compute().tolist()
    return tuple(n for n in lengths if n)


def _summaries(stream):
    return [t for t in stream.data if "_run_block" in str(t["key"])]


# -- estimators on a cluster ---------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("npartitions", [1, 4])
def test_ridge_on_a_cluster_equals_the_fit_on_the_computed_frame(
    client, dtype, npartitions
):
    frame = _numbers(dtype)
    D = dd.from_pandas(frame, npartitions=npartitions)
    loaded = D.compute()
    with distributed.get_task_stream(client) as stream:
        ours = StreamingRidge(alpha=0.3).fit(D[FEATURES], D["y"])
    # One task per partition summarized it on a worker; the client got the
    # merged statistics only.
    summaries = _summaries(stream)
    assert len(summaries) == npartitions
    assert {t["worker"] for t in summaries} <= set(client.scheduler_info()["workers"])
    local = StreamingRidge(alpha=0.3).fit(loaded[FEATURES], loaded["y"])
    assert_allclose(ours.coef_, local.coef_, rtol=1e-12)
    assert_allclose(ours.intercept_, local.intercept_, rtol=1e-12)
    assert_array_equal(ours.feature_names_in_, FEATURES)
    assert ours.n_features_in_ == 4
    # Bitwise the fit of the Dask array of the same chunks.
    X = da.from_array(loaded[FEATURES].to_numpy(), chunks=(_chunks_of(D), 4))
    y = da.from_array(loaded["y"].to_numpy(), chunks=(_chunks_of(D),))
    array_fit = StreamingRidge(alpha=0.3).fit(X, y)
    assert_array_equal(ours.coef_, array_fit.coef_)
    assert_array_equal(ours.intercept_, array_fit.intercept_)
    if npartitions == 1:
        # One summary, no merge: bitwise the local fit in one batch.
        assert_array_equal(ours.coef_, local.coef_)
    assert_allclose(
        ours.predict(D[FEATURES]), local.predict(loaded[FEATURES]), rtol=1e-12
    )
    assert_allclose(
        ours.score(D[FEATURES], D["y"]),
        local.score(loaded[FEATURES], loaded["y"]),
        rtol=1e-12,
    )


def test_lengths_are_counted_once(client):
    frame = _numbers(seed=5)
    D = dd.from_pandas(frame, npartitions=3)
    with distributed.get_task_stream(client) as stream:
        model = StreamingRidge().fit(D[FEATURES], D["y"])
        model.predict(D[FEATURES])
        model.score(D[FEATURES], D["y"])
    counts = [t for t in stream.data if str(t["key"]).startswith("len-")]
    # X and y at fit: the partitions of each, once.
    assert len(counts) == 2 * D.npartitions


def test_sample_weight_as_a_dask_series(client):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    ours = StreamingRidge().fit(D[FEATURES], D["y"], sample_weight=D["w"])
    local = StreamingRidge().fit(
        frame[FEATURES], frame["y"], sample_weight=frame["w"].to_numpy()
    )
    assert_allclose(ours.coef_, local.coef_, rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: OOCPCA(n_components=2),
        lambda: OOCKMeans(n_clusters=2, random_state=0, n_init=1, max_iter=5),
    ],
    ids=["pca", "kmeans"],
)
def test_unsupervised_fits_on_a_cluster(client, make):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    loaded = D.compute()
    ours = make().fit(D[FEATURES])
    local = make().fit(loaded[FEATURES])
    assert_array_equal(ours.feature_names_in_, FEATURES)
    if isinstance(ours, OOCPCA):
        assert_allclose(ours.mean_, local.mean_, rtol=1e-12)
        assert_allclose(np.abs(ours.components_), np.abs(local.components_), rtol=1e-8)
        assert_allclose(
            np.abs(ours.transform(D[FEATURES])),
            np.abs(local.transform(loaded[FEATURES])),
            rtol=1e-8,
            atol=1e-10,
        )
    else:
        assert_allclose(ours.cluster_centers_, local.cluster_centers_, rtol=1e-10)
        assert_array_equal(ours.predict(D[FEATURES]), local.predict(loaded[FEATURES]))


def _transformers():
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import QuantileTransformer

    from sklearn_ooc.preprocessing import (
        OOCQuantileTransformer,
        OOCSimpleImputer,
        StreamingTransformer,
    )

    return {
        "scaler": (StreamingTransformer(StandardScaler()), StandardScaler()),
        "imputer": (
            OOCSimpleImputer(strategy="median"),
            SimpleImputer(strategy="median"),
        ),
        "quantiles": (
            OOCQuantileTransformer(n_quantiles=20),
            QuantileTransformer(n_quantiles=20),
        ),
    }


@pytest.mark.parametrize("name", ["scaler", "imputer", "quantiles"])
def test_transformers_with_nan(client, name):
    ours, theirs = _transformers()[name]
    frame = _numbers(np.float32)[["a", "b", "c"]]
    frame.loc[[3, 50], "b"] = np.nan
    D = dd.from_pandas(frame, npartitions=3)
    ours.fit(D)
    theirs.fit(frame)
    assert_array_equal(ours.feature_names_in_, ["a", "b", "c"])
    assert_allclose(
        np.asarray(ours.transform(D)), theirs.transform(frame), rtol=1e-6, atol=1e-6
    )


def test_string_labels_as_a_dask_series(client):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    loaded = D.compute()
    ours = OOCLinearDiscriminantAnalysis().fit(D[FEATURES], D["label"])
    local = OOCLinearDiscriminantAnalysis().fit(
        loaded[FEATURES], loaded["label"].to_numpy(dtype=object)
    )
    assert ours.classes_.tolist() == ["neg", "pos"]
    assert_allclose(ours.coef_, local.coef_, rtol=1e-10)
    assert_array_equal(ours.predict(D[FEATURES]), local.predict(loaded[FEATURES]))


@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_partitions_of_unknown_length_from_parquet(client, tmp_path):
    frame = _numbers()
    for i, part in enumerate(_split(frame, 3)):
        part.to_parquet(tmp_path / f"part{i}.parquet", index=False)
    D = dd.read_parquet(tmp_path)
    assert D.npartitions == 3
    ours = StreamingRidge().fit(D[FEATURES], D["y"])
    local = StreamingRidge().fit(frame[FEATURES], frame["y"])
    assert_allclose(ours.coef_, local.coef_, rtol=1e-12)
    assert_array_equal(ours.feature_names_in_, FEATURES)


def test_empty_partitions_are_left_out(client):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=4)
    emptied = D.map_partitions(
        lambda part: part.iloc[:0] if part.index[0] == 0 else part, meta=D._meta
    )
    kept = frame.iloc[len(D.partitions[0].compute()) :]
    ours = StreamingRidge().fit(emptied[FEATURES], emptied["y"])
    local = StreamingRidge().fit(kept[FEATURES], kept["y"])
    assert_allclose(ours.coef_, local.coef_, rtol=1e-12)


def test_y_as_a_dask_series_with_x_in_memory(client):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    ours = StreamingRidge(batch_size=7).fit(frame[FEATURES].to_numpy(), D["y"])
    local = StreamingRidge(batch_size=7).fit(frame[FEATURES].to_numpy(), frame["y"])
    assert_array_equal(ours.coef_, local.coef_)


def test_order_dependent_learners_read_a_partition_per_batch(client):
    from sklearn_ooc.linear_model import StreamingSGDRegressor

    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    X = da.from_array(frame[FEATURES].to_numpy(), chunks=(_chunks_of(D), 4))
    y = da.from_array(frame["y"].to_numpy(), chunks=(_chunks_of(D),))
    ours = StreamingSGDRegressor(random_state=0, max_iter=3, tol=None)
    ours.fit(D[FEATURES], D["y"])
    arrays = StreamingSGDRegressor(random_state=0, max_iter=3, tol=None).fit(X, y)
    assert_array_equal(ours.coef_, arrays.coef_)


def test_nullable_and_unnamed_columns(client):
    frame = _numbers()[["a", "b", "n", "y"]]
    frame["n"] = frame["n"].astype("Int64")
    D = dd.from_pandas(frame, npartitions=3)
    ours = StreamingRidge().fit(D[["a", "b", "n"]], D["y"])
    local = StreamingRidge().fit(frame[["a", "b", "n"]], frame["y"])
    assert_allclose(ours.coef_, local.coef_, rtol=1e-12)
    # Columns named by numbers give no feature names, as in scikit-learn.
    plain = dd.from_pandas(pd.DataFrame(frame[["a", "b"]].to_numpy()), npartitions=2)
    model = StreamingRidge().fit(plain, frame["y"].to_numpy())
    assert not hasattr(model, "feature_names_in_")
    assert model.n_features_in_ == 2
    frame.loc[50, "n"] = pd.NA
    D = dd.from_pandas(frame, npartitions=3)
    with pytest.raises(ValueError, match=r"X contains NaN at row 50 \(batch 1"):
        StreamingRidge().fit(D[["a", "b", "n"]], D["y"])


# -- bad input -----------------------------------------------------------------


class _Parts:
    def __init__(self, parts):
        self.parts = parts

    def __call__(self, i):
        return self.parts[i]


def _delayed_frame(parts, meta):
    """A frame whose partitions are ``parts`` whatever they hold."""
    return dd.from_map(
        _Parts(parts), range(len(parts)), meta=meta, enforce_metadata=False
    )


def test_a_non_numeric_column_is_named_and_the_model_is_kept(client):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    model = StreamingRidge().fit(frame[FEATURES], frame["y"])
    before = pickle.dumps(model)
    with pytest.raises(ValueError, match=r"X column 'label' of a Dask DataFrame"):
        model.fit(D[["a", "label"]], D["y"])
    with pytest.raises(ValueError, match=r"y column 'label' of a Dask DataFrame"):
        model.fit(D[FEATURES], D["label"])
    assert pickle.dumps(model) == before


def test_a_partition_of_another_dtype_is_named(client):
    frame = _numbers()[FEATURES + ["y"]]
    parts = _split(frame, 3)
    # As read_csv gives a file where the column holds integers only.
    parts[1] = parts[1].astype({"b": np.int64})
    D = _delayed_frame(parts, frame.iloc[:0])
    model = StreamingRidge().fit(frame[FEATURES], frame["y"])
    before = pickle.dumps(model)
    with pytest.raises(
        ValueError,
        match=r"partition 1 of a Dask DataFrame X: column 'b' has dtype int64, "
        r"but the frame declares float64",
    ):
        model.fit(D[FEATURES], D["y"])
    assert pickle.dumps(model) == before
    # The lazy table names the partition too.
    T = open_table(D)
    with pytest.raises(ValueError, match=r"partition 1 of a Dask DataFrame: column"):
        T.read_frame(0, len(frame))


def test_objects_are_read_as_strings(client):
    frame = pd.DataFrame(
        {
            "city": pd.Series(["a", "b", None, "a", "c", "b"], dtype=object),
            "mixed": pd.Series(["a", "b", "c", 1, 2, 3], dtype=object),
        }
    )
    with dask.config.set({"dataframe.convert-string": False}):
        D = dd.from_pandas(frame, npartitions=2)
        T = open_table(D)
        assert T[["city"]].read_frame(0, 6)["city"].tolist()[:2] == ["a", "b"]
        ours = OOCOneHotEncoder(sparse_output=False).fit(T[["city"]])
        sk = OneHotEncoder(sparse_output=False).fit(frame[["city"]].fillna(np.nan))
        assert_array_equal(ours.categories_[0][:3], sk.categories_[0][:3])
        assert np.isnan(ours.categories_[0][3]) and np.isnan(sk.categories_[0][3])
        with pytest.raises(
            ValueError, match=r"partition 1 of a Dask DataFrame: column 'mixed' "
        ):
            T["mixed"].read_frame(0, 6)


def test_a_partition_without_a_column_is_named(client):
    frame = _numbers()[FEATURES + ["y"]]
    parts = _split(frame, 3)
    parts[2] = parts[2].drop(columns="c")
    D = _delayed_frame(parts, frame.iloc[:0])
    model = StreamingRidge()
    with pytest.raises(
        ValueError,
        match=r"partition 2 of a Dask DataFrame X lacks a column the frame declares "
        r"\(KeyError: .*'c'.*\)",
    ):
        model.fit(D[FEATURES], D["y"])
    assert not hasattr(model, "coef_")
    encoder = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["a", "c"])]), Ridge()
    )
    with pytest.raises(
        ValueError, match=r"partition 2 of a Dask DataFrame lacks a column"
    ):
        out_of_core(encoder).fit(D[FEATURES], D["y"])


def test_a_missing_column_at_predict_is_scikit_learns_error(client):
    frame = _numbers()
    D = dd.from_pandas(frame, npartitions=3)
    model = StreamingRidge().fit(D[FEATURES], D["y"])
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now"):
        model.predict(D[["a", "b", "c"]].assign(m=D["n"]))


def test_nan_names_its_row(client):
    frame = _numbers()
    frame.loc[40, "b"] = np.nan
    D = dd.from_pandas(frame, npartitions=3)
    with pytest.raises(ValueError, match=r"X contains NaN at row 40 \(batch 1"):
        StreamingRidge().fit(D[FEATURES], D["y"])


# -- lazy tables ---------------------------------------------------------------


def _mixed(n=120, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "kind": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "u": rng.normal(size=n),
            "v": rng.normal(size=n) * 10 + 3,
        }
    )
    frame.loc[rng.random(n) < 0.1, "u"] = np.nan
    frame["y"] = rng.normal(size=n) + (frame["city"] == "paris")
    return frame


def test_open_table_computes_one_partition_at_a_time(client):
    frame = _mixed()
    D = dd.from_pandas(frame, npartitions=4)
    T = open_table(D)
    assert T.columns == ["city", "kind", "u", "v", "y"]
    assert T.shape == (120, 5)
    assert "Dask DataFrame" in repr(T)
    backend = T._base.backend
    loaded = D.compute()
    for start in range(0, 120, 25):
        part = T.read_frame(start, start + 25)
        expected = loaded.iloc[start : start + 25]
        assert part["city"].tolist() == expected["city"].tolist()
        assert part["kind"].tolist() == expected["kind"].tolist()
        assert_array_equal(part["v"].to_numpy(), expected["v"].to_numpy())
        assert len(backend._cache) <= 2
    assert backend.n_reads == D.npartitions
    assert_array_equal(np.asarray(T[["v", "y"]]), loaded[["v", "y"]].to_numpy())
    back = pickle.loads(pickle.dumps(T[["v"]]))
    assert_array_equal(np.asarray(back), loaded[["v"]].to_numpy())


@pytest.mark.parametrize("batch_size, n_jobs", [(7, None), (40, 2), (1000, None)])
def test_a_pipeline_with_strings_and_categories(client, batch_size, n_jobs):
    from sklearn.impute import SimpleImputer

    frame = _mixed()
    D = dd.from_pandas(frame, npartitions=4)
    loaded = D.compute()
    sk = make_pipeline(
        ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ["city", "kind"],
                ),
                ("ord", OrdinalEncoder(), ["kind"]),
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["u", "v"]),
            ]
        ),
        Ridge(),
    )
    ours = out_of_core(sk)
    names = [k for k in ours.get_params() if k.endswith("batch_size")]
    ours.set_params(**dict.fromkeys(names, batch_size))
    ours.set_params(columntransformer__n_jobs=n_jobs)
    X, Xf = D.drop(columns="y"), loaded.drop(columns="y")
    ours.fit(X, D["y"])
    sk.fit(Xf, loaded["y"])
    assert_allclose(ours.predict(X), sk.predict(Xf), rtol=0, atol=1e-10)
    assert_allclose(
        np.asarray(ours[0].transform(X)), sk[0].transform(Xf), rtol=0, atol=1e-12
    )
    assert_array_equal(ours[0].get_feature_names_out(), sk[0].get_feature_names_out())


def test_an_encoder_on_the_table_of_a_dask_frame(client):
    frame = _mixed()
    D = dd.from_pandas(frame, npartitions=3)
    loaded = D.compute()
    ours = OOCOneHotEncoder(sparse_output=False, batch_size=10).fit(
        open_table(D)[["city", "kind"]]
    )
    sk = OneHotEncoder(sparse_output=False).fit(loaded[["city", "kind"]])
    for a, b in zip(ours.categories_, sk.categories_, strict=True):
        assert_array_equal(a, b)
    assert_array_equal(
        np.asarray(ours.transform(open_table(D)[["city", "kind"]])),
        sk.transform(loaded[["city", "kind"]]),
    )
