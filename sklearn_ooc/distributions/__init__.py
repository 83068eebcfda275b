"""Probability distributions fitted exactly from mergeable summaries."""

from ._distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Exponential,
    Gamma,
    IndependentComponents,
    LogNormal,
    MultivariateNormal,
    Normal,
    Poisson,
)

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Exponential",
    "Gamma",
    "IndependentComponents",
    "LogNormal",
    "MultivariateNormal",
    "Normal",
    "Poisson",
]
