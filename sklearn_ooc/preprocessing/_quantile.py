"""Exact order statistics of the columns of data larger than memory.

Quantiles are chosen values of the sorted columns. Sorting is out of reach,
but selecting is not: after one pass that counts the values of each column
(and finds their extremes), each wanted rank is narrowed to an interval of
values by passes that count the values per bucket (a histogram per column
over the intervals still open), until an interval holds few enough values
to be collected in memory; a last pass collects them, and the wanted values
are read off the sorted interval. The buckets split the *bit patterns* of
the floats (mapped to unsigned integers in value order), so an interval
always shrinks and ends, at worst, as a single value: the selection is exact
whatever the data (ties, extremes, subnormals).

:func:`column_quantiles` reproduces NumPy's ``percentile``/``nanpercentile``
(every ``method``) from the selected values: the same virtual indexes, the
same interpolation, bit for bit.

Memory: the open intervals (about ``n_buckets`` integers each) and the
collected values (at most ``budget`` a pass), never the rows.
"""

from __future__ import annotations

import numpy as np

#: Values collected in memory at most, per pass, over all columns.
DEFAULT_BUDGET = 1 << 20
#: Buckets a pass splits each open interval into, at most.
DEFAULT_BUCKETS = 1024
_SIGN = np.uint64(1 << 63)


def float_keys(values):
    """Unsigned integers in the order of the float64 ``values`` (no NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    # -0.0 sorts with 0.0, as np.sort does
    bits = np.where(bits == _SIGN, np.uint64(0), bits)
    negative = (bits & _SIGN) != 0
    return np.where(negative, ~bits, bits | _SIGN)


def key_values(keys):
    """The float64 values of :func:`float_keys`."""
    keys = np.asarray(keys, dtype=np.uint64)
    negative = (keys & _SIGN) == 0
    bits = np.where(negative, ~keys, keys & ~_SIGN)
    return bits.view(np.float64)


class Summed:
    """A tuple of arrays (summed) and lists (concatenated): a pass's statistics."""

    __slots__ = ("arrays", "lists")

    def __init__(self, arrays, lists=()):
        self.arrays = list(arrays)
        self.lists = [list(x) for x in lists]

    def __add__(self, other):
        return Summed(
            [a + b for a, b in zip(self.arrays, other.arrays, strict=True)],
            [a + b for a, b in zip(self.lists, other.lists, strict=True)],
        )


def _column_values(X, j):
    col = X[:, j]
    if col.dtype.kind == "f":
        col = col[~np.isnan(col)]
    return col


def extremes_of(X):
    """Per column of ``X``: the number of values (not NaN) and the extremes
    (``+inf``/``-inf`` without values); merged by ``+``."""
    nan = np.isnan(X)
    counts = X.shape[0] - nan.sum(axis=0)
    mins = np.where(nan, np.inf, X).min(axis=0).astype(np.float64)
    maxs = np.where(nan, -np.inf, X).max(axis=0).astype(np.float64)
    return _Extremes(counts.astype(np.int64), mins, maxs)


def count_pass(reduce, n_features):
    """One pass: per column, the number of values (not NaN) and the extremes.

    Parameters
    ----------
    reduce : callable
        ``reduce(summarize, desc)``: the sum of ``summarize(batch)`` over the
        batches.
    n_features : int
        Columns.

    Returns
    -------
    counts : ndarray of int64
    mins, maxs : ndarray of float64
        ``+inf``/``-inf`` for a column without values.
    """
    total = reduce(lambda batch: extremes_of(batch.X), "count")
    return total.counts, total.mins, total.maxs


class Pair:
    """Two statistics of one pass, merged side by side."""

    __slots__ = ("first", "second")

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __add__(self, other):
        return Pair(self.first + other.first, self.second + other.second)


