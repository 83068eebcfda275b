"""scikit-learn's estimator checks over every public estimator of the package."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ooc.utils import all_estimators

# Small batches so that the checks exercise multi-batch reads and merges.
TINY = {"batch_size": 7}


def _instances():
    for _, cls in all_estimators():
        params = {k: v for k, v in TINY.items() if k in cls().get_params()}
        yield cls(**params)


def _expected_failed_checks(estimator):
    # Every check holds for every estimator; an entry here would need a
    # comment on why it cannot hold out of core.
    return {}


def test_estimators_are_found():
    names = [name for name, _ in all_estimators()]
    assert "StreamingRidge" in names


@parametrize_with_checks(
    list(_instances()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
