"""PLS and CCA from the cross-covariances streamed in one pass."""

from ._pls import OOCCCA, OOCPLSCanonical, OOCPLSRegression

__all__ = ["OOCCCA", "OOCPLSCanonical", "OOCPLSRegression"]
