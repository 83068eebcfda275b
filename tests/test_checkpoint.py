"""Resumable fits: killed, interrupted, resumed, refused."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.hmm import GaussianHMM
from sklearn_ooc.kernel_ridge import OOCKernelRidge
from sklearn_ooc.linear_model import (
    StreamingLogisticRegression,
    StreamingSGDClassifier,
    StreamingSGDRegressor,
)
from sklearn_ooc.mixture import OOCGaussianMixture

# The constructors of the table below are evaluated in this module.
__all__ = [
    "GaussianHMM",
    "OOCGaussianMixture",
    "OOCKMeans",
    "OOCKernelRidge",
    "StreamingLogisticRegression",
    "StreamingSGDClassifier",
    "StreamingSGDRegressor",
]

from .conftest import fitted_state, interrupt_at

BATCH = 100
N = 1000

# name: (constructor, its module, the method called once per iteration)
ITERATION = "sklearn_ooc.base:IterativeMixin._pass"
ESTIMATORS = {
    "gmm": (
        "OOCGaussianMixture(3, max_iter=8, tol=0.0, n_init=2, init_params='random',"
        " random_state=0, batch_size=100, batches_per_epoch=6, decay=0.7{extra})",
        "sklearn_ooc.mixture",
        ITERATION,
    ),
    # One sequence of 1,000 rows in batches of 100: every pass runs forward
    # over the ten segments, then backward.
    "hmm_split": (
        "GaussianHMM(3, 'full', n_iter=8, tol=float('-inf'), random_state=0, "
        "batch_size=100{extra})",
        "sklearn_ooc.hmm",
        "sklearn_ooc.hmm._base:BaseHMM._pass",
    ),
    "kmeans": (
        "OOCKMeans(5, max_iter=8, tol=0.0, n_init=3, init='random', "
        "random_state=0, batch_size=100{extra})",
        "sklearn_ooc.cluster",
        ITERATION,
    ),
    "logistic": (
        "StreamingLogisticRegression(tol=1e-12, max_iter=8, batch_size=100{extra})",
        "sklearn_ooc.linear_model",
        ITERATION,
    ),
    "sgd_classifier": (
        "StreamingSGDClassifier(max_iter=6, tol=None, random_state=0, "
        "buffer_mb=0.004{extra})",
        "sklearn_ooc.linear_model",
        "sklearn_ooc.linear_model._sgd:_BaseStreamingSGD._epoch",
    ),
    "sgd_regressor_disk_shuffle": (
        "StreamingSGDRegressor(max_iter=6, shuffle='disk', early_stopping=True, "
        "n_iter_no_change=100, random_state=0, buffer_mb=0.004{extra})",
        "sklearn_ooc.linear_model",
        "sklearn_ooc.linear_model._sgd:_BaseStreamingSGD._epoch",
    ),
    "kernel_ridge_cg": (
        "OOCKernelRidge(alpha=1e-4, kernel='rbf', gamma=2.0, tol=1e-14, max_iter=8, "
        "n_preconditioner=20, random_state=0, memory_limit_mb=0.5{extra})",
        "sklearn_ooc.kernel_ridge",
        "sklearn_ooc.kernel_ridge._kernel_ridge:_KernelMatrix.matmat",
    ),
}
SUPERVISED = {"logistic", "sgd_classifier", "sgd_regressor_disk_shuffle"} | {
    "kernel_ridge_cg"
}


def _data(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 1.0, (N // 4, 3)) for c in (-3, -1, 1, 3)])
    order = rng.permutation(N)
    np.save(tmp_path / "X.npy", X[order])
    np.save(tmp_path / "y.npy", np.repeat([0, 1, 0, 1], N // 4)[order])
    return tmp_path / "X.npy", tmp_path / "y.npy"


def _make(name, checkpoint=None):
    spec = ESTIMATORS[name][0]
    extra = "" if checkpoint is None else f", checkpoint={str(checkpoint)!r}"
    return eval(spec.format(extra=extra))  # noqa: S307 - our own table


def _assert_same_model(model, reference):
    """Every fitted attribute bitwise equal."""
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if key == "kernel_passes_":  # a resumed fit makes fewer passes
            continue
        expected = getattr(reference, key)
        if isinstance(value, np.ndarray):
            assert value.dtype == expected.dtype, key
            assert value.tobytes() == expected.tobytes(), key
        else:
            assert value == expected, key


def _fit(model, name, X_path, y_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in SUPERVISED:
            return model.fit(X_path, np.load(y_path))
        return model.fit(X_path)


KILLER = """
import importlib, os, signal, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from {module} import {cls}

owner = getattr(importlib.import_module({hook_module!r}), {hook_class!r})
calls = [0]
original = getattr(owner, {hook_method!r})

def dying(*args, **kwargs):
    calls[0] += 1
    if calls[0] == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

setattr(owner, {hook_method!r}, dying)
model = {spec}
if {supervised}:
    model.fit({X!r}, np.load({y!r}))
else:
    model.fit({X!r})
