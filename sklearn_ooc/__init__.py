"""Exact scikit-learn estimators for data larger than memory."""

from .wrappers import Incremental

__version__ = "0.1.0.dev0"

__all__ = ["Incremental", "__version__"]
