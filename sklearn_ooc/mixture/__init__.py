"""Mixture models fitted out of core."""

from ._gaussian_mixture import OOCGaussianMixture
from ._mixture import OOCMixture

__all__ = ["OOCGaussianMixture", "OOCMixture"]
