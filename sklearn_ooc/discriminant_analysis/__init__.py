"""Discriminant analysis from per-class statistics gathered out of core."""

from ._discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)

__all__ = ["OOCLinearDiscriminantAnalysis", "OOCQuadraticDiscriminantAnalysis"]
