"""Streaming SGD: scikit-learn's iterates over streamed rows."""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor

from sklearn_ooc.linear_model import StreamingSGDClassifier, StreamingSGDRegressor

from .conftest import file_digest, fitted_state, interrupt_at

# Blocks of 5 rows (0.0002 MB of 5 float64 values per row) or one block.
BLOCKS = [0.0002, 64]


def _tol(dtype):
    # float32: scikit-learn keeps its weights in float32, we in float64.
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4)


def _regression(rng, n=60, d=4, dtype=np.float64, offset=0.0):
    X = rng.normal(size=(n, d)) + offset
    y = (X - offset) @ rng.normal(size=d) + 0.3 * rng.normal(size=n) + 1.0
    return X.astype(dtype), y.astype(dtype)


def _classes(rng, n=60, d=4, n_classes=2, dtype=np.float64):
    centers = rng.normal(scale=2.0, size=(n_classes, d))
    labels = rng.integers(0, n_classes, size=n)
    X = centers[labels] + rng.normal(size=(n, d))
    names = np.array(["ant", "bee", "cat", "dog"])[:n_classes]
    return X.astype(dtype), names[labels]


def _same(ours, theirs, dtype=np.float64):
    assert ours.coef_.dtype == theirs.coef_.dtype
    assert_allclose(ours.coef_, theirs.coef_, **_tol(dtype))
    assert_allclose(ours.intercept_, theirs.intercept_, **_tol(dtype))
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_


def _pair(ours, theirs, params, buffer_mb):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ours(buffer_mb=buffer_mb, **params), theirs(**params)


def _sklearn_shuffle(index, seed):
    # SequentialDataset.shuffle: Fisher-Yates driven by our_rand_r.
    mask = 0xFFFFFFFF
    for i in range(len(index) - 1):
        seed = seed or 1
        seed ^= (seed << 13) & mask
        seed ^= seed >> 17
        seed ^= (seed << 5) & mask
        j = i + (seed % 2**31) % (len(index) - i)
        index[i], index[j] = index[j], index[i]


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 2])
def test_shuffle_index_is_scikit_learns_permutation(seed):
    from sklearn_ooc._kernels._sgd import shuffle_index

    ours, reference = np.arange(50, dtype=np.int32), list(range(50))
    for _ in range(3):  # each epoch permutes the previous order again
        shuffle_index(ours, seed)
        _sklearn_shuffle(reference, seed)
        assert ours.tolist() == reference


REGRESSOR_PARAMS = [
    {},
    {"penalty": "l1", "alpha": 0.01},
    {"penalty": "elasticnet", "l1_ratio": 0.5, "alpha": 0.01},
    {"penalty": None},
    {"average": True},
    {"average": 25, "penalty": "elasticnet"},
    {"learning_rate": "optimal", "loss": "huber", "epsilon": 0.5},
    {"learning_rate": "adaptive", "eta0": 0.1, "n_iter_no_change": 1},
    {"learning_rate": "constant", "loss": "epsilon_insensitive"},
    {"loss": "squared_epsilon_insensitive", "power_t": 0.4},
    {"early_stopping": True, "validation_fraction": 0.2},
    {"learning_rate": "pa1", "loss": "epsilon_insensitive", "penalty": None},
    {"learning_rate": "pa2", "loss": "epsilon_insensitive", "eta0": 0.5},
    {"tol": None, "fit_intercept": False},
]


@pytest.mark.parametrize("params", REGRESSOR_PARAMS)
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("buffer_mb", BLOCKS)
def test_regressor_equals_sgdregressor(rng, params, shuffle, buffer_mb):
    X, y = _regression(rng)
    w = rng.uniform(0.5, 2.0, size=len(y))
    params = {"max_iter": 15, "random_state": 3, "shuffle": shuffle, **params}
    ours, theirs = _pair(StreamingSGDRegressor, SGDRegressor, params, buffer_mb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _same(ours.fit(X, y, sample_weight=w), theirs.fit(X, y, sample_weight=w))
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-12)