"""


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_killed_during_the_third_iteration_resumes_to_the_same_bits(tmp_path, name):
    X_path, y_path = _data(tmp_path)
    checkpoint = tmp_path / f"{name}.ckpt"
    spec, module, hook = ESTIMATORS[name]
    hook_module, hook_attr = hook.split(":")
    hook_class, hook_method = hook_attr.split(".")
    script = textwrap.dedent(KILLER).format(
        module=module,
        cls=spec.split("(")[0],
        hook_module=hook_module,
        hook_class=hook_class,
        hook_method=hook_method,
        kill_at=3,
        spec=spec.format(extra=f", checkpoint={str(checkpoint)!r}"),
        supervised=name in SUPERVISED,
        X=str(X_path),
        y=str(y_path),
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == -9, result.stderr  # killed by SIGKILL
    assert checkpoint.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    resumed = _fit(_make(name, checkpoint), name, str(X_path), y_path)
    plain = _fit(_make(name), name, str(X_path), y_path)
    _assert_same_model(resumed, plain)
    # A finished checkpoint gives the finished model again.
    again = _fit(_make(name, checkpoint), name, str(X_path), y_path)
    _assert_same_model(again, plain)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_keyboard_interrupt_keeps_the_model_and_the_last_checkpoint(
    tmp_path, monkeypatch, name
):
    X_path, y_path = _data(tmp_path)
    checkpoint = tmp_path / f"{name}.ckpt"
    model = _fit(_make(name), name, str(X_path), y_path)
    before = fitted_state(model)
    model.set_params(checkpoint=str(checkpoint))
    _interrupt(model, name, str(X_path), y_path, monkeypatch)
    model.set_params(checkpoint=None)
    assert fitted_state(model) == before
    # The iterations before the interrupt left a whole checkpoint.
    with open(checkpoint, "rb") as f:
        assert pickle.load(f)["owner"] == type(model).__name__
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    resumed = _fit(_make(name, checkpoint), name, str(X_path), y_path)
    _assert_same_model(resumed, _fit(_make(name), name, str(X_path), y_path))


def test_a_checkpoint_of_other_data_or_parameters_is_refused(tmp_path):
    X_path, _ = _data(tmp_path)
    checkpoint = tmp_path / "km.ckpt"
    model = _fit(_make("kmeans", checkpoint), "kmeans", str(X_path), None)
    before = fitted_state(model)
    model.set_params(n_clusters=4)
    with pytest.raises(ValueError, match="on other data or with other parameters"):
        model.fit(X_path)
    model.set_params(n_clusters=5)
    with pytest.raises(ValueError, match="on other data or with other parameters"):
        model.fit(X_path, batch_size=BATCH // 2)  # other batches, other sums
    other = tmp_path / "other.npy"
    np.save(other, np.load(X_path) * 2)
    with pytest.raises(ValueError, match="on other data or with other parameters"):
        model.fit(other)
    assert fitted_state(model) == before
    # Other threads: the same fit, finished.
    model.set_params(n_jobs=2)
    assert model.fit(X_path).n_iter_ == 8


def test_raising_max_iter_carries_a_finished_fit_further(tmp_path):
    # One initialization: with several, the runs finished before the last
    # would stop at the lower max_iter (refused: test_bad_input_checkpoint).
    X_path, _ = _data(tmp_path)
    params = dict(n_clusters=5, tol=0.0, init="random", n_init=1, random_state=0)
    short = OOCKMeans(max_iter=2, checkpoint=str(tmp_path / "km.ckpt"), **params)
    assert short.fit(X_path).n_iter_ == 2
    longer = short.set_params(max_iter=5).fit(X_path)
    plain = OOCKMeans(max_iter=5, **params).fit(X_path)
    assert longer.n_iter_ == plain.n_iter_ == 5
    _assert_same_model(longer, plain)


def test_a_damaged_checkpoint_is_refused(tmp_path):
    X_path, _ = _data(tmp_path)
    checkpoint = tmp_path / "bad.ckpt"
    checkpoint.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="cannot be read"):
        OOCKMeans(3, checkpoint=str(checkpoint)).fit(X_path)
    assert checkpoint.read_bytes() == b"not a pickle at all"
    y = (np.load(X_path)[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="cannot be read"):
        StreamingLogisticRegression(checkpoint=str(checkpoint)).fit(X_path, y)


def _interrupt(model, name, X_path, y_path, monkeypatch, at=3):
    """Fit ``model`` and interrupt it at the ``at``-th iteration (Ctrl-C)."""
    interrupt_at(
        ESTIMATORS[name][2],
        lambda: _fit(model, name, X_path, y_path),
        monkeypatch,
        at=at,
    )


@pytest.mark.parametrize("name", ["kmeans", "sgd_classifier"])
def test_a_random_state_object_of_the_same_seed_resumes(tmp_path, monkeypatch, name):
    # The generator counts by its state, not by the object that holds it: a
    # new RandomState(0) (in a new process, say) resumes the fit of another.
    X_path, y_path = _data(tmp_path)
    checkpoint = tmp_path / f"{name}.ckpt"

    def make(path=None):
        model = _make(name, path)
        return model.set_params(random_state=np.random.RandomState(0))

    first = make(checkpoint)
    _interrupt(first, name, str(X_path), y_path, monkeypatch)
    assert checkpoint.exists()
    # ``first`` still alive, the new generator lives at another address.
    resumed = _fit(make(checkpoint), name, str(X_path), y_path)
    assert resumed.random_state is not first.random_state
    _assert_same_model(resumed, _fit(make(), name, str(X_path), y_path))


@pytest.mark.parametrize("name", ["kmeans", "sgd_classifier", "kernel_ridge_cg"])
def test_a_lower_max_iter_not_yet_reached_resumes_to_its_own_fit(
    tmp_path, monkeypatch, name
):
    # Interrupted at the third iteration of max_iter=8: a fit with max_iter=5
    # carries on from the checkpoint and stops at 5, as it would have.
    X_path, y_path = _data(tmp_path)
    checkpoint = tmp_path / f"{name}.ckpt"
    _interrupt(_make(name, checkpoint), name, str(X_path), y_path, monkeypatch)
    resumed = _fit(
        _make(name, checkpoint).set_params(max_iter=5), name, str(X_path), y_path
    )
    plain = _fit(_make(name).set_params(max_iter=5), name, str(X_path), y_path)
    _assert_same_model(resumed, plain)


def test_a_warm_start_resumes_from_the_same_state(tmp_path, monkeypatch):
    X_path, _ = _data(tmp_path)
    checkpoint = tmp_path / "gmm.ckpt"
    params = dict(n_components=3, max_iter=3, tol=0.0, random_state=0, batch_size=100)
    model = _fit(OOCGaussianMixture(**params), "gmm", str(X_path), None)
    start = pickle.loads(pickle.dumps(model))
    model.set_params(warm_start=True, max_iter=6, checkpoint=str(checkpoint))
    _interrupt(model, "gmm", str(X_path), None, monkeypatch)
    # The interrupted fit left the model as it was: the same start.
    resumed = _fit(model, "gmm", str(X_path), None)
    plain = _fit(
        start.set_params(warm_start=True, max_iter=6), "gmm", str(X_path), None
    )
    _assert_same_model(resumed, plain)


KILLED_WHILE_SAVING = """
import os, signal, warnings
warnings.simplefilter("ignore")
from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.hmm import GaussianHMM

