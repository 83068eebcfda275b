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
