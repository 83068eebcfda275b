"""Bad input, kind by kind, for every public estimator and every io tool.

Every case asserts four things: (a) the error says what is wrong (the message
is matched), (b) an estimator fitted before on good data is left bitwise
unchanged, (c) no file, temporary or not, is left in the directories involved
(a checkpoint excepted: it is kept, whole, to resume from), and (d) the user's
input files are unchanged. Full disks are simulated by a disk that fills up at
the n-th write (or fsync) under the test's directory, for every n or a spread.

The estimators are found with ``all_estimators()`` and built as in
``test_common.py``, with tiny settings, so a new estimator joins the matrix by
itself. At the end of the module a line reports how many (estimator x case)
combinations ran and how many hold.
"""

import builtins
import errno
import inspect
import os
import pickle
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import (
    cluster,
    covariance,
    decomposition,
    discriminant_analysis,
    feature_selection,
    kernel_ridge,
    linear_model,
    mixture,
)
from sklearn.base import clone, is_classifier
from sklearn.datasets import dump_svmlight_file
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import get_tags
from threadpoolctl import threadpool_limits

from sklearn_ooc import LazyArray
from sklearn_ooc.__main__ import main
from sklearn_ooc.io import (
    NpyWriter,
    convert,
    describe_npy,
    shuffle_on_disk,
    write_mixture,
    write_regression,
)
from sklearn_ooc.preprocessing import StreamingTransformer
from sklearn_ooc.utils import all_estimators

from .conftest import file_digest, fitted_state, regression_filters

# -- data ----------------------------------------------------------------------------

N_ROWS = 300
# Past the first batch of every estimator here: batches of 50 rows, SGD
# blocks of buffer_mb=0.002 (65 rows), kernel ridge blocks of 181 rows.
BAD_ROW = 237

_rng = np.random.default_rng(0)
# Far from -1, so that FunctionTransformer(np.log1p) gives finite values.
X_GOOD = _rng.normal(size=(N_ROWS, 3)) + 5.0
Y_REG = X_GOOD @ [1.0, -2.0, 0.5] + 0.1 * _rng.normal(size=N_ROWS)
Y_CLF = (X_GOOD[:, 0] + 0.3 * _rng.normal(size=N_ROWS) > 5.0).astype(np.int64)

# -- the estimators ------------------------------------------------------------------

# Small batches, blocks and kernel blocks, few iterations: every input is read
# in several batches and every fit is quick.
TINY = {
    "batch_size": 50,
    "buffer_mb": 0.002,
    "memory_limit_mb": 0.5,
    "max_iter": 3,
    "random_state": 0,
}

# The meta-estimators get what test_common.py gives them.
WRAPPED = {
    "Incremental": [
        {"estimator": SGDRegressor(random_state=0)},
        {"estimator": SGDClassifier(random_state=0)},
    ],
    # The column transformer has no batch_size: its transformer reads the rows
    # in batches of TINY's size, so that a bad row is met past the first one.
    "OOCColumnTransformer": [
        {
            "transformers": [
                (
                    "scale",
                    StreamingTransformer(
                        StandardScaler(), batch_size=TINY["batch_size"]
                    ),
                    [0, 1],
                )
            ]
        },
    ],
    "StreamingTransformer": [
        {"transformer": StandardScaler()},
        {"transformer": FunctionTransformer(np.log1p)},
    ],
}


def _instances():
    found = {}
    for name, cls in all_estimators():
        for wrapped in WRAPPED.get(name, [{}]):
            params = cls(**wrapped).get_params() if wrapped else cls().get_params()
            tiny = {k: v for k, v in TINY.items() if k in params}
            inner = [type(v).__name__ for v in wrapped.values()]
            key = f"{name}({', '.join(inner)})" if inner else name
            found[key] = cls(**{**tiny, **wrapped})
    return found


WRAPPED.update({name: [p] for name, p in regression_filters().items()})
ESTIMATORS = _instances()
IDS = list(ESTIMATORS)

PREDICT_METHODS = (
    "predict",
    "predict_proba",
    "decision_function",
    "transform",
    "score_samples",
)

