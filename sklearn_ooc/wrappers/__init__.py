"""Wrappers that feed scikit-learn's own estimators from data on disk."""

from ._incremental import Incremental

__all__ = ["Incremental"]
