"""Mixture models fitted out of core."""

from ._gaussian_mixture import OOCGaussianMixture

__all__ = ["OOCGaussianMixture"]
