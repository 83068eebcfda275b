"""Streaming SGD: the kernel against plain NumPy, accuracy against references."""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_ooc._kernels import sgd_block
from sklearn_ooc._kernels._sgd import (
    CONSTANT,
    DAMPED,
    HINGE,
    HUBER,
    INVSCALING,
    LOG_LOSS,
    MULTINOMIAL,
    SQUARED_ERROR,
    learning_rate,
)
from sklearn_ooc.linear_model import (
    StreamingRidge,
    StreamingSGDClassifier,
    StreamingSGDRegressor,
)

from . import _naive
from .conftest import file_digest, fitted_state

CODES = {
    "squared_error": SQUARED_ERROR,
    "huber": HUBER,
    "log_loss": LOG_LOSS,
    "hinge": HINGE,
    "multinomial": MULTINOMIAL,
}


@pytest.mark.parametrize("loss", list(CODES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_equals_plain_minibatch_sgd(rng, loss, dtype):
    n, d, c = 97, 4, 3
    X = rng.normal(size=(n, d)).astype(dtype)
    if loss in ("squared_error", "huber"):
        Y = rng.normal(size=(n, c))
    elif loss == "multinomial":
        Y = np.eye(c)[rng.integers(0, c, size=n)]
    else:
        Y = np.where(rng.random((n, c)) < 0.5, -1.0, 1.0)
    order = rng.permutation(n)
    coef0, intercept0 = rng.normal(size=(c, d)) * 0.1, rng.normal(size=c) * 0.1
    coef, intercept = coef0.copy(), intercept0.copy()
    t, _ = sgd_block(
        X,
        Y,
        order,
        coef,
        intercept,
        np.zeros((c, d)),
        np.zeros(c),
        CODES[loss],
        0.01,
        0.1,
        CONSTANT,
        0.05,
        0.25,
        0.9,
        0,
        1.0,
        8,
        0.5,
        True,
    )
    ref_coef, ref_intercept = _naive.sgd_minibatch(
        X,
        Y,
        order,
        coef0,
        intercept0,
        loss=loss,
        alpha=0.01,
        eta=0.05,
        batch_size=8,
        momentum=0.5,
    )
    assert t == 1.0 + n
    assert_allclose(coef, ref_coef, rtol=1e-12, atol=1e-14)
    assert_allclose(intercept, ref_intercept, rtol=1e-12, atol=1e-14)


def test_learning_rate_schedules():
    assert learning_rate(CONSTANT, 0.1, 0.25, 0.9, 100.0, 3) == 0.1
    assert_allclose(learning_rate(INVSCALING, 0.1, 0.5, 0.9, 100.0, 3), 0.01)
    # MLML's damping: eta0 * damp ** epoch.
    assert_allclose(learning_rate(DAMPED, 0.1, 0.5, 0.9, 100.0, 3), 0.1 * 0.9**3)


def _regression(rng, n=5000, d=5):
    X = rng.normal(size=(n, d))
    coef = np.array([1.0, -2.0, 0.5, 3.0, 0.1])[:d]
    return X, X @ coef + 2.0 + 0.5 * rng.normal(size=n)


def test_squared_loss_reaches_the_exact_ridge_solution(rng, npy):
    X, y = _regression(rng)
    alpha = 1e-3
    # SGD minimizes mean loss + alpha/2 ||w||^2, Ridge ||y - Xw||^2 +
    # alpha_r ||w||^2: the same minimum for alpha_r = alpha * n.
    exact = StreamingRidge(alpha=alpha * len(X)).fit(X, y)
    sgd = StreamingSGDRegressor(
        alpha=alpha,
        learning_rate="damped",
        eta0=0.01,
        damp=0.9,
        max_iter=100,
        tol=None,
        buffer_mb=0.1,
        random_state=0,
    ).fit(npy(X), npy(y))
    assert_allclose(sgd.coef_, exact.coef_, rtol=1e-3, atol=1e-3 * 3)
    assert_allclose(sgd.intercept_[0], exact.intercept_, rtol=1e-3)
    assert sgd.n_iter_ == 100 and sgd.t_ == 100 * len(X) + 1


def test_digits_accuracy_within_a_point_of_sgdclassifier():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for loss in ("hinge", "log_loss"):
            reference = SGDClassifier(
                loss=loss, alpha=1e-4, max_iter=100, random_state=0
            ).fit(X_train, y_train)
            ours = StreamingSGDClassifier(
                loss=loss, alpha=1e-4, max_iter=100, buffer_mb=0.1, random_state=0
            )
            ours.fit(X_train, y_train)
            assert ours.score(X_test, y_test) >= reference.score(X_test, y_test) - 0.01
            assert_array_equal(ours.classes_, np.arange(10))


def test_multinomial_probabilities(rng):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = StreamingSGDClassifier(
        loss="log_loss",
        multi_class="multinomial",
        max_iter=20,
        random_state=0,
        buffer_mb=0.1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.score(X, y) > 0.95
    assert not hasattr(StreamingSGDClassifier(loss="hinge"), "predict_proba")
    with pytest.raises(ValueError, match="multinomial' needs loss='log_loss'"):
        StreamingSGDClassifier(multi_class="multinomial").fit(X, y)


def test_binary_labels_and_decision_function(rng):
    X = np.vstack([rng.normal(-2, 1, (100, 2)), rng.normal(2, 1, (100, 2))])
    y = np.repeat(["neg", "pos"], 100)
    clf = StreamingSGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (200,) and clf.coef_.shape == (1, 2)
    assert_array_equal(clf.predict(X), np.where(scores > 0, "pos", "neg"))
    assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-scores)))


