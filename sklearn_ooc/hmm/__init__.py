"""Hidden Markov models fitted by exact out-of-core Baum-Welch."""

from ._categorical import CategoricalHMM
from ._gaussian import GaussianHMM
from ._poisson import PoissonHMM

__all__ = ["CategoricalHMM", "GaussianHMM", "PoissonHMM"]