CLASSIFIER_PARAMS = [
    {},
    {"loss": "log_loss"},
    {"loss": "modified_huber", "penalty": "l1"},
    {"loss": "squared_hinge", "average": 10},
    {"loss": "perceptron", "penalty": "elasticnet", "alpha": 0.01},
    {"loss": "huber", "learning_rate": "invscaling", "eta0": 0.05},
    {"loss": "epsilon_insensitive", "learning_rate": "constant"},
    {"loss": "squared_error", "learning_rate": "constant", "eta0": 0.001},
    {"loss": "squared_epsilon_insensitive", "average": True},
    {"class_weight": "balanced"},
    {"class_weight": {"ant": 3.0}},
    {"learning_rate": "adaptive", "eta0": 0.1, "n_iter_no_change": 1},
    {"early_stopping": True, "validation_fraction": 0.25},
    {"early_stopping": True, "loss": "log_loss", "n_iter_no_change": 2},
    {"learning_rate": "pa1", "penalty": None},
    {"learning_rate": "pa2", "eta0": 0.3},
]


@pytest.mark.parametrize("params", CLASSIFIER_PARAMS)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("shuffle", [True, False])
def test_classifier_equals_sgdclassifier(rng, params, n_classes, shuffle):
    X, y = _classes(rng, n_classes=n_classes)
    w = rng.uniform(0.5, 2.0, size=len(y))
    params = {"max_iter": 15, "random_state": 1, "shuffle": shuffle, **params}
    ours, theirs = _pair(StreamingSGDClassifier, SGDClassifier, params, 0.0002)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _same(ours.fit(X, y, sample_weight=w), theirs.fit(X, y, sample_weight=w))
    assert_array_equal(ours.classes_, theirs.classes_)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.decision_function(X), theirs.decision_function(X), rtol=1e-9)
    if params.get("loss") in ("log_loss", "modified_huber"):
        assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)
        with np.errstate(divide="ignore"):
            assert_allclose(
                ours.predict_log_proba(X), theirs.predict_log_proba(X), rtol=1e-9
            )
    else:
        assert not hasattr(ours, "predict_proba")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("buffer_mb", BLOCKS)
def test_every_block_size_threads_and_dtype(rng, dtype, n_jobs, buffer_mb):
    X, y = _classes(rng, n_classes=3, dtype=dtype)
    params = {"max_iter": 6, "tol": None, "random_state": 0, "average": 20}
    ours = StreamingSGDClassifier(buffer_mb=buffer_mb, n_jobs=n_jobs, **params)
    _same(ours.fit(X, y), SGDClassifier(**params).fit(X, y), dtype)
    Xr, yr = _regression(rng, dtype=dtype)
    params = {"max_iter": 6, "tol": None, "random_state": 0, "penalty": "l1"}
    ours = StreamingSGDRegressor(buffer_mb=buffer_mb, **params)
    _same(ours.fit(Xr, yr), SGDRegressor(**params).fit(Xr, yr), dtype)


def test_files_and_memory_maps_read_in_scikit_learns_order(rng, npy):
    # shuffle=True: scikit-learn's permutation, read by positions from disk.
    X, y = _classes(rng, n=80, n_classes=3)
    params = {"max_iter": 5, "tol": None, "random_state": 7}
    theirs = SGDClassifier(**params).fit(X, y)
    path_X = npy(X)
    for data in (path_X, np.load(path_X, mmap_mode="r")):
        ours = StreamingSGDClassifier(buffer_mb=0.0003, **params).fit(data, y)
        _same(ours, theirs)


def test_sparse_input_is_scikit_learns_sparse_sgd(rng):
    # Nonzeros only in the L1 penalty, the intercept damped by 0.01.
    X, y = _regression(rng, n=50, d=6)
    X[rng.random(X.shape) < 0.5] = 0.0
    X = sp.csr_matrix(X)
    params = {"max_iter": 8, "tol": None, "random_state": 0, "penalty": "l1"}
    ours = StreamingSGDRegressor(buffer_mb=0.0003, **params).fit(X, y)
    _same(ours, SGDRegressor(**params).fit(X, y))


