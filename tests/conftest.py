import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The suite's examples are the same on every run, so that it passes or fails
# on the code alone; "explore" draws new ones (more, where a test does not
# set its own count) to look for the cases the fixed ones miss:
# HYPOTHESIS_PROFILE=explore python -m pytest tests/test_properties.py
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fitted_state(estimator):
    """A deep snapshot of an estimator's attributes, comparable with ==."""
    import pickle

    return pickle.dumps(estimator.__dict__)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def npy(tmp_path):
    """Save an array to a .npy file in tmp_path and return the path."""
    counter = iter(range(1000))

    def save(array, name=None):
        path = tmp_path / (name or f"array{next(counter)}.npy")
        np.save(path, array)
        return path

    return save


def run_cli(*args, cwd=None, env=None):
    """``python -m sklearn_ooc ARGS`` in a subprocess, its output captured
    (standard error a pipe, as in a log); ``env`` adds variables."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "sklearn_ooc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )


def interrupt_at(hook, fit, monkeypatch, at=3):
    """Run ``fit()`` and interrupt it, as Ctrl-C does, at the ``at``-th call
    of ``hook`` (``"module:Class.method"``)."""
    import importlib

    hook_module, hook_attr = hook.split(":")
    hook_class, hook_method = hook_attr.split(".")
    owner = getattr(importlib.import_module(hook_module), hook_class)
    original = getattr(owner, hook_method)
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(owner, hook_method, interrupted)
        with pytest.raises(KeyboardInterrupt):
            fit()


# Estimators whose rows are not real values: the generic modules' random
# real-valued rows are refused by them (with an error naming the row), so
# those modules skip them; their own modules test the same properties on
# rows they read (n_jobs, sources, bad input).
DISCRETE_ROWS = {
    "CategoricalHMM": "one column of integer symbols",
    "PoissonHMM": "counts (non-negative integers)",
    "MarkovChain": "one column of integer symbols",
    "BayesianNetwork": "category codes (integers from 0)",
}
_GENERIC_MODULES_OF_REAL_ROWS = ("test_bad_input.py", "test_determinism.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.fspath.basename not in _GENERIC_MODULES_OF_REAL_ROWS:
            continue
        for name, rows in DISCRETE_ROWS.items():
            if f"[{name}" in item.nodeid:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"{name} reads {rows}, not real values: its own "
                        "module tests it on such rows"
                    )
                )


# The parameters the generic modules give estimators for their data. The
# univariate filters score with f_classif by default; the generic modules
# give the continuous target of a regressor to estimators that are not
# classifiers, so they score with f_regression there (their own module tests
# every score).
def regression_filters():
    from sklearn.feature_selection import f_regression

    names = (
        "OOCGenericUnivariateSelect",
        "OOCSelectFdr",
        "OOCSelectFpr",
        "OOCSelectFwe",
        "OOCSelectKBest",
        "OOCSelectPercentile",
    )
    params = {name: {"score_func": f_regression} for name in names}
    # The PLS family on a target of one column: one component (the canonical
    # modes have no more components than targets), as scikit-learn checks it.
    for name in ("OOCCCA", "OOCPLSCanonical", "OOCPLSRegression"):
        params[name] = {"n_components": 1}
    return params
