"""Mixture models fitted out of core."""

from ._bayesian_mixture import OOCBayesianGaussianMixture
from ._gaussian_mixture import OOCGaussianMixture
from ._mixture import OOCMixture

__all__ = ["OOCBayesianGaussianMixture", "OOCGaussianMixture", "OOCMixture"]
