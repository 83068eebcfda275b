"""Kernel ridge regression with kernel matrices larger than memory."""

from ._kernel_ridge import OOCKernelRidge

__all__ = ["OOCKernelRidge"]