def test_same_seed_same_model_for_every_input_kind(rng, npy):
    X, y = _regression(rng, n=2000)
    path_X, path_y = npy(X), npy(y)
    params = dict(max_iter=3, tol=None, buffer_mb=0.02, random_state=5)
    fits = [
        StreamingSGDRegressor(**params).fit(X, y),
        StreamingSGDRegressor(**params).fit(np.load(path_X, mmap_mode="r"), y),
        StreamingSGDRegressor(**params).fit(path_X, path_y),
    ]
    for other in fits[1:]:
        assert other.coef_.tobytes() == fits[0].coef_.tobytes()


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
    X, y = _regression(rng, n=3000)
    sgd = StreamingSGDRegressor(
        shuffle="disk", max_iter=20, buffer_mb=0.02, random_state=0, alpha=0.0
    )
    sgd.fit(npy(X), npy(y))
    assert len(outputs) == 1 and str(outputs[0][0]).startswith(str(scratch))
    assert os.listdir(scratch) == []
    assert_allclose(sgd.coef_, [1.0, -2.0, 0.5, 3.0, 0.1], atol=0.05)


def test_early_stopping_on_held_out_rows(rng):
    X, y = _regression(rng, n=4000)
    sgd = StreamingSGDRegressor(
        early_stopping=True,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=3,
        random_state=0,
        buffer_mb=0.05,
    )
    sgd.fit(X, y)
    assert 3 < sgd.n_iter_ < 200
    assert sgd.score(X, y) > 0.95


def test_convergence_warning_when_max_iter_is_reached(rng):
    X, y = _regression(rng, n=500)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        StreamingSGDRegressor(max_iter=2, tol=1e-12, random_state=0).fit(X, y)


def test_partial_fit_is_one_epoch_and_needs_classes(rng):
    X, y = _regression(rng, n=1000)
    params = dict(random_state=0, buffer_mb=0.01)
    one = StreamingSGDRegressor(max_iter=1, tol=None, **params).fit(X, y)
    # The first call is one epoch too, whatever max_iter and tol say.
    stepped = StreamingSGDRegressor(max_iter=50, **params).partial_fit(X, y)
    assert stepped.n_iter_ == 1
    assert_array_equal(stepped.coef_, one.coef_)
    stepped.partial_fit(X, y)
    assert stepped.n_iter_ == 2 and stepped.t_ == 2001

    labels = np.where(y > 2, "high", "low")
    clf = StreamingSGDClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, labels)
    clf.partial_fit(X[:500], labels[:500], classes=["high", "low"])
    with pytest.raises(
        ValueError, match="y contains the label 'medium' at row 1, not among"
    ):
        clf.partial_fit(X[:3], np.array(["high", "medium", "low"]))
    with pytest.raises(ValueError, match="is not the same as on the first call"):
        clf.partial_fit(X[:3], labels[:3], classes=["a", "b"])
    clf.partial_fit(X[500:], labels[500:])
    assert clf.score(X, labels) > 0.8


def test_one_class_is_refused(rng):
    with pytest.raises(ValueError, match="greater than one; got 1 class"):
        StreamingSGDClassifier().fit(rng.normal(size=(5, 2)), np.zeros(5))


def test_nan_in_a_file_leaves_the_model_and_file_unchanged(rng, npy):
    X, y = _regression(rng, n=400)
    model = StreamingSGDRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)
    bad = X.copy()
    bad[321, 2] = np.inf
    path = npy(bad)
    digest = file_digest(path)
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"X contains infinity at row 321"):
        model.set_params(buffer_mb=0.002).fit(path, y)
    model.set_params(buffer_mb=64)
    assert fitted_state(model) == before
    assert file_digest(path) == digest


def test_kernel_l2_step_stops_at_zero():
    # eta * alpha = 1e4: the L2 step once took coef to -9999 coef, and on
    # from there to 1e115.
    coef = np.array([[3.0, -2.0]])
    sgd_block(
        np.zeros((4, 2)),
        np.zeros((4, 1)),
        np.arange(4),
        coef,
        np.zeros(1),
        np.zeros((1, 2)),
        np.zeros(1),
        SQUARED_ERROR,
        1e5,
        0.1,
        CONSTANT,
        0.1,
        0.25,
        0.9,
        0,
        1.0,
        1,
        0.0,
        False,
    )
    assert_allclose(coef, 0.0, atol=1e-12)


@pytest.mark.parametrize("max_iter", [1, 5])
def test_strong_l2_shrinks_to_zero_as_sgdregressor_does(rng, max_iter):
    # scikit-learn scales the weights by max(0, 1 - eta * alpha): with
    # single-row steps, no momentum and no shuffle the two are the same SGD.
    X, y = _regression(rng, n=200, d=3)
    common = dict(
        alpha=1e5,
        eta0=0.1,
        learning_rate="constant",
        max_iter=max_iter,
        tol=None,
        shuffle=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SGDRegressor(**common).fit(X, y)
    ours = StreamingSGDRegressor(**common, momentum=0.0, batch_size=1).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-9)


def test_strong_l2_keeps_momentum_steps_bounded(rng):
    X, y = _regression(rng, n=500, d=3)
    params = dict(alpha=1e5, eta0=0.1, learning_rate="constant", random_state=0)
    reg = StreamingSGDRegressor(**params).fit(X, y)
    clf = StreamingSGDClassifier(**params).fit(X, np.where(y > 2, "a", "b"))
    for coef in (reg.coef_, clf.coef_):
        # scikit-learn's weights on these data are within 0.3 of zero.
        assert np.all(np.abs(coef) < 1.0), coef


def _dead_pid():
    child = subprocess.Popen(["true"])
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


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_overflow_is_scikit_learns_error_and_the_model_is_kept(method):
    from sklearn.linear_model import SGDRegressor

    from .conftest import fitted_state

    rng = np.random.default_rng(0)
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
