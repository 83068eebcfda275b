"""RobustScaler fitted out of core: exact medians and quantiles by selection."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.base import _fit_context
from sklearn.preprocessing import RobustScaler
from sklearn.preprocessing._data import _handle_zeros_in_scale

from .._out_of_core import register
from ..base import OutOfCoreMixin
from ._quantile import (
    StreamedFitMixin,
    column_statistics,
    count_pass,
)


@register(RobustScaler)
class OOCRobustScaler(StreamedFitMixin, OutOfCoreMixin, RobustScaler):
    """:class:`sklearn.preprocessing.RobustScaler` fitted in streamed passes.

    The medians and the quantiles of ``quantile_range`` are exact: one pass
    counts the values of each column, a few more narrow each wanted order
    statistic to an interval of values small enough to be collected, and the
    quantiles are interpolated as :func:`numpy.nanpercentile` does (NaN are
    ignored, as in scikit-learn). ``center_`` and ``scale_`` equal
    scikit-learn's bit for bit; memory holds one batch and the intervals,
    never all the rows.

    Parameters
    ----------
    with_centering : bool, default=True
        Subtract the median.
    with_scaling : bool, default=True
        Divide by the interquantile range.
    quantile_range : tuple (q_min, q_max), 0.0 < q_min < q_max < 100.0, \
            default=(25.0, 75.0)
        Quantile range of ``scale_``, in percent.
    copy : bool, default=True
        As scikit-learn (in-memory inputs of ``transform``).
    unit_variance : bool, default=False
        Scale so that normally distributed features have a variance of 1.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 logs each pass; 2 adds a progress bar.

    Attributes
    ----------
    center_ : ndarray of shape (n_features,)
        Medians (of the dtype of ``X``).
    scale_ : ndarray of shape (n_features,)
        Interquantile ranges.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.preprocessing.RobustScaler : The in-memory transformer this one
        equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import OOCRobustScaler
    >>> X = np.array([[1.0, -2.0], [-2.0, 1.0], [3.0, np.nan], [4.0, 2.0]])
    >>> scaler = OOCRobustScaler(batch_size=2).fit(X)
    >>> scaler.center_
    array([2., 1.])
    >>> scaler.scale_
    array([3., 2.])
    >>> scaler.transform([[2.0, 3.0]])
    array([[0., 1.]])
    """

    _sklearn_class = RobustScaler
    _parameter_constraints: dict = {
        **RobustScaler._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        *,
        with_centering=True,
        with_scaling=True,
        quantile_range=(25.0, 75.0),
        copy=True,
        unit_variance=False,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            with_centering=with_centering,
            with_scaling=with_scaling,
            quantile_range=quantile_range,
            copy=copy,
            unit_variance=unit_variance,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Compute the medians and quantiles of the columns of ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows; NaN are ignored.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        with self._transaction():
            source = self._source(X, reset=True, batch_size=batch_size)
            q_min, q_max = self.quantile_range
            if not 0 <= q_min <= q_max <= 100:
                raise ValueError(f"Invalid quantile range: {self.quantile_range}")
            dtype = np.dtype(source.X.dtype)
            if dtype not in (np.float32, np.float64):
                dtype = np.dtype(np.float64)
            reduce = self._reducer(source)
            counts, mins, maxs = count_pass(reduce, source.n_features)
            center = scale = None
            q = None
            if self.with_scaling:
                q = np.true_divide(np.asarray(self.quantile_range, np.float64), 100)
            center, quantiles = column_statistics(
                reduce, counts, mins, maxs, dtype, median=self.with_centering, q=q
            )
            if self.with_scaling:
                scale = quantiles[1] - quantiles[0]
                scale = _handle_zeros_in_scale(scale, copy=False)
                if self.unit_variance:
                    adjust = stats.norm.ppf(q_max / 100.0) - stats.norm.ppf(
                        q_min / 100.0
                    )
                    scale = scale / adjust
            self.center_ = center
            self.scale_ = scale
            self._is_fitted = True
        return self

    def inverse_transform(self, X):
        """Scale back, as scikit-learn: lazily for a LazyArray.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Scaled rows.

        Returns
        -------
        ndarray or LazyArray
            The rows in the original space.
        """
        return self._apply("inverse_transform", X)
