"""Mergeable sufficient statistics.

A statistic summarizes a batch of rows; ``a + b`` is the statistic of the rows
of both, computed with Chan, Golub and LeVeque's centered update so that data
far from the origin (a mean of 1e6 and a spread of 1) keeps all its digits.
Statistics are small, picklable, and never share arrays with their operands:
``a + b`` returns a new object, ``a += b`` updates ``a`` only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ._kernels import column_sums_and_cross, shifted_weighted_rows

# Rows averaged to pick the shift of a batch: enough to land within a fraction
# of a standard deviation of the batch mean, few enough to cost nothing.
_SHIFT_ROWS = 64


class Workspace:
    """Scratch buffers reused from batch to batch by one worker thread.

    Fresh batch-sized temporaries cost page faults on every batch; a worker
    keeps one buffer per name and hands out row slices of it.
    """

    def __init__(self):
        self._buffers = {}

    def get(self, name, n_rows, n_cols):
        """A C-contiguous float64 array of shape ``(n_rows, n_cols)``."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < n_rows or buf.shape[1] != n_cols:
            buf = np.empty((n_rows, n_cols))
            self._buffers[name] = buf
        return buf[:n_rows]


class WorkspacePool:
    """One :class:`Workspace` per thread, alive as long as the pool."""

    def __init__(self):
        self._local = threading.local()

    def get(self):
        ws = getattr(self._local, "workspace", None)
        if ws is None:
            ws = self._local.workspace = Workspace()
        return ws


