"""Mergeable sufficient statistics.

A statistic summarizes a batch of rows; ``a + b`` is the statistic of the rows
of both, computed with Chan, Golub and LeVeque's centered update so that data
far from the origin (a mean of 1e6 and a spread of 1) keeps all its digits.
Statistics are small, picklable, and never share arrays with their operands:
``a + b`` returns a new object, ``a += b`` updates ``a`` only.

Scatters of rows whose products leave float64's range (values beyond about
1e154, or below about 1e-154, in magnitude) are kept, on request, with a
power-of-two scale per column (:attr:`Moments.exponent`): a product scaled by
a power of two is rounded exactly as the unscaled one, so such data get the
statistics of the same data scaled back into range, digit for digit.
Statistics kept without a scale refuse to overflow instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ._blas import QR_CHUNK_ROWS, qr_update, symmetric_from_upper, syrk_update
from ._kernels import (
    centered_columns,
    column_sums_and_cross,
    shifted_column_sums,
    shifted_weighted_rows,
)

# Rows averaged to pick the shift of a batch: enough to land within a fraction
# of a standard deviation of the batch mean, few enough to cost nothing.
_SHIFT_ROWS = 64

# Bytes of the rows whose scatter BLAS takes in one call: few enough to stay
# in L2 cache, so that the sums over the same rows, taken next, do not read
# them from memory again.
_CHUNK_BYTES = 1 << 20

# float32 rows are multiplied in float32 at most this many at a time (their
# sums in float32 grow with the rows), the chunks' products summed in float64.
# 512 to 5,000 rows of 100 columns take the same time.
_SINGLE_CHUNK_ROWS = 1024

# float32 rows are multiplied in float32 when every column's shifted values
# are within 2**+-this in magnitude (or zero): their products, between
# 2**-80 and 2**80, and a chunk's sums of them stay far from float32's limits
# (2**-126, 2**128); values far below a column's largest weigh nothing beside
# it. Other rows are multiplied in float64.
_SINGLE_RANGE_LOG2 = 40

# Column magnitudes (square roots of a scatter's diagonal) within 2**+-this
# are kept unscaled: their products stay between 2**-800 and 2**800, far from
# float64's limits (2**-1022, 2**1024) even summed over 2**63 rows, and rows
# too small to square in full (below 2**-511) weigh nothing beside them.
_RANGE_LOG2 = 400


class Workspace:
    """Scratch buffers reused from batch to batch by one worker thread.

    Fresh batch-sized temporaries cost page faults on every batch; a worker
    keeps one buffer per name and hands out row slices of it.
    """

    def __init__(self):
        self._buffers = {}

    def get(self, name, n_rows, n_cols, dtype=np.float64):
        """A C-contiguous array of shape ``(n_rows, n_cols)`` (float64 unless
        ``dtype`` says otherwise)."""
        buf = self._buffers.get(name)
        if (
            buf is None
            or buf.shape[0] < n_rows
            or buf.shape[1] != n_cols
            or buf.dtype != dtype
        ):
            buf = np.empty((n_rows, n_cols), dtype=dtype)
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
    exponent : ndarray of int64 or None
        Power-of-two scale of each column, shaped as ``mean``: the scatter of
        the rows is ``scatter[..., j, k] * 2**(exponent[j] + exponent[k])``
        (``scatter[..., j] * 2**(2 * exponent[j])`` if diagonal). Zero for
        columns whose magnitude is within ``2**+-400``, so ordinary data are
        never scaled. ``None``: statistics of a caller that reads ``scatter``
        as it is; they are never scaled, and a merge that would overflow
        raises instead. Use :meth:`scatter_at` or :meth:`covariance` to read
        scaled statistics.
    """

    count: int
    weight: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray
    mean_error: np.ndarray = None
    exponent: np.ndarray = None

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
    def from_shifted_sums(cls, count, weight, shift, sums, scatter, exponent=None):
        """Moments from sums and a scatter taken about ``shift`` (per set).

        ``sums`` is ``sum_i w_i (z_i - shift)`` and ``scatter`` the same sum
        of outer products (or squares, for a diagonal scatter), scaled by
        ``exponent`` as :attr:`exponent` says if given; ``scatter`` is
        corrected in place to the scatter about the mean. Raises a
        ``ValueError`` naming the columns if the sums overflowed, or (without
        ``exponent``) the scatter.
        """
        weight = np.asarray(weight, dtype=np.float64)
        expand = weight[..., None]
        delta = np.zeros_like(sums)
        np.divide(sums, expand, out=delta, where=expand > 0)
        scaled = delta if exponent is None else _scale(delta, -exponent)
        diagonal = scatter.ndim == sums.ndim
        # Overflows (and the NaN of rows not checked yet, see
        # Engine.map) are caught, and refused, by the check below.
        with np.errstate(over="ignore", invalid="ignore"):
            if diagonal:
                scatter -= expand * scaled**2
            else:
                scatter -= expand[..., None] * (
                    scaled[..., :, None] * scaled[..., None, :]
                )
            mean, mean_error = _two_sum(shift, delta)
        # A set without weight has mean zero, wherever its shift was.
        mean = np.where(expand > 0, mean, 0.0)
        mean_error = np.where(expand > 0, mean_error, 0.0)
        _check_finite(weight, mean, scatter, diagonal)
        if exponent is not None:
            scatter, exponent = _canonical(scatter, exponent, diagonal)
        return cls(count, weight, mean, scatter, mean_error, exponent)

    def is_finite(self):
        """Whether the mean and the scatter's diagonal are finite.

        They are not if a row summed held a NaN or an infinity: each value
        enters its column's sum of squares (times a zero weight, a NaN).
        """
        diagonal = self.scatter
        if self.scatter.ndim > self.mean.ndim:
            diagonal = np.diagonal(self.scatter, axis1=-2, axis2=-1)
        return bool(np.isfinite(self.mean).all() and np.isfinite(diagonal).all())

    @property
    def exponents(self):
        """:attr:`exponent`, zeros if it is ``None``."""
        if self.exponent is None:
            return np.zeros(self.mean.shape, dtype=np.int64)
        return self.exponent

    def scatter_at(self, exponent):
        """The scatter scaled by ``exponent`` instead of :attr:`exponent`.

        ``exponent`` has the shape of ``mean``; zeros give the scatter
        itself, which overflows to infinity, or underflows, where the true
        scatter leaves float64's range. Entries scaled below that range
        flush to zero: give each column at least its own magnitude's
        exponent (:func:`common_exponent`) and they are negligible beside it.
        """
        shift = _pair(self.exponents - exponent, self.diagonal)
        if not shift.any():
            return self.scatter
        return np.ldexp(self.scatter, shift)

    def log2_magnitude(self):
        """``log2`` of the square root of the scatter's diagonal (``-inf``
        for a column without spread), computed without overflow."""
        spread = (
            self.scatter
            if self.diagonal
            else np.diagonal(self.scatter, axis1=-2, axis2=-1)
        )
        with np.errstate(divide="ignore"):
            return 0.5 * np.log2(np.abs(spread)) + self.exponents

    def about_origin(self):
        """``sum_i w_i z_i z_i^T`` (full scatter only), with its exponents.

        The scatter about the mean plus ``weight * mean mean^T``, scaled
        per column so that neither part overflows: data far from the
        origin have second moments far larger than their scatter.

        Returns
        -------
        scatter : ndarray
            Scaled as :attr:`exponent` says, by the exponents returned.
        exponent : ndarray of int64
        """
        with np.errstate(divide="ignore"):
            moved = 0.5 * np.log2(self.weight)[..., None] + np.log2(np.abs(self.mean))
        exponent = needed_exponent(np.fmax(self.log2_magnitude(), moved))
        mean = _scale(self.mean, -exponent)
        outer = mean[..., :, None] * mean[..., None, :]
        raw = self.scatter_at(exponent) + self.weight[..., None, None] * outer
        return raw, exponent

    def lost_digits(self, shift):
        """Decimal digits the scatter lost by being taken about ``shift``.

        Removing ``weight (mean - shift)^2`` from the scatter about the shift
        cancels ``log10(1 + weight (mean - shift)^2 / scatter)`` digits: none
        to speak of when the shift is within a standard deviation of the
        mean, all sixteen when data at 1e8 are taken about the origin.
        """
        delta = (self.mean - shift) + self.mean_error
        if self.exponent is not None:
            delta = _scale(delta, -self.exponent)
        spread = (
            self.scatter
            if self.diagonal
            else np.diagonal(self.scatter, axis1=-2, axis2=-1)
        )
        with np.errstate(over="ignore"):
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
        """Scatter divided by ``weight - ddof`` (zero where that is not positive).

        Unscaled (see :attr:`exponent`): infinite where it overflows.
        """
        denom = np.asarray(self.weight - ddof, dtype=float)
        expand = denom.reshape(denom.shape + (1,) * (self.scatter.ndim - denom.ndim))
        out = np.zeros_like(self.scatter)
        np.divide(self.scatter, expand, out=out, where=expand > 0)
        if self.exponent is not None:
            with np.errstate(over="ignore"):
                out = np.ldexp(out, _pair(self.exponent, self.diagonal))
        return out

    def scaled(self, factor):
        """The moments of the same rows with every weight times ``factor``."""
        return Moments(
            self.count,
            self.weight * factor,
            self.mean.copy(),
            self.scatter * factor,
            self.mean_error.copy(),
            _copy(self.exponent),
        )

    def copy(self):
        return Moments(
            self.count,
            self.weight.copy(),
            self.mean.copy(),
            self.scatter.copy(),
            self.mean_error.copy(),
            _copy(self.exponent),
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
        mean = np.where(empty, other.mean, mean)
        mean_error = np.where(empty, other.mean_error, mean_error)
        aware = self.exponent is not None or other.exponent is not None
        scatter = None
        if not (_any(self.exponent) or _any(other.exponent)):
            correction = _between_scatter(between, delta, self.diagonal)
            scatter = self.scatter + other.scatter + correction
            if aware and not _unscaled_merge_in_range(scatter, between, delta):
                scatter = None
            elif not aware:
                _check_finite(total, mean, scatter, self.diagonal)
        if scatter is None:
            exponent = _merged_exponent(self, other, between, delta)
            correction = _between_scatter(
                between, _scale(delta, -exponent), self.diagonal
            )
            scatter = self.scatter_at(exponent) + other.scatter_at(exponent)
            # The sum of the parts may pass the next power of two: scaled
            # again, any partition of the rows stores the same numbers.
            scatter, exponent = _canonical(
                scatter + correction, exponent, self.diagonal
            )
        else:
            exponent = np.zeros(self.mean.shape, dtype=np.int64) if aware else None
        self.mean, self.mean_error = mean, mean_error
        self.scatter, self.exponent = scatter, exponent
        self.weight = total
        self.count = self.count + other.count
        return self


def _between_scatter(between, delta, diagonal):
    """``between * delta delta^T`` (or its diagonal), per set; overflows are
    the caller's to catch."""
    with np.errstate(over="ignore", invalid="ignore"):
        if diagonal:
            return between[..., None] * delta**2
        return between[..., None, None] * (delta[..., :, None] * delta[..., None, :])


def _unscaled_merge_in_range(scatter, between, delta):
    """Whether a merge of unscaled parts needs no scale: it did not overflow,
    and neither it nor its between-sets part left the range of
    ``_RANGE_LOG2`` (the parts were checked when they were made)."""
    if not np.all(np.isfinite(scatter)):
        return False
    spread = (
        scatter
        if scatter.ndim == delta.ndim
        else np.diagonal(scatter, axis1=-2, axis2=-1)
    )
    # As a magnitude, not a square: a square could underflow to zero.
    moved = np.sqrt(between)[..., None] * np.abs(delta)
    return _in_range(spread) and _in_range(moved, squared=False)


def _merged_exponent(a, b, between, delta):
    """The exponents of the merge of ``a`` and ``b``: each column takes the
    scale of the largest of the three parts, the between-sets one included;
    smaller parts scaled below float64's range are negligible beside it."""
    with np.errstate(divide="ignore"):
        moved = 0.5 * np.log2(between)[..., None] + np.log2(np.abs(delta))
    return needed_exponent(
        np.fmax(np.fmax(a.log2_magnitude(), b.log2_magnitude()), moved)
    )


def _any(exponent):
    """Whether any exponent (of an :attr:`Moments.exponent`) is non-zero."""
    return exponent is not None and bool(exponent.any())


def _copy(array):
    return None if array is None else array.copy()


def _scale(values, exponent):
    """``values * 2**exponent``, exact; ``values`` itself for zero exponents."""
    if not np.any(exponent):
        return values
    return np.ldexp(values, exponent)


def _pair(exponent, diagonal):
    """The exponent of each scatter entry, from those of the columns."""
    if diagonal:
        return 2 * exponent
    return exponent[..., :, None] + exponent[..., None, :]


def needed_exponent(log2_magnitude):
    """Exponents that bring magnitudes (as ``log2``) out of range to [1/2, 1).

    Zero for magnitudes within ``2**+-_RANGE_LOG2``, and for columns without
    spread (``-inf``), which need no scale.
    """
    log2_magnitude = np.asarray(log2_magnitude, dtype=np.float64)
    exponent = np.zeros(log2_magnitude.shape, dtype=np.int64)
    far = np.isfinite(log2_magnitude) & (np.abs(log2_magnitude) > _RANGE_LOG2)
    exponent[far] = np.floor(log2_magnitude[far]).astype(np.int64) + 1
    return exponent


def _in_range(values, squared=True):
    """Whether magnitudes (squared ones by default) all need no scale (see
    needed_exponent)."""
    bound = 2.0 ** ((2 if squared else 1) * _RANGE_LOG2)
    if values.size and 1 / bound <= values.min() and values.max() <= bound:
        # Every batch of ordinary rows: two reductions, no temporaries.
        return True
    values = np.abs(values)
    return bool(np.all(((values >= 1 / bound) & (values <= bound)) | (values == 0)))


def _canonical(scatter, exponent, diagonal):
    """The same scatter, scaled only for columns out of range."""
    spread = scatter if diagonal else np.diagonal(scatter, axis1=-2, axis2=-1)
    if not exponent.any() and _in_range(spread):
        return scatter, exponent
    with np.errstate(divide="ignore"):
        magnitude = 0.5 * np.log2(np.abs(spread)) + exponent
    wanted = needed_exponent(magnitude)
    shift = _pair(exponent - wanted, diagonal)
    if shift.any():
        scatter = np.ldexp(scatter, shift)
    return scatter, wanted


def common_exponent(moments, *, uniform=False):
    """One exponent per column under which every one of ``moments`` (a
    sequence of statistics of the same columns) is kept without overflow,
    and none loses more than a negligible part to underflow.

    ``uniform``: the same exponent for every column, that of the largest
    magnitude (for what mixes the columns, as a trace or eigenvectors do).
    """
    magnitude = np.full(moments[0].mean.shape[-1], -np.inf)
    for m in moments:
        per_column = m.log2_magnitude().reshape(-1, magnitude.shape[0])
        magnitude = np.fmax(magnitude, per_column.max(axis=0, initial=-np.inf))
    if uniform:
        top = magnitude.max(initial=-np.inf)
        return np.full(magnitude.shape, needed_exponent(top), dtype=np.int64)
    return needed_exponent(magnitude)


def _columns(mask):
    """The column indices flagged in ``mask`` (over any leading dimensions)."""
    if mask.ndim > 1:
        mask = mask.reshape(-1, mask.shape[-1]).any(axis=0)
    return np.flatnonzero(mask).tolist()


def _check_finite(weight, mean, scatter, diagonal):
    """Raise if statistics of finite rows overflowed."""
    # A finite sum has finite terms: one reduction each in the common case.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(scatter) + np.sum(mean) + np.sum(weight)):
            return
    finite = np.isfinite(scatter).all() and np.isfinite(mean).all()
    if finite and np.all(np.isfinite(weight)):
        return
    if not np.all(np.isfinite(weight)):
        raise ValueError(
            "The sum of the sample weights overflows float64; please divide "
            "sample_weight by a constant."
        )
    bad = ~np.isfinite(mean)
    if not diagonal:
        bad = bad | ~np.isfinite(scatter).all(axis=-1)
    else:
        bad = bad | ~np.isfinite(scatter)
    raise ValueError(
        f"The sums of squares of column(s) {_columns(bad)} exceed float64's range "
        "(values beyond about 1e154 in magnitude square to more than 1.8e308, "
        "the largest float64): these statistics cannot be computed. Please "
        "scale the data, e.g. with sklearn.preprocessing.StandardScaler."
    )


def _head(X, Y, sample_weight):
    """Weighted mean of the first rows of ``[X, Y]``, and whether it is
    within a standard deviation of the origin."""
    head = slice(0, min(X.shape[0], _SHIFT_ROWS))
    w = np.ones(head.stop) if sample_weight is None else sample_weight[head]
    if not w.sum() > 0:
        w = np.ones(head.stop)
    Z = np.hstack([X[head], Y[head]]).astype(np.float64, copy=False)
    # A first guess: rows beyond float64's range when squared or summed are
    # caught, and scaled or refused, by the exact computation that follows.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        mean = (w @ Z) / w.sum()
        var = (w @ (Z - mean) ** 2) / w.sum()
        near_origin = bool(np.all(mean**2 <= var))
    if not np.all(np.isfinite(mean)):
        # Rows near float64's largest numbers: their sum overflows, and the
        # median is as good a shift.
        mean = np.where(np.isfinite(mean), mean, np.median(Z, axis=0))
    return mean, near_origin


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


def _out_of_range(scatter, sums, columns):
    """Whether a scatter of raw products lost digits to float64's range.

    It did if it overflowed, or if a column's sum of squares is beyond
    ``2**+-800`` (a magnitude beyond ``2**+-400``: see ``_RANGE_LOG2``),
    except for a column of zeros. A zero sum of squares and a zero sum are
    a column of zeros or of values whose squares underflow (below about
    1e-162) and cancel exactly: ``columns(j)`` gives column ``j`` to tell.
    Checked after the fact, so that rows in range cost nothing more.
    """
    squares = np.diagonal(scatter)
    low, high = 2.0 ** (-2 * _RANGE_LOG2), 2.0 ** (2 * _RANGE_LOG2)
    if low <= squares.min() and squares.max() <= high:
        # Then no product overflowed (|S_jk| <= sqrt(S_jj S_kk)), nor a sum.
        return False
    if not (np.all(np.isfinite(scatter)) and np.all(np.isfinite(sums))):
        return True
    far = ~(
        (squares >= 2.0 ** (-2 * _RANGE_LOG2)) & (squares <= 2.0 ** (2 * _RANGE_LOG2))
    )
    if np.any(far & ((squares != 0) | (sums != 0))):
        return True
    return any(np.any(columns(j)) for j in np.flatnonzero(far))


def _chunk_rows(width):
    """Rows of ``width`` float64 values in ``_CHUNK_BYTES`` (one at least)."""
    return max(1, _CHUNK_BYTES // (8 * max(width, 1)))


def _row_slices(n_rows, step):
    """Consecutive slices of ``n_rows`` rows, ``step`` each (the last fewer)."""
    return [slice(start, min(n_rows, start + step)) for start in range(0, n_rows, step)]


def _shifted_chunks(X, Y, w, shift, rows, peak=None):
    """``sqrt(w) * ([X, Y] - shift)`` a chunk at a time, written to ``rows``
    (a chunk's worth).

    Yields each chunk's rows (a view of ``rows``), weighted sums and weight
    (see :func:`~sklearn_ooc._kernels.shifted_weighted_rows`, which also
    fills ``peak``); ``w`` may be empty (unit weights).
    """
    weighted = w.shape[0] > 0
    for part in _row_slices(X.shape[0], rows.shape[0]):
        out = rows[: part.stop - part.start]
        sums, weight = shifted_weighted_rows(
            X[part], Y[part], w[part] if weighted else w, shift, out, peak
        )
        yield out, sums, weight


def _moments_about_zero(X, Y, rescale):
    """Moments from the raw products of unweighted float64 rows.

    For rows whose mean is within a standard deviation of the origin, zero
    is as good a shift as any: ``X.T @ X`` runs on the batch in place (a
    memory map is not copied), chunk by chunk, each chunk's target products
    and sums taken while its rows are still in cache. With ``rescale``,
    ``None`` if the products left float64's range (the rows must then be
    scaled, which needs a copy).
    """
    n, d = X.shape
    t = Y.shape[1]
    gram = np.zeros((d, d), order="F")
    scatter = np.zeros((d + t,) * 2)
    sums = np.zeros(d + t)
    # An overflow is caught by the checks that follow.
    with np.errstate(over="ignore", invalid="ignore"):
        for rows in _row_slices(n, _chunk_rows(d + t)):
            # No copy of a batch's C-ordered rows; other layouts are copied.
            block = np.ascontiguousarray(X[rows])
            syrk_update(gram, block)
            x_sums, y_sums, xy, yy = column_sums_and_cross(block, Y[rows])
            scatter[:d, d:] += xy
            scatter[d:, d:] += yy
            sums[:d] += x_sums
            sums[d:] += y_sums
    scatter[:d, :d] = symmetric_from_upper(gram)
    scatter[d:, :d] = scatter[:d, d:].T
    exponent = None
    if rescale:
        if _out_of_range(scatter, sums, lambda j: X[:, j] if j < d else Y[:, j - d]):
            return None
        exponent = np.zeros(sums.shape, dtype=np.int64)
    return Moments.from_shifted_sums(n, n, np.zeros_like(sums), sums, scatter, exponent)


def _single_scatter(X, Y, w, shift, rows):
    """The scatter, sums and weight of ``sqrt(w) * ([X, Y] - shift)``, each
    chunk's products taken in float32 (``rows`` is float32) and summed in
    float64; ``None`` if a column's shifted values leave the range in which
    float32 products are safe (see ``_SINGLE_RANGE_LOG2``).
    """
    width = rows.shape[1]
    gram = np.zeros((width, width))
    chunk_gram = np.empty((width, width), dtype=np.float32)
    sums = np.zeros(width)
    weight = 0.0
    peak = np.zeros(width)
    with np.errstate(over="ignore", invalid="ignore"):
        chunks = _shifted_chunks(X, Y, w, shift, rows, peak)
        for out, chunk_sums, chunk_weight in chunks:
            # numpy's BLAS takes the product of a matrix with its own
            # transpose by syrk, and fills the other triangle.
            np.matmul(out.T, out, out=chunk_gram)
            gram += chunk_gram
            sums += chunk_sums
            weight += chunk_weight
    low, high = 2.0**-_SINGLE_RANGE_LOG2, 2.0**_SINGLE_RANGE_LOG2
    if not np.all((peak == 0) | ((peak >= low) & (peak <= high))):
        return None
    return gram, sums, weight


def _moments_about_shift(X, Y, w, shift, rows, rescale):
    """Moments from ``sqrt(w) * ([X, Y] - shift)``, written to ``rows`` (a
    chunk's worth) a chunk at a time.

    float32 ``rows`` (for float32 ``X``) are multiplied in float32, unless
    their values leave float32's safe range; then, as for float64 ``rows``,
    in float64. With ``rescale``, columns whose products leave float64's
    range are scaled by powers of two, exactly, and multiplied again.
    """
    n, d = X.shape
    width = rows.shape[1]

    def scatter_of(exponent=None):
        if rows.dtype == np.float32 and exponent is None:
            single = _single_scatter(X, Y, w, shift, rows)
            if single is not None:
                return single
        if rows.dtype == np.float64:
            wide = rows
        else:
            wide = np.empty((min(n, _chunk_rows(width)), width))
        gram = np.zeros((width, width), order="F")
        sums = np.zeros(width)
        weight = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            for out, chunk_sums, chunk_weight in _shifted_chunks(X, Y, w, shift, wide):
                if exponent is not None:
                    np.ldexp(out, -exponent, out=out)
                syrk_update(gram, out)
                sums += chunk_sums
                weight += chunk_weight
        return symmetric_from_upper(gram), sums, weight

    def column(j):
        values = X[:, j] if j < d else Y[:, j - d]
        return np.sqrt(w if w.shape[0] else 1.0) * (values - shift[j])

    scatter, sums, weight = scatter_of()
    exponent = None
    if rescale:
        exponent = np.zeros(width, dtype=np.int64)
        if _out_of_range(scatter, sums, column):
            peak = np.zeros(width)
            for _ in _shifted_chunks(X, Y, w, shift, rows, peak):
                pass
            exponent = np.frexp(peak)[1].astype(np.int64)
            scatter, sums, weight = scatter_of(exponent)
    return Moments.from_shifted_sums(n, weight, shift, sums, scatter, exponent)


def moments_of_rows(
    X, Y=None, sample_weight=None, workspace=None, *, rescale=False, single=False
):
    """Moments of the rows of ``[X, Y]``, weighted by ``sample_weight``.

    The scatter is computed about a shift within a standard deviation of the
    mean, so no digits are lost to cancellation however far the data are
    from the origin: the weighted mean of the first rows, or zero for
    unweighted float64 rows already near the origin (then nothing is copied).
    A batch whose first rows misled the choice is summed again about its mean.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        float32 or float64, C-contiguous; computations are in float64
        (but see ``single``).
    Y : ndarray of shape (n_samples, n_targets), default=None
        Columns appended to ``X`` (the targets of a supervised model).
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights; ``None`` means unit weights.
    workspace : Workspace, default=None
        Where shifted rows are written; a fresh buffer if ``None``.
    rescale : bool, default=False
        Scale columns whose products would leave float64's range by powers
        of two (see :attr:`Moments.exponent`), for a caller that reads the
        scatter with its exponents. Otherwise such rows raise a
        ``ValueError`` (or, for products that underflow, lose digits).
    single : bool, default=False
        Take the products of float32 rows in float32 (twice BLAS's float64
        rate), a chunk of rows at a time, and sum the chunks' products, the
        sums and the merges in float64: the moments are then within
        float32's rounding of the float64 moments of the same values (see
        ``doc/user_guide/exact.rst``). For estimators whose scikit-learn
        counterpart computes float32 input in float32. Rows whose shifted
        values leave float32's safe range are multiplied in float64.

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
    shift, near_origin = _head(X, Y, sample_weight)
    if sample_weight is None and X.dtype == np.float64 and near_origin:
        moments = _moments_about_zero(X, Y, rescale)
        if moments is not None and moments.lost_digits(0.0) <= _MAX_LOST_DIGITS:
            return moments
    w = np.empty(0) if sample_weight is None else sample_weight
    chunk = min(n, _chunk_rows(d + t))
    dtype = np.float64
    if single and X.dtype == np.float32:
        dtype, chunk = np.float32, min(chunk, _SINGLE_CHUNK_ROWS)
    if workspace is None:
        rows = np.empty((chunk, d + t), dtype=dtype)
    else:
        rows = workspace.get("shifted_rows", chunk, d + t, dtype)
    moments = _moments_about_shift(X, Y, w, shift, rows, rescale)
    if moments.lost_digits(shift) > _MAX_LOST_DIGITS:
        moments = _moments_about_shift(X, Y, w, moments.mean, rows, rescale)
    return moments


def diagonal_moments_of_rows(X, sample_weight=None, *, exponent=None):
    """Weighted count, mean and diagonal scatter of rows (two-pass).

    For when only the variance of each feature is needed: no ``d x d``
    product. ``exponent`` (one per column): the rows are scaled by
    ``2**-exponent`` first, and the statistics kept scaled (see
    :attr:`Moments.exponent`), for rows whose squares leave float64's range.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    weight = w.sum()
    if not weight > 0:
        out = Moments.zero(X.shape[1], diagonal=True)
        out.count = X.shape[0]
        return out
    if exponent is not None:
        X = _scale(X, -exponent)
    # The corrected two-pass mean: the plain mean, then the mean of the rows
    # about it, whose rounding is kept as in moments_of_rows; no digits are
    # lost to data far from the origin.
    # An overflow (or the NaN of rows not checked yet) is caught, and
    # refused, by the check below.
    with np.errstate(over="ignore", invalid="ignore"):
        shift = (w @ X) / weight
        shifted = X - shift
        delta = (w @ shifted) / weight
        scatter = w @ (shifted - delta) ** 2
    mean, mean_error = _two_sum(shift, delta)
    _check_finite(weight, mean, scatter, True)
    if exponent is not None:
        mean, mean_error = _scale(mean, exponent), _scale(mean_error, exponent)
        scatter, exponent = _canonical(scatter, exponent, True)
    return Moments(X.shape[0], np.float64(weight), mean, scatter, mean_error, exponent)


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


def _positive(root):
    """``root`` (a QR factor) with its rows signed so that its diagonal is
    non-negative.

    A QR factor is unique up to the signs of its rows; fixing them makes it
    the upper Cholesky factor of ``rows.T @ rows``, so that every way of
    reaching the same rows reaches the same factor.
    """
    signs = np.sign(np.diagonal(root)).copy()
    signs[signs == 0] = 1.0
    return root * signs[:, None]


def _positive_root(rows):
    """The R factor of ``rows`` with a non-negative diagonal (:func:`_positive`).

    Rows at least as many as the columns are factored by
    :func:`~sklearn_ooc._blas.qr_update`, a chunk at a time in cache.
    """
    n, d = rows.shape
    if n >= d:
        root = np.zeros((d, d), order="F")
        qr_update(root, np.asarray(rows, dtype=np.float64))
        return _positive(np.triu(root))
    return _positive(np.linalg.qr(rows, mode="r"))


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
        # Centered twice: the second mean removes the rounding of the first.
        sums = np.zeros(d)
        shifted_column_sums(X, shift, np.zeros(d), sums)
        delta = sums / n
        sums[:] = 0.0
        shifted_column_sums(X, shift, delta, sums)
        again = sums / n
        mean, mean_error = _two_sum(shift, delta + again)
        if n < d:
            rows = np.empty((n, d))
            centered_columns(X, shift, delta, again, rows)
            return cls(n, mean, _positive_root(rows), mean_error)
        # The centered rows are built a chunk at a time, column-major and in
        # cache, where LAPACK factors them: no copy of the batch is kept.
        chunk = min(n, QR_CHUNK_ROWS)
        if workspace is None:
            buffer = np.empty((chunk, d), order="F")
        else:
            buffer = workspace.get("root_chunk", d, chunk).T
        root = np.zeros((d, d), order="F")
        for start in range(0, n, chunk):
            part = buffer[: min(chunk, n - start)]
            centered_columns(X[start : start + chunk], shift, delta, again, part)
            qr_update(root, part, overwrite_rows=True)
        return cls(n, mean, _positive(np.triu(root)), mean_error)

    def is_finite(self):
        """Whether the mean and the root are finite.

        The mean is not if a row summed held a NaN or an infinity: each value
        enters its column's sum.
        """
        return bool(np.isfinite(self.mean).all() and np.isfinite(self.root).all())

    @property
    def scatter(self):
        """``sum_i (x_i - mean)(x_i - mean)^T``."""
        return self.root.T @ self.root

    def covariance(self):
        """``scatter / count``, finite wherever it is representable.

        The scatter of rows beyond about 1e154 overflows where their
        covariance does not: the root is scaled into range by a power of two
        first, which rounds nothing, and the quotient scaled back.
        """
        top = np.abs(self.root).max(initial=0.0)
        scale = int(needed_exponent(np.log2(top))) if top > 0 else 0
        root = _scale(self.root, -scale)
        with np.errstate(over="ignore"):
            return _scale((root.T @ root) / self.count, 2 * scale)

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

    def is_finite(self):
        """Whether every group's statistic is finite (every row is in one)."""
        return all(stat.is_finite() for stat in self.groups.values())

    def __add__(self, other):
        merged = dict(self.groups)
        for label, moments in other.groups.items():
            merged[label] = merged[label] + moments if label in merged else moments
        return GroupedMoments(merged)


@dataclass
class StateSums:
    """Posterior-weighted sums of the rows of each hidden state.

    ``weight[c]`` is the expected number of rows in state ``c`` and
    ``sums[c]`` the posterior-weighted sum of what the model counts in a row
    (its features, or a one-hot code of its symbol); both merge by addition.
    """

    weight: np.ndarray
    sums: np.ndarray

    def scaled(self, factor):
        """The sums of the same rows with every weight times ``factor``."""
        return StateSums(self.weight * factor, self.sums * factor)

    def __add__(self, other):
        return StateSums(self.weight + other.weight, self.sums + other.sums)


@dataclass
class ColumnMoments:
    """Count, mean and centered sum of squares of each column, NaN left out,
    and its smallest and largest values (NaN if the column holds one).

    The means are kept about a value of the column (``shift``), so that the
    difference of two means -- what a merge needs -- keeps every digit on
    data far from the origin. Columns merge independently, with Chan's
    formula.
    """

    count: np.ndarray
    shift: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of_rows(cls, X):
        X = np.asarray(X, dtype=np.float64)
        present = ~np.isnan(X)
        count = present.sum(axis=0).astype(np.float64)
        first = np.argmax(present, axis=0)
        shift = X[first, np.arange(X.shape[1])] if len(X) else np.zeros(X.shape[1])
        shift = np.where(count > 0, shift, 0.0)
        centered = np.where(present, X - shift, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, centered.sum(axis=0) / count, 0.0)
        m2 = np.where(present, (centered - mean) ** 2, 0.0).sum(axis=0)
        # NaN propagates through min and max, as through numpy's ptp.
        low, high = (X.min(axis=0), X.max(axis=0)) if len(X) else (shift, shift)
        return cls(count, shift, mean, m2, low, high)

    def __add__(self, other):
        count = self.count + other.count
        mine = self.count > 0
        # About my shift (the other's where I have no value): the difference
        # of the shifts is exact for close values, then the small means.
        shift = np.where(mine, self.shift, other.shift)
        base = np.where(mine, self.mean, 0.0)
        delta = (other.shift - shift) + other.mean - base
        delta = np.where(other.count > 0, delta, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(count > 0, other.count / count, 0.0)
        return ColumnMoments(
            count,
            shift,
            base + delta * share,
            self.m2 + other.m2 + delta**2 * self.count * share,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
        )

    def variance(self):
        """Per-column variance of the values present (NaN where none is)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.m2 / self.count, np.nan)


@dataclass
class TargetMoments:
    """Per-column moments of ``X`` with a target ``y``: means, centered sums
    of squares of each column and of ``y``, and centered cross sums of each
    column with ``y``, merged with Chan's formula."""

    count: float
    mean_x: np.ndarray
    mean_y: float
    m2_x: np.ndarray
    m2_y: float
    cross: np.ndarray

    @classmethod
    def of_rows(cls, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        n = float(len(y))
        mean_x, mean_y = X.mean(axis=0), float(y.mean())
        centered_x, centered_y = X - mean_x, y - mean_y
        return cls(
            n,
            mean_x,
            mean_y,
            (centered_x**2).sum(axis=0),
            float(centered_y @ centered_y),
            centered_y @ centered_x,
        )

    def __add__(self, other):
        count = self.count + other.count
        share = other.count / count
        delta_x = other.mean_x - self.mean_x
        delta_y = other.mean_y - self.mean_y
        weight = self.count * share
        return TargetMoments(
            count,
            self.mean_x + delta_x * share,
            self.mean_y + delta_y * share,
            self.m2_x + other.m2_x + delta_x**2 * weight,
            self.m2_y + other.m2_y + delta_y**2 * weight,
            self.cross + other.cross + delta_x * delta_y * weight,
        )


@dataclass
class ColumnSums:
    """Row count and column sums of a set of rows; merging adds them."""

    count: int
    sums: np.ndarray

    @classmethod
    def of_rows(cls, X, workspace=None):
        return cls(X.shape[0], np.asarray(X, dtype=np.float64).sum(axis=0))

    def __add__(self, other):
        return ColumnSums(self.count + other.count, self.sums + other.sums)


@dataclass
class LabelSums:
    """For each label of a set of rows: its total row weight and the
    weighted sums of the rows' columns (``Y^T X`` for one-hot labels ``Y``
    scaled by the weights); merging adds them label by label."""

    weight: dict
    sums: dict

    @classmethod
    def of_rows(cls, X, labels, sample_weight=None):
        labels = np.ravel(labels)
        keys, inverse = np.unique(labels, return_inverse=True)
        Y = np.zeros((len(labels), len(keys)))
        Y[np.arange(len(labels)), inverse] = 1.0
        if sample_weight is not None:
            Y *= np.asarray(sample_weight, dtype=np.float64)[:, np.newaxis]
        sums = Y.T @ X
        keys = [k.item() if hasattr(k, "item") else k for k in keys]
        return cls(
            dict(zip(keys, Y.sum(axis=0), strict=True)),
            dict(zip(keys, sums, strict=True)),
        )

    def __add__(self, other):
        weight, sums = dict(self.weight), dict(self.sums)
        for key, value in other.weight.items():
            if key in weight:
                weight[key] = weight[key] + value
                sums[key] = sums[key] + other.sums[key]
            else:
                weight[key], sums[key] = value, other.sums[key]
        return LabelSums(weight, sums)


class Largest:
    """The largest value of the rows seen; merging keeps the larger."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __add__(self, other):
        return Largest(max(self.value, other.value))


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
    weighted sum of squared residuals per output, times
    ``2**(-2 exponent)``: targets (and residuals) whose squares leave
    float64's range are scaled by powers of two, as in :class:`Moments`, and
    their R² is that of the targets scaled into range.
    """

    targets: Moments
    residual: np.ndarray
    exponent: np.ndarray = None

    @classmethod
    def of_batch(cls, y_true, y_pred, sample_weight=None):
        y_true = y_true[:, None] if y_true.ndim == 1 else y_true
        y_pred = y_pred.reshape(y_true.shape)
        w = np.ones(y_true.shape[0]) if sample_weight is None else sample_weight
        exponent = np.zeros(y_true.shape[1], dtype=np.int64)
        if y_true.shape[0]:
            peak = np.abs(y_true).max(axis=0).astype(np.float64)
            top = np.sqrt(y_true.shape[0]) * peak
            far = (top > 2.0**_RANGE_LOG2) | ((peak > 0) & (peak < 2.0**-_RANGE_LOG2))
            exponent[far] = np.frexp(peak[far])[1]
        # In float64 whatever the rows: squares of float32 lose digits, and
        # the smallest ones underflow to zero.
        error = _scale(np.subtract(y_true, y_pred, dtype=np.float64), -exponent)
        with np.errstate(over="ignore"):
            residual = w @ error**2
        targets = diagonal_moments_of_rows(y_true, w, exponent=exponent)
        residual, exponent = _canonical(residual, exponent, True)
        return cls(targets, residual, exponent)

    @property
    def exponents(self):
        """:attr:`exponent`, zeros if it is ``None``."""
        if self.exponent is None:
            return np.zeros(self.residual.shape, dtype=np.int64)
        return self.exponent

    def __add__(self, other):
        with np.errstate(divide="ignore"):
            magnitude = np.fmax(
                0.5 * np.log2(self.residual) + self.exponents,
                0.5 * np.log2(other.residual) + other.exponents,
            )
        exponent = needed_exponent(magnitude)
        residual = _scale(self.residual, 2 * (self.exponents - exponent)) + _scale(
            other.residual, 2 * (other.exponents - exponent)
        )
        residual, exponent = _canonical(residual, exponent, True)
        return RegressionScore(self.targets + other.targets, residual, exponent)

    def r2(self):
        """R² averaged uniformly over outputs, as :func:`sklearn.metrics.r2_score`."""
        total = self.targets.scatter
        # Beside the targets' scale: an overflow is an R² below -1e300.
        with np.errstate(over="ignore"):
            residual = _scale(
                self.residual, 2 * (self.exponents - self.targets.exponents)
            )
        scores = np.ones_like(total)
        nonzero = total != 0
        scores[nonzero] = 1 - residual[nonzero] / total[nonzero]
        # A constant target: perfect only if predicted exactly (force_finite).
        scores[~nonzero & (residual != 0)] = 0.0
        return float(np.mean(scores))


@dataclass
class TriangularFactor:
    """The R factor of a QR decomposition of rows, merged exactly.

    The rows of many batches, stacked, have the R factor of the stacked R
    factors of the batches: ``qr([[R_1], [R_2]])``. Householder
    factorizations are backward stable, so the merged factor is that of all
    the rows to rounding, and its singular values are theirs; no product of
    the rows with themselves (which would square their condition number) is
    ever formed.

    Attributes
    ----------
    count : int
        Rows summarized.
    weight : float
        Their total weight (of rows scaled by the square roots of weights).
    factor : ndarray of shape (n_columns, n_columns)
        Upper triangular: ``factor.T @ factor`` equals the rows' product
        ``A.T @ A``.
    finite : bool
        False where a NaN or an infinity was seen among the rows (their sums
        taken as they were factored): the factor's rounding of such values is
        LAPACK's, so the rows' own check says.
    """

    count: int
    weight: float
    factor: np.ndarray
    finite: bool = True

    @classmethod
    def of_rows(cls, rows, count=None, weight=None):
        """The factor of ``rows``, shape (n_rows, n_columns), of ``count`` rows
        of total ``weight`` (by default, one a row).

        The rows are factored a chunk at a time below the factor of the chunks
        before (a tall-and-skinny QR, :func:`~sklearn_ooc._blas.qr_update`):
        each factorization stays in cache, where one Householder
        factorization of all the rows would stream them from memory for
        every column.
        """
        p = rows.shape[1]
        factor = np.zeros((p, p), order="F")
        qr_update(factor, np.asarray(rows, dtype=np.float64))
        factor = np.triu(factor)
        count = rows.shape[0] if count is None else count
        return cls(count, float(count if weight is None else weight), factor)

    def __add__(self, other):
        rows = np.vstack([self.factor, other.factor])
        merged = type(self).of_rows(
            rows, self.count + other.count, self.weight + other.weight
        )
        merged.finite = self.finite and other.finite
        return merged

    def is_finite(self):
        """Whether no NaN and no infinity was seen in the rows factored."""
        return bool(self.finite and np.isfinite(self.factor).all())