# scikit-learn's estimator each one reproduces; the parameters they share
# (by name, from this list) are copied. An estimator missing here is held to
# the looser rule of _check_like_reference.
REFERENCES = {
    "OOCEmpiricalCovariance": covariance.EmpiricalCovariance,
    "OOCBayesianGaussianMixture": mixture.BayesianGaussianMixture,
    "OOCGaussianMixture": mixture.GaussianMixture,
    "OOCGraphicalLasso": covariance.GraphicalLasso,
    "OOCLedoitWolf": covariance.LedoitWolf,
    "OOCOAS": covariance.OAS,
    "OOCShrunkCovariance": covariance.ShrunkCovariance,
    "OOCKMeans": cluster.KMeans,
    "OOCKernelRidge": kernel_ridge.KernelRidge,
    "OOCLinearDiscriminantAnalysis": discriminant_analysis.LinearDiscriminantAnalysis,
    "OOCMixture": mixture.GaussianMixture,
    "OOCPCA": decomposition.PCA,
    "OOCTruncatedSVD": decomposition.TruncatedSVD,
    "OOCQuadraticDiscriminantAnalysis": (
        discriminant_analysis.QuadraticDiscriminantAnalysis
    ),
    "StreamingElasticNet": linear_model.ElasticNet,
    "StreamingElasticNetCV": linear_model.ElasticNetCV,
    "StreamingLars": linear_model.Lars,
    "StreamingLasso": linear_model.Lasso,
    "StreamingLarsCV": linear_model.LarsCV,
    "StreamingLassoLars": linear_model.LassoLars,
    "StreamingLassoLarsCV": linear_model.LassoLarsCV,
    "StreamingLassoLarsIC": linear_model.LassoLarsIC,
    "StreamingLassoCV": linear_model.LassoCV,
    "StreamingMultiTaskElasticNet": linear_model.MultiTaskElasticNet,
    "StreamingMultiTaskElasticNetCV": linear_model.MultiTaskElasticNetCV,
    "StreamingMultiTaskLasso": linear_model.MultiTaskLasso,
    "StreamingMultiTaskLassoCV": linear_model.MultiTaskLassoCV,
    "StreamingLogisticRegression": linear_model.LogisticRegression,
    "StreamingRidge": linear_model.Ridge,
    "StreamingRidgeCV": linear_model.RidgeCV,
    "StreamingSGDClassifier": linear_model.SGDClassifier,
    "StreamingSGDRegressor": linear_model.SGDRegressor,
    "OOCGenericUnivariateSelect": feature_selection.GenericUnivariateSelect,
    "OOCSelectFdr": feature_selection.SelectFdr,
    "OOCSelectFpr": feature_selection.SelectFpr,
    "OOCSelectFwe": feature_selection.SelectFwe,
    "OOCSelectKBest": feature_selection.SelectKBest,
    "OOCSelectPercentile": feature_selection.SelectPercentile,
    "OOCVarianceThreshold": feature_selection.VarianceThreshold,
}
SHARED_PARAMS = {
    "C",
    "alpha",
    "alphas",
    "coef0",
    "covariance_type",
    "cv",
    "degree",
    "epsilon",
    "fit_intercept",
    "gamma",
    "kernel",
    "kernel_params",
    "l1_ratio",
    "loss",
    "score_func",
    "n_clusters",
    "n_components",
    "priors",
    "reg_covar",
    "reg_param",
    "shrinkage",
    "solver",
    "whiten",
}


def _reference(est):
    """scikit-learn's in-memory counterpart of ``est`` (None if unknown)."""
    name = type(est).__name__
    if name == "Incremental":
        return clone(est.estimator)
    if name == "StreamingTransformer":
        return clone(est.transformer)
    if name not in REFERENCES:
        return None
    cls = REFERENCES[name]
    ours = est.get_params(deep=False)
    theirs = cls().get_params()
    shared = {k: ours[k] for k in SHARED_PARAMS if k in ours and k in theirs}
    if "random_state" in theirs:
        shared["random_state"] = 0
    if name == "OOCMixture":
        # Its default components are multivariate normals with min_cov=1e-6.
        shared["reg_covar"] = 1e-6
    return cls(**shared)


def _y_for(est):
    if is_classifier(est):
        return Y_CLF
    if get_tags(est).target_tags.required:
        # Positive targets for the losses that need them (Gamma, Poisson).
        if get_tags(est).target_tags.positive_only:
            return np.abs(Y_REG) + 0.5
        if not get_tags(est).target_tags.single_output:
            # Multi-task models take two or more targets only.
            return np.column_stack([Y_REG, Y_REG[::-1]])
        return Y_REG
    return None


def _supervised(est):
    return _y_for(est) is not None


def _classes_kwargs(est, method):
    parameters = inspect.signature(getattr(est, method)).parameters
    if is_classifier(est) and "classes" in parameters:
        return {"classes": np.unique(Y_CLF)}
    return {}


def _predict_methods(est):
    return [m for m in PREDICT_METHODS if hasattr(est, m)]


def _fit_methods(est):
    return [m for m in ("fit", "partial_fit", "summarize") if hasattr(est, m)]


def _fit_reads_every_row(est):
    # A stateless transformer (FunctionTransformer) is "fitted" on the first
    # batch only, as scikit-learn fits it without looking at the data: the
    # rows after it are read (and checked) by transform, not by fit.
    if type(est).__name__ == "StreamingTransformer":
        return bool(get_tags(est.transformer).requires_fit)
    return True


_FITTED = {}


