"""Determinism of every public estimator: bitwise the same fitted model and
outputs whatever ``n_jobs``, on a second run, and whatever kind of input
(ndarray, memory map, ``.npy`` path or LazyArray) holds the same rows.

Estimators are found by walking the package with ``all_estimators()``, so a new
estimator takes part in every test without being listed here. An estimator
that cannot take part in a test is skipped in it, with the reason given at
the place where the skip is decided.
"""

import dataclasses
import pickle
import struct

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import get_tags

from sklearn_ooc import LazyArray, open_array
from sklearn_ooc.preprocessing import StreamingTransformer
from sklearn_ooc.utils import all_estimators

from .conftest import regression_filters

# -- the estimators -----------------------------------------------------------

# Small batches, blocks and memory so that every fit reads, summarizes and
# merges several batches (300 rows: 9 batches of 37 rows; blocks of about 60
# rows for the SGD estimators; a kernel matrix of 720 kB under a 50 kB limit
# is streamed in blocks and solved by conjugate gradients).
TINY = {"batch_size": 37, "buffer_mb": 0.002, "memory_limit_mb": 0.05}

# Iterations are capped: determinism does not need convergence, only passes.
MAX_ITER = 5

# Settings that make a fit meaningful on three blobs (the defaults would fit a
# single Gaussian, or eight clusters).
SETTINGS = {
    "OOCGaussianMixture": {"n_components": 3},
    "OOCKMeans": {"n_clusters": 3},
    "OOCKernelRidge": {"kernel": "rbf", "n_preconditioner": 20},
    "OOCPCA": {"n_components": 2},
}

# Meta-estimators get a wrapped estimator (several epochs for Incremental).
# StreamingTransformer wraps one transformer with partial_fit and a stateless
# one: the two ways it fits.
WRAPPED = {
    "Incremental": [
        {"estimator": SGDRegressor(random_state=0), "max_iter": 3},
        {"estimator": SGDClassifier(random_state=0), "max_iter": 3},
    ],
    "OOCColumnTransformer": [
        {"transformers": [("scale", StreamingTransformer(StandardScaler()), [0, 1])]},
    ],
    "StreamingTransformer": [
        {"transformer": StandardScaler()},
        {"transformer": FunctionTransformer(np.log1p)},
    ],
}

WRAPPED.update({name: [p] for name, p in regression_filters().items()})


def _configurations():
    """``(id, factory)`` of every estimator, with tiny settings and a seed."""
    for name, cls in all_estimators():
        for wrapped in WRAPPED.get(name, [{}]):
            params = cls(**wrapped).get_params() if wrapped else cls().get_params()
            settings = {k: v for k, v in TINY.items() if k in params}
            # max_iter=None: the solver's own limit (Ridge's iterative solvers)
            if params.get("max_iter") is not None and "max_iter" not in wrapped:
                settings["max_iter"] = min(params["max_iter"], MAX_ITER)
            if "random_state" in params:
                settings["random_state"] = 0
            settings.update(SETTINGS.get(name, {}))
            settings.update(wrapped)
            label = name
            if wrapped:
                inner = next(iter(wrapped.values()))
                label = f"{name}({type(inner).__name__})"
            yield label, cls(**settings)


CONFIGURATIONS = dict(_configurations())
IDS = sorted(CONFIGURATIONS)


def _make(estimator_id, **params):
    """A fresh, unfitted estimator of configuration ``estimator_id``."""
    return clone(CONFIGURATIONS[estimator_id]).set_params(**params)


def _kind_of_target(estimator):
    """'classes', 'continuous' or None (fit takes no y)."""
    if is_classifier(estimator):
        return "classes"
    if get_tags(estimator).target_tags.required:
        # Positive targets for the losses that need them (Gamma, Poisson).
        if get_tags(estimator).target_tags.positive_only:
            return "positive"
        if not get_tags(estimator).target_tags.single_output:
            return "tasks"  # multi-task models take two targets or more
        return "continuous"
    return None


def _cases(variants=(None,), skip=None):
    """pytest params over every estimator (and variant), with their skips."""
    cases = []
    for estimator_id in IDS:
        for variant in variants:
            marks = []
            reason = skip(CONFIGURATIONS[estimator_id]) if skip else None
            if reason is not None:
                marks.append(pytest.mark.skip(reason=reason))
            values = (estimator_id,) if variant is None else (estimator_id, variant)
            case_id = "-".join(str(v) for v in values)
            cases.append(pytest.param(*values, marks=marks, id=case_id))
    return cases


# -- the data -----------------------------------------------------------------

N_SAMPLES, N_FEATURES, N_CLASSES = 300, 4, 3


def _data():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, N_CLASSES, N_SAMPLES)
    centers = rng.uniform(-4, 4, size=(N_CLASSES, N_FEATURES))
    X = centers[labels] + rng.normal(size=(N_SAMPLES, N_FEATURES))
    # Positive rows (and offset from zero) for FunctionTransformer(np.log1p).
    X = X - X.min(axis=0) + 0.5
    y_continuous = X @ rng.normal(size=N_FEATURES) + 0.3 * rng.normal(size=N_SAMPLES)
    y_positive = np.exp(0.1 * (y_continuous - y_continuous.mean()))
    return X, {
        "classes": labels,
        "continuous": y_continuous,
        "positive": y_positive,
        "tasks": np.column_stack([y_continuous, y_positive]),
    }