@dataclass
class Moments:
    """Weighted count, mean and centered scatter of a set of rows.

    Leading dimensions stack independent moment sets (one per mixture
    component, per class, per fold): ``weight`` has shape ``batch``, ``mean``
    ``batch + (p,)`` and ``scatter`` ``batch + (p, p)`` (full) or
    ``batch + (p,)`` (diagonal only).

    Attributes
    ----------
    count : int
        Number of rows summarized, whatever their weights.
    weight : ndarray
        Sum of the row weights.
    mean : ndarray
        Weighted mean of the rows (zero where ``weight`` is zero).
    scatter : ndarray
        ``sum_i w_i (z_i - mean)(z_i - mean)^T``, or its diagonal.
    mean_error : ndarray
        Rounding error of ``mean`` (the mean is ``mean + mean_error`` to about
        twice float64 precision). Merging thousands of small batches of data
        far from the origin would otherwise add one rounding of the mean per
        merge; with it, the mean stays within one rounding of the truth.
    """

    count: int
    weight: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray
    mean_error: np.ndarray = None

    def __post_init__(self):
        if self.mean_error is None:
            self.mean_error = np.zeros_like(self.mean)

    @classmethod
    def zero(cls, n_features, *, batch_shape=(), diagonal=False):
        """The statistic of no rows."""
        shape = tuple(batch_shape)
        scatter_shape = shape + ((n_features,) if diagonal else (n_features,) * 2)
        return cls(
            count=0,
            weight=np.zeros(shape),
            mean=np.zeros(shape + (n_features,)),
            scatter=np.zeros(scatter_shape),
        )

    @classmethod
    def from_shifted_sums(cls, count, weight, shift, sums, scatter):
        """Moments from sums and a scatter taken about ``shift`` (per set).

        ``sums`` is ``sum_i w_i (z_i - shift)`` and ``scatter`` the same sum
        of outer products (or squares, for a diagonal scatter); ``scatter``
        is corrected in place to the scatter about the mean.
        """
        weight = np.asarray(weight, dtype=np.float64)
        expand = weight[..., None]
        delta = np.zeros_like(sums)
        np.divide(sums, expand, out=delta, where=expand > 0)
        if scatter.ndim == sums.ndim:
            scatter -= expand * delta**2
        else:
            scatter -= expand[..., None] * (delta[..., :, None] * delta[..., None, :])
        mean, mean_error = _two_sum(shift, delta)
        # A set without weight has mean zero, wherever its shift was.
        mean = np.where(expand > 0, mean, 0.0)
        mean_error = np.where(expand > 0, mean_error, 0.0)
        return cls(count, weight, mean, scatter, mean_error)

    def lost_digits(self, shift):
        """Decimal digits the scatter lost by being taken about ``shift``.

        Removing ``weight (mean - shift)^2`` from the scatter about the shift
        cancels ``log10(1 + weight (mean - shift)^2 / scatter)`` digits: none
        to speak of when the shift is within a standard deviation of the
        mean, all sixteen when data at 1e8 are taken about the origin.
        """
        delta = (self.mean - shift) + self.mean_error
        spread = (
            self.scatter
            if self.diagonal
            else np.diagonal(self.scatter, axis1=-2, axis2=-1)
        )
        moved = self.weight[..., None] * delta**2
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(moved > 0, moved / spread, 0.0)
        ratio = np.where(spread > 0, ratio, np.where(moved > 0, np.inf, 0.0))
        return float(np.log10(1 + ratio.max())) if ratio.size else 0.0

    @property
    def diagonal(self):
        """Whether only the diagonal of the scatter is kept."""
        return self.scatter.ndim == self.mean.ndim

    def covariance(self, ddof=0):
        """Scatter divided by ``weight - ddof`` (zero where that is not positive)."""
        denom = np.asarray(self.weight - ddof, dtype=float)
        expand = denom.reshape(denom.shape + (1,) * (self.scatter.ndim - denom.ndim))
        out = np.zeros_like(self.scatter)
        np.divide(self.scatter, expand, out=out, where=expand > 0)
        return out

    def scaled(self, factor):
        """The moments of the same rows with every weight times ``factor``."""
        return Moments(
            self.count,
            self.weight * factor,
            self.mean.copy(),
            self.scatter * factor,
            self.mean_error.copy(),
        )

    def copy(self):
        return Moments(
            self.count,
            self.weight.copy(),
            self.mean.copy(),
            self.scatter.copy(),
            self.mean_error.copy(),
        )

    def __add__(self, other):
        return self.copy().__iadd__(other)

    def __iadd__(self, other):
        if not isinstance(other, Moments):
            return NotImplemented
        if other.mean.shape != self.mean.shape or other.diagonal != self.diagonal:
            raise ValueError(
                f"cannot merge moments of shape {other.mean.shape} into moments of "
                f"shape {self.mean.shape}"
            )
        total = self.weight + other.weight
        frac = np.zeros_like(total)
        np.divide(other.weight, total, out=frac, where=total > 0)
        rest = np.zeros_like(total)
        np.divide(self.weight, total, out=rest, where=total > 0)
        delta = (other.mean - self.mean) + (other.mean_error - self.mean_error)
        # Wa * Wb / (Wa + Wb), the weight of the between-sets scatter.
        between = self.weight * frac
        mean, mean_error = _merged_mean(
            self, other, delta, rest[..., None], frac[..., None]
        )
        # A set that had no weight takes the other's mean as it is, with its
        # rounding error: passing it through the update would round it away.
        empty = (self.weight == 0)[..., None]
        self.mean = np.where(empty, other.mean, mean)
        self.mean_error = np.where(empty, other.mean_error, mean_error)
        if self.diagonal:
            correction = between[..., None] * delta**2
        else:
            correction = between[..., None, None] * (
                delta[..., :, None] * delta[..., None, :]
            )
        self.scatter = self.scatter + other.scatter + correction
        self.weight = total
        self.count = self.count + other.count
        return self


def _head(X, Y, sample_weight):
    """Weighted mean and variance of the first rows of ``[X, Y]``."""
    head = slice(0, min(X.shape[0], _SHIFT_ROWS))
    w = np.ones(head.stop) if sample_weight is None else sample_weight[head]
    if not w.sum() > 0:
        w = np.ones(head.stop)
    Z = np.hstack([X[head], Y[head]]).astype(np.float64, copy=False)
    mean = (w @ Z) / w.sum()
    var = (w @ (Z - mean) ** 2) / w.sum()
    return mean, var


