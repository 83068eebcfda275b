"""Finding the public estimators of the package by walking it."""

import inspect
import pkgutil
from importlib import import_module

from sklearn.base import BaseEstimator


def all_estimators():
    """Public estimator classes of sklearn_ooc, sorted by name.

    Every public subpackage is imported and its public names inspected, so an
    estimator added to the package is found without being listed anywhere.

    Returns
    -------
    list of (str, type)
        Class names and classes.

    Examples
    --------
    >>> from sklearn_ooc.utils import all_estimators
    >>> ("StreamingRidge", ) in [(name,) for name, _ in all_estimators()]
    True
    """
    import sklearn_ooc

    found = {}
    for info in pkgutil.walk_packages(sklearn_ooc.__path__, "sklearn_ooc."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts[1:]) or "tests" in parts:
            continue
        module = import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and not name.startswith("_")
                and obj.__module__.startswith("sklearn_ooc.")
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return sorted(found.items())