@pytest.mark.parametrize(
    "Ours, Theirs",
    [(StreamingSGDRegressor, SGDRegressor), (StreamingSGDClassifier, SGDClassifier)],
)
def test_data_far_from_the_origin(rng, Ours, Theirs):
    # An offset of 1e6: whatever scikit-learn's steps give (a model or the
    # overflow error), the same here.
    X, y = _regression(rng, offset=1e6)
    if Ours is StreamingSGDClassifier:
        y = y > np.median(y)
    params = {"max_iter": 5, "tol": None, "random_state": 0}
    try:
        theirs = Theirs(**params).fit(X, y)
    except ValueError as error:
        with pytest.raises(ValueError, match="under-/overflow") as ours:
            Ours(buffer_mb=0.0002, **params).fit(X, y)
        assert str(ours.value) == str(error)
    else:
        _same(Ours(buffer_mb=0.0002, **params).fit(X, y), theirs)


@pytest.mark.parametrize("average", [False, 30])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_partial_fit_calls_equal_scikit_learns(rng, average, n_classes):
    X, y = _classes(rng, n=90, n_classes=n_classes)
    w = rng.uniform(0.5, 2.0, size=len(y))
    params = {"random_state": 2, "average": average, "loss": "log_loss"}
    ours = StreamingSGDClassifier(buffer_mb=0.0002, **params)
    theirs = SGDClassifier(**params)
    for part in (slice(0, 30), slice(30, 90), slice(0, 90)):
        classes = np.unique(y)
        ours.partial_fit(X[part], y[part], classes=classes, sample_weight=w[part])
        theirs.partial_fit(X[part], y[part], classes=classes, sample_weight=w[part])
        _same(ours, theirs)
    Xr, yr = _regression(rng)
    params = {"random_state": 2, "average": average, "penalty": "elasticnet"}
    ours = StreamingSGDRegressor(buffer_mb=0.0002, **params)
    theirs = SGDRegressor(**params)
    for _ in range(3):
        _same(ours.partial_fit(Xr, yr), theirs.partial_fit(Xr, yr))


@pytest.mark.parametrize("average", [False, True])
def test_warm_start_and_initial_weights(rng, average):
    X, y = _classes(rng, n_classes=3)
    params = {"max_iter": 4, "tol": None, "random_state": 0, "average": average}
    coef = rng.normal(size=(3, 4))
    intercept = rng.normal(size=3)
    ours = StreamingSGDClassifier(buffer_mb=0.0002, **params)
    theirs = SGDClassifier(**params)
    _same(ours.fit(X, y, coef, intercept), theirs.fit(X, y, coef, intercept))
    ours.set_params(warm_start=True)
    theirs.set_params(warm_start=True)
    _same(ours.fit(X, y), theirs.fit(X, y))
    Xr, yr = _regression(rng)
    ours = StreamingSGDRegressor(buffer_mb=0.0002, warm_start=True, **params)
    theirs = SGDRegressor(warm_start=True, **params)
    start = rng.normal(size=4)
    _same(ours.fit(Xr, yr, start, [0.5]), theirs.fit(Xr, yr, start, [0.5]))
    _same(ours.fit(Xr, yr), theirs.fit(Xr, yr))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_resumed_checkpoint_gives_scikit_learns_model(
    rng, monkeypatch, tmp_path, early_stopping
):
    # Three one-vs-rest models, each in its own permutation, stopped after
    # the second epoch and resumed from the file.
    X, y = _classes(rng, n=60, n_classes=3)
    params = {
        "max_iter": 6,
        "tol": None,
        "random_state": 4,
        "early_stopping": early_stopping,
        "average": 40,
    }
    path = tmp_path / "sgd.ckpt"
    ours = StreamingSGDClassifier(buffer_mb=0.0002, checkpoint=path, **params)
    hook = "sklearn_ooc.linear_model._sgd:_BaseStreamingSGD._epoch"
    interrupt_at(hook, lambda: ours.fit(X, y), monkeypatch, at=7)
    assert path.exists()
    from sklearn_ooc.linear_model._sgd import _BaseStreamingSGD

    epochs = []
    original = _BaseStreamingSGD._epoch

    def counted(*args, **kwargs):
        epochs.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_BaseStreamingSGD, "_epoch", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _same(ours.fit(X, y), SGDClassifier(**params).fit(X, y))
    assert len(epochs) == (6 - 2) * 3  # the two saved epochs are not redone


