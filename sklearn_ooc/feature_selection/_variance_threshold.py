"""Variance threshold from per-column moments streamed in one pass."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.feature_selection import VarianceThreshold
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import ColumnMoments
from ..base import OutOfCoreMixin
from ._univariate import select_columns


@register(VarianceThreshold)
class OOCVarianceThreshold(OutOfCoreMixin, VarianceThreshold):
    """Feature selector that removes low-variance features, in one pass.

    scikit-learn's :class:`~sklearn.feature_selection.VarianceThreshold`
    whose variances come from per-column counts, means and centered sums of
    squares streamed over the rows (NaN left out, as ``np.nanvar``) and
    merged stably; ``transform`` selects the columns batch by batch.

    Parameters
    ----------
    threshold : float, default=0
        Features with a variance at most this are removed. With 0, a
        feature is removed when its values are all equal (the variance is
        then taken no larger than the range, as scikit-learn's).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same variances for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    variances_ : ndarray of shape (n_features,)
        Variances of the features.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCVarianceThreshold
    >>> X = np.array([[0, 2, 0, 3], [0, 1, 4, 3], [0, 1, 1, 3]])
    >>> OOCVarianceThreshold(batch_size=2).fit_transform(X)
    array([[2, 0],
           [1, 4],
           [1, 1]])
    """

    _parameter_constraints: dict = {
        **VarianceThreshold._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    _accept_sparse = True

    def __init__(self, threshold=0.0, *, batch_size="auto", n_jobs=None, verbose=0):
        self.threshold = threshold
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _summarize(self, batch):
        return ColumnMoments.of_rows(batch.X)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Learn the variance of every feature from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, sparse matrix or table \
                of shape (n_samples, n_features)
            The rows (NaN allowed, left out of the variances).
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        with self._transaction():
            source = self._source(X, reset=True, batch_size=batch_size)
            moments = self._reduce(source, desc="variances")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                variances = moments.variance()
                if self.threshold == 0:
                    ranges = moments.high - moments.low
                    variances = np.nanmin(np.array([variances, ranges]), axis=0)
            self.variances_ = variances
            if np.all(~np.isfinite(variances) | (variances <= self.threshold)):
                message = (
                    f"No feature in X meets the variance threshold {self.threshold:.5f}"
                )
                if source.n_samples == 1:
                    message += " (X contains only one sample)"
                raise ValueError(message)
            self._is_fitted = True
        return self

    def transform(self, X):
        """The columns of ``X`` whose variance exceeds the threshold, batch by
        batch (lazily for a LazyArray).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray, sparse matrix or LazyArray of shape (n_samples, n_selected)
        """
        check_is_fitted(self)
        if sp.issparse(X):
            return super().transform(X)
        return select_columns(self, X, self.get_support())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