syncs = [0]
original = os.fsync

def dying(fd):
    syncs[0] += 1
    if syncs[0] == 3:  # the temporary file of the third save is written
        os.kill(os.getpid(), signal.SIGKILL)
    return original(fd)

os.fsync = dying
OOCKMeans(5, max_iter=8, tol=0.0, n_init=1, init="random", random_state=0,
          batch_size=100, checkpoint={checkpoint!r}).fit({X!r})
"""


def test_the_temporary_file_of_a_run_killed_while_saving_is_removed(tmp_path):
    X_path, _ = _data(tmp_path)
    checkpoint = tmp_path / "fit.ckpt"
    script = textwrap.dedent(KILLED_WHILE_SAVING).format(
        checkpoint=str(checkpoint), X=str(X_path)
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == -9, result.stderr
    left = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".fit.ckpt."), left
    # The killed save never replaced the checkpoint of the second iteration.
    with open(checkpoint, "rb") as f:
        assert pickle.load(f)["state"]["loop"]["n_iter"] == 2
    params = dict(n_clusters=5, max_iter=8, tol=0.0, n_init=1, init="random")
    params.update(random_state=0, batch_size=100)
    resumed = OOCKMeans(checkpoint=str(checkpoint), **params).fit(X_path)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    _assert_same_model(resumed, OOCKMeans(**params).fit(X_path))


def _counting_reads(monkeypatch):
    from sklearn_ooc.data import BatchSource

    reads = []
    original = BatchSource.read

    def read(self, index):
        reads.append(index)
        return original(self, index)

    monkeypatch.setattr(BatchSource, "read", read)
    return reads


@pytest.mark.parametrize("name", ["kmeans", "logistic", "kernel_ridge_cg"])
def test_the_data_is_fingerprinted_by_the_passes_of_the_fit(
    tmp_path, monkeypatch, name
):
    # Hashing every batch costs no pass of its own: a fit with a checkpoint
    # reads the same batches as one without, and so does a resumed fit.
    X_path, y_path = _data(tmp_path)
    checkpoint = tmp_path / f"{name}.ckpt"
    reads = _counting_reads(monkeypatch)
    _fit(_make(name), name, str(X_path), y_path)
    plain = len(reads)
    reads.clear()
    _fit(_make(name, checkpoint), name, str(X_path), y_path)
    assert len(reads) == plain
    if name == "kernel_ridge_cg":
        return  # its resumed fit reads the targets and landmarks again
    checkpoint.unlink()
    reads.clear()
    _interrupt(_make(name, checkpoint), name, str(X_path), y_path, monkeypatch)
    interrupted = len(reads)
    reads.clear()
    _fit(_make(name, checkpoint), name, str(X_path), y_path)
    # The resumed fit reads what the interrupted one had left, no more.
    assert interrupted > 0
    assert len(reads) + interrupted == plain
