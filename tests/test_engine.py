"""The engine: ordered map/reduce over batches, threads, BLAS, progress."""

import io
import re
import threading
from functools import partial

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from sklearn_ooc._engine import Engine
from sklearn_ooc.data import BatchSource


def _source(rng, n=200, batch_size=7):
    return BatchSource(rng.normal(size=(n, 3)) * 1e3, batch_size=batch_size)


@pytest.mark.parametrize("n_jobs", [1, 2, 4])
def test_reduce_is_bitwise_the_same_for_every_n_jobs(rng, n_jobs):
    # Float addition is not associative: equal bits mean the same sum order.
    source = _source(rng)

    def summarize(batch):
        return np.array([batch.X.sum(), np.sin(batch.X).sum()])

    serial = Engine(n_jobs=1).reduce(source, range(source.n_batches), summarize)
    parallel = Engine(n_jobs=n_jobs).reduce(source, range(source.n_batches), summarize)
    assert serial.tobytes() == parallel.tobytes()
    expected = np.zeros(2)
    for i in range(source.n_batches):
        expected = expected + summarize(source.read(i))
    assert expected.tobytes() == serial.tobytes()


def test_map_runs_on_threads_and_yields_in_order(rng):
    source = _source(rng)
    names = set()
    lock = threading.Lock()

    def func(batch):
        with lock:
            names.add(threading.current_thread().name)
        return batch.index

    out = [r for _, r in Engine(n_jobs=2).map(source, range(source.n_batches), func)]
    assert out == list(range(source.n_batches))
    assert names and all(name.startswith("sklearn_ooc_") for name in names)


def test_reduce_of_no_batches_is_none(rng):
    assert Engine().reduce(_source(rng), [], lambda b: 1) is None


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_error_in_a_batch_propagates(rng, n_jobs):
    source = _source(rng)

    def func(batch):
        if batch.index == 5:
            raise RuntimeError("boom in batch 5")
        return 1

    with pytest.raises(RuntimeError, match="boom in batch 5"):
        Engine(n_jobs=n_jobs).reduce(source, range(source.n_batches), func)


def _blas_threads():
    return [
        lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
    ]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_blas_is_single_threaded_inside_batches(rng, n_jobs):
    source = _source(rng)
    seen = []

    def func(batch):
        seen.extend(
            lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
        )
        return 0

    Engine(n_jobs=n_jobs).reduce(source, range(source.n_batches), func)
    assert seen and set(seen) == {1}


def test_each_thread_reuses_its_workspace(rng):
    source = _source(rng, n=100, batch_size=10)
    buffers = {}
    lock = threading.Lock()

    def func(batch):
        buf = batch.workspace.get("rows", batch.n_samples, 3)
        with lock:
            buffers.setdefault(threading.current_thread().name, set()).add(
                buf.__array_interface__["data"][0]
            )
        return 0

    Engine(n_jobs=2).reduce(source, range(source.n_batches), func)
    assert all(len(addresses) == 1 for addresses in buffers.values())


def test_verbose_lines_and_progress_bar(rng, capsys):
    source = _source(rng)
    stream = io.StringIO()
    engine = Engine(verbose=2, name="Thing", stream=stream)
    engine.reduce(source, range(source.n_batches), lambda b: 0, desc="fit")
    engine.log("[Thing] done")
    assert stream.getvalue() == "[Thing] done\n"
    # Standard error is not a terminal here: the progress is a plain line.
    err = capsys.readouterr().err
    assert re.fullmatch(rf"Thing fit: {source.n_batches} batches in \d+ s\n", err)

    quiet = io.StringIO()
    Engine(verbose=0, stream=quiet).log("nothing")
    Engine(verbose=1).reduce(source, range(source.n_batches), lambda b: 0)
    assert quiet.getvalue() == "" and capsys.readouterr().err == ""


def test_n_jobs_resolution():
    assert Engine().n_jobs == 1
    assert Engine(n_jobs=-1).n_jobs >= 1
    assert Engine(n_jobs=3).n_jobs == 3


def test_blas_limits_are_restored_after_overlapping_passes(rng):
    # Two passes overlapping in time (estimators fitted on threads): both run
    # with one BLAS thread, and the original limits come back afterwards.
    before = _blas_threads()
    source = _source(rng)
    first = Engine().map(source, range(source.n_batches), lambda b: _blas_threads())
    next(first)
    second = Engine().reduce(source, range(source.n_batches), lambda b: _blas_threads())
    assert set(second) == {1}
    assert all(set(threads) == {1} for _, threads in first)
    assert _blas_threads() == before


def test_blas_stays_single_threaded_between_the_passes_of_an_iterative_fit(
    rng, monkeypatch
):
    # Restored between passes, OpenBLAS's threads would wake and spin on the
    # cores of the next pass; the limit holds from the first pass to the last
    # and is lifted when the fit ends.
    from sklearn_ooc.mixture import OOCGaussianMixture

    before = _blas_threads()
    between = []
    update = OOCGaussianMixture._from_summaries

    def recorded(self, stats):
        between.extend(_blas_threads())
        return update(self, stats)

    monkeypatch.setattr(OOCGaussianMixture, "_from_summaries", recorded)
    X = rng.normal(size=(60, 2))
    OOCGaussianMixture(2, max_iter=3, tol=0.0, batch_size=20, random_state=0).fit(X)
    assert between and set(between) == {1}
    assert _blas_threads() == before


def _ridge():
    from sklearn_ooc.linear_model import StreamingRidge

    return StreamingRidge(batch_size=20)


def _pca(**params):
    from sklearn_ooc.decomposition import OOCPCA

    return OOCPCA(2, batch_size=20, random_state=0, **params)


def _truncated_svd():
    from sklearn_ooc.decomposition import OOCTruncatedSVD

    return OOCTruncatedSVD(2, algorithm="arpack", batch_size=20, random_state=0)


@pytest.mark.parametrize(
    "make, solve, call",
    [
        (_ridge, "_from_summaries", "fit"),
        (_ridge, "_from_summaries", "partial_fit"),
        (_ridge, "_from_summaries", "from_summaries"),
        (_pca, "_from_summaries", "fit"),
        (partial(_pca, svd_solver="arpack"), "_fit_truncated", "fit"),
        (_truncated_svd, "_fit", "fit"),
    ],
    ids=["ridge", "ridge-partial", "ridge-summaries", "pca", "pca-arpack", "tsvd"],
)
def test_blas_stays_single_threaded_in_the_solve_that_ends_a_fit(
    rng, monkeypatch, make, solve, call
):
    # A threaded solve after the pass would wake OpenBLAS's threads, which
    # then spin on the cores of whatever runs next (the next fit of a grid
    # search); the limit holds through the solve and is lifted after it.
    model = make()
    before = _blas_threads()
    solving = []
    method = getattr(type(model), solve)

    def recorded(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        solving.extend(_blas_threads())
        return result

    monkeypatch.setattr(type(model), solve, recorded)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    if call == "from_summaries":
        model.summarize(X, y)
        assert _blas_threads() == before
    getattr(model, call)(*(() if call == "from_summaries" else (X, y)))
    assert solving and set(solving) == {1}
    assert _blas_threads() == before
