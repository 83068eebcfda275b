"""Linear models fitted out of core."""

from ._ridge import StreamingRidge

__all__ = ["StreamingRidge"]
