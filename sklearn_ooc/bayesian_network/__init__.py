"""Bayesian networks over discrete variables, learnt from streamed counts."""

from ._bayesian_network import BayesianNetwork

__all__ = ["BayesianNetwork"]
