"""h5py datasets, zarr arrays and Dask arrays as inputs."""

import pickle
import warnings

import dask.array as da
import h5py
import numpy as np
import pytest
import zarr
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc import open_array
from sklearn_ooc.linear_model import StreamingRidge
from sklearn_ooc.mixture import OOCGaussianMixture


@pytest.fixture
def problem(rng):
    X = np.vstack([rng.normal(-2, 1, (300, 3)), rng.normal(2, 1, (300, 3))]) + 1e3
    X = X[rng.permutation(600)]
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=600)
    return X, y


@pytest.fixture
def h5(tmp_path, problem):
    X, y = problem
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["X"] = X
        f["y"] = y
    f = h5py.File(tmp_path / "data.h5", "r")
    yield f
    f.close()


@pytest.fixture
def zarr_arrays(tmp_path, problem):
    X, y = problem
    zX = zarr.open_array(
        tmp_path / "X.zarr", mode="w", shape=X.shape, chunks=(64, 3), dtype="f8"
    )
    zX[:] = X
    zy = zarr.open_array(
        tmp_path / "y.zarr", mode="w", shape=y.shape, chunks=(64,), dtype="f8"
    )
    zy[:] = y
    return zX, zy


def _reference_ridge(X, y):
    return StreamingRidge(batch_size=600).fit(X, y)


def test_h5py_datasets(h5, problem):
    X, y = problem
    model = StreamingRidge(batch_size=50).fit(h5["X"], h5["y"])
    assert_allclose(model.coef_, _reference_ridge(X, y).coef_, rtol=1e-10)
    assert_allclose(model.predict(h5["X"]), model.predict(X), rtol=1e-13)
    gmm = OOCGaussianMixture(2, random_state=0, batch_size=64).fit(h5["X"])
    reference = OOCGaussianMixture(2, random_state=0, batch_size=64).fit(X)
    assert_allclose(gmm.means_, reference.means_, rtol=1e-12)


def test_h5py_views_pickle_as_references(h5, problem):
    X, _ = problem
    view = open_array(h5["X"])[[5, 1, 400]]
    back = pickle.loads(pickle.dumps(view))
    assert_array_equal(np.asarray(back), X[[5, 1, 400]])


def test_zarr_arrays(zarr_arrays, problem):
    X, y = problem
    zX, zy = zarr_arrays
    model = StreamingRidge(batch_size=50).fit(zX, zy)
    assert_allclose(model.coef_, _reference_ridge(X, y).coef_, rtol=1e-10)
    gmm = OOCGaussianMixture(2, init_size=100, random_state=0, batch_size=64).fit(zX)
    reference = OOCGaussianMixture(2, init_size=100, random_state=0, batch_size=64).fit(
        X
    )
    assert_allclose(gmm.means_, reference.means_, rtol=1e-12)
    assert_array_equal(np.asarray(open_array(zX)[[9, 2]]), X[[9, 2]])


# -- Dask ------------------------------------------------------------------------


def test_dask_arrays_with_the_local_scheduler(problem):
    X, y = problem
    Xd, yd = da.from_array(X, chunks=(70, 2)), da.from_array(y, chunks=55)
    model = StreamingRidge().fit(Xd, yd)
    assert_allclose(model.coef_, _reference_ridge(X, y).coef_, rtol=1e-10)
    assert_allclose(model.predict(Xd), model.predict(X), rtol=1e-13)
    assert_allclose(model.score(Xd, yd), model.score(X, y), rtol=1e-12)


def test_dask_chunks_are_the_batches_and_errors_name_rows(problem):
    X, y = problem
    bad = X.copy()
    bad[333, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"X contains NaN at row 333 \(batch 3, rows 300-399\)"
    ):
        StreamingRidge().fit(da.from_array(bad, chunks=(100, 3)), y)


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_fits_on_a_local_cluster_equal_the_local_fit(cluster_client, problem):
    from distributed import get_task_stream

    X, y = problem
    Xd, yd = da.from_array(X, chunks=(80, 3)), da.from_array(y, chunks=80)
    with get_task_stream(cluster_client) as stream:
        model = StreamingRidge().fit(Xd, yd)
    assert_allclose(model.coef_, _reference_ridge(X, y).coef_, rtol=1e-10)
    start = {
        "weights_init": [0.5, 0.5],
        "means_init": X[:2] - 0.5,
        "precisions_init": np.array([np.eye(3)] * 2),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmm = OOCGaussianMixture(2, max_iter=5, tol=0.0, **start).fit(Xd)
        local = OOCGaussianMixture(2, max_iter=5, tol=0.0, batch_size=80, **start).fit(
            X
        )
    assert_allclose(gmm.means_, local.means_, rtol=1e-10)
    assert_allclose(gmm.covariances_, local.covariances_, rtol=1e-10)
    assert_allclose(gmm.lower_bound_, local.lower_bound_, rtol=1e-10)
    assert_array_equal(gmm.predict(Xd), local.predict(X))
    # The batches were summarized by tasks on the cluster's worker processes.
    summaries = [t for t in stream.data if "_run_block" in str(t["key"])]
    assert len(summaries) == Xd.numblocks[0]
    assert {t["worker"] for t in summaries} <= set(
        cluster_client.scheduler_info()["workers"]
    )
