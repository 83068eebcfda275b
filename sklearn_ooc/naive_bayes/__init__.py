"""Naive Bayes classifiers fitted from statistics streamed over the rows."""

from ._bayes_classifier import BayesClassifier
from ._discrete_nb import (
    OOCBernoulliNB,
    OOCCategoricalNB,
    OOCComplementNB,
    OOCMultinomialNB,
)
from ._gaussian_nb import OOCGaussianNB

__all__ = [
    "BayesClassifier",
    "OOCBernoulliNB",
    "OOCCategoricalNB",
    "OOCComplementNB",
    "OOCGaussianNB",
    "OOCMultinomialNB",
]
