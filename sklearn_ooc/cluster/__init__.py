"""Clustering fitted out of core."""

from ._kmeans import OOCKMeans

__all__ = ["OOCKMeans"]
