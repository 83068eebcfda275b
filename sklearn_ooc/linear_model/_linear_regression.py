"""Ordinary least squares from the QR factor of the rows, merged batch by batch."""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg, optimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import Interval

from .._blas import QR_CHUNK_ROWS, qr_update
from .._kernels import least_squares_rows
from .._out_of_core import register
from .._stats import TriangularFactor
from ..base import ClosedFormMixin, StreamingRegressorMixin
from ._ridge import TargetsMixin

# Rows of the start of the data whose mean shifts the rows before they are
# factored (the factor of rows near the origin keeps its digits).
_SHIFT_ROWS = 64


class FactoredRowsMixin(TargetsMixin):
    """Regressors fitted from the triangular factor of their weighted rows.

    ``_summarize`` factors the rows ``sqrt(w) * [1, X - shift, y - y_shift]``
    of each batch (:class:`~sklearn_ooc._stats.TriangularFactor`), the shift
    the mean of the first rows when an intercept is fitted (none otherwise);
    :meth:`_blocks` reads from the merged factor the weighted means and the
    factor of the centered rows, or of the raw rows without intercept.
    """

    # The sums of each chunk of rows show a NaN or an infinity of X: the data
    # layer leaves X's check to them (see TriangularFactor.finite).
    _summaries_reveal_nonfinite = True

    def _prepare(self, source, fresh):
        if fresh:
            self._sparse = sp.issparse(source.X)
            if self.fit_intercept and source.n_samples:
                rows = np.arange(min(source.n_samples, _SHIFT_ROWS))
                head = np.asarray(source.take(rows), dtype=np.float64)
                targets = np.asarray(source.y[: rows.size], dtype=np.float64)
                self._shift = head.mean(axis=0)
                self._y_shift = targets.reshape(rows.size, -1).mean(axis=0)
            else:
                self._shift = np.zeros(source.n_features)
                self._y_shift = 0.0
        else:
            self._sparse = self._sparse or sp.issparse(source.X)

    def _summarize(self, batch):
        n, d = batch.X.shape
        y = batch.y.reshape(n, -1)
        width = 1 + d + y.shape[1]
        root = np.empty(0)
        if batch.sample_weight is not None:
            root = np.sqrt(np.asarray(batch.sample_weight, dtype=np.float64))
        y_shift = np.zeros(y.shape[1]) + self._y_shift
        factor = np.zeros((width, width), order="F")
        # The rows are built a chunk at a time, column-major and in cache,
        # where LAPACK factors them below the factor so far: the batch's
        # rows are read once.
        chunk = max(1, min(n, QR_CHUNK_ROWS))
        rows = batch.workspace.get("least_squares_chunk", width, chunk).T
        finite = True
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            part = rows[: stop - start]
            least_squares_rows(
                batch.X[start:stop],
                y[start:stop],
                root[start:stop],
                self._shift,
                y_shift,
                part,
            )
            # A NaN or an infinity in X (whose check the data layer leaves
            # to these statistics) makes the sum of its chunk's rows one.
            finite = finite and bool(np.isfinite(part.sum()))
            qr_update(factor, part, overwrite_rows=True)
        weight = n if batch.sample_weight is None else np.sum(batch.sample_weight)
        return TriangularFactor(n, float(weight), np.triu(factor), finite)

    def _blocks(self, stats):
        """``(X_mean, y_mean, R)``: the weighted means of the columns, and the
        factor of the centered rows ``[X, y]`` (with an intercept) or of the
        rows themselves (without)."""
        if not stats.weight > 0:
            raise ValueError(
                "Sample weights must contain at least one non-zero number: every "
                "row seen has weight zero"
            )
        d = self.n_features_in_
        factor = stats.factor
        # The first row of the factor holds the weighted sums of the columns
        # over the norm of the column of (root) weights.
        offsets = factor[0, 1:] / factor[0, 0]
        X_mean = self._shift + offsets[:d]
        y_mean = self._y_shift + offsets[d:]
        if self.fit_intercept:
            # Below the column of ones: the factor of the rows less its part.
            centered = factor[1:, 1:].copy()
            # A column constant over the rows of weight (a constant feature,
            # or a single row) leaves only the rounding of its removal, a few
            # units in the last place of the column: exactly zero in the
            # centered rows, as scikit-learn's subtraction of the mean gives
            # it, whatever rows the shift was taken from.
            norms = np.linalg.norm(factor[:, 1:], axis=0)
            rounding = 4 * np.finfo(np.float64).eps * factor.shape[0] * norms
            constant = np.linalg.norm(centered, axis=0) <= rounding
            centered[:, constant] = 0.0
            return X_mean, y_mean, centered
        rows = TriangularFactor.of_rows(np.ascontiguousarray(factor[:, 1:]))
        return X_mean, y_mean, rows.factor

    def _set_coef(self, coef, X_offset, y_offset):
        """``coef_`` and ``intercept_`` (shaped as scikit-learn's) from the
        coefficients ``(n_targets, n_features)`` and the offsets."""
        dtype = self._X_dtype
        coef = coef.astype(dtype, copy=False)
        if self.fit_intercept:
            intercept = (y_offset - X_offset @ coef.T).astype(dtype, copy=False)
        if not self._y_shape:
            self.coef_ = coef[0]
            self.intercept_ = intercept[0] if self.fit_intercept else 0.0
        else:
            self.coef_ = coef
            self.intercept_ = intercept if self.fit_intercept else 0.0

    def _predict_batch(self, X):
        return X @ self.coef_.T + self.intercept_


