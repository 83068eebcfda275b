"""Exact scikit-learn estimators for data larger than memory."""

__version__ = "0.1.0.dev0"
