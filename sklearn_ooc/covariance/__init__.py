"""Covariance estimators fitted from streamed moments."""

from ._covariance import (
    OOCOAS,
    OOCEmpiricalCovariance,
    OOCGraphicalLasso,
    OOCLedoitWolf,
    OOCShrunkCovariance,
)

__all__ = [
    "OOCEmpiricalCovariance",
    "OOCGraphicalLasso",
    "OOCLedoitWolf",
    "OOCOAS",
    "OOCShrunkCovariance",
]
