"""QuantileTransformer fitted out of core: exact quantiles by selection."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import _fit_context
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils import check_random_state, resample

from .._out_of_core import register
from ..base import OutOfCoreMixin
from ._quantile import StreamedFitMixin, column_quantiles, count_pass


@register(QuantileTransformer)
class OOCQuantileTransformer(StreamedFitMixin, OutOfCoreMixin, QuantileTransformer):
    """:class:`sklearn.preprocessing.QuantileTransformer` fitted in streamed passes.

    ``quantiles_`` are scikit-learn's, bit for bit:

    - with no more rows than ``subsample`` (or ``subsample=None``), the
      quantiles of all the rows, by exact selection (a counting pass, a few
      histogram passes, one pass that collects the values near each wanted
      order statistic) and :func:`numpy.nanpercentile`'s interpolation;
    - with more rows, scikit-learn's subsample: the same rows, drawn as
      scikit-learn draws them from ``random_state`` (a shuffle of the row
      numbers, which holds 8 bytes a row while it is drawn), read in one
      pass; the ``subsample`` rows are then held in memory. Pass
      ``subsample=None`` for the exact quantiles of every row without that
      array.

    Parameters
    ----------
    n_quantiles : int, default=1000
        Quantiles computed (landmarks of the cumulative distribution).
    output_distribution : {'uniform', 'normal'}, default='uniform'
        Marginal distribution of the transformed data.
    ignore_implicit_zeros : bool, default=False
        Only for sparse matrices in scikit-learn; warns and does nothing here.
    subsample : int or None, default=10_000
        Rows used to estimate the quantiles (see above).
    random_state : int, RandomState instance or None, default=None
        Seed of the subsample.
    copy : bool, default=True
        As scikit-learn (in-memory inputs of ``transform``).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 logs each pass; 2 adds a progress bar.

    Attributes
    ----------
    n_quantiles_ : int
        Quantiles actually used.
    quantiles_ : ndarray of shape (`n_quantiles_`, n_features)
        The values of the references.
    references_ : ndarray of shape (`n_quantiles_`,)
        Quantiles of references.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.preprocessing.QuantileTransformer : The in-memory transformer
        this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import OOCQuantileTransformer
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> qt = OOCQuantileTransformer(n_quantiles=5, batch_size=3).fit(X)
    >>> qt.quantiles_[:, 0]
    array([ 0. ,  4.5,  9. , 13.5, 18. ])
    >>> qt.transform([[9.0, 1.0]]).round(3)
    array([[0.5, 0. ]])
    """

    _sklearn_class = QuantileTransformer
    _parameter_constraints: dict = {
        **QuantileTransformer._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        *,
        n_quantiles=1000,
        output_distribution="uniform",
        ignore_implicit_zeros=False,
        subsample=10_000,
        random_state=None,
        copy=True,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            n_quantiles=n_quantiles,
            output_distribution=output_distribution,
            ignore_implicit_zeros=ignore_implicit_zeros,
            subsample=subsample,
            random_state=random_state,
            copy=copy,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Compute the quantiles of the columns of ``X``.

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
            The fitted transformer.
        """
        if self.subsample is not None and self.n_quantiles > self.subsample:
            raise ValueError(
                "The number of quantiles cannot be greater than"
                f" the number of samples used. Got {self.n_quantiles} quantiles"
                f" and {self.subsample} samples."
            )
        with self._transaction():
            source = self._source(X, reset=True, batch_size=batch_size)
            n_samples = source.n_samples
            if self.n_quantiles > n_samples:
                warnings.warn(
                    f"n_quantiles ({self.n_quantiles}) is greater than the total "
                    f"number of samples ({n_samples}). n_quantiles is set to "
                    "n_samples.",
                    stacklevel=3,
                )
            n_quantiles = max(1, min(self.n_quantiles, n_samples))
            rng = check_random_state(self.random_state)
            references = np.linspace(0, 1, n_quantiles, endpoint=True)
            if self.ignore_implicit_zeros:
                warnings.warn(
                    "'ignore_implicit_zeros' takes effect only with"
                    " sparse matrix. This parameter has no effect.",
                    stacklevel=3,
                )
            percentiles = references * 100
            if self.subsample is not None and self.subsample < n_samples:
                rows = resample(
                    np.arange(n_samples),
                    replace=False,
                    n_samples=self.subsample,
                    random_state=rng,
                )
                sample = self._take_rows(source, rows)
                quantiles = np.nanpercentile(sample, percentiles, axis=0)
            else:
                dtype = np.dtype(source.X.dtype)
                if dtype not in (np.float32, np.float64):
                    dtype = np.dtype(np.float64)
                reduce = self._reducer(source)
                counts, mins, maxs = count_pass(reduce, source.n_features)
                q = np.true_divide(percentiles, 100)
                quantiles = column_quantiles(reduce, counts, mins, maxs, q, dtype)
            self.n_quantiles_ = n_quantiles
            self.references_ = references
            self.quantiles_ = quantiles
            self._is_fitted = True
        return self

    def inverse_transform(self, X):
        """Back-projection to the original space, as scikit-learn.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Transformed rows.

        Returns
        -------
        ndarray or LazyArray
            The rows in the original space.
        """
        return self._apply("inverse_transform", X)
