"""Utilities: estimator discovery and memory measurement."""

from ._memory import PeakMemory, anonymous_rss
from .discovery import all_estimators

__all__ = ["PeakMemory", "all_estimators", "anonymous_rss"]
