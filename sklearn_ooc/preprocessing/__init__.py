"""Transformers for pipelines that stay out of core."""

from ._streaming_transformer import StreamingTransformer

__all__ = ["StreamingTransformer"]
