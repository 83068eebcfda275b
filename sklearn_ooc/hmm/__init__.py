"""Hidden Markov models fitted by exact out-of-core Baum-Welch."""

from .._out_of_core import register
from ._categorical import CategoricalHMM
from ._gaussian import GaussianHMM
from ._gmm import GMMHMM
from ._markov_chain import MarkovChain
from ._poisson import PoissonHMM

__all__ = ["CategoricalHMM", "GMMHMM", "GaussianHMM", "MarkovChain", "PoissonHMM"]

# hmmlearn's models, where it is installed, convert with out_of_core: same
# parameter names and defaults.
try:
    from hmmlearn import hmm as _hmmlearn
except ImportError:  # pragma: no cover - hmmlearn is optional
    pass
else:
    for _ours in (CategoricalHMM, GMMHMM, GaussianHMM, PoissonHMM):
        register(getattr(_hmmlearn, _ours.__name__))(_ours)