class _Extremes:
    __slots__ = ("counts", "mins", "maxs")

    def __init__(self, counts, mins, maxs):
        self.counts, self.mins, self.maxs = counts, mins, maxs

    def __add__(self, other):
        return _Extremes(
            self.counts + other.counts,
            np.minimum(self.mins, other.mins),
            np.maximum(self.maxs, other.maxs),
        )


def order_statistics(
    reduce,
    counts,
    mins,
    maxs,
    ranks,
    *,
    budget=DEFAULT_BUDGET,
    n_buckets=DEFAULT_BUCKETS,
):
    """The values of given ranks in the sorted (non-NaN) values of each column.

    Parameters
    ----------
    reduce : callable
        ``reduce(summarize, desc)``: the sum of ``summarize(batch)`` over the
        batches of the data.
    counts, mins, maxs : ndarray of shape (n_features,)
        From :func:`count_pass`.
    ranks : list of ndarray of int
        For each column, the 0-based ranks wanted (each in
        ``[0, counts[j])``).
    budget : int
        Values collected in memory at most in a pass.
    n_buckets : int
        Buckets each open interval is split into by a pass.

    Returns
    -------
    list of dict
        For each column, ``{rank: value}`` (float64).
    """
    n_features = len(counts)
    found = [dict() for _ in range(n_features)]
    # Open intervals per column: [lo_key, hi_key, below, count, set of ranks]
    open_ = []
    for j in range(n_features):
        wanted = sorted({int(r) for r in np.asarray(ranks[j]).ravel()})
        for r in wanted:
            if not 0 <= r < counts[j]:
                raise ValueError(f"rank {r} out of range for {counts[j]} values")
        if not wanted:
            open_.append([])
            continue
        lo, hi = float_keys([mins[j], maxs[j]])
        open_.append([[int(lo), int(hi), 0, int(counts[j]), wanted]])

    while True:
        split, collect = [], []
        spent = 0
        for j in range(n_features):
            live = []
            for interval in open_[j]:
                lo, hi, below, count, wanted = interval
                if lo == hi:
                    value = float(key_values([lo])[0])
                    for r in wanted:
                        found[j][r] = value
                else:
                    live.append(interval)
            open_[j] = live
            for interval in sorted(live, key=lambda iv: iv[3]):
                if spent + interval[3] <= budget:
                    spent += interval[3]
                    collect.append((j, interval))
                else:
                    split.append((j, interval))
        if not split and not collect:
            return found
        n_split = max(1, len(split))
        buckets = int(max(2, min(n_buckets, (budget * 4) // n_split)))
        plan = _Plan(n_features, split, collect, buckets)
        total = reduce(plan.summarize, "select")
        open_ = plan.refine(total, found)


def _bucket_edges(lo, hi, buckets):
    """Increasing keys ``lo = e_0 < ... < e_k = hi + 1``: the bucket starts of
    the interval ``[lo, hi]`` of keys (and its end).

    Half the buckets are even in value (what most data need), half even in
    bit patterns (what data spread over many orders of magnitude need): each
    bucket is narrower than the interval, so every pass narrows it.
    """
    width = hi - lo + 1
    k = int(min(buckets, width))
    by_key = [lo + (width * i) // k for i in range(k)]
    a, b = key_values([lo, hi])
    edges = set(by_key)
    if np.isfinite(a) and np.isfinite(b) and b > a:
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.linspace(a, b, max(2, k // 2) + 1)[1:-1]
        values = values[np.isfinite(values)]
        edges.update(int(e) for e in float_keys(values) if lo < int(e) <= hi)
    return sorted(edges) + [hi + 1]


class _Plan:
    """The buckets and intervals of one selection pass."""

    def __init__(self, n_features, split, collect, buckets):
        self.n_features = n_features
        self.split = [[] for _ in range(n_features)]
        self.collect = [[] for _ in range(n_features)]
        for j, interval in split:
            self.split[j].append(interval)
        for j, interval in collect:
            self.collect[j].append(interval)
        self.starts, self.ends = [], []
        for j in range(n_features):
            starts, ends = [], []
            for interval in sorted(self.split[j], key=lambda iv: iv[0]):
                lo, hi = interval[0], interval[1]
                edges = _bucket_edges(lo, hi, buckets)
                interval.append(len(starts))
                for a, b in zip(edges[:-1], edges[1:], strict=True):
                    starts.append(a)
                    ends.append(b - 1)
            self.starts.append(np.array(starts, dtype=np.uint64))
            self.ends.append(np.array(ends, dtype=np.uint64))
            self.collect[j].sort(key=lambda iv: iv[0])
        self.collect_lo = [
            np.array([iv[0] for iv in c], dtype=np.uint64) for c in self.collect
        ]
        self.collect_hi = [
            np.array([iv[1] for iv in c], dtype=np.uint64) for c in self.collect
        ]

    def summarize(self, batch):
        X = batch.X
        arrays, lists = [], []
        for j in range(self.n_features):
            starts, ends = self.starts[j], self.ends[j]
            los, his = self.collect_lo[j], self.collect_hi[j]
            if not starts.size and not los.size:
                arrays.append(np.zeros(0, np.int64))
                lists.append([])
                continue
            keys = float_keys(_column_values(X, j))
            if starts.size:
                at = np.searchsorted(starts, keys, side="right") - 1
                inside = at >= 0
                inside[inside] = keys[inside] <= ends[at[inside]]
                arrays.append(np.bincount(at[inside], minlength=starts.size))
            else:
                arrays.append(np.zeros(0, np.int64))
            if los.size:
                at = np.searchsorted(los, keys, side="right") - 1
                inside = at >= 0
                inside[inside] = keys[inside] <= his[at[inside]]
                lists.append([keys[inside]])
            else:
                lists.append([])
        return Summed(arrays, lists)

    def refine(self, total, found):
        """Read off the collected ranks; the next intervals of the split ones."""
        open_ = []
        for j in range(self.n_features):
            if self.collect[j]:
                keys = np.sort(np.concatenate(total.lists[j]))
                values = key_values(keys)
                for lo, _, below, _, wanted in self.collect[j]:
                    first = int(np.searchsorted(keys, np.uint64(lo), side="left"))
                    for r in wanted:
                        found[j][r] = float(values[first + r - below])
            nxt = []
            counts = total.arrays[j]
            for _lo, _hi, below, count, wanted, offset in self.split[j]:
                n_b = self._n_buckets(j, offset)
                local = counts[offset : offset + n_b]
                cum = np.concatenate([[0], np.cumsum(local)])
                if cum[-1] != count:
                    raise RuntimeError(
                        "the data changed between two passes (a bucket holds "
                        f"{cum[-1]} values, {count} were counted before)"
                    )
                groups = {}
                for r in wanted:
                    b = int(np.searchsorted(cum, r - below, side="right")) - 1
                    groups.setdefault(b, []).append(r)
                for b, rs in groups.items():
                    nxt.append(
                        [
                            int(self.starts[j][offset + b]),
                            int(self.ends[j][offset + b]),
                            below + int(cum[b]),
                            int(local[b]),
                            rs,
                        ]
                    )
            open_.append(nxt)
        return open_

    def _n_buckets(self, j, offset):
        later = [iv[5] for iv in self.split[j] if iv[5] > offset]
        return (min(later) if later else self.starts[j].size) - offset


def quantile_positions(n, q, method="linear"):
    """NumPy's neighbours and weights of the quantiles ``q`` of ``n`` values.

    Returns ``(previous, next, gamma, integral)``: 0-based ranks and the
    interpolation weights, as ``numpy.quantile`` computes them (its private
    helpers, so that the result is the same bit for bit); ``integral``: the
    method takes values without interpolating.
    """
    from numpy.lib import _function_base_impl as fb

    props = fb._QuantileMethods[method]
    virtual = np.asanyarray(props["get_virtual_index"](n, q))
    if props["fix_gamma"] is None:
        idx = np.asarray(virtual, dtype=np.intp)
        idx = np.where(idx < 0, idx + n, idx)
        return idx, idx, None, True
    dummy = np.empty(0, dtype=np.float64)
    previous, nxt = fb._get_indexes(dummy, virtual, n)
    gamma = fb._get_gamma(virtual, previous, props)
    previous = np.where(previous < 0, previous + n, previous)
    nxt = np.where(nxt < 0, nxt + n, nxt)
    return previous, nxt, gamma, False


def interpolate(previous, nxt, gamma, integral):
    """NumPy's interpolation between the selected neighbours (arrays of the
    data's dtype)."""
    if integral:
        return previous
    from numpy.lib import _function_base_impl as fb

    return fb._lerp(previous, nxt, gamma)


def _quantile_plans(counts, q, method):
    plans, ranks = [], []
    for n in counts:
        if n == 0:
            plans.append(None)
            ranks.append(np.zeros(0, np.intp))
            continue
        pos = quantile_positions(int(n), q, method)
        plans.append(pos)
        ranks.append(np.concatenate([pos[0].ravel(), pos[1].ravel()]))
    return plans, ranks


def _quantile_values(plans, found, q, dtype):
    columns = []
    for j, plan in enumerate(plans):
        if plan is None:
            columns.append(np.full(q.shape, np.nan, dtype=dtype))
            continue
        previous, nxt, gamma, integral = plan
        a = np.array([found[j][int(r)] for r in previous.ravel()], dtype=dtype)
        b = np.array([found[j][int(r)] for r in nxt.ravel()], dtype=dtype)
        a, b = a.reshape(q.shape), b.reshape(q.shape)
        columns.append(np.asarray(interpolate(a, b, gamma, integral)))
    return np.stack(columns, axis=-1)


def _median_ranks(counts):
    return [
        np.array([(n - 1) // 2, n // 2]) if n else np.zeros(0, np.intp) for n in counts
    ]


def _median_values(found, counts, dtype):
    out = np.empty(len(counts), dtype=dtype)
    for j, n in enumerate(counts):
        if n == 0:
            out[j] = np.nan
            continue
        a = np.array([found[j][(n - 1) // 2], found[j][n // 2]], dtype=dtype)
        out[j] = a[0] if n % 2 else np.true_divide(a[0] + a[1], 2)
    return out


def column_statistics(
    reduce,
    counts,
    mins,
    maxs,
    dtype,
    *,
    median=False,
    q=None,
    method="linear",
    budget=DEFAULT_BUDGET,
):
    """Medians and quantiles of the columns from one selection.

    Parameters
    ----------
    reduce : callable
        ``reduce(summarize, desc)`` over the batches.
    counts, mins, maxs : ndarray of shape (n_features,)
        From :func:`count_pass`.
    dtype : numpy dtype
        Of the data (the values are interpolated in it, as NumPy does).
    median : bool
        Also ``np.nanmedian(X, axis=0)`` (and ``np.ma.median``): the middle
        value, or ``(a + b) / 2`` of the two middle values in ``dtype``.
    q : ndarray of float64, default=None
        Quantiles in [0, 1], as ``np.true_divide(percentiles, 100)``:
        ``np.nanpercentile(X, 100 * q, axis=0, method=method)``.

    Returns
    -------
    medians : ndarray of shape (n_features,) or None
    quantiles : ndarray of shape (len(q), n_features) or None
        NaN for a column without values.
    """
    ranks = [np.zeros(0, np.intp) for _ in counts]
    if median:
        ranks = [np.r_[a, b] for a, b in zip(ranks, _median_ranks(counts), strict=True)]
    if q is not None:
        q = np.asanyarray(q)
        plans, more = _quantile_plans(counts, q, method)
        ranks = [np.r_[a, b] for a, b in zip(ranks, more, strict=True)]
    found = order_statistics(reduce, counts, mins, maxs, ranks, budget=budget)
    medians = _median_values(found, counts, dtype) if median else None
    quantiles = None if q is None else _quantile_values(plans, found, q, dtype)
    return medians, quantiles


def column_quantiles(
    reduce, counts, mins, maxs, q, dtype, *, method="linear", budget=DEFAULT_BUDGET
):
    """``np.nanpercentile(X, 100 * q, axis=0, method=method)``, streamed
    (see :func:`column_statistics`)."""
    return column_statistics(
        reduce, counts, mins, maxs, dtype, q=q, method=method, budget=budget
    )[1]


def column_medians(reduce, counts, mins, maxs, dtype, *, budget=DEFAULT_BUDGET):
    """``np.nanmedian(X, axis=0)``, streamed (see :func:`column_statistics`)."""
    return column_statistics(
        reduce, counts, mins, maxs, dtype, median=True, budget=budget
    )[0]


# -- the estimators' common part ----------------------------------------------


class _Masked:
    """A batch whose ``X`` is replaced (missing values made NaN)."""

    __slots__ = ("index", "start", "stop", "X", "y", "sample_weight", "workspace")

    def __init__(self, batch, X):
        self.index, self.start, self.stop = batch.index, batch.start, batch.stop
        self.X, self.y = X, batch.y
        self.sample_weight = batch.sample_weight
        self.workspace = batch.workspace


def _in_memory(X):
    """Whether ``X`` is an ordinary in-memory array or frame (scikit-learn's
    own validation and transform apply to it as it is)."""
    from ..data import LazyArray

    if isinstance(X, (str, bytes, LazyArray)) or hasattr(X, "__fspath__"):
        return False
    if isinstance(X, np.memmap):
        return False
    from ..data._table import is_table_source

    if is_table_source(X):
        return False
    return isinstance(X, (np.ndarray, list, tuple)) or type(X).__module__.startswith(
        "pandas"
    )


class StreamedFitMixin:
    """Fit from passes over the data; transform with scikit-learn's twin.

    For a subclass of a scikit-learn transformer (listed after this mixin
    and :class:`~sklearn_ooc.base.OutOfCoreMixin`): its ``fit`` sets
    scikit-learn's fitted attributes from streamed passes; ``transform``
    applies scikit-learn's own ``transform`` to in-memory data, and, batch by
    batch, to everything else (lazily for a LazyArray).
    """

    _accept_sparse = False

    def _reducer(self, source, transform=None):
        """``reduce(summarize, desc)`` over the batches of ``source``;
        ``transform(batch)`` replaces the ``X`` of each batch first."""

        def reduce(summarize, desc):
            if transform is not None:
                inner = summarize

                def summarize(batch):
                    return inner(_Masked(batch, transform(batch)))

            return self._reduce(source, summarize=summarize, desc=desc)

        return reduce

    def _take_rows(self, source, rows):
        """The rows ``rows`` of ``source`` (in that order), read in one pass."""
        rows = np.asarray(rows, dtype=np.intp)
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]

        def summarize(batch):
            lo, hi = np.searchsorted(wanted, [batch.start, batch.stop])
            return Summed([], [[batch.X[wanted[lo:hi] - batch.start]]])

        total = self._reduce(source, summarize=summarize, desc="sample")
        block = np.concatenate(total.lists[0])
        out = np.empty_like(block)
        out[order] = block
        return out

    def _twin(self):
        """The scikit-learn transformer with our fitted attributes, without
        feature names (it transforms the arrays of batches)."""
        twin = self._sklearn_class(**self._sklearn_params())
        for name, value in self.__dict__.items():
            if name.endswith("_") and not name.startswith("__"):
                if name != "feature_names_in_":
                    setattr(twin, name, value)
            elif name.startswith("_") and not name.startswith(("_is_", "_sklearn")):
                # private fitted state (the encoder of KBinsDiscretizer, the
                # dtypes of SimpleImputer), not the output configuration: the
                # twin returns arrays, whatever ``set_output`` says
                setattr(twin, name, value)
        return twin

    def _sklearn_params(self):
        names = self._sklearn_class._get_param_names()
        return {name: getattr(self, name) for name in names}

    def _publish(self, twin):
        """Copy the fitted attributes of ``twin`` (a fitted scikit-learn
        transformer) onto ``self``."""
        params = set(self._sklearn_class._get_param_names())
        for name, value in twin.__dict__.items():
            if name in params or name in ("n_features_in_", "feature_names_in_"):
                continue
            setattr(self, name, value)

    def transform(self, X):
        """Transform ``X``: lazily for a LazyArray, else batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray or LazyArray
            The transformed rows; a LazyArray that transforms each batch as
            it is read, for a LazyArray input.
        """
        return self._apply("transform", X)

    def _apply(self, method, X):
        from sklearn.utils import get_tags
        from sklearn.utils.validation import check_is_fitted

        from ..data import LazyArray

        check_is_fitted(self)
        if _in_memory(X) or (
            hasattr(X, "format") and hasattr(X, "tocsr")  # sparse: scikit-learn's
        ):
            try:
                return getattr(self._sklearn_class, method)(self, X)
            except ValueError:
                if (
                    method == "transform"
                    and isinstance(X, np.ndarray)
                    and (
                        X.ndim != 2
                        or X.dtype.kind in "biuf"
                        # strings are the values of an imputer fitted on
                        # objects: its own words then
                        or (
                            X.dtype.kind in "US"
                            and getattr(self, "_fit_dtype", X.dtype).kind != "O"
                        )
                    )
                ):
                    # scikit-learn's words name no row: read the rows as a
                    # batch source does, whose error says where (a row, a
                    # shape, a dtype); if it finds nothing, scikit-learn's
                    # error stands.
                    source = self._source(X, reset=False)
                    for index in range(source.n_batches):
                        source.read(index)
                raise
        twin = self._twin()
        func = getattr(twin, method)
        if isinstance(X, LazyArray):
            self._source(X, reset=False)
            if hasattr(X, "with_nan") and get_tags(self).input_tags.allow_nan:
                X = X.with_nan()  # the nulls of a table, which this imputes
            return X.map(func)
        return self._map_rows(X, lambda b: func(b.X), desc=method)


# -- weighted percentiles (scikit-learn's _weighted_percentile) ----------------


class _WeightedPlan:
    """Buckets of open intervals, weighted: counts and weights per bucket, and
    the (key, weight) pairs of the intervals small enough to collect."""

    def __init__(self, columns, split, collect, buckets):
        self.columns = columns
        self.split, self.collect = split, collect
        self.starts, self.ends, self.offsets = [], [], []
        for intervals in split:
            starts, ends, offsets = [], [], []
            for iv in intervals:
                lo, hi = iv["lo"], iv["hi"]
                edges = _bucket_edges(lo, hi, buckets)
                offsets.append((len(starts), len(edges) - 1))
                starts.extend(edges[:-1])
                ends.extend(e - 1 for e in edges[1:])
            self.starts.append(np.array(starts, dtype=np.uint64))
            self.ends.append(np.array(ends, dtype=np.uint64))
            self.offsets.append(offsets)
        self.los = [np.array([iv["lo"] for iv in c], np.uint64) for c in collect]
        self.his = [np.array([iv["hi"] for iv in c], np.uint64) for c in collect]

    def summarize(self, batch):
        X, sw = batch.X, batch.sample_weight
        arrays, lists = [], []
        for i, j in enumerate(self.columns):
            col = X[:, j]
            w = np.ones(col.shape[0]) if sw is None else sw
            keep = (w > 0) & ~np.isnan(col)
            keys = float_keys(col[keep])
            w = w[keep]
            starts, ends = self.starts[i], self.ends[i]
            if starts.size:
                at = np.searchsorted(starts, keys, side="right") - 1
                inside = at >= 0
                inside[inside] = keys[inside] <= ends[at[inside]]
                arrays.append(np.bincount(at[inside], minlength=starts.size))
                arrays.append(np.bincount(at[inside], w[inside], minlength=starts.size))
            else:
                arrays += [np.zeros(0, np.int64), np.zeros(0)]
            los, his = self.los[i], self.his[i]
            if los.size:
                at = np.searchsorted(los, keys, side="right") - 1
                inside = at >= 0
                inside[inside] = keys[inside] <= his[at[inside]]
                lists.append([(keys[inside], w[inside])])
            else:
                lists.append([])
        return Summed(arrays, lists)


def weighted_quantiles(
    reduce, columns, levels, dtype, *, average=False, budget=DEFAULT_BUDGET
):
    """scikit-learn's ``_weighted_percentile(column, sample_weight, levels,
    average)`` of the given columns, streamed (rows of zero weight and NaN
    are left out, as there).

    Returns
    -------
    ndarray of shape (len(columns), len(levels)), of ``dtype``
    """
    dtype = np.dtype(dtype)
    eps = np.finfo(dtype).eps
    columns = list(columns)

    def totals(batch):
        X, sw = batch.X, batch.sample_weight
        w = np.ones(X.shape[0]) if sw is None else sw
        out_c, out_w, out_lo, out_hi = [], [], [], []
        for j in columns:
            col = X[:, j]
            keep = (w > 0) & ~np.isnan(col)
            out_c.append(int(keep.sum()))
            out_w.append(float(w[keep].sum()))
            out_lo.append(col[keep].min() if keep.any() else np.inf)
            out_hi.append(col[keep].max() if keep.any() else -np.inf)
        return _Extremes(
            np.array(out_c, np.int64),
            np.array(out_lo, np.float64),
            np.array(out_hi, np.float64),
        ), np.array(out_w)

    total = reduce(lambda b: Pair(*totals(b)), "weights")
    ext, weights = total.first, total.second
    counts, mins, maxs = ext.counts, ext.mins, ext.maxs
    result = np.full((len(columns), len(levels)), np.nan, dtype=dtype)
    # targets: adjusted ranks in cumulative weight
    ranks = np.asarray(levels, dtype=dtype)
    found = [dict() for _ in columns]  # target index -> (value, cnt_le, w_le)
    open_ = []
    targets = []
    for i in range(len(columns)):
        if counts[i] == 0:
            open_.append([])
            targets.append(None)
            continue
        W = dtype.type(weights[i])
        t = ranks / dtype.type(100) * W
        t = np.where(t == 0, np.nextafter(t, t + 1), t).astype(np.float64)
        targets.append(t)
        lo, hi = float_keys([mins[i], maxs[i]])
        open_.append(
            [
                dict(
                    lo=int(lo),
                    hi=int(hi),
                    cb=0,
                    wb=0.0,
                    c=int(counts[i]),
                    w=float(weights[i]),
                    t=list(range(len(levels))),
                )
            ]
        )
    while True:
        split, collect = [[] for _ in columns], [[] for _ in columns]
        spent = 0
        any_open = False
        for i in range(len(columns)):
            live = []
            for iv in open_[i]:
                if iv["lo"] == iv["hi"]:
                    value = float(key_values([iv["lo"]])[0])
                    for k in iv["t"]:
                        found[i][k] = (value, iv["cb"] + iv["c"], iv["wb"] + iv["w"])
                else:
                    live.append(iv)
            for iv in sorted(live, key=lambda iv: iv["c"]):
                any_open = True
                if spent + iv["c"] <= budget:
                    spent += iv["c"]
                    collect[i].append(iv)
                else:
                    split[i].append(iv)
            split[i].sort(key=lambda iv: iv["lo"])
            collect[i].sort(key=lambda iv: iv["lo"])
        if not any_open:
            break
        n_split = max(1, sum(len(s) for s in split))
        buckets = int(max(2, min(DEFAULT_BUCKETS, (budget * 4) // n_split)))
        plan = _WeightedPlan(columns, split, collect, buckets)
        sums = reduce(plan.summarize, "select")
        nxt = []
        for i in range(len(columns)):
            new = []
            if collect[i]:
                keys = np.concatenate([p[0] for p in sums.lists[i]])
                ws = np.concatenate([p[1] for p in sums.lists[i]])
                order = np.argsort(keys, kind="stable")
                keys, ws = keys[order], ws[order]
                for iv in collect[i]:
                    a = int(np.searchsorted(keys, np.uint64(iv["lo"]), "left"))
                    b = int(np.searchsorted(keys, np.uint64(iv["hi"]), "right"))
                    k_, w_ = keys[a:b], ws[a:b]
                    cum = iv["wb"] + np.cumsum(w_)
                    for k in iv["t"]:
                        at = min(int(np.searchsorted(cum, targets[i][k])), b - a - 1)
                        last = int(np.searchsorted(k_, k_[at], "right")) - 1
                        found[i][k] = (
                            float(key_values([k_[at]])[0]),
                            iv["cb"] + last + 1,
                            float(cum[last]),
                        )
            counts_b = sums.arrays[2 * i]
            weights_b = sums.arrays[2 * i + 1]
            for iv, (offset, nb) in zip(split[i], plan.offsets[i], strict=True):
                c_loc = counts_b[offset : offset + nb]
                w_loc = weights_b[offset : offset + nb]
                cumw = iv["wb"] + np.cumsum(w_loc)
                cumc = np.concatenate([[0], np.cumsum(c_loc)])
                groups = {}
                for k in iv["t"]:
                    b = min(int(np.searchsorted(cumw, targets[i][k])), nb - 1)
                    # the last non-empty bucket if rounding overshoots
                    while c_loc[b] == 0 and b > 0:
                        b -= 1
                    groups.setdefault(b, []).append(k)
                for b, ks in groups.items():
                    new.append(
                        dict(
                            lo=int(plan.starts[i][offset + b]),
                            hi=int(plan.ends[i][offset + b]),
                            cb=iv["cb"] + int(cumc[b]),
                            wb=float(cumw[b] - w_loc[b]),
                            c=int(c_loc[b]),
                            w=float(w_loc[b]),
                            t=ks,
                        )
                    )
            nxt.append(new)
        open_ = nxt

    # averaged_inverted_cdf: the next value where the target lies on a step
    successors = [[] for _ in columns]
    if average:
        for i in range(len(columns)):
            if targets[i] is None:
                continue
            for k in range(len(levels)):
                value, cnt_le, w_le = found[i][k]
                if not w_le - targets[i][k] > eps and cnt_le < counts[i]:
                    successors[i].append(cnt_le)

        def positive(batch):
            X, sw = batch.X, batch.sample_weight
            if sw is None:
                return X
            return np.where((sw > 0)[:, None], X, np.nan)

        pos_counts = np.asarray(counts, dtype=np.int64)
        if any(successors):

            def col_reduce(summarize, desc):
                def inner(b):
                    X = positive(b)[:, columns]
                    return summarize(_Masked(b, X))

                return reduce(inner, desc)

            after = order_statistics(
                col_reduce, pos_counts, mins, maxs, successors, budget=budget
            )
        else:
            after = [dict() for _ in columns]
    for i in range(len(columns)):
        if targets[i] is None:
            continue
        for k in range(len(levels)):
            value, cnt_le, w_le = found[i][k]
            v = dtype.type(value)
            if average and not w_le - targets[i][k] > eps:
                u = dtype.type(after[i].get(cnt_le, value))
                result[i, k] = (v + u) / dtype.type(2)
            else:
                result[i, k] = v
    return result
