"""Composite transformers whose parts are fitted and applied out of core."""

from ._column_transformer import OOCColumnTransformer

__all__ = ["OOCColumnTransformer"]
