"""Checkpoints that must not resume: other data, other parameters, a fit past
``max_iter``, another warm start, files that cannot be read.

Every refusal is a ``ValueError`` that names the checkpoint file and says what
to do, raised before the checkpoint's state reaches a result: the estimator is
left as it was, the checkpoint file byte for byte as it was, and no temporary
file is left in its folder.
"""

import os
import pickle
import re
import warnings

import numpy as np
import pytest

from sklearn_ooc._checkpoint import params_fingerprint
from sklearn_ooc.base import IterativeMixin
from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.kernel_ridge import OOCKernelRidge
from sklearn_ooc.linear_model import (
    StreamingLogisticRegression,
    StreamingSGDClassifier,
    StreamingSGDRegressor,
)
from sklearn_ooc.mixture import OOCGaussianMixture

from .conftest import fitted_state, interrupt_at

N = 1000
# A row that the 64 rows sampled by the first fingerprints missed
# (np.linspace(0, 999, 64)), in the last batch of every estimator here.
ROW = 950

_rng = np.random.default_rng(0)
X = np.vstack([_rng.normal(c, 1.0, (N // 4, 3)) for c in (-3, -1, 1, 3)])
_order = _rng.permutation(N)
X = X[_order]
Y = np.repeat([0, 1, 0, 1], N // 4)[_order]
X_OTHER = X.copy()
X_OTHER[ROW, 1] += 1e-3
Y_OTHER = Y.copy()
Y_OTHER[ROW] = 1 - Y_OTHER[ROW]

_ITERATION = "sklearn_ooc.base:IterativeMixin._pass"
_EPOCH = "sklearn_ooc.linear_model._sgd:_BaseStreamingSGD._epoch"
# name: (constructor, supervised, the method called once per iteration)
CASES = {
    "kmeans": (
        lambda: OOCKMeans(
            5, max_iter=8, tol=0.0, init="random", n_init=1, random_state=0,
            batch_size=100,
        ),
        False,
        _ITERATION,
    ),
    "gmm_minibatch": (
        lambda: OOCGaussianMixture(
            3, max_iter=8, tol=0.0, init_params="random", random_state=0,
            batch_size=100, batches_per_epoch=6, decay=0.7,
        ),
        False,
        _ITERATION,
    ),
    "logistic": (
        lambda: StreamingLogisticRegression(tol=1e-12, max_iter=8, batch_size=100),
        True,
        _ITERATION,
    ),
    "sgd": (
        lambda: StreamingSGDClassifier(
            max_iter=6, tol=None, random_state=0, buffer_mb=0.004
        ),
        True,
        _EPOCH,
    ),
    "sgd_disk_shuffle": (
        lambda: StreamingSGDRegressor(
            max_iter=6, shuffle="disk", random_state=0, buffer_mb=0.004
        ),
        True,
        _EPOCH,
    ),
    "kernel_ridge_cg": (
        lambda: OOCKernelRidge(
            alpha=1e-4, kernel="rbf", gamma=2.0, tol=1e-14, max_iter=8,
            n_preconditioner=20, random_state=0, memory_limit_mb=0.5,
        ),
        True,
        "sklearn_ooc.kernel_ridge._kernel_ridge:_KernelMatrix.matmat",
    ),
}  # fmt: skip


def _fit(est, X, y=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if y is None:
            return est.fit(X, **kwargs)
        return est.fit(X, y, **kwargs)


def _fit_case(name, est, X, y):
    return _fit(est, X, y if CASES[name][1] else None)


def _interrupted(name, est, X, y, monkeypatch, at=3):
    """Fit ``est`` and interrupt it at the ``at``-th iteration, as Ctrl-C does."""
    interrupt_at(CASES[name][2], lambda: _fit_case(name, est, X, y), monkeypatch, at=at)


def _temporary_files(directory):
    return sorted(p for p in os.listdir(directory) if p.endswith(".tmp"))


def _assert_refused(call, match, *, est, checkpoint):
    """``call()`` raises a ValueError naming ``checkpoint`` and matching
    ``match``, and changes neither ``est`` nor the checkpoint file."""
    state = fitted_state(est)
    before = checkpoint.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match) as info:
            call()
    assert str(checkpoint) in str(info.value)
    assert "remove it" in str(info.value)
    assert fitted_state(est) == state, "the refused fit changed the estimator"
    assert checkpoint.read_bytes() == before, "the refused fit changed the file"
    assert not _temporary_files(checkpoint.parent)
    return info


# -- other data ------------------------------------------------------------------------

OTHER_DATA = "was written by a fit on other data: rows .* differ"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_finished_checkpoint_of_other_rows_is_refused(tmp_path, name):
    # Same shape, same dtype, one value in one row: only the values tell.
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit_case(name, CASES[name][0]().set_params(checkpoint=str(checkpoint)), X, Y)
    _assert_refused(
        lambda: _fit_case(name, est, X_OTHER, Y), OTHER_DATA,
        est=est, checkpoint=checkpoint,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_interrupted_checkpoint_of_other_rows_is_refused(
    tmp_path, monkeypatch, name
):
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit_case(name, CASES[name][0](), X, Y)
    est.set_params(checkpoint=str(checkpoint))
    _interrupted(name, est, X, Y, monkeypatch)
    assert checkpoint.exists()
    updates = []
    if isinstance(est, IterativeMixin):
        original = type(est)._from_summaries

        def counted(self, stats):
            updates.append(1)
            return original(self, stats)

        monkeypatch.setattr(type(est), "_from_summaries", counted)
    _assert_refused(
        lambda: _fit_case(name, est, X_OTHER, Y), OTHER_DATA,
        est=est, checkpoint=checkpoint,
    )  # fmt: skip
    if name in ("kmeans", "logistic"):
        # Refused during the first pass, before an update used its statistics.
        assert updates == []


@pytest.mark.parametrize("name", ["logistic", "sgd", "kernel_ridge_cg"])
def test_a_checkpoint_of_other_targets_is_refused(tmp_path, name):
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit_case(name, CASES[name][0]().set_params(checkpoint=str(checkpoint)), X, Y)
    _assert_refused(
        lambda: _fit(est, X, Y_OTHER), OTHER_DATA, est=est, checkpoint=checkpoint
    )


def test_a_checkpoint_of_other_weights_is_refused(tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    weights = np.ones(N)
    est = _fit(
        CASES["kmeans"][0]().set_params(checkpoint=str(checkpoint)),
        X,
        sample_weight=weights,
    )
    other = weights.copy()
    other[ROW] = 2.0
    _assert_refused(
        lambda: _fit(est, X, sample_weight=other),
        OTHER_DATA,
        est=est,
        checkpoint=checkpoint,
    )


def test_a_checkpoint_of_another_file_of_the_same_shape_is_refused_unread(
    tmp_path, monkeypatch
):
    # The cheap facts (path, size, time) refuse before a batch is read.
    checkpoint = tmp_path / "fit.ckpt"
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "other.npy", X_OTHER)
    est = _fit(
        CASES["kmeans"][0]().set_params(checkpoint=str(checkpoint)), tmp_path / "X.npy"
    )
    from sklearn_ooc.data import BatchSource

    reads = []
    original = BatchSource.read
    monkeypatch.setattr(
        BatchSource, "read", lambda self, i: reads.append(i) or original(self, i)
    )
    _assert_refused(
        lambda: _fit(est, tmp_path / "other.npy"),
        "on other data or with other parameters",
        est=est,
        checkpoint=checkpoint,
    )
    assert reads == []


# -- other parameters ------------------------------------------------------------------


def test_arrays_count_by_all_their_values(tmp_path):
    # numpy prints arrays of more than 1,000 values with an ellipsis: two
    # initial centers that differ in the middle printed the same.
    rng = np.random.default_rng(1)
    X_wide = rng.normal(size=(200, 250))
    init = X_wide[:5].copy()
    other = init.copy()
    other[2, 125] += 1.0
    assert repr(init) == repr(other)
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit(OOCKMeans(5, init=init, max_iter=3, checkpoint=str(checkpoint)), X_wide)
    est.set_params(init=other)
    _assert_refused(
        lambda: _fit(est, X_wide),
        "on other data or with other parameters",
        est=est,
        checkpoint=checkpoint,
    )


def test_means_init_counts_by_all_its_values(tmp_path):
    rng = np.random.default_rng(2)
    X_wide = rng.normal(size=(120, 501))
    means = X_wide[:2].copy()
    other = means.copy()
    other[1, 250] += 1.0
    checkpoint = tmp_path / "fit.ckpt"
    params = dict(covariance_type="diag", max_iter=2, checkpoint=str(checkpoint))
    est = _fit(OOCGaussianMixture(2, means_init=means, **params), X_wide)
    est.set_params(means_init=other)
    _assert_refused(
        lambda: _fit(est, X_wide),
        "on other data or with other parameters",
        est=est,
        checkpoint=checkpoint,
    )


def _double(x):
    return 2 * x


def test_the_parameter_fingerprint_is_by_value():
    def fingerprint(value):
        return params_fingerprint({"p": value})

    big = np.zeros(2000)
    changed = big.copy()
    changed[1000] = 1.0
    assert fingerprint(big) != fingerprint(changed)
    assert fingerprint(big) != fingerprint(big.astype(np.float32))
    assert fingerprint(big) != fingerprint(big.reshape(40, 50))
    # Generators: equal states hash equal, whatever object holds them.
    assert fingerprint(np.random.RandomState(0)) == fingerprint(
        np.random.RandomState(0)
    )
    drawn = np.random.RandomState(0)
    drawn.rand()
    assert fingerprint(drawn) != fingerprint(np.random.RandomState(0))
    assert fingerprint(np.random.default_rng(3)) == fingerprint(
        np.random.default_rng(3)
    )
    assert fingerprint(np.random.default_rng(3)) != fingerprint(
        np.random.default_rng(4)
    )
    # Estimators by their parameters, which count by value too.
    assert fingerprint(OOCKMeans(3, init=big)) == fingerprint(OOCKMeans(3, init=big))
    assert fingerprint(OOCKMeans(3, init=big)) != fingerprint(
        OOCKMeans(3, init=changed)
    )
    # Functions by their qualified name, not by the object.
    assert fingerprint(_double) == fingerprint(pickle.loads(pickle.dumps(_double)))
    assert fingerprint(_double) != fingerprint(np.exp)
    assert fingerprint([1, 2]) != fingerprint((1, 2))
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})


# -- max_iter and warm starts ----------------------------------------------------------


@pytest.mark.parametrize("name", ["kmeans", "sgd", "kernel_ridge_cg"])
def test_a_checkpoint_past_max_iter_is_refused(tmp_path, name):
    # Its state is of more iterations than this fit makes: it is not this fit.
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit_case(name, CASES[name][0]().set_params(checkpoint=str(checkpoint)), X, Y)
    assert np.ravel(est.n_iter_)[0] > 3
    est.set_params(max_iter=3)
    _assert_refused(
        lambda: _fit_case(name, est, X, Y),
        r"already at iteration \d+, past max_iter=3",
        est=est,
        checkpoint=checkpoint,
    )


def test_finished_initializations_refuse_another_max_iter(tmp_path):
    # Raising max_iter would carry the last run further, not the runs before
    # it, and the best of those runs is another model than that of a fit
    # with the higher max_iter.
    checkpoint = tmp_path / "fit.ckpt"
    params = dict(n_clusters=5, tol=0.0, init="random", n_init=3, random_state=0)
    est = _fit(OOCKMeans(max_iter=2, checkpoint=str(checkpoint), **params), X)
    est.set_params(max_iter=5)
    _assert_refused(
        lambda: _fit(est, X),
        "finished initialization.* max_iter=2, which a fit with max_iter=5",
        est=est,
        checkpoint=checkpoint,
    )


def test_a_warm_start_from_another_state_is_refused(tmp_path, monkeypatch):
    checkpoint = tmp_path / "fit.ckpt"
    params = dict(n_components=3, max_iter=3, tol=0.0, batch_size=100)
    first = _fit(OOCGaussianMixture(random_state=0, **params), X)
    first.set_params(warm_start=True, max_iter=6, checkpoint=str(checkpoint))
    _interrupted("kmeans", first, X, None, monkeypatch)  # the same hook (EM)
    assert checkpoint.exists()
    # Same parameters, same data, another fitted state to start from.
    second = _fit(OOCGaussianMixture(random_state=0, **params), X[::-1] * 2.0)
    second.set_params(warm_start=True, max_iter=6, checkpoint=str(checkpoint))
    _assert_refused(
        lambda: _fit(second, X),
        "on other data or with other parameters",
        est=second,
        checkpoint=checkpoint,
    )


# -- files that cannot be read ---------------------------------------------------------


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _another_class(path):
    path.write_bytes(pickle.dumps(OOCKMeans(3)))


def _missing_module(path):
    # A pickle of a class whose module is not installed (protocol 0).
    path.write_bytes(b"cno_such_module_of_sklearn_ooc\nState\n(tR.")


def _lacking_keys(path):
    path.write_bytes(pickle.dumps({"version": 2, "owner": "OOCKMeans"}))


def _of_version_1(path):
    saved = pickle.loads(path.read_bytes())
    saved.pop("data", None)
    saved["version"] = 1
    path.write_bytes(pickle.dumps(saved))


def _empty_state(path):
    saved = pickle.loads(path.read_bytes())
    saved["state"] = {}
    path.write_bytes(pickle.dumps(saved))


DAMAGES = {
    "truncated": (_truncated, "cannot be read"),
    "another class": (_another_class, "cannot be read .*OOCKMeans, not a checkpoint"),
    "missing module": (_missing_module, "cannot be read .*ModuleNotFoundError"),
    "lacking keys": (_lacking_keys, "cannot be read .*lacks fingerprint, data"),
    "version 1": (_of_version_1, "cannot be read .*another version"),
    "empty state": (_empty_state, "cannot be read .*state lacks"),
}


@pytest.mark.parametrize("name", ["kmeans", "sgd", "kernel_ridge_cg"])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_checkpoint_that_cannot_be_read_is_refused(tmp_path, damage, name):
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit_case(name, CASES[name][0]().set_params(checkpoint=str(checkpoint)), X, Y)
    spoil, match = DAMAGES[damage]
    spoil(checkpoint)
    info = _assert_refused(
        lambda: _fit_case(name, est, X, Y), match, est=est, checkpoint=checkpoint
    )
    assert re.search("remove it, or point checkpoint to another file", str(info.value))


@pytest.mark.parametrize("mode", ["threads", "dask"])
def test_other_rows_are_refused_however_the_passes_run(tmp_path, mode):
    # Threads digest the batches they summarize; Dask workers send the
    # digests with their statistics.
    if mode == "dask":
        da = pytest.importorskip("dask.array")

        def data(values):
            return da.from_array(values, chunks=100)

    else:

        def data(values):
            return values

    checkpoint = tmp_path / "fit.ckpt"
    params = dict(n_clusters=4, tol=0.0, init="random", n_init=1, random_state=0)
    params.update(batch_size=100, n_jobs=2, checkpoint=str(checkpoint))
    est = _fit(OOCKMeans(max_iter=2, **params), data(X))
    est.set_params(max_iter=5)
    _assert_refused(
        lambda: _fit(est, data(X_OTHER)), OTHER_DATA, est=est, checkpoint=checkpoint
    )
    # The same rows resume, to the fit that was asked for.
    resumed = _fit(est, data(X))
    plain = _fit(OOCKMeans(max_iter=5, **{**params, "checkpoint": None}), data(X))
    assert resumed.cluster_centers_.tobytes() == plain.cluster_centers_.tobytes()


def test_a_checkpoint_opened_outside_a_fit_checks_every_batch_when_loaded(tmp_path):
    # Without a transaction to finish the checks at its end, load reads and
    # compares every batch before it hands the state out.
    checkpoint = tmp_path / "fit.ckpt"
    est = _fit(CASES["kmeans"][0]().set_params(checkpoint=str(checkpoint)), X)
    before = checkpoint.read_bytes()
    source = est._source(X_OTHER, reset=False, batch_size=100)
    opened = est._checkpoint_of(source, batches_per_epoch=None)
    with pytest.raises(ValueError, match=OTHER_DATA):
        opened.load()
    assert checkpoint.read_bytes() == before
    source = est._source(X, reset=False, batch_size=100)
    assert est._checkpoint_of(source, batches_per_epoch=None).load()["n_iter"] == 8


@pytest.mark.parametrize("link", [False, True])
def test_a_checkpoint_that_is_the_data_file_is_refused(tmp_path, link):
    # Saving the state there would replace the user's data with a pickle.
    from sklearn_ooc.mixture import OOCGaussianMixture

    from .conftest import file_digest

    data = tmp_path / "X.npy"
    np.save(data, np.random.default_rng(0).normal(size=(60, 2)))
    target = data
    if link:
        target = tmp_path / "other_name.ckpt"
        os.link(data, target)
    before = file_digest(data)
    model = OOCGaussianMixture(2, max_iter=3, checkpoint=target)
    with pytest.raises(ValueError, match="is the data file .* point checkpoint to"):
        model.fit(data)
    assert file_digest(data) == before
    assert not hasattr(model, "means_")
    assert sorted(os.listdir(tmp_path)) == sorted({"X.npy", target.name})
