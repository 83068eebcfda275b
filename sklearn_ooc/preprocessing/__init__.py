"""Transformers for pipelines that stay out of core."""

from ._discretization import OOCKBinsDiscretizer
from ._encoders import CategoryCounts, OOCOneHotEncoder, OOCOrdinalEncoder
from ._imputer import OOCSimpleImputer
from ._quantile_transformer import OOCQuantileTransformer
from ._robust import OOCRobustScaler
from ._spline import OOCSplineTransformer
from ._streaming_transformer import StreamingTransformer

__all__ = [
    "CategoryCounts",
    "OOCKBinsDiscretizer",
    "OOCOneHotEncoder",
    "OOCOrdinalEncoder",
    "OOCQuantileTransformer",
    "OOCRobustScaler",
    "OOCSimpleImputer",
    "OOCSplineTransformer",
    "StreamingTransformer",
]