X_ARRAY, Y_ARRAYS = _data()

INPUT_KINDS = ("ndarray", "memmap", "path", "lazy")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The data in ``.npy`` files: ``{"X": path, "classes": path, ...}``."""
    directory = tmp_path_factory.mktemp("determinism")
    paths = {"X": directory / "X.npy"}
    np.save(paths["X"], X_ARRAY)
    for kind, y in Y_ARRAYS.items():
        paths[kind] = directory / f"y_{kind}.npy"
        np.save(paths[kind], y)
    return paths


def _as_kind(array, path, kind):
    """The same rows as an ndarray, a memory map, a path or a LazyArray."""
    if kind == "ndarray":
        return array
    if kind == "memmap":
        view = np.load(path, mmap_mode="r")
        assert isinstance(view, np.memmap)
        return view
    if kind == "path":
        return str(path)
    assert kind == "lazy"
    return open_array(path)


def _fit(estimator, files, X_kind="ndarray", y_kind="ndarray"):
    X = _as_kind(X_ARRAY, files["X"], X_kind)
    target = _kind_of_target(estimator)
    if target is None:
        return estimator.fit(X)
    y = _as_kind(Y_ARRAYS[target], files[target], y_kind)
    return estimator.fit(X, y)


# -- comparing bit by bit -----------------------------------------------------

OUTPUT_METHODS = (
    "predict",
    "mahalanobis",
    "transform",
    "predict_proba",
    "score_samples",
    "decision_function",
)

# Attributes that keep the training data by reference, as given (a path stays
# a path): across input kinds their rows must be the same, not their type.
BY_REFERENCE = {"X_fit_"}


def fitted_attributes(estimator):
    """Every public attribute ending in ``_`` (instance or property)."""
    names = {k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")}
    names |= {
        k
        for k in dir(type(estimator))
        if k.endswith("_")
        and not k.startswith("_")
        and isinstance(getattr(type(estimator), k), property)
    }
    out = {}
    for name in sorted(names):
        try:
            out[name] = getattr(estimator, name)
        except AttributeError:
            continue  # a property of another kind of fit
    return out


def _rows_of(data):
    """The rows behind a data reference (ndarray, memmap, path, LazyArray)."""
    if isinstance(data, str):
        return np.load(data, mmap_mode="r")
    return np.asarray(data)


def assert_same(a, b, where="", depth=0):
    """Assert that ``a`` and ``b`` are bitwise the same, recursively."""
    assert depth < 20, f"{where}: nested too deeply to compare"
    if isinstance(a, LazyArray) or isinstance(b, LazyArray):
        a, b = np.asarray(a), np.asarray(b)
    if sp.issparse(a) or sp.issparse(b):
        # Sparse outputs (the one-hot encoders', as scikit-learn's) compare by
        # their format and values; a lazy output is dense by design (its
        # batches are dense), so across input kinds only the values count.
        if sp.issparse(a) and sp.issparse(b):
            assert a.format == b.format, f"{where}: {a.format} != {b.format}"
        a = a.toarray() if sp.issparse(a) else a
        b = b.toarray() if sp.issparse(b) else b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), (
            f"{where}: {type(a).__name__} != {type(b).__name__}"
        )
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        if a.dtype.hasobject:
            for i, (u, v) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                assert_same(u, v, f"{where}[{i}]", depth + 1)
            return
        if a.tobytes() != b.tobytes():
            bytes_a = np.frombuffer(a.tobytes(), np.uint8).reshape(a.size, -1)
            bytes_b = np.frombuffer(b.tobytes(), np.uint8).reshape(b.size, -1)
            n_diff = int((bytes_a != bytes_b).any(axis=1).sum())
            largest = ""
            if a.dtype.kind in "fc":
                largest = f", largest difference {np.max(np.abs(a - b)):.3g}"
            raise AssertionError(
                f"{where}: {n_diff} of {a.size} values differ{largest}"
            )
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.generic):
        assert a.tobytes() == b.tobytes(), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]", depth + 1)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_same(u, v, f"{where}[{i}]", depth + 1)
    elif isinstance(a, BaseEstimator) or dataclasses.is_dataclass(a):
        # Estimators compare by identity, dataclasses of arrays by truth
        # value: both are compared attribute by attribute.
        assert_same(vars(a), vars(b), f"{where}.", depth + 1)
    elif type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__"):
        # Plain objects (the components of a mixture) compare by identity.
        assert_same(vars(a), vars(b), f"{where}.", depth + 1)
    elif type(a).__eq__ is object.__eq__:
        # An object with no equality and no __dict__ (a loss function of
        # scikit-learn's SGD, a random generator): equal if it pickles equal.
        assert pickle.dumps(a) == pickle.dumps(b), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_fit(a, b):
    attributes_a, attributes_b = fitted_attributes(a), fitted_attributes(b)
    assert list(attributes_a) == list(attributes_b)
    assert attributes_a, "no fitted attribute to compare"
    for name in attributes_a:
        value_a, value_b = attributes_a[name], attributes_b[name]
        if name in BY_REFERENCE:
            value_a, value_b = _rows_of(value_a), _rows_of(value_b)
        assert_same(value_a, value_b, name)


def outputs(estimator, X):
    """``{method: output}`` of every output method the fitted estimator has."""
    out = {}
    for method in OUTPUT_METHODS:
        if hasattr(estimator, method):
            result = getattr(estimator, method)(X)
            # StreamingTransformer maps a LazyArray lazily: read it.
            out[method] = (
                np.asarray(result) if isinstance(result, LazyArray) else result
            )
    return out


def assert_same_outputs(a, b):
    assert list(a) == list(b)
    assert a, "no output method to compare"
    for method in a:
        assert_same(a[method], b[method], method)


# Reference fits (ndarray input, n_jobs unset): computed once, only read.
_REFERENCES = {}


def _reference(estimator_id, files):
    if estimator_id not in _REFERENCES:
        _REFERENCES[estimator_id] = _fit(_make(estimator_id), files)
    return _REFERENCES[estimator_id]


pytestmark = [
    # Iterations are capped on purpose.
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Conjugate gradients stopped:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:Maximum number of iteration:UserWarning"),
]


# -- the tests ----------------------------------------------------------------


def test_every_estimator_takes_part():
    """Each public estimator has at least one configuration here."""
    names = {name for name, _ in all_estimators()}
    assert names
    assert names == {type(e).__name__ for e in CONFIGURATIONS.values()}


def _without_n_jobs(estimator):
    # Estimators without n_jobs (the SGD estimators and the wrappers feed
    # batches sequentially) have nothing to vary here.
    if "n_jobs" not in estimator.get_params():
        return f"{type(estimator).__name__} has no n_jobs parameter"
    return None


@pytest.mark.parametrize(
    "estimator_id, n_jobs",
    _cases(variants=(2, 4), skip=_without_n_jobs),
)
def test_n_jobs_gives_the_same_fit(estimator_id, n_jobs, files):
    """The fit and its outputs with n_jobs=2, 4 are bitwise those of n_jobs=1."""
    one = _fit(_make(estimator_id, n_jobs=1), files)
    many = _fit(_make(estimator_id, n_jobs=n_jobs), files)
    assert many.n_jobs == n_jobs
    assert_same_fit(one, many)
    assert_same_outputs(outputs(one, X_ARRAY), outputs(many, X_ARRAY))


@pytest.mark.parametrize("estimator_id", _cases())
def test_repeated_fit_is_identical(estimator_id, files):
    """Two fits of fresh estimators, and a refit, give the same bits."""
    first = _fit(_make(estimator_id), files)
    second = _fit(_make(estimator_id), files)
    assert_same_fit(first, second)
    expected = outputs(first, X_ARRAY)
    assert_same_outputs(expected, outputs(second, X_ARRAY))
    refit = _fit(second, files)
    assert_same_fit(first, refit)
    assert_same_outputs(expected, outputs(refit, X_ARRAY))


@pytest.mark.parametrize("estimator_id, X_kind", _cases(variants=INPUT_KINDS[1:]))
def test_input_kind_gives_the_same_fit(estimator_id, X_kind, files):
    """Fitting from a memmap, a .npy path or a LazyArray equals the ndarray fit."""
    expected = _reference(estimator_id, files)
    fitted = _fit(_make(estimator_id), files, X_kind=X_kind)
    assert_same_fit(expected, fitted)


@pytest.mark.parametrize("estimator_id, X_kind", _cases(variants=INPUT_KINDS[1:]))
def test_input_kind_gives_the_same_outputs(estimator_id, X_kind, files):
    """Outputs on each input kind, from the fit on that kind, equal the
    ndarray's, and so do the reference fit's outputs on that kind."""
    reference = _reference(estimator_id, files)
    expected = outputs(reference, X_ARRAY)
    X = _as_kind(X_ARRAY, files["X"], X_kind)
    assert_same_outputs(expected, outputs(reference, X))
    fitted = _fit(_make(estimator_id), files, X_kind=X_kind)
    assert_same_outputs(expected, outputs(fitted, X))


# Every supervised estimator's fit accepts y as a memory map and as a .npy
# path (read aligned with X by the data layer), so all of them take part.
def _without_y(estimator):
    # Unsupervised estimators take no y: there is no target kind to vary.
    if _kind_of_target(estimator) is None:
        return f"{type(estimator).__name__} fits without y"
    return None


@pytest.mark.parametrize(
    "estimator_id, kind",
    _cases(variants=("memmap", "path"), skip=_without_y),
)
def test_target_kind_gives_the_same_fit(estimator_id, kind, files):
    """X and y both as memory maps, or both as .npy paths, equal the ndarrays."""
    expected = _reference(estimator_id, files)
    fitted = _fit(_make(estimator_id), files, X_kind=kind, y_kind=kind)
    assert_same_fit(expected, fitted)
    assert_same_outputs(outputs(expected, X_ARRAY), outputs(fitted, X_ARRAY))