def test_block_and_disk_orders_are_reproducible_and_learn(rng, npy):
    X, y = _regression(rng, n=2000, d=3)
    path_X, path_y = npy(X), npy(y)
    for shuffle in ("block", "disk"):
        params = dict(max_iter=5, tol=None, buffer_mb=0.01, random_state=5)
        fits = [
            StreamingSGDRegressor(shuffle=shuffle, **params).fit(X, y),
            StreamingSGDRegressor(shuffle=shuffle, **params).fit(path_X, path_y),
        ]
        assert fits[1].coef_.tobytes() == fits[0].coef_.tobytes()
        assert fits[0].score(X, y) > 0.95


@pytest.mark.parametrize(
    "model, fit, match",
    [
        (
            StreamingSGDClassifier(),
            {"coef_init": np.zeros((4, 4))},
            "Provided ``coef_`` does not match dataset",
        ),
        (
            StreamingSGDClassifier(),
            {"intercept_init": np.zeros(2)},
            "Provided intercept_init does not match dataset",
        ),
        (
            StreamingSGDRegressor(),
            {"coef_init": np.zeros(3)},
            "Provided coef_init does not match dataset",
        ),
        (StreamingSGDClassifier(alpha=0), {}, "alpha must be > 0 since"),
        (
            StreamingSGDClassifier(learning_rate="pa1", loss="log_loss"),
            {},
            "Learning rate 'pa1' only works with loss 'hinge'",
        ),
        (
            StreamingSGDRegressor(penalty="elasticnet", l1_ratio=None),
            {},
            "l1_ratio must be set when penalty is 'elasticnet'",
        ),
    ],
)
def test_scikit_learns_errors(rng, model, fit, match):
    X, y = _classes(rng, n_classes=3)
    if isinstance(model, StreamingSGDRegressor):
        X, y = _regression(rng)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, **fit)


def test_partial_fit_errors_are_scikit_learns(rng):
    X, y = _classes(rng)
    with pytest.raises(ValueError, match="early_stopping should be False"):
        StreamingSGDClassifier(early_stopping=True).partial_fit(X, y, np.unique(y))
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported"):
        StreamingSGDClassifier(class_weight="balanced").partial_fit(X, y, np.unique(y))
    clf = StreamingSGDClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=np.unique(y))
    before = fitted_state(clf)
    with pytest.raises(ValueError, match="classes should include all valid labels"):
        clf.partial_fit(X[:3], np.array(["ant", "eel", "bee"]))
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X[:3], y[:3], classes=["x", "y"])
    assert fitted_state(clf) == before


def test_one_class_is_refused(rng):
    with pytest.raises(ValueError, match="greater than one; got 1 class"):
        StreamingSGDClassifier().fit(rng.normal(size=(5, 2)), np.zeros(5))


def test_warnings_are_scikit_learns(rng):
    X, y = _regression(rng)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        StreamingSGDRegressor(max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(FutureWarning, match="Negative values for `power_t`"):
        StreamingSGDRegressor(max_iter=2, tol=None, power_t=-0.5).fit(X, y)


def test_sparsify_keeps_predictions(rng):
    X, y = _classes(rng, n_classes=3)
    clf = StreamingSGDClassifier(penalty="l1", random_state=0, max_iter=5, tol=None)
    dense = clf.fit(X, y).predict(X)
    assert sp.issparse(clf.sparsify().coef_)
    assert_array_equal(clf.predict(X), dense)


def test_nan_in_a_file_leaves_the_model_and_file_unchanged(rng, npy):
    X, y = _regression(rng, n=400)
    model = StreamingSGDRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)
    bad = X.copy()
    bad[321, 2] = np.inf
    path = npy(bad)
    digest = file_digest(path)
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"X contains infinity at row 321"):
        model.set_params(buffer_mb=0.002, shuffle=False).fit(path, y)
    model.set_params(buffer_mb=64, shuffle=True)
    assert fitted_state(model) == before
    assert file_digest(path) == digest


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_overflow_is_scikit_learns_error_and_the_model_is_kept(rng, method):
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="under-/overflow") as theirs:
        SGDRegressor(random_state=0).fit(X * 1e200, y)
    model = StreamingSGDRegressor(random_state=0).fit(X, y)
    before = fitted_state(model)
    with pytest.raises(
        ValueError, match="under-/overflow occurred at epoch #1"
    ) as ours:
        getattr(model, method)(X * 1e200, y)
    assert str(ours.value) == str(theirs.value)
    assert fitted_state(model) == before


