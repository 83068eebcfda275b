"""SplineTransformer fitted out of core: knots from streamed extremes or
exact quantiles."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.preprocessing import SplineTransformer

from .._out_of_core import register
from ..base import OutOfCoreMixin
from ._quantile import (
    Pair,
    StreamedFitMixin,
    _Masked,
    column_quantiles,
    count_pass,
    extremes_of,
    weighted_quantiles,
)
from ._streaming_transformer import _any_nonzero

_NAN_ERROR = (
    "Input X contains NaN values and `SplineTransformer` is configured "
    "to error in this case (handle_missing='error'). To avoid this "
    "error, set handle_missing='zeros' to encode missing values as "
    "splines with value 0 or ensure no missing values in X."
)


class _GivenKnots(SplineTransformer):
    """scikit-learn's SplineTransformer whose base knots are given (computed
    from the streamed passes): its ``fit`` builds the B-splines from them
    with scikit-learn's own code, whatever rows it is given."""

    _base_knots = None

    def _get_base_knot_positions(self, X, n_knots=10, knots="uniform", **kwargs):
        return self._base_knots


class _DenseSplines(SplineTransformer):
    """scikit-learn's transform with ``sparse_output=True``, densified: the
    rows of a batch, for a LazyArray (whose blocks are dense)."""

    def transform(self, X):
        out = super().transform(X)
        return out.toarray() if sp.issparse(out) else out


def _with_weights(batch, dtype):
    """The batch with its weights rounded to ``dtype``, as scikit-learn's
    ``_check_sample_weight(sample_weight, X, dtype=X.dtype)`` rounds them."""
    out = _Masked(batch, batch.X)
    if batch.sample_weight is not None and dtype != np.float64:
        out.sample_weight = batch.sample_weight.astype(dtype).astype(np.float64)
    return out