@register(LinearRegression)
class StreamingLinearRegression(
    FactoredRowsMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    """Ordinary least squares fitted exactly from data read one batch at a time.

    Minimizes ``||y - Xw||^2_2`` as :class:`sklearn.linear_model.LinearRegression`
    does. Each batch of rows ``[1, X, y]`` (times the square roots of the
    sample weights) is reduced to the triangular factor ``R`` of its QR
    decomposition, and the factors of the batches are merged by factoring
    them stacked: one pass gives the factor of all the rows, whose block
    below the column of ones is that of the centered rows. The solution is
    then scikit-learn's, :func:`scipy.linalg.lstsq` on the centered rows,
    computed on that block: the same singular values, the same cutoff, the
    same minimum-norm solution when the columns are collinear, and no loss of
    digits to the squared condition number of the normal equations.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept (the rows are centered through the
        column of ones, never copied).
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified:
        batches are read into buffers of their own.
    tol : float, default=1e-6
        Singular values of the centered ``X`` below ``tol`` times the largest
        count as zero (the ``cond`` of :func:`scipy.linalg.lstsq`, as
        scikit-learn passes it for dense ``X``). scikit-learn's solver for
        sparse ``X`` (LSQR) stops at this tolerance; the solve here is exact
        for sparse ``X`` too.
    n_jobs : int, default=None
        Threads factoring batches in parallel (BLAS runs single-threaded
        inside each). ``None`` means 1, ``-1`` all cores. The result is
        bitwise the same for every value.
    positive : bool, default=False
        Constrain the coefficients to be non-negative: the non-negative least
        squares solution (:func:`scipy.optimize.nnls`, as scikit-learn), on
        the factor, which has the same solution as the rows.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows. Sparse ``X``
        is densified one batch at a time.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients; 2-D when ``y`` is 2-D, as in scikit-learn. Of
        X's dtype (float32 stays float32; computations are in float64).
    rank_ : int
        Rank of the centered ``X`` (only for dense ``X``, as scikit-learn).
    singular_ : ndarray of shape (min(n_samples, n_features),)
        Singular values of the centered, weighted ``X`` (only for dense ``X``).
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` if ``fit_intercept=False``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from (by ``fit``, or by all ``partial_fit`` calls).

    See Also
    --------
    sklearn.linear_model.LinearRegression : The in-memory estimator this one
        equals.
    StreamingRidge : The same with an L2 penalty.

    Notes
    -----
    Memory: one batch of rows per thread, a chunk of 1,024 of them (built
    in cache and factored there) and ``(n_features + n_targets + 1)^2``
    floats, whatever the number of rows. ``partial_fit`` merges the
    factor of the new rows into that of all rows seen: any sequence of calls
    gives the model fitted on their concatenation.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.linear_model import StreamingLinearRegression
    >>> X = np.array([[1, 1], [1, 2], [2, 2], [2, 3]], dtype=float)
    >>> y = X @ [1.0, 2.0] + 3.0
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, X)
    >>> model = StreamingLinearRegression().fit(path, y, batch_size=3)
    >>> model.coef_.round(12), float(model.intercept_.round(12))
    (array([1., 2.]), 3.0)
    >>> model.predict(np.array([[3.0, 5.0]])).round(12)
    array([16.])
    """

    _requires_y = True

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "positive": ["boolean"],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        *,
        fit_intercept=True,
        copy_X=True,
        tol=1e-6,
        n_jobs=None,
        positive=False,
        batch_size="auto",
        verbose=0,
    ):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.batch_size = batch_size
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = not self.positive
        return tags

    def _source(
        self, X, y=None, sample_weight=None, *, reset, batch_size=None, fitting=False
    ):
        if fitting and self.positive and sp.issparse(X):
            raise TypeError(
                "Sparse data was passed for X, but dense data is required. Use "
                "'.toarray()' to convert to a dense numpy array (positive=True "
                "needs dense X, as in scikit-learn)."
            )
        return super()._source(
            X, y, sample_weight, reset=reset, batch_size=batch_size, fitting=fitting
        )

    def _from_summaries(self, stats):
        d = self.n_features_in_
        X_mean, y_mean, factor = self._blocks(stats)
        R, Qty = factor[:d, :d], factor[:d, d:]
        if self.positive:
            n_targets = Qty.shape[1]
            coef = np.vstack([optimize.nnls(R, Qty[:, j])[0] for j in range(n_targets)])
            for name in ("rank_", "singular_"):
                self.__dict__.pop(name, None)
        else:
            solution, _, rank, singular = linalg.lstsq(
                R, Qty, cond=self.tol, check_finite=False
            )
            coef = solution.T
            if self._sparse:
                for name in ("rank_", "singular_"):
                    self.__dict__.pop(name, None)
            else:
                self.rank_ = int(rank)
                self.singular_ = singular[: min(int(stats.count), d)].astype(
                    self._X_dtype, copy=False
                )
        self._set_coef(coef, X_mean, y_mean)
        self.n_samples_seen_ = int(stats.count)