def _merged_mean(a, b, delta, share_a, share_b):
    """The mean of two sets, with its rounding error (``mean_error``).

    ``delta`` is ``b``'s mean less ``a``'s, the shares are each set's part of
    the total weight. The mean moves from the heavier set's by the lighter
    one's share of ``delta``: a share near 1, taken the other way, would
    carry its rounding into the whole difference.
    """
    return np.where(
        share_b > share_a,
        _two_sum(b.mean, b.mean_error - share_a * delta),
        _two_sum(a.mean, a.mean_error + share_b * delta),
    )


def _two_sum(a, b):
    """``a + b`` rounded, and the exact rounding error (Knuth's TwoSum)."""
    total = a + b
    b_part = total - a
    error = (a - (total - b_part)) + (b - b_part)
    return total, error


# Digits a scatter may lose to the shift it was taken about before the batch
# is summed again about its mean (see Moments.lost_digits).
_MAX_LOST_DIGITS = 0.5


def _moments_about_zero(X, Y):
    """Moments from the raw products of unweighted float64 rows.

    For rows whose mean is within a standard deviation of the origin, zero
    is as good a shift as any: ``X.T @ X`` runs on the batch in place (a
    memory map is not copied) and the target products stream in one read.
    """
    n, d = X.shape
    x_sums, y_sums, xy, yy = column_sums_and_cross(X, Y)
    scatter = np.empty((d + Y.shape[1],) * 2)
    scatter[:d, :d] = X.T @ X
    scatter[:d, d:] = xy
    scatter[d:, :d] = xy.T
    scatter[d:, d:] = yy
    sums = np.concatenate([x_sums, y_sums])
    return Moments.from_shifted_sums(n, n, np.zeros_like(sums), sums, scatter)


def _moments_about_shift(X, Y, w, shift, rows):
    """Moments from ``sqrt(w) * ([X, Y] - shift)`` written to ``rows``."""
    sums, weight = shifted_weighted_rows(X, Y, w, shift, rows)
    return Moments.from_shifted_sums(X.shape[0], weight, shift, sums, rows.T @ rows)


def moments_of_rows(X, Y=None, sample_weight=None, workspace=None):
    """Moments of the rows of ``[X, Y]``, weighted by ``sample_weight``.

    The scatter is computed about a shift within a standard deviation of the
    mean, so no digits are lost to cancellation however far the data are
    from the origin: the weighted mean of the first rows, or zero for
    unweighted float64 rows already near the origin (then nothing is copied).
    A batch whose first rows misled the choice is summed again about its mean.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        float32 or float64, C-contiguous; computations are in float64.
    Y : ndarray of shape (n_samples, n_targets), default=None
        Columns appended to ``X`` (the targets of a supervised model).
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights; ``None`` means unit weights.
    workspace : Workspace, default=None
        Where shifted rows are written; a fresh buffer if ``None``.

    Returns
    -------
    Moments
        With ``mean`` of length ``n_features + n_targets`` and a full scatter.
    """
    n, d = X.shape
    if Y is None:
        Y = np.empty((n, 0))
    t = Y.shape[1]
    if n == 0:
        return Moments.zero(d + t)
    shift, var = _head(X, Y, sample_weight)
    if sample_weight is None and X.dtype == np.float64 and np.all(shift**2 <= var):
        moments = _moments_about_zero(X, Y)
        if moments.lost_digits(0.0) <= _MAX_LOST_DIGITS:
            return moments
    w = np.empty(0) if sample_weight is None else sample_weight
    if workspace is None:
        rows = np.empty((n, d + t))
    else:
        rows = workspace.get("shifted_rows", n, d + t)
    moments = _moments_about_shift(X, Y, w, shift, rows)
    if moments.lost_digits(shift) > _MAX_LOST_DIGITS:
        moments = _moments_about_shift(X, Y, w, moments.mean, rows)
    return moments