def test_disk_shuffle_leaves_no_temporary_files(rng, npy, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    import sklearn_ooc.io

    outputs = []
    original = sklearn_ooc.io.shuffle_on_disk

    def spy(*args, **kwargs):
        outputs.append(original(*args, **kwargs))
        assert all(os.path.exists(path) for path in outputs[-1])
        return outputs[-1]

    monkeypatch.setattr(sklearn_ooc.io, "shuffle_on_disk", spy)
    X, y = _regression(rng, n=3000, d=3)
    sgd = StreamingSGDRegressor(
        shuffle="disk", max_iter=5, tol=None, buffer_mb=0.02, random_state=0
    )
    sgd.fit(npy(X), npy(y))
    assert len(outputs) == 1 and str(outputs[0][0]).startswith(str(scratch))
    assert os.listdir(scratch) == []
    assert sgd.score(X, y) > 0.95
    with pytest.raises(ValueError, match="shuffle='disk' does not carry"):
        sgd.fit(X, y, sample_weight=np.ones(len(y)))


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_disk_shuffle_removes_what_dead_runs_left(rng, npy, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    stale = scratch / f".shuffle.ooc-{_dead_pid()}-0123456789ab.tmp"
    stale.mkdir()
    (stale / "shuffled_X.npy").write_bytes(bytes(4096))
    # A live process's scratch and files not named as scratch stay.
    live = scratch / f".shuffle.ooc-{os.getppid()}-0123456789ab.tmp"
    live.mkdir()
    (scratch / "notes.txt").write_text("mine")
    import sklearn_ooc.io

    folders = []
    original = sklearn_ooc.io.shuffle_on_disk

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        folders.append(os.path.dirname(out[0]))
        assert not stale.exists()
        return out

    monkeypatch.setattr(sklearn_ooc.io, "shuffle_on_disk", spy)
    X, y = _regression(rng, n=500)
    StreamingSGDRegressor(
        shuffle="disk", max_iter=2, tol=None, buffer_mb=0.01, random_state=0
    ).fit(npy(X), npy(y))
    assert len(folders) == 1
    assert os.path.dirname(folders[0]) == str(scratch)
    assert not os.path.exists(folders[0])
    assert sorted(os.listdir(scratch)) == sorted([live.name, "notes.txt"])


_KILLED_FIT = """
import os
import sys
import time

import sklearn_ooc.io
from sklearn_ooc.linear_model import StreamingSGDRegressor

original = sklearn_ooc.io.shuffle_on_disk


def shuffle_then_wait(*args, **kwargs):
    out = original(*args, **kwargs)
    with open(sys.argv[3] + ".part", "w") as f:
        f.write(os.path.dirname(out[0]))
    os.replace(sys.argv[3] + ".part", sys.argv[3])
    time.sleep(600)
    return out


sklearn_ooc.io.shuffle_on_disk = shuffle_then_wait
model = StreamingSGDRegressor(shuffle="disk", max_iter=1, tol=None)
model.fit(sys.argv[1], sys.argv[2])
"""


def test_a_killed_fit_leaves_its_shuffled_copy_to_the_next_fit(
    rng, npy, monkeypatch, tmp_path
):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    X, y = _regression(rng, n=500)
    path_X, path_y = npy(X), npy(y)
    marker = tmp_path / "copy"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_FIT)]
        + [str(path_X), str(path_y), str(marker)],
        env={**os.environ, "TMPDIR": str(scratch)},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the fit never shuffled"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()
    copy = marker.read_text()
    # SIGKILL runs no finally clause: the copy outlives the run.
    assert os.path.dirname(copy) == str(scratch) and os.listdir(copy)

    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    StreamingSGDRegressor(shuffle="disk", max_iter=1, tol=None).fit(path_X, path_y)
    assert os.listdir(scratch) == []