def _fitted(est_id, how="fit"):
    """A fresh copy of the estimator fitted on the good data (``fit``, or one
    ``partial_fit`` on half of the rows)."""
    if (est_id, how) not in _FITTED:
        est = clone(ESTIMATORS[est_id])
        y = _y_for(est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if how == "fit":
                est.fit(X_GOOD, y)
            else:
                half = None if y is None else y[: N_ROWS // 2]
                kwargs = _classes_kwargs(est, "partial_fit")
                est.partial_fit(X_GOOD[: N_ROWS // 2], half, **kwargs)
        _FITTED[est_id, how] = pickle.dumps(est)
    return pickle.loads(_FITTED[est_id, how])


def _read(output):
    return np.asarray(output) if isinstance(output, LazyArray) else output


def _call(est, method, X, y=None, **kwargs):
    """``est.method(X[, y])`` as a function of nothing."""
    if method in PREDICT_METHODS:
        # A lazy output (a LazyArray) meets the rows when it is read: read it.
        return lambda: _read(getattr(est, method)(X))
    if y is None:
        return lambda: getattr(est, method)(X, **kwargs)
    return lambda: getattr(est, method)(X, y, **kwargs)


# -- files, directories and full disks -----------------------------------------------


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """The package's temporary files (shuffles on disk, kernel stores) go under
    ``tmp_path``, where the tests list what is left."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def _listing(*directories):
    """Every file and directory under ``directories``."""
    found = set()
    for directory in directories:
        for root, dirs, files in os.walk(directory):
            found.update(os.path.join(root, name) for name in dirs + files)
    return found


def _digests(paths):
    return {os.fspath(p): file_digest(p) for p in paths}


def _save(array, path, **kwargs):
    np.save(path, array, **kwargs)
    return path


def _as_container(array, container, tmp_path, name="X.npy"):
    """``array`` as an ndarray, a read-only memmap or a ``.npy`` path, and
    the files it lives in."""
    if container == "ndarray":
        return array, []
    path = _save(array, tmp_path / name)
    if container == "memmap":
        return np.load(path, mmap_mode="r"), [path]
    return str(path), [path]


def _assert_refused(call, exception, match, *, est=None, inputs=(), dirs=()):
    """``call()`` raises ``exception`` matching ``match`` and changes nothing:
    not ``est``, not the files ``inputs``, not the contents of ``dirs``."""
    state = None if est is None else fitted_state(est)
    digests = _digests(inputs)
    before = _listing(*dirs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exception, match=match) as info:
            call()
    if est is not None:
        assert fitted_state(est) == state, "the failed call changed the estimator"
    assert _listing(*dirs) == before, "the failed call left files behind"
    assert _digests(inputs) == digests, "the failed call changed its input files"
    return info


class _Exploit:
    """Unpickling this object would create a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def _pickled_npy(path, marker):
    array = np.empty((N_ROWS, 3), dtype=object)
    array[:] = 1.0
    array[BAD_ROW, 1] = _Exploit(str(marker))
    return _save(array, path, allow_pickle=True)


def _truncated_npy(path):
    _save(X_GOOD, path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 8 * 3 * 10)
    return path


_real_open = builtins.open
_real_fsync = os.fsync


class _FillingFile:
    """A file on a disk that fills up (see :class:`_DiskFull`)."""

    def __init__(self, handle, disk):
        self._handle = handle
        self._disk = disk

    def write(self, data):
        self._disk.event()
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


class _DiskFull:
    """A disk under ``root`` that fills up at the ``fail_at``-th write.

    Files opened for writing under ``root`` count their ``write`` calls, and
    ``os.fsync`` counts too (a full disk can surface there); the event number
    ``fail_at`` raises ``OSError(ENOSPC)``. With ``fail_at=None`` the events
    are only counted.
    """

    def __init__(self, root, fail_at=None):
        self.root = os.path.realpath(root) + os.sep
        self.fail_at = fail_at
        self.events = 0

    def event(self):
        self.events += 1
        if self.events == self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def open(self, file, mode="r", *args, **kwargs):
        handle = _real_open(file, mode, *args, **kwargs)
        if (
            isinstance(file, (str, bytes, os.PathLike))
            and set(mode) & set("wax+")
            and os.path.realpath(os.fsdecode(file)).startswith(self.root)
        ):
            return _FillingFile(handle, self)
        return handle

    def fsync(self, fd):
        self.event()
        return _real_fsync(fd)

    def install(self, monkeypatch):
        monkeypatch.setattr(builtins, "open", self.open)
        monkeypatch.setattr(os, "fsync", self.fsync)


def _count_events(root, monkeypatch, call):
    disk = _DiskFull(root)
    with monkeypatch.context() as m:
        disk.install(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    return disk.events


def _fail_points(total, every=False):
    """Write events at which the disk fills: all of them, or a spread."""
    if every or total <= 12:
        return list(range(1, total + 1))
    spread = np.linspace(1, total, 5).astype(int).tolist()
    return sorted({1, 2, 3, 4, total - 1, total, *spread})


def _remove_new(paths):
    """Remove the files and directories ``paths`` (what a run added)."""
    for path in sorted(paths, key=len, reverse=True):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)


@pytest.fixture
def make_unwritable():
    """Make a directory refuse new files.

    ``chmod 0o500`` where that stops writes; as root (or with
    CAP_DAC_OVERRIDE) it does not, and the directory is replaced by a regular
    file, under which no file can be made by anyone. Returns how.
    """
    restore = []

    def unwritable(directory):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o500)
        restore.append(directory)
        try:
            with _real_open(directory / ".probe", "w"):
                pass
        except PermissionError:
            return "read-only directory"
        os.chmod(directory, 0o700)
        shutil.rmtree(directory)
        directory.write_text("a regular file where a directory was\n")
        return "path under a regular file"

    yield unwritable
    for directory in restore:
        if directory.is_dir():
            os.chmod(directory, 0o700)


@pytest.fixture(scope="module", autouse=True)
def single_threaded_blas():
    """Tiny data: BLAS threads only wait for each other (on a busy machine,
    OpenBLAS's spinning threads make each small fit 100 times slower)."""
    with threadpool_limits(limits=1):
        yield


# -- the tally -----------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def tally(request):
    """Report, at the end of the module, how many combinations ran and held."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    module = request.node.nodeid
    counts = {}
    for outcome in ("passed", "failed", "xfailed", "xpassed", "skipped", "error"):
        reports = reporter.stats.get(outcome, [])
        counts[outcome] = len(
            {r.nodeid for r in reports if r.nodeid.startswith(module + "::")}
        )
    tried = sum(counts.values())
    line = (
        f"{module}: {tried} (estimator or tool x case) combinations tried, "
        f"{counts['passed']} hold, "
        f"{counts['failed'] + counts['xpassed'] + counts['error']} failures"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(line)


# -- bad X ---------------------------------------------------------------------------

BAD_X = {
    "NaN": ValueError,
    "+inf": ValueError,
    "1-D": ValueError,
    "3-D": ValueError,
    "zero rows": ValueError,
    "strings": ValueError,
    "objects": ValueError,
}


def _bad_X(kind):
    if kind in ("NaN", "+inf"):
        X = X_GOOD.copy()
        X[BAD_ROW, 1] = np.nan if kind == "NaN" else np.inf
        return X
    return {
        "1-D": X_GOOD[:, 0].copy(),
        "3-D": X_GOOD.reshape(N_ROWS, 3, 1).copy(),
        "zero rows": X_GOOD[:0].copy(),
        "strings": np.full((N_ROWS, 3), "abc"),
        "objects": np.full((N_ROWS, 3), "abc", dtype=object),
    }[kind]


def _bad_X_message(kind, method, path):
    fitting = method in ("fit", "partial_fit", "summarize")
    what = {"NaN": "NaN", "+inf": "infinity"}.get(kind)
    if what is not None:
        # A fit reads the bad row in a later batch; predictions may read all
        # the rows in one.
        batch = r"[1-9]\d*" if fitting else r"\d+"
        rows = rf"batch {batch}, rows \d+-\d+"
        if not fitting:
            # A lazy output (a LazyArray) has no batches: it names the rows
            # read when the bad one was met.
            rows = rf"(?:{rows}|rows \d+-\d+ read)"
        message = rf"X contains {what} at row {BAD_ROW} \({rows}\)"
        if path is not None:
            message += rf" \(file '[^']*{re.escape(path.name)}'\)"
        return message
    return {
        "1-D": r"Expected a 2-D X \(rows x features\), got a 1-D array of shape "
        r"\(300,\)",
        "3-D": r"Expected a 2-D X \(rows x features\), got a 3-D array of shape "
        r"\(300, 3, 1\)",
        "zero rows": r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\)",
        "strings": r"dtype='numeric' is not compatible with arrays of bytes/strings"
        r"|X \(file '[^']*'\) has dtype <U3; expected numbers",
        "objects": r"could not convert string to float: 'abc'",
    }[kind]


# scikit-learn's encoders take any value as a category: NaN, strings and
# objects are learnt by fit, and refused by transform as unknown categories,
# in scikit-learn's words (which name the column and the value).
CATEGORICAL = {"OOCOneHotEncoder", "OOCOrdinalEncoder"}
UNKNOWN_CATEGORY = r"Found unknown categories \[.*\] in column \d+ during transform"

# Estimators that validate rows held in memory (an ndarray, a memory map) with
# scikit-learn's own code, as the scikit-learn classes they extend (the
# encoders keep scikit-learn's results and messages there, and scikit-learn's
# own tests of them ask for those words): for the kinds listed, scikit-learn's
# words are accepted too, for those containers only. They name no row, and
# need not: the problem is the whole array's.
SKLEARN_WORDS = {
    "OOCOneHotEncoder": {
        "1-D": r"Expected 2D array, got 1D array instead",
        "3-D": r"Found array with dim 3, while dim <= 2 is required",
    },
    "OOCOrdinalEncoder": {
        "1-D": r"Expected 2D array, got 1D array instead",
        "3-D": r"Found array with dim 3, while dim <= 2 is required",
    },
    # SimpleImputer(strategy="mean") refuses strings that other strategies
    # impute, with scikit-learn's words naming the strategy.
    "OOCSimpleImputer": {
        "strings": r"Cannot use mean strategy with non-numeric data",
    },
}


def _takes_nan(est):
    """Whether NaN is a missing value the estimator handles, as its
    scikit-learn counterpart does (the allow_nan tag: scalers, imputers,
    quantile transformers, encoders)."""
    return bool(get_tags(est).input_tags.allow_nan)


def _bad_X_params():
    for est_id, est in ESTIMATORS.items():
        for kind in BAD_X:
            # Every prediction method reads the rows (and meets the NaN) its
            # own way; shapes and dtypes are checked once, when X is opened.
            predict = _predict_methods(est)
            if kind not in ("NaN", "+inf"):
                predict = predict[:1]
            methods = _fit_methods(est) + predict
            containers = ["ndarray"]
            if kind != "objects":  # an object .npy is the pickled case below
                containers += ["memmap", "path"]
            for container in containers:
                for method in methods:
                    if (
                        kind in ("NaN", "+inf")
                        and method == "fit"
                        and not _fit_reads_every_row(est)
                    ):
                        continue  # see _fit_reads_every_row
                    yield pytest.param(
                        est_id,
                        kind,
                        container,
                        method,
                        id=f"{est_id}-{kind}-{container}-{method}",
                    )


@pytest.mark.parametrize("est_id, kind, container, method", list(_bad_X_params()))
def test_bad_X_is_refused(est_id, kind, container, method, tmp_path):
    est = _fitted(est_id)
    X, inputs = _as_container(_bad_X(kind), container, tmp_path)
    y = _y_for(est)
    if y is not None and kind == "zero rows":
        y = y[:0]
    path = inputs[0] if inputs else None
    name = type(est).__name__
    fitting = method in ("fit", "partial_fit", "summarize")
    categories = name in CATEGORICAL and kind in ("NaN", "strings", "objects")
    if (categories or (kind == "NaN" and _takes_nan(est))) and fitting:
        # Not bad input for this estimator (see CATEGORICAL, _takes_nan):
        # the call succeeds, as scikit-learn's does.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _call(est, method, X, y)()
        return
    if kind == "NaN" and _takes_nan(est) and not categories:
        output = _call(est, method, X, y)()
        assert output.shape[0] == N_ROWS
        return
    message = _bad_X_message(kind, method, path)
    if categories:
        message = UNKNOWN_CATEGORY
    elif container != "path" and kind in SKLEARN_WORDS.get(name, {}):
        message = f"{message}|{SKLEARN_WORDS[name][kind]}"
    _assert_refused(
        _call(est, method, X, y),
        BAD_X[kind],
        message,
        est=est,
        inputs=inputs,
        dirs=[tmp_path],
    )


# -- one row and constant features, against scikit-learn -----------------------------


def _nan_names(obj, depth=0):
    """Names of the fitted attributes (and of their parts) holding a NaN."""
    names = set()
    for name, value in vars(obj).items():
        if name.startswith("_") or (depth == 0 and not name.endswith("_")):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, (float, np.floating, np.ndarray)):
                array = np.asarray(item)
                if array.dtype.kind in "fc" and np.isnan(array).any():
                    names.add(name)
            elif depth < 2 and hasattr(item, "__dict__"):
                names |= _nan_names(item, depth + 1)
    return names


def _outcome(model, X, y):
    """``(error, names of NaN attributes and outputs)`` of fitting ``model``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y) if y is not None else model.fit(X)
            nan = _nan_names(model)
            for method in ("predict", "transform", "score_samples"):
                if hasattr(model, method):
                    out = getattr(model, method)(X)
                    if sp.issparse(out):  # one-hot outputs, as scikit-learn's
                        out = out.toarray()
                    out = np.asarray(out, dtype=np.float64)
                    if np.isnan(out).any():
                        nan.add(f"{method}()")
                    break
    except Exception as exc:  # noqa: BLE001 - the reference's outcome, any error
        return exc, set()
    return None, nan


def _check_like_reference(est_id, X, y, tmp_path, *, refusal, may_refuse_when_nan):
    """Fit the fitted estimator again on ``X``: it must do what scikit-learn's
    reference does.

    - The reference fits with finite results: ours fits, no NaN anywhere.
    - The reference fits but gives NaN (a degenerate fit): ours gives NaN only
      where it does, or, if ``may_refuse_when_nan``, refuses with a
      ValueError matching ``refusal``.
    - The reference raises: ours raises the same kind of error (scikit-learn's
      ValueError family, or the reference's class) matching ``refusal`` (or,
      if None, the reference's own message), and is left unchanged; on
      constant features (``refusal`` None) a fit with finite results is fine
      too.
    - No reference (a new estimator): a fit without NaN, or a ValueError
      matching ``refusal``.
    """
    est = _fitted(est_id)
    reference = _reference(est)
    if reference is None:
        ref_error, ref_nan = None, None
    else:
        ref_error, ref_nan = _outcome(reference, X, y)
    state = fitted_state(est)
    before = _listing(tmp_path)
    error, nan = _outcome(est, X, y)
    assert _listing(tmp_path) == before, "the fit left files behind"
    if error is None:
        allowed = ref_nan if ref_nan is not None else set()
        assert nan <= allowed, (
            f"NaN in {sorted(nan - allowed)}; scikit-learn's reference gives NaN "
            f"in {sorted(allowed)}"
        )
        if ref_error is not None:
            assert refusal is None, (
                f"fits, where scikit-learn raises {type(ref_error).__name__}: "
                f"{ref_error}"
            )
        return
    assert fitted_state(est) == state, "the failed fit changed the estimator"
    if reference is None or (ref_error is None and ref_nan and may_refuse_when_nan):
        kind = ValueError
    elif ref_error is None:
        raise AssertionError(
            f"raises {type(error).__name__}: {error}; scikit-learn's reference fits"
        ) from error
    else:
        kind = ValueError if isinstance(ref_error, ValueError) else type(ref_error)
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    if refusal is None:
        # Refusing is fine where scikit-learn refuses too, with its words.
        refusal = re.escape(str(ref_error)[:40])
    assert re.search(refusal, str(error)), str(error)


@pytest.mark.parametrize("est_id", IDS)
def test_one_row_behaves_as_scikit_learn(est_id, tmp_path):
    y = _y_for(ESTIMATORS[est_id])
    _check_like_reference(
        est_id,
        X_GOOD[:1].copy(),
        None if y is None else y[:1].copy(),
        tmp_path,
        refusal=r"(?i)sample|class",
        may_refuse_when_nan=True,
    )


CONSTANT = {"one constant column": [1], "every column constant": [0, 1, 2]}


@pytest.mark.parametrize(
    "est_id, columns",
    [pytest.param(i, c, id=f"{i}-{c}") for i in IDS for c in CONSTANT],
)
def test_constant_features_give_no_nan(est_id, columns, tmp_path):
    X = X_GOOD.copy()
    X[:, CONSTANT[columns]] = 2.5
    _check_like_reference(
        est_id,
        X,
        _y_for(ESTIMATORS[est_id]),
        tmp_path,
        refusal=None,
        may_refuse_when_nan=False,
    )


# -- the number of features changes --------------------------------------------------


def _with_features(n):
    return np.hstack([X_GOOD, X_GOOD])[:, :n].copy()


@pytest.mark.parametrize(
    "est_id, n_features",
    [
        pytest.param(i, n, id=f"{i}-{n}")
        for i in IDS
        if hasattr(ESTIMATORS[i], "partial_fit")
        for n in (2, 4)
    ],
)
def test_features_change_between_partial_fit_calls(est_id, n_features, tmp_path):
    est = _fitted(est_id, how="partial_fit")
    y = _y_for(est)
    _assert_refused(
        _call(est, "partial_fit", _with_features(n_features), y),
        ValueError,
        rf"X has {n_features} features, but \w+ is expecting 3 features as input",
        est=est,
        dirs=[tmp_path],
    )


@pytest.mark.parametrize(
    "est_id, method, n_features",
    [
        pytest.param(i, m, n, id=f"{i}-{m}-{n}")
        for i in IDS
        for m in _predict_methods(ESTIMATORS[i])
        for n in (2, 4)
    ],
)
def test_features_change_between_fit_and_predict(est_id, method, n_features, tmp_path):
    est = _fitted(est_id)
    X, inputs = _as_container(_with_features(n_features), "memmap", tmp_path)
    _assert_refused(
        _call(est, method, X),
        ValueError,
        rf"X has {n_features} features, but \w+ is expecting 3 features as input",
        est=est,
        inputs=inputs,
        dirs=[tmp_path],
    )


# -- bad y and sample_weight ---------------------------------------------------------


@pytest.mark.parametrize(
    "est_id, container, method",
    [
        pytest.param(i, c, m, id=f"{i}-{c}-{m}")
        for i in IDS
        if _supervised(ESTIMATORS[i])
        for c in ("ndarray", "memmap")
        for m in ("fit", "partial_fit")
        if hasattr(ESTIMATORS[i], m)
    ],
)
def test_nan_in_y_names_the_row(est_id, container, method, tmp_path):
    est = _fitted(est_id)
    y = _y_for(est).astype(np.float64)
    y[BAD_ROW] = np.nan
    y, inputs = _as_container(y, container, tmp_path, "y.npy")
    # The regressors' words ("y contains NaN at row 237 (batch 4, rows
    # 200-249)"), or any message that names y, the NaN and its row.
    message = rf"(?i)\by\b.*\bnan\b.*\brow {BAD_ROW}\b"
    _assert_refused(
        _call(est, method, X_GOOD, y),
        ValueError,
        message,
        est=est,
        inputs=inputs,
        dirs=[tmp_path],
    )


def _takes_sample_weight(est, method):
    return hasattr(est, method) and "sample_weight" in (
        inspect.signature(getattr(est, method)).parameters
    )


def _sample_weight_params(case):
    for i in IDS:
        for m in ("fit", "partial_fit"):
            if _takes_sample_weight(ESTIMATORS[i], m):
                for c in ("ndarray", "memmap"):
                    yield pytest.param(i, c, m, id=f"{i}-{c}-{m}")


@pytest.mark.parametrize(
    "est_id, container, method", list(_sample_weight_params("wrong length"))
)
def test_sample_weight_of_the_wrong_length(est_id, container, method, tmp_path):
    est = _fitted(est_id)
    w, inputs = _as_container(np.ones(N_ROWS - 1), container, tmp_path, "w.npy")
    _assert_refused(
        _call(est, method, X_GOOD, _y_for(est), sample_weight=w),
        ValueError,
        rf"sample_weight has {N_ROWS - 1} rows but X has {N_ROWS}",
        est=est,
        inputs=inputs,
        dirs=[tmp_path],
    )


@pytest.mark.parametrize(
    "est_id, container, method", list(_sample_weight_params("negative weight"))
)
def test_negative_sample_weight_names_the_row(est_id, container, method, tmp_path):
    est = _fitted(est_id)
    w = np.ones(N_ROWS)
    w[BAD_ROW] = -1.0
    w, inputs = _as_container(w, container, tmp_path, "w.npy")
    message = (
        rf"sample_weight contains a negative weight \(-1\.0\) at row {BAD_ROW} "
        r"\(batch [1-9]\d*, rows \d+-\d+\)"
    )
    _assert_refused(
        _call(est, method, X_GOOD, _y_for(est), sample_weight=w),
        ValueError,
        message,
        est=est,
        inputs=inputs,
        dirs=[tmp_path],
    )


# -- bad files -----------------------------------------------------------------------

BAD_FILES = {
    "pickled objects": (
        ValueError,
        r"X file '[^']*objects\.npy' holds Python objects \(dtype object\); only "
        "numeric .npy files are read, and pickled data is never loaded",
    ),
    "truncated": (
        ValueError,
        r"X file '[^']*truncated\.npy' is truncated: its header announces shape "
        r"\(300, 3\) of float64 \(7200 bytes of data\) but only 6960 bytes follow",
    ),
    "missing": (FileNotFoundError, r"X file '[^']*nope\.npy' does not exist"),
    "directory": (
        IsADirectoryError,
        r"X path '[^']*adir' is a directory; expected a \.npy file",
    ),
}


def _bad_file(kind, tmp_path):
    """A bad ``X`` path, the files it consists of, and the marker file that
    would appear if pickled code ran."""
    marker = tmp_path / "code-ran"
    if kind == "pickled objects":
        return _pickled_npy(tmp_path / "objects.npy", marker), marker
    if kind == "truncated":
        return _truncated_npy(tmp_path / "truncated.npy"), marker
    if kind == "missing":
        return tmp_path / "nope.npy", marker
    (tmp_path / "adir").mkdir()
    return tmp_path / "adir", marker


@pytest.mark.parametrize(
    "est_id, kind, as_str, method",
    [
        pytest.param(i, k, s, m, id=f"{i}-{k}-{'str' if s else 'Path'}-{m}")
        for i in IDS
        for k in BAD_FILES
        for s in (True, False)
        for m in _fit_methods(ESTIMATORS[i]) + _predict_methods(ESTIMATORS[i])[:1]
    ],
)
def test_bad_npy_file_is_refused(est_id, kind, as_str, method, tmp_path):
    est = _fitted(est_id)
    path, marker = _bad_file(kind, tmp_path)
    inputs = [path] if path.is_file() else []
    exception, message = BAD_FILES[kind]
    _assert_refused(
        _call(est, method, str(path) if as_str else path, _y_for(est)),
        exception,
        message,
        est=est,
        inputs=inputs,
        dirs=[tmp_path],
    )
    assert not marker.exists(), "code from the pickled file ran"


@pytest.mark.parametrize(
    "est_id, kind, method",
    [
        pytest.param(i, k, m, id=f"{i}-{k}-{m}")
        for i in IDS
        if _supervised(ESTIMATORS[i])
        for k in BAD_FILES
        for m in ("fit", "partial_fit")
        if hasattr(ESTIMATORS[i], m)
    ],
)
def test_bad_npy_file_as_y_is_refused(est_id, kind, method, tmp_path):
    est = _fitted(est_id)
    path, marker = _bad_file(kind, tmp_path)
    exception, message = BAD_FILES[kind]
    _assert_refused(
        _call(est, method, X_GOOD, str(path)),
        exception,
        "^y" + message[1:],
        est=est,
        inputs=[path] if path.is_file() else [],
        dirs=[tmp_path],
    )
    assert not marker.exists(), "code from the pickled file ran"


# -- estimators that write: full disk, unwritable directory --------------------------


def _writer_configs(est):
    """How the estimator can write files: ``(name, params)``, with the
    placeholders STORE (a directory) and CHECKPOINT (a file)."""
    params = est.get_params(deep=False)
    if "shuffle" in params:
        yield "shuffle on disk", {"shuffle": "disk"}
    if "kernel_store" in params:
        yield "temporary kernel store", {"kernel_store": "disk"}
        yield (
            "kernel store in store_dir",
            {"kernel_store": "disk", "store_dir": "STORE"},
        )
    if "checkpoint" in params:
        yield "checkpoint", {"checkpoint": "CHECKPOINT"}


def _writer_params(case):
    return [
        pytest.param(i, name, config, id=f"{i}-{name}")
        for i in IDS
        for name, config in _writer_configs(ESTIMATORS[i])
    ]


def _writer(est_id, config, tmp_path):
    """The estimator with its writing parameters, fitted on the good data, and
    the directory it writes to."""
    store, checkpoint = tmp_path / "store", tmp_path / "ckpt" / "fit.ckpt"
    store.mkdir()
    checkpoint.parent.mkdir()
    where = {"STORE": str(store), "CHECKPOINT": str(checkpoint)}
    params = {k: where.get(v, v) for k, v in config.items()}
    est = clone(ESTIMATORS[est_id]).set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X_GOOD, _y_for(est))
    if checkpoint.exists():
        checkpoint.unlink()  # the next fits start afresh, not from a finished fit
    if "store_dir" in params:
        directory = store
    elif "checkpoint" in params:
        directory = checkpoint.parent
    else:
        directory = Path(tempfile.gettempdir())
    return est, directory, checkpoint


@pytest.mark.parametrize("est_id, name, config", _writer_params("disk full"))
def test_full_disk_while_fitting(est_id, name, config, tmp_path, monkeypatch):
    est, _, checkpoint = _writer(est_id, config, tmp_path)
    # Other rows: a kernel store of the good rows would be read, not written.
    X, y = X_GOOD + 0.5, _y_for(est)
    state = fitted_state(est)
    before = _listing(tmp_path)
    probe = pickle.loads(pickle.dumps(est))
    total = _count_events(tmp_path, monkeypatch, lambda: probe.fit(X, y))
    assert total > 0, "the fit wrote nothing"
    _remove_new(_listing(tmp_path) - before)
    for fail_at in _fail_points(total):
        disk = _DiskFull(tmp_path, fail_at)
        with monkeypatch.context() as m:
            disk.install(m)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pytest.raises(OSError, match="No space left on device"):
                    est.fit(X, y)
        assert fitted_state(est) == state, f"write {fail_at}: estimator changed"
        left = _listing(tmp_path) - before
        if checkpoint.exists():
            # The state of the last finished iteration, kept to resume from:
            # whole, never a partial file.
            with _real_open(checkpoint, "rb") as f:
                pickle.load(f)
            left.discard(str(checkpoint))
        assert not left, f"disk full at write {fail_at} of {total}: {sorted(left)}"
        if fail_at != total:
            _remove_new(_listing(tmp_path) - before)
    # With room on the disk again, the fit succeeds.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)


@pytest.mark.parametrize("est_id, name, config", _writer_params("unwritable"))
def test_unwritable_directory_while_fitting(
    est_id, name, config, tmp_path, make_unwritable
):
    est, directory, _ = _writer(est_id, config, tmp_path)
    make_unwritable(directory)
    _assert_refused(
        _call(est, "fit", X_GOOD + 0.5, _y_for(est)),
        OSError,
        re.escape(str(directory)),
        est=est,
        dirs=[tmp_path],
    )


# -- the io tools --------------------------------------------------------------------


@pytest.fixture
def inputs(tmp_path):
    """Good input files of every kind the tools read, in ``tmp_path/'in'``."""
    directory = tmp_path / "in"
    directory.mkdir()
    files = {
        "X": _save(X_GOOD, directory / "X.npy"),
        "y": _save(Y_REG, directory / "y.npy"),
        "csv": directory / "data.csv",
        "svm": directory / "data.svm",
    }
    with _real_open(files["csv"], "w") as f:
        f.write("a,b,c,label\n")
        for row, label in zip(X_GOOD, Y_CLF, strict=True):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    dump_svmlight_file(X_GOOD, Y_CLF, str(files["svm"]))
    return files


def _write_with_npy_writer(path):
    with NpyWriter(path, (N_ROWS, 3)) as out:
        for start in range(0, N_ROWS, 100):
            out.write(X_GOOD[start : start + 100])


IO_TOOLS = {
    "shuffle_on_disk(X, y)": lambda f, out: shuffle_on_disk(
        f["X"], f["y"], out=out / "s", random_state=0
    ),
    "shuffle_on_disk(X, y), small buffer": lambda f, out: shuffle_on_disk(
        f["X"], f["y"], out=out / "s", buffer_mb=0.005, random_state=0
    ),
    "shuffle_on_disk(X), small buffer": lambda f, out: shuffle_on_disk(
        f["X"], out=out / "s", buffer_mb=0.005, random_state=0
    ),
    "convert(csv, target)": lambda f, out: convert(
        f["csv"], out / "c", target="label", chunk_rows=100
    ),
    "convert(csv)": lambda f, out: convert(f["csv"], out / "c", chunk_rows=100),
    "convert(svmlight)": lambda f, out: convert(f["svm"], out / "c", chunk_rows=100),
    "NpyWriter": lambda f, out: _write_with_npy_writer(out / "w.npy"),
    "write_regression": lambda f, out: write_regression(
        out / "X.npy", out / "y.npy", N_ROWS, 3, chunk_rows=100, random_state=0
    ),
    "write_mixture": lambda f, out: write_mixture(
        out / "X.npy", N_ROWS, 3, 2, chunk_rows=100, random_state=0
    ),
}


def _tool_params(case):
    return [pytest.param(t, id=t) for t in IO_TOOLS]


@pytest.mark.parametrize("tool", _tool_params("unwritable output"))
def test_io_tool_with_an_unwritable_output_directory(
    tool, inputs, tmp_path, make_unwritable
):
    out = tmp_path / "out"
    make_unwritable(out)
    _assert_refused(
        lambda: IO_TOOLS[tool](inputs, out),
        OSError,
        re.escape(str(out)),
        inputs=inputs.values(),
        dirs=[tmp_path],
    )


@pytest.mark.parametrize(
    "tool",
    [pytest.param("write_regression")],
)
def test_io_tool_with_one_of_two_outputs_unwritable(tool, tmp_path, make_unwritable):
    (tmp_path / "out").mkdir()
    make_unwritable(tmp_path / "y_out")
    _assert_refused(
        lambda: write_regression(
            tmp_path / "out" / "X.npy", tmp_path / "y_out" / "y.npy", N_ROWS, 3
        ),
        OSError,
        re.escape(str(tmp_path / "y_out")),
        dirs=[tmp_path],
    )


@pytest.mark.parametrize("tool", _tool_params("disk full"))
def test_io_tool_on_a_full_disk(tool, inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    before = _listing(tmp_path)
    total = _count_events(out, monkeypatch, lambda: IO_TOOLS[tool](inputs, out))
    assert total > 0, "the tool wrote nothing"
    _remove_new(_listing(tmp_path) - before)
    digests = _digests(inputs.values())
    failures = []
    for fail_at in _fail_points(total, every=True):
        disk = _DiskFull(out, fail_at)
        with monkeypatch.context() as m:
            disk.install(m)
            with pytest.raises(OSError, match="No space left on device"):
                IO_TOOLS[tool](inputs, out)
        left = _listing(tmp_path) - before
        if left:
            failures.append((fail_at, sorted(os.path.basename(p) for p in left)))
            _remove_new(left)
    assert not failures, f"files left when the disk fills at write n of {total}: " + (
        f"{failures}"
    )
    assert _digests(inputs.values()) == digests


def test_a_failing_npy_writer_write_leaves_nothing(tmp_path, monkeypatch):
    # The plain simulation of test_shuffle.py: the writer itself fails.
    def failing(self, rows):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(NpyWriter, "write", failing)
    _assert_refused(
        lambda: _write_with_npy_writer(tmp_path / "w.npy"),
        OSError,
        "No space left on device",
        dirs=[tmp_path],
    )


READERS = {
    "shuffle_on_disk(X)": lambda path, f, out: shuffle_on_disk(
        path, out=out / "s", random_state=0
    ),
    "shuffle_on_disk(X, y)": lambda path, f, out: shuffle_on_disk(
        f["X"], path, out=out / "s", random_state=0
    ),
    "describe_npy": lambda path, f, out: describe_npy(path),
}


@pytest.mark.parametrize(
    "reader, kind",
    [pytest.param(r, k, id=f"{r}-{k}") for r in READERS for k in BAD_FILES],
)
def test_io_tool_refuses_a_bad_npy_file(reader, kind, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    path, marker = _bad_file(kind, tmp_path)
    exception, message = BAD_FILES[kind]
    if reader == "shuffle_on_disk(X, y)":
        message = "^y" + message[1:]
    _assert_refused(
        lambda: READERS[reader](path, inputs, out),
        exception,
        message,
        inputs=list(inputs.values()) + ([path] if path.is_file() else []),
        dirs=[tmp_path],
    )
    assert not marker.exists(), "code from the pickled file ran"


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_convert_refuses_a_missing_or_directory_input(kind, tmp_path):
    path = tmp_path / ("nope.csv" if kind == "missing" else "adir")
    if kind == "directory":
        path.mkdir()
    # A directory is read as a data set of table files: an empty one holds
    # nothing to convert, and the message says what names it looked for.
    if kind == "missing":
        exception, message = FileNotFoundError, rf"'[^']*{path.name}' does not exist"
    else:
        exception = ValueError
        message = rf"directory '[^']*{path.name}' holds no table file \(expected"
    _assert_refused(
        lambda: convert(path, tmp_path / "out"),
        exception,
        message,
        dirs=[tmp_path],
    )


@pytest.mark.parametrize(
    "command", ["convert", "shuffle", "info of a pickled file", "info of a directory"]
)
def test_command_errors_are_one_line_and_leave_nothing(
    command, inputs, tmp_path, make_unwritable, capsys
):
    out = tmp_path / "out"
    how = make_unwritable(out)
    marker = tmp_path / "code-ran"
    if command == "convert":
        argv = ["convert", str(inputs["csv"]), str(out / "c"), "--target", "label"]
        expected = re.escape(str(out))
    elif command == "shuffle":
        argv = ["shuffle", str(inputs["X"]), str(inputs["y"]), str(out / "s")]
        expected = re.escape(str(out))
    elif command == "info of a pickled file":
        argv = ["info", str(_pickled_npy(tmp_path / "objects.npy", marker))]
        expected = r"holds Python objects \(dtype object\)"
    else:
        argv = ["info", str(tmp_path / "in")]
        expected = "is a directory; expected a .npy file"
    before = _listing(tmp_path)
    digests = _digests(inputs.values())
    assert main(argv) == 1, how
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert re.search(expected, err), err
    assert _listing(tmp_path) == before
    assert _digests(inputs.values()) == digests
    assert not marker.exists()