@register(SplineTransformer)
class OOCSplineTransformer(StreamedFitMixin, OutOfCoreMixin, SplineTransformer):
    """:class:`sklearn.preprocessing.SplineTransformer` fitted in streamed passes.

    The base knots are scikit-learn's, bit for bit, and the B-splines are
    built from them by scikit-learn's own code:

    - ``knots="uniform"``: one pass finds the extremes of each column over
      the rows of non-zero weight (NaN ignored);
    - ``knots="quantile"``: the percentiles of each column by exact
      selection (a counting pass, a few histogram passes, one pass that
      collects the values near each wanted order statistic), interpolated as
      :func:`numpy.nanpercentile` does, or, with ``sample_weight``, as
      scikit-learn's weighted percentile (inverted CDF) does;
    - knots given as an array: one pass checks the rows.

    ``transform`` of a :class:`~sklearn_ooc.data.LazyArray` or a table
    returns a LazyArray that transforms each batch as it is read (dense rows,
    also with ``sparse_output=True``); data in memory is transformed by
    scikit-learn's ``transform``. Memory holds one batch and the selection's
    intervals, never all the rows.

    Parameters
    ----------
    n_knots : int, default=5
        Number of knots of the splines if ``knots`` is ``"uniform"`` or
        ``"quantile"``; at least 2.
    degree : int, default=3
        Polynomial degree of the spline basis.
    knots : {'uniform', 'quantile'} or array-like of shape \
            (n_knots, n_features), default='uniform'
        Knot positions: evenly spaced between the extremes of each column,
        at its quantiles, or the given sorted positions.
    extrapolation : {'error', 'constant', 'linear', 'continue', 'periodic'}, \
            default='constant'
        Values beyond the boundary knots: as scikit-learn.
    include_bias : bool, default=True
        If False, the last spline of each feature is dropped.
    order : {'C', 'F'}, default='C'
        Order of the output array (in-memory inputs).
    handle_missing : {'error', 'zeros'}, default='error'
        ``'error'``: NaN in ``X`` is an error; ``'zeros'``: the splines of a
        missing value are 0 (nulls of a table are missing values).
    sparse_output : bool, default=False
        A sparse CSR matrix for in-memory inputs; a LazyArray of dense rows
        for the others.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 logs each pass; 2 adds a progress bar.

    Attributes
    ----------
    bsplines_ : list of shape (n_features,)
        The :class:`scipy.interpolate.BSpline` of each feature.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_features_out_ : int
        Number of output features.

    See Also
    --------
    sklearn.preprocessing.SplineTransformer : The in-memory transformer this
        one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import OOCSplineTransformer
    >>> X = np.arange(6.0).reshape(6, 1)
    >>> spline = OOCSplineTransformer(degree=2, n_knots=3, batch_size=2).fit(X)
    >>> spline.bsplines_[0].t
    array([-5. , -2.5,  0. ,  2.5,  5. ,  7.5, 10. ])
    >>> spline.transform(X)
    array([[0.5 , 0.5 , 0.  , 0.  ],
           [0.18, 0.74, 0.08, 0.  ],
           [0.02, 0.66, 0.32, 0.  ],
           [0.  , 0.32, 0.66, 0.02],
           [0.  , 0.08, 0.74, 0.18],
           [0.  , 0.  , 0.5 , 0.5 ]])
    """

    _sklearn_class = SplineTransformer
    _parameter_constraints: dict = {
        **SplineTransformer._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        n_knots=5,
        degree=3,
        *,
        knots="uniform",
        extrapolation="constant",
        include_bias=True,
        order="C",
        handle_missing="error",
        sparse_output=False,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            n_knots=n_knots,
            degree=degree,
            knots=knots,
            extrapolation=extrapolation,
            include_bias=include_bias,
            order=order,
            handle_missing=handle_missing,
            sparse_output=sparse_output,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, *, batch_size=None):
        """Compute the knot positions of the splines.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights: of the quantiles for ``knots="quantile"``; rows of
            weight zero are left out of the extremes for ``knots="uniform"``.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        with self._transaction():
            source = self._source(
                X, None, sample_weight, reset=True, batch_size=batch_size
            )
            n_samples, n_features = source.n_samples, source.n_features
            if n_samples < 2:
                raise ValueError(
                    f"Found array with {n_samples} sample(s) (shape=("
                    f"{n_samples}, {n_features})) while a minimum of 2 is "
                    f"required by {type(self).__name__}."
                )
            dtype = np.dtype(source.X.dtype)
            if dtype not in (np.float32, np.float64):
                dtype = np.dtype(np.float64)
            twin = _GivenKnots(**self._sklearn_params())
            given = not isinstance(self.knots, str)
            if given:  # the knots are checked before any row is read
                twin.fit(np.zeros((2, n_features)))
            elif self.extrapolation == "periodic" and self.n_knots <= self.degree:
                raise ValueError(
                    "Periodic splines require degree < n_knots. Got n_knots="
                    f"{self.n_knots} and degree={self.degree}."
                )
            try:
                base_knots, weighted = self._base_knots(source, dtype, given)
            except ValueError as error:
                if self.handle_missing == "error" and "contains NaN" in str(error):
                    raise ValueError(f"{_NAN_ERROR} ({error})") from error
                raise
            if weighted is not None and not weighted:
                raise ValueError(
                    "Sample weights must contain at least one non-zero number."
                )
            if not given:
                twin._base_knots = base_knots
                twin.fit(np.zeros((2, n_features)))
            self.bsplines_ = twin.bsplines_
            self.n_features_out_ = twin.n_features_out_
            self._is_fitted = True
        return self

    def _base_knots(self, source, dtype, given):
        """scikit-learn's ``_get_base_knot_positions`` of the rows (None for
        given knots: the rows are only checked), and whether a weight is not
        zero (None without weights)."""
        n_features = source.n_features
        weighted = source.sample_weight is not None

        def reduce(summarize, desc):
            def weighed(batch):
                return summarize(_with_weights(batch, dtype))

            return self._reduce(source, summarize=weighed, desc=desc)

        def nonzero(batch):
            if batch.sample_weight is None:
                return np.zeros(1, np.int64)
            return np.array([np.count_nonzero(batch.sample_weight)])

        if given:
            total = reduce(nonzero, "check")
            return None, (bool(total[0]) if weighted else None)
        if self.knots == "uniform":

            def extremes(batch):
                X = batch.X
                if batch.sample_weight is not None:
                    X = np.where((batch.sample_weight > 0)[:, None], X, np.nan)
                return Pair(extremes_of(X), nonzero(batch))

            total = reduce(extremes, "extremes")
            ext, found = total.first, total.second
            # the extremes as the two rows of an array, so that scikit-learn's
            # own code spaces the knots (a column without values: NaN, which
            # it reads as 0)
            ends = np.vstack([ext.mins, ext.maxs])
            ends[:, ext.counts == 0] = np.nan
            knots = SplineTransformer._get_base_knot_positions(
                ends, n_knots=self.n_knots, knots="uniform"
            )
            return knots, (bool(found[0]) if weighted else None)
        levels = 100 * np.linspace(start=0, stop=1, num=self.n_knots, dtype=np.float64)
        if weighted:
            knots = weighted_quantiles(reduce, range(n_features), levels, dtype).T
            return knots, _any_nonzero(source)
        counts, mins, maxs = count_pass(reduce, n_features)
        q = np.true_divide(levels, 100)
        return column_quantiles(reduce, counts, mins, maxs, q, dtype), None

    def _twin(self):
        twin = super()._twin()
        if not self.sparse_output:
            return twin
        dense = _DenseSplines(**self._sklearn_params())
        dense.__dict__.update(twin.__dict__)
        return dense