def diagonal_moments_of_rows(X, sample_weight=None):
    """Weighted count, mean and diagonal scatter of rows (two-pass).

    For when only the variance of each feature is needed: no ``d x d``
    product.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    weight = w.sum()
    if not weight > 0:
        out = Moments.zero(X.shape[1], diagonal=True)
        out.count = X.shape[0]
        return out
    # The corrected two-pass mean: the plain mean, then the mean of the rows
    # about it, whose rounding is kept as in moments_of_rows; no digits are
    # lost to data far from the origin.
    shift = (w @ X) / weight
    shifted = X - shift
    delta = (w @ shifted) / weight
    scatter = w @ (shifted - delta) ** 2
    mean, mean_error = _two_sum(shift, delta)
    return Moments(X.shape[0], np.float64(weight), mean, scatter, mean_error)


@dataclass
class MixtureStats:
    """What one pass of EM learns: per-component moments and the likelihood.

    ``moments`` stacks the responsibility-weighted moments of the components
    (``weight`` is the expected count of each); ``log_likelihood`` is the sum
    of the rows' log-likelihoods under the parameters of the pass.
    """

    log_likelihood: float
    moments: Moments

    @property
    def count(self):
        return self.moments.count

    def scaled(self, factor):
        """Statistics with every row weighted ``factor`` times."""
        return MixtureStats(self.log_likelihood * factor, self.moments.scaled(factor))

    def __add__(self, other):
        return MixtureStats(
            self.log_likelihood + other.log_likelihood, self.moments + other.moments
        )


def largest_positive(vectors):
    """``vectors`` (rows) with signs such that each one's entry of largest
    magnitude is positive, scikit-learn's ``svd_flip`` convention.

    Singular and eigen-vectors are defined up to their sign; fixing it makes
    every way of reaching the same statistics give the same vectors.
    """
    biggest = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(vectors.shape[0]), biggest])
    signs[signs == 0] = 1.0
    return vectors * signs[:, None]


def _positive_root(rows):
    """The R factor of ``rows`` with a non-negative diagonal.

    A QR factor is unique up to the signs of its rows; fixing them makes it
    the upper Cholesky factor of ``rows.T @ rows``, so that every way of
    reaching the same rows reaches the same factor.
    """
    root = np.linalg.qr(rows, mode="r")
    signs = np.sign(np.diagonal(root)).copy()
    signs[signs == 0] = 1.0
    return root * signs[:, None]


@dataclass
class RootMoments:
    """Count, mean and the triangular square root of the centered scatter.

    ``root`` is the R factor of the centered rows (``root.T @ root`` is the
    scatter): its singular values and right singular vectors are those of the
    centered data, as accurate as an SVD of the data itself, where an
    eigen-decomposition of the scatter squares the condition number and
    loses the small components. Two sets merge by factoring again their two
    roots stacked over the scaled difference of their means (the TSQR
    reduction), with the mean carried as in :class:`Moments`.

    Attributes
    ----------
    count : int
        Number of rows.
    mean : ndarray of shape (n_features,)
        Mean of the rows.
    root : ndarray of shape (k, n_features)
        Upper trapezoidal with a non-negative diagonal; ``k <= n_features``
        (a merge of few rows may keep more rows than the count needs).
    mean_error : ndarray of shape (n_features,)
        Rounding error of ``mean``.
    """

    count: int
    mean: np.ndarray
    root: np.ndarray
    mean_error: np.ndarray = None

    def __post_init__(self):
        if self.mean_error is None:
            self.mean_error = np.zeros_like(self.mean)

    @classmethod
    def of_rows(cls, X, workspace=None):
        """The statistic of the rows of ``X`` (float32 or float64)."""
        n, d = X.shape
        if n == 0:
            return cls(0, np.zeros(d), np.zeros((0, d)))
        shift = np.asarray(X[0], dtype=np.float64)
        rows = np.empty((n, d)) if workspace is None else workspace.get("root", n, d)
        np.subtract(X, shift, out=rows)
        # Centered twice: the second mean removes the rounding of the first.
        delta = rows.mean(axis=0)
        rows -= delta
        again = rows.mean(axis=0)
        rows -= again
        mean, mean_error = _two_sum(shift, delta + again)
        return cls(n, mean, _positive_root(rows), mean_error)

    @property
    def scatter(self):
        """``sum_i (x_i - mean)(x_i - mean)^T``."""
        return self.root.T @ self.root

    def spectrum(self):
        """Singular values (``n_features`` of them, decreasing, zero-padded)
        and right singular vectors (rows, signed by :func:`largest_positive`)
        of the centered data."""
        d = self.mean.shape[0]
        _, values, vectors = np.linalg.svd(self.root, full_matrices=True)
        values = np.concatenate([values, np.zeros(d - values.shape[0])])
        return values, largest_positive(vectors)

    def __add__(self, other):
        if not isinstance(other, RootMoments):
            return NotImplemented
        if other.mean.shape != self.mean.shape:
            raise ValueError(
                f"cannot merge statistics of {other.mean.shape[0]} features into "
                f"statistics of {self.mean.shape[0]}"
            )
        if other.count == 0 or self.count == 0:
            kept = self if other.count == 0 else other
            return RootMoments(
                self.count + other.count,
                kept.mean.copy(),
                kept.root.copy(),
                kept.mean_error.copy(),
            )
        count = self.count + other.count
        frac = other.count / count
        delta = (other.mean - self.mean) + (other.mean_error - self.mean_error)
        mean, mean_error = _merged_mean(self, other, delta, self.count / count, frac)
        between = np.sqrt(self.count * frac) * delta
        stacked = np.vstack([self.root, other.root, between[None, :]])
        return RootMoments(count, mean, _positive_root(stacked), mean_error)


@dataclass
class GroupedMoments:
    """Statistics of the rows of each group (class): merged group by group.

    ``of_rows`` gives each group's statistic: :func:`moments_of_rows` by
    default, or :meth:`RootMoments.of_rows`.
    """

    groups: dict

    @classmethod
    def of_batch(cls, X, labels, workspace=None, of_rows=None):
        of_rows = of_rows or moments_of_rows
        labels = np.ravel(labels)
        groups = {}
        for label in np.unique(labels):
            rows = np.ascontiguousarray(X[labels == label])
            groups[label.item() if hasattr(label, "item") else label] = of_rows(
                rows, workspace=workspace
            )
        return cls(groups)

    def __add__(self, other):
        merged = dict(self.groups)
        for label, moments in other.groups.items():
            merged[label] = merged[label] + moments if label in merged else moments
        return GroupedMoments(merged)


@dataclass
class LabelSet:
    """The distinct labels of a set of rows; merging is set union."""

    labels: np.ndarray

    @classmethod
    def of(cls, y):
        return cls(np.unique(np.ravel(y)))

    def __add__(self, other):
        return LabelSet(np.union1d(self.labels, other.labels))


@dataclass
class RegressionScore:
    """Sums behind the coefficient of determination of a regressor.

    ``targets`` holds the weighted moments of the true values (diagonal
    scatter: the total sum of squares per output) and ``residual`` the
    weighted sum of squared residuals per output.
    """

    targets: Moments
    residual: np.ndarray

    @classmethod
    def of_batch(cls, y_true, y_pred, sample_weight=None):
        y_true = y_true[:, None] if y_true.ndim == 1 else y_true
        y_pred = y_pred.reshape(y_true.shape)
        w = np.ones(y_true.shape[0]) if sample_weight is None else sample_weight
        # In float64 whatever the rows: squares of float32 lose digits, and
        # the smallest ones underflow to zero.
        residual = w @ np.subtract(y_true, y_pred, dtype=np.float64) ** 2
        return cls(diagonal_moments_of_rows(y_true, w), residual)

    def __add__(self, other):
        return RegressionScore(
            self.targets + other.targets, self.residual + other.residual
        )

    def r2(self):
        """R² averaged uniformly over outputs, as :func:`sklearn.metrics.r2_score`."""
        total = self.targets.scatter
        residual = self.residual
        scores = np.ones_like(total)
        nonzero = total != 0
        scores[nonzero] = 1 - residual[nonzero] / total[nonzero]
        # A constant target: perfect only if predicted exactly (force_finite).
        scores[~nonzero & (residual != 0)] = 0.0
        return float(np.mean(scores))
