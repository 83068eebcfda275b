"""Properties of the mergeable statistics and of exact ``partial_fit`` (hypothesis).

1. Every sufficient statistic -- ``Moments`` (full, with targets, diagonal),
   ``RootMoments``, ``MixtureStats``, ``GroupedMoments`` (of either),
   ``LabelSet``, ``RegressionScore`` and the summaries of every distribution
   (``_Sums``, ``_Counts``, ``_RatioSums``, ``_Tuple``, Moments) -- merges to
   the statistic of one batch whatever the partition of the rows; merging is
   associative and commutative and leaves its operands alone; rows of weight
   zero change nothing; an integer weight ``k`` is ``k`` copies of the row; float32 rows
   give the float64 statistic of the same values.
2. Every public estimator whose ``partial_fit`` is exact gives, over any
   partition of the rows, the model that ``fit`` gives on all of them (after
   every call, not only the last). The iterative estimators' statistics
   (``_LloydStats``, ``_MixtureSums``, ``_NewtonStats``, ``MixtureStats``):
   ``summarize``/``from_summaries`` over any partition is the iteration that
   one ``summarize`` of all the rows gives, and one more iteration of ``fit``.

Data sit at the origin or at 1e6 with a spread of a few units, and every
tolerance is relative to the *spread* of the data, never to their offset: the
only absolute slack is a few roundings of the data's magnitude (a mean of
values near 1e6 cannot be known better than that), so a merge that loses
digits to the offset fails."""

from __future__ import annotations

import copy
import inspect
import pickle
import warnings
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from itertools import pairwise, permutations

import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal

from sklearn_ooc._stats import (
    GroupedMoments,
    LabelSet,
    MixtureStats,
    Moments,
    RegressionScore,
    RootMoments,
    diagonal_moments_of_rows,
    moments_of_rows,
)
from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.decomposition import OOCPCA
from sklearn_ooc.discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)
from sklearn_ooc.distributions import (
    Bernoulli,
    Categorical,
    Exponential,
    Gamma,
    IndependentComponents,
    LogNormal,
    MultivariateNormal,
    Normal,
    Poisson,
)
from sklearn_ooc.distributions._distributions import (
    _Counts,
    _RatioSums,
    _Sums,
    _Tuple,
)
from sklearn_ooc.linear_model import (
    StreamingARDRegression,
    StreamingBayesianRidge,
    StreamingElasticNet,
    StreamingLars,
    StreamingLasso,
    StreamingLassoLars,
    StreamingLassoLarsIC,
    StreamingLinearRegression,
    StreamingLogisticRegression,
    StreamingMultiTaskElasticNet,
    StreamingMultiTaskLasso,
    StreamingRidge,
)
from sklearn_ooc.mixture import OOCGaussianMixture, OOCMixture
from sklearn_ooc.utils import all_estimators

from .conftest import fitted_state

EPS = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps
RTOL = 1e-12  # statistics, relative to the spread of the data
RTOL32 = 1e-6  # float32 rows against the float64 statistic of the same values
RTOL_MODEL = 1e-10  # fitted attributes
# Roundings of the data's magnitude allowed in a mean: the representation
# floor, which no summation order can beat.
ULPS = 16

OFFSETS = st.sampled_from([0.0, 1e6])
# Values of any size in [-4, 4], but none whose square underflows: their
# second moments are not representable in float64.
VALUES = st.floats(-4, 4, allow_nan=False, allow_infinity=False).map(
    lambda v: v if abs(v) > 1e-150 else 0.0
)
WEIGHTS = st.floats(0, 4, allow_nan=False, allow_infinity=False, allow_subnormal=False)


# -- comparing statistics ------------------------------------------------------


@dataclass
class Scale:
    """What a statistic of some rows may be compared with.

    ``magnitude``: the largest ``|value|`` of each column (a mean is known to
    a few roundings of it); ``total``: the sum of ``|w * value|`` of each
    column (a plain sum is known to a few roundings of it).
    """

    magnitude: np.ndarray
    total: np.ndarray


def _scale(F, w=None):
    F = np.asarray(F, dtype=np.float64)
    F = F.reshape(len(F), -1) if F.ndim != 2 else F
    w = np.ones(len(F)) if w is None else np.asarray(w, dtype=np.float64)
    return Scale(np.abs(F).max(axis=0, initial=0.0), w @ np.abs(F))


def _within(actual, desired, tol, what):
    actual, desired = np.asarray(actual, float), np.asarray(desired, float)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    with np.errstate(invalid="ignore"):  # inf - inf: compared below
        err = np.abs(actual - desired)
    bad = ~(err <= tol) & ~((actual == desired) & np.isinf(desired))
    if np.any(bad):
        i = np.argmax(np.where(bad, err - tol, -np.inf))
        raise AssertionError(
            f"{what}: {bad.sum()} of {bad.size} entries differ beyond the tolerance;"
            f" worst {actual.flat[i]!r} vs {desired.flat[i]!r} (|diff| "
            f"{err.flat[i]:.3g} > tol {np.broadcast_to(tol, err.shape).flat[i]:.3g})"
        )


def _assert_moments_close(actual, desired, magnitude, *, rtol, count=True):
    """Weight, mean and scatter to ``rtol`` of the spread, set by set.

    The mean may differ by ``rtol`` standard deviations plus a few roundings
    of the data's magnitude, the scatter by ``rtol`` of ``sqrt(S_ii S_jj)``
    plus the square of that rounding floor. The mean of a set of weight zero
    is not compared (see test_weightless_rows_have_the_documented_zero_mean).
    """
    a, b = actual, desired
    assert a.diagonal == b.diagonal
    assert a.mean.shape == b.mean.shape
    if count:
        assert a.count == b.count
    weight = np.asarray(b.weight, dtype=np.float64)
    _within(a.weight, weight, rtol * weight, "weight")
    present = weight > 0
    floor = ULPS * EPS * np.asarray(magnitude, dtype=np.float64)
    diag = b.scatter if b.diagonal else np.diagonal(b.scatter, axis1=-2, axis2=-1)
    diag = np.maximum(diag, 0.0)
    w = weight[..., None]
    sd = np.sqrt(np.divide(diag, w, out=np.zeros_like(diag), where=w > 0))
    _within(a.mean[present], b.mean[present], (rtol * sd + floor)[present], "mean")
    root = np.sqrt(diag)
    if b.diagonal:
        tol = rtol * diag + w * floor**2
    else:
        tol = rtol * root[..., :, None] * root[..., None, :] + w[..., None] * (
            floor[:, None] * floor[None, :]
        )
    _within(a.scatter[present], b.scatter[present], tol[present], "scatter")


def _assert_root_moments_close(actual, desired, magnitude, *, rtol):
    """Count, mean, scatter and singular values of the centered rows.

    The root itself (non-negative diagonal) is unique only for rows of full
    rank, and its number of rows is not (test_merged_root_has_the_documented
    _shape), so what it determines is compared: its scatter ``root.T @ root``
    as a Moments' scatter, and its singular values to ``rtol`` of the largest
    (as an SVD of the data knows them).
    """
    a, b = actual, desired
    assert a.count == b.count
    assert a.root.shape[1] == b.root.shape[1]
    as_moments = [
        Moments(m.count, np.float64(m.count), m.mean, m.scatter) for m in (a, b)
    ]
    _assert_moments_close(*as_moments, magnitude, rtol=rtol)
    values_a, values_b = a.spectrum()[0], b.spectrum()[0]
    _within(values_a, values_b, rtol * values_b.max(initial=0.0), "singular values")


def _padded(counts, k):
    out = np.zeros(k)
    out[: len(counts)] = counts
    return out


def _assert_close(actual, desired, scale, *, rtol, count=True):
    """``actual`` equals ``desired`` (a statistic of any kind) to ``rtol``."""
    assert type(actual) is type(desired)
    if isinstance(desired, Moments):
        _assert_moments_close(actual, desired, scale.magnitude, rtol=rtol, count=count)
    elif isinstance(desired, RootMoments):
        _assert_root_moments_close(actual, desired, scale.magnitude, rtol=rtol)
    elif isinstance(desired, MixtureStats):
        _within(
            actual.log_likelihood,
            desired.log_likelihood,
            rtol * scale.total,
            "log_likelihood",
        )
        _assert_moments_close(
            actual.moments, desired.moments, scale.magnitude, rtol=rtol, count=count
        )
    elif isinstance(desired, GroupedMoments):
        assert sorted(actual.groups) == sorted(desired.groups)
        for label, moments in desired.groups.items():
            _assert_close(actual.groups[label], moments, scale, rtol=rtol, count=count)
    elif isinstance(desired, LabelSet):
        assert_array_equal(actual.labels, desired.labels)
    elif isinstance(desired, RegressionScore):
        _assert_moments_close(
            actual.targets, desired.targets, scale.magnitude, rtol=rtol, count=count
        )
        # Sums of squares: no cancellation, relative to themselves.
        _within(actual.residual, desired.residual, rtol * desired.residual, "residual")
    elif isinstance(desired, _Counts):
        # Count vectors end at the largest category seen; shorter ones are
        # zero-padded by the merge, so compare them padded.
        if count:
            assert actual.count == desired.count
        _within(actual.weight, desired.weight, rtol * desired.weight, "weight")
        k = max(len(actual.sums), len(desired.sums))
        _within(
            _padded(actual.sums, k),
            _padded(desired.sums, k),
            rtol * desired.weight,
            "counts",
        )
    elif isinstance(desired, _RatioSums):
        # Gamma's: sums about a reference that depends on the partition; what
        # they stand for does not.
        if count:
            assert actual.count == desired.count
        _within(actual.weight, desired.weight, rtol * desired.weight, "weight")
        if desired.weight > 0:
            mean = desired.mean()
            _within(actual.mean(), mean, rtol * abs(mean), "mean")
            # The gap is a difference of two terms; its precision is theirs.
            terms = max(
                abs(r.gap / r.weight) + abs(r.linear / r.weight) ** 2
                for r in (actual, desired)
            )
            gap = desired.log_mean_gap()
            _within(actual.log_mean_gap(), gap, rtol * (abs(gap) + terms), "log gap")
    elif isinstance(desired, _Sums):
        if count:
            assert actual.count == desired.count
        _within(actual.weight, desired.weight, rtol * desired.weight, "weight")
        _within(actual.sums, desired.sums, rtol * scale.total, "sums")
    elif isinstance(desired, _Tuple):
        for part_a, part_d, part_scale in zip(
            actual.parts, desired.parts, scale, strict=True
        ):
            _assert_close(part_a, part_d, part_scale, rtol=rtol, count=count)
    else:  # pragma: no cover - a statistic this module does not know
        raise TypeError(f"no comparison for {type(desired).__name__}")


def _fold(parts):
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


# -- the statistics of rows ------------------------------------------------------


def _offset(Z, offset):
    return np.ascontiguousarray(Z + offset)


def _magnitude_scale(X, labels, w):
    return _scale(X, w)


@dataclass(frozen=True)
class RowStatistic:
    """A statistic of rows: how to summarize, its domain, how to compare.

    ``summarize(X, labels, w)`` gives the statistic of rows ``X`` (with their
    labels, and weights ``w``, None for unit weights); ``rows(Z, offset)``
    maps drawn values to the statistic's domain; ``scale(X, labels, w)``
    gives what :func:`_assert_close` needs. ``weighted``: whether it takes
    weights; ``empty``: whether it takes a batch of no rows.
    """

    name: str
    summarize: object
    rows: object = _offset
    scale: object = _magnitude_scale
    weighted: bool = True
    empty: bool = True

    def __repr__(self):
        return self.name


def _split_targets(X):
    """Features and target columns (the last column, for two or more)."""
    h = max(1, X.shape[1] - 1)
    return np.ascontiguousarray(X[:, :h]), np.ascontiguousarray(X[:, h:])


def _moments_with_targets(X, labels, w):
    return moments_of_rows(*_split_targets(X), sample_weight=w)


def _predictions(y):
    # A prediction of each row from that row alone (rows may be split
    # anywhere): the true value rounded to a quarter, exact in float32.
    return np.round(y * 4) / 4


def _regression_score(X, labels, w):
    return RegressionScore.of_batch(X, _predictions(X), w)


def _distribution_summary(make):
    def summarize(X, labels, w):
        return make().summarize(X, sample_weight=w)._pending

    return summarize


def _distribution_scale(features):
    def scale(X, labels, w):
        return _scale(features(X), w)

    return scale


def _positive(Z, offset):
    return np.ascontiguousarray(offset + np.exp(Z[:, :1]))


def _non_negative(Z, offset):
    return np.ascontiguousarray(offset + np.abs(Z[:, :1]))


def _counts(Z, offset):
    return np.ascontiguousarray(offset + np.round(2 * np.abs(Z[:, :1])))


def _first(Z, offset):
    return np.ascontiguousarray(offset + Z[:, :1])


def _binary(Z, offset):
    return np.ascontiguousarray((Z[:, :1] > 0).astype(np.float64))


def _categories(Z, offset):
    return np.ascontiguousarray(np.floor(np.abs(Z[:, :1])))


def _independent_rows(Z, offset):
    return np.hstack([_first(Z, offset), _non_negative(Z, offset), _counts(Z, offset)])


def _independent():
    return IndependentComponents([Normal(), Exponential(), Poisson()])


def _independent_scale(X, labels, w):
    return tuple(_scale(X[:, j : j + 1], w) for j in range(3))


def _identity(X):
    return X


def _log_features(X):
    return np.log(X)


def _gamma_features(X):
    return np.hstack([X, np.log(X)])


# Every distribution: its constructor, its domain, the values its statistic sums.
DISTRIBUTIONS = {
    "Normal": (Normal, _first, _identity),
    "LogNormal": (LogNormal, _positive, _log_features),
    "Exponential": (Exponential, _non_negative, _identity),
    "Gamma": (Gamma, _positive, _gamma_features),
    "Poisson": (Poisson, _counts, _identity),
    "Bernoulli": (Bernoulli, _binary, _identity),
    "Categorical": (Categorical, _categories, _identity),
    "MultivariateNormal": (MultivariateNormal, _offset, _identity),
    "IndependentComponents": (_independent, _independent_rows, None),
}


def _distribution_statistic(name):
    make, rows, features = DISTRIBUTIONS[name]
    return RowStatistic(
        f"{name}.summarize",
        _distribution_summary(make),
        rows=rows,
        scale=_independent_scale if features is None else _distribution_scale(features),
    )


STATISTICS = [
    RowStatistic("Moments", lambda X, labels, w: moments_of_rows(X, sample_weight=w)),
    RowStatistic("Moments[X,Y]", _moments_with_targets),
    RowStatistic(
        "Moments(diagonal)", lambda X, labels, w: diagonal_moments_of_rows(X, w)
    ),
    # of_batch takes no weights: the weight properties do not apply.
    RowStatistic(
        "GroupedMoments",
        lambda X, labels, w: GroupedMoments.of_batch(X, labels),
        weighted=False,
    ),
    # RootMoments.of_rows takes no weights either.
    RowStatistic(
        "RootMoments",
        lambda X, labels, w: RootMoments.of_rows(X),
        weighted=False,
    ),
    RowStatistic(
        "GroupedMoments(RootMoments)",
        lambda X, labels, w: GroupedMoments.of_batch(
            X, labels, of_rows=RootMoments.of_rows
        ),
        weighted=False,
    ),
    RowStatistic(
        "LabelSet",
        lambda X, labels, w: LabelSet.of(labels),
        scale=lambda X, labels, w: None,
        weighted=False,
    ),
    # Batches of no rows: see test_regression_score_of_no_rows.
    RowStatistic("RegressionScore", _regression_score, empty=False),
    *(_distribution_statistic(name) for name in DISTRIBUTIONS),
]


def _cases(names=None, *, exclude=(), weighted=False):
    return [
        pytest.param(s, id=s.name)
        for s in STATISTICS
        if (names is None or s.name in names)
        and s.name not in exclude
        and (s.weighted or not weighted)
    ]


# -- strategies --------------------------------------------------------------------


@st.composite
def samples(draw, *, min_rows=0, weighted=True, offsets=OFFSETS, noise=None):
    """Values ``Z`` (n x d), labels, weights (or None) and an offset.

    ``Z`` is drawn by hypothesis (repeated values, constant columns, values
    of any size in [-4, 4]) plus, or not (``noise``), standard normal noise
    from a drawn seed, so that columns of a spread ~1 are common too.
    """
    n = draw(st.integers(min_rows, 60))
    d = draw(st.integers(1, 4))
    Z = draw(arrays(np.float64, (n, d), elements=VALUES))
    if draw(st.booleans()) if noise is None else noise:
        seed = draw(st.integers(0, 2**32 - 1))
        Z = Z + np.random.default_rng(seed).normal(size=(n, d))
    labels = draw(arrays(np.int64, n, elements=st.integers(0, 3)))
    w = draw(st.none() | arrays(np.float64, n, elements=WEIGHTS)) if weighted else None
    return Z, labels, w, draw(offsets)


def bounds(n, *, max_batches=7, nonempty=False):
    """Batch bounds ``[0, ..., n]``: any partition of ``n`` rows (in order)."""
    if nonempty:
        if n < 2:
            return st.just([0, n])
        cuts = st.lists(st.integers(1, n - 1), max_size=max_batches - 1, unique=True)
    else:
        cuts = st.lists(st.integers(0, n), max_size=max_batches - 1)
    return cuts.map(lambda c: [0, *sorted(c), n])


def _rows(a, lo, hi):
    return None if a is None else a[lo:hi]


def _summaries(stat, X, labels, w, cut):
    return [
        stat.summarize(X[a:b], labels[a:b], _rows(w, a, b)) for a, b in pairwise(cut)
    ]


def _check_partition(stat, data, **sample_options):
    Z, labels, w, offset = data.draw(
        samples(
            weighted=stat.weighted, min_rows=0 if stat.empty else 1, **sample_options
        )
    )
    X = stat.rows(Z, offset)
    cut = data.draw(bounds(len(X), nonempty=not stat.empty))
    _assert_close(
        _fold(_summaries(stat, X, labels, w, cut)),
        stat.summarize(X, labels, w),
        stat.scale(X, labels, w),
        rtol=RTOL,
    )


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


# -- 1. statistics -----------------------------------------------------------------


@settings(deadline=None, max_examples=25)
@pytest.mark.parametrize("stat", _cases())
@given(data=st.data())
def test_any_partition_merges_to_the_statistic_of_one_batch(stat, data):
    _check_partition(stat, data)


@settings(deadline=None, max_examples=20)
@pytest.mark.parametrize("stat", _cases())
@given(data=st.data())
def test_merge_is_associative_and_commutative(stat, data):
    Z, labels, w, offset = data.draw(
        samples(weighted=stat.weighted, min_rows=0 if stat.empty else 3)
    )
    X = stat.rows(Z, offset)
    n = len(X)
    cuts = st.integers(0, n) if stat.empty else st.integers(1, n - 1)
    cut = [0, *sorted(data.draw(st.lists(cuts, min_size=2, max_size=2))), n]
    assume(stat.empty or len(set(cut)) == 4)
    parts = _summaries(stat, X, labels, w, cut)
    before = [pickle.dumps(p) for p in parts]
    reference = (parts[0] + parts[1]) + parts[2]
    scale = stat.scale(X, labels, w)
    for a, b, c in permutations(parts):
        for merged in ((a + b) + c, a + (b + c)):
            _assert_close(merged, reference, scale, rtol=RTOL)
    # a + b is a new statistic: its operands are left as they were.
    assert [pickle.dumps(p) for p in parts] == before


@settings(deadline=None, max_examples=20)
@pytest.mark.parametrize("stat", _cases(weighted=True))
@given(data=st.data())
def test_rows_of_weight_zero_change_nothing(stat, data):
    Z, labels, w, offset = data.draw(samples(weighted=True))
    w = np.ones(len(Z)) if w is None else w
    # Rows of weight zero anywhere in the batch, and anywhere in space (far
    # from the others too: they may mislead the choice of a shift, never the
    # result).
    m = data.draw(st.integers(1, 20))
    junk = data.draw(arrays(np.float64, (m, Z.shape[1]), elements=VALUES))
    junk_offset = data.draw(st.sampled_from([0.0, 1e3, 1e6]))
    order = np.array(data.draw(st.permutations(range(len(Z) + m))))
    X = np.vstack([stat.rows(Z, offset), stat.rows(junk, junk_offset)])[order]
    labels = np.concatenate([labels, np.zeros(m, dtype=labels.dtype)])[order]
    w = np.concatenate([w, np.zeros(m)])[order]
    keep = w > 0
    assume(stat.empty or keep.any())
    kept = np.ascontiguousarray(X[keep])
    # count is the number of rows whatever their weights: not compared.
    _assert_close(
        stat.summarize(X, labels, w),
        stat.summarize(kept, labels[keep], w[keep]),
        stat.scale(kept, labels[keep], w[keep]),
        rtol=RTOL,
        count=False,
    )


@settings(deadline=None, max_examples=20)
@pytest.mark.parametrize("stat", _cases(weighted=True))
@given(data=st.data())
def test_integer_weight_equals_repeated_rows(stat, data):
    Z, labels, _, offset = data.draw(samples(weighted=False))
    X = stat.rows(Z, offset)
    k = data.draw(arrays(np.int64, len(X), elements=st.integers(0, 4)))
    assume(stat.empty or k.sum() > 0)
    repeated = np.ascontiguousarray(np.repeat(X, k, axis=0))
    _assert_close(
        stat.summarize(X, labels, k.astype(np.float64)),
        stat.summarize(repeated, np.repeat(labels, k), None),
        stat.scale(repeated, np.repeat(labels, k), None),
        rtol=RTOL,
        count=False,
    )


# LabelSet summarizes labels, not float rows: it has no float32 property.
@settings(deadline=None, max_examples=20)
@pytest.mark.parametrize("stat", _cases(exclude={"LabelSet"}))
@given(data=st.data())
def test_float32_rows_give_the_float64_statistic(stat, data):
    Z, labels, w, offset = data.draw(
        samples(weighted=stat.weighted, min_rows=0 if stat.empty else 1)
    )
    X32 = stat.rows(Z, offset).astype(np.float32)
    # The honest reference: the float32 values themselves, in float64.
    X64 = X32.astype(np.float64)
    _assert_close(
        stat.summarize(X32, labels, w),
        stat.summarize(X64, labels, w),
        stat.scale(X64, labels, w),
        rtol=RTOL32,
    )


def test_merge_toward_a_much_heavier_set_regression():
    # Minimal falsifying example: a row of weight EPS alone carries feature
    # 0, so its mean and cross scatter are about EPS; merged into a set of
    # weight 1, the mean stepped from the light side by a share of nearly 1
    # lost 0.2% of itself, whatever the merge order gave.
    X = np.zeros((32, 2))
    X[24], X[31] = [1.0, 0.0], [0.0, 1.0]
    w = np.full(32, EPS)
    w[0], w[31] = 0.1875, 1.0
    W = sum(map(Fraction, w))
    m = [
        sum(Fraction(a) * Fraction(b) for a, b in zip(w, X[:, j], strict=True)) / W
        for j in (0, 1)
    ]
    cross = sum(
        Fraction(wi) * (Fraction(a) - m[0]) * (Fraction(b) - m[1])
        for wi, (a, b) in zip(w, X, strict=True)
    )
    parts = [
        moments_of_rows(X[a:b], sample_weight=w[a:b])
        for a, b in [(0, 1), (1, 25), (25, 32)]
    ]
    for a, b, c in permutations(parts):
        for merged in ((a + b) + c, a + (b + c)):
            assert abs(merged.mean[0] - float(m[0])) <= 4 * EPS * float(m[0])
            assert abs(merged.scatter[0, 1] - float(cross)) <= 4 * EPS * abs(
                float(cross)
            )


def test_float32_residual_of_the_smallest_normal_regression():
    # Minimal falsifying example: one float32 row at the smallest normal
    # number, whose square underflows in float32 but not in float64.
    y = np.array([np.finfo(np.float32).tiny], dtype=np.float32)
    zero = np.zeros(1, dtype=np.float32)
    score = RegressionScore.of_batch(y, zero)
    assert score.residual[0] == float(y[0]) ** 2 > 0
    assert (
        score.residual[0]
        == RegressionScore.of_batch(
            y.astype(np.float64), zero.astype(np.float64)
        ).residual[0]
    )


@pytest.mark.parametrize("stat", ["Moments(diagonal)", "RegressionScore"])
def test_diagonal_merge_of_offset_data_regression(stat):
    # Minimal falsifying example: three rows at 1e6, batches of 2 and 1.
    X = np.array([[1000001.7], [1000001.6], [1000002.8]])
    if stat == "RegressionScore":

        def of(rows):
            return RegressionScore.of_batch(rows, rows).targets

    else:
        of = diagonal_moments_of_rows
    exact = X[:, 0].astype(np.longdouble)
    exact = float(np.sum((exact - exact.mean()) ** 2))
    # One batch, and moments_of_rows merged, are right to the last digit:
    assert abs(of(X).scatter[0] - exact) <= 4 * EPS * exact
    merged = moments_of_rows(X[:2]) + moments_of_rows(X[2:])
    assert abs(merged.scatter[0, 0] - exact) <= 4 * EPS * exact
    # And so are the diagonal statistics, merged (they once lost 1e-10):
    assert abs((of(X[:2]) + of(X[2:])).scatter[0] - exact) <= 4 * EPS * exact


def test_regression_score_of_no_rows():
    rows = np.empty((0, 2))
    score = RegressionScore.of_batch(rows, rows)
    assert score.targets.count == 0
    assert_array_equal(score.residual, [0.0, 0.0])


def test_weightless_rows_have_the_documented_zero_mean():
    X = np.array([[5.0, 1.0], [6.0, 2.0], [9.0, 4.0]])
    w = np.zeros(3)
    whole = moments_of_rows(X, sample_weight=w)
    merged = moments_of_rows(X[:1], sample_weight=w[:1]) + moments_of_rows(
        X[1:], sample_weight=w[1:]
    )
    assert whole.weight == merged.weight == 0
    assert_array_equal(merged.mean, whole.mean)
    assert_array_equal(whole.mean, [0.0, 0.0])


# -- MixtureStats: the statistics of an EM pass, through the public summarize ---
# OOCGaussianMixture takes no sample weights: the weight properties do not
# apply. The statistics depend on the parameters of the pass, so each example
# fits a model first and summarizes under it.

COVARIANCE_TYPES = st.sampled_from(["full", "tied", "diag", "spherical"])


def _gaussian_mixture(X, covariance_type):
    gmm = OOCGaussianMixture(
        n_components=2,
        covariance_type=covariance_type,
        means_init=X[[0, -1]],
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gmm.fit(X)


def _mixture_stats(gmm, X):
    return copy.deepcopy(gmm).summarize(X)._pending_stats


def _mixture_scale(gmm, X):
    return Scale(np.abs(X).max(axis=0), np.abs(gmm.score_samples(X)).sum())


@settings(deadline=None, max_examples=15)
@given(
    sample=samples(min_rows=2, weighted=False),
    covariance_type=COVARIANCE_TYPES,
    data=st.data(),
)
def test_mixture_stats_of_any_partition_merge_to_one_pass(
    sample, covariance_type, data
):
    Z, _, _, offset = sample
    X = _offset(Z, offset)
    gmm = _gaussian_mixture(X, covariance_type)
    cut = data.draw(bounds(len(X), nonempty=True, max_batches=4))
    parts = [_mixture_stats(gmm, X[a:b]) for a, b in pairwise(cut)]
    assert all(isinstance(p, MixtureStats) for p in parts)
    scale = _mixture_scale(gmm, X)
    _assert_close(_fold(parts), _mixture_stats(gmm, X), scale, rtol=RTOL)
    if len(parts) >= 3:
        a, b, c = parts[0], parts[1], _fold(parts[2:])
        reference = (a + b) + c
        for x, y, z in permutations((a, b, c)):
            for merged in ((x + y) + z, x + (y + z)):
                _assert_close(merged, reference, scale, rtol=RTOL)


@settings(deadline=None, max_examples=10)
@given(sample=samples(min_rows=2, weighted=False), covariance_type=COVARIANCE_TYPES)
def test_mixture_stats_of_float32_rows(sample, covariance_type):
    Z, _, _, offset = sample
    X32 = _offset(Z, offset).astype(np.float32)
    X64 = X32.astype(np.float64)
    gmm = _gaussian_mixture(X64, covariance_type)
    # Its rows are multiplied in float32 (float32 rounding of the float64
    # statistic is the contract), so a mean is known to a few float32
    # roundings of the data's magnitude, even where a component has no
    # spread: rows [0, 0, 1] give a mean of 1.00000002.
    scale = _mixture_scale(gmm, X64)
    scale.magnitude = scale.magnitude * (EPS32 / EPS)
    _assert_close(
        _mixture_stats(gmm, X32),
        _mixture_stats(gmm, X64),
        scale,
        rtol=RTOL32,
    )


# -- distributions: summaries over any partition give the fitted parameters ----


def _assert_same_value(actual, desired, what, rtol=RTOL_MODEL):
    """Equal objects; floats to ``rtol`` of the largest entry of the array."""
    if isinstance(desired, dict):
        assert sorted(actual) == sorted(desired), what
        for key in desired:
            _assert_same_value(actual[key], desired[key], f"{what}[{key!r}]", rtol)
    elif isinstance(desired, (list, tuple)) and not all(
        isinstance(v, (int, float)) for v in desired
    ):
        assert len(actual) == len(desired), what
        for i, (a, d) in enumerate(zip(actual, desired, strict=True)):
            _assert_same_value(a, d, f"{what}[{i}]", rtol)
    elif desired is None or isinstance(desired, (str, bool, np.bool_)):
        assert actual == desired, what
    elif isinstance(desired, (int, np.integer)):
        assert actual == desired, what
    else:
        desired = np.asarray(desired)
        if desired.dtype.kind not in "fc":
            assert_array_equal(actual, desired, err_msg=what)
            return
        finite = np.abs(desired[np.isfinite(desired)])
        _within(actual, desired, rtol * finite.max(initial=0.0), what)


def _fitted_distribution(name, X, w, cut=None):
    make = DISTRIBUTIONS[name][0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if cut is None:
            return make().fit(X, sample_weight=w).get_params()
        dist = make()
        for a, b in pairwise(cut):
            dist.summarize(X[a:b], sample_weight=_rows(w, a, b))
        return dist.from_summaries().get_params()


def _check_fitted_distribution(name, data, **sample_options):
    Z, _, w, offset = data.draw(samples(min_rows=1, **sample_options))
    X = DISTRIBUTIONS[name][1](Z, offset)
    weight = np.ones(len(X)) if w is None else w
    assume(weight.sum() > 0)  # no rows of weight: no parameters
    if name == "Gamma":
        # Constant data have no maximum-likelihood shape (s = 0): refused, as
        # a test in test_distributions shows.
        assume(np.ptp(X[weight > 0]) > 0)
    cut = data.draw(bounds(len(X)))
    try:
        whole = _fitted_distribution(name, X, w)
    except ValueError as exc:
        # Data too close to constant for a Gamma: refused whatever the
        # partition, by the same error.
        assert name == "Gamma" and "too close to constant" in str(exc), exc
        with pytest.raises(ValueError, match="too close to constant"):
            _fitted_distribution(name, X, w, cut)
        return
    _assert_same_value(_fitted_distribution(name, X, w, cut), whole, name)


@settings(deadline=None, max_examples=25)
@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
@given(data=st.data())
def test_summaries_over_any_partition_give_the_fitted_distribution(name, data):
    _check_fitted_distribution(name, data)


@settings(deadline=None, max_examples=15)
@pytest.mark.parametrize("name", ["Gamma", "Normal", "LogNormal"])
@given(data=st.data())
def test_summaries_of_data_of_small_relative_spread_give_the_fitted_distribution(
    name, data
):
    # At 1e6 with a spread ~1: log(mean) - mean(log x) is ~1e-13, the
    # variances 1e12 times smaller than the squared means.
    _check_fitted_distribution(name, data, offsets=st.just(1e6), noise=True)


def test_gamma_of_offset_data_regression():
    X = np.array([1000000.2, 1000000.1, 1000000.4])
    with np.errstate(all="ignore"):
        whole = Gamma().fit(X)
        split = Gamma().summarize(X[:1]).summarize(X[1:]).from_summaries()
    # Raw sums of x and log x once gave 5.78e13 and 9.67e13.
    assert abs(split.shape - whole.shape) <= RTOL_MODEL * whole.shape


# -- 2. estimators -----------------------------------------------------------------


def _fitted(estimator):
    """The fitted attributes: public names ending with an underscore."""
    return {
        k: v
        for k, v in vars(estimator).items()
        if k.endswith("_") and not k.startswith("_")
    }


def _assert_same_model(actual, desired, view=None, rows=None, rtol=RTOL_MODEL):
    """The fitted attributes of two estimators, to ``rtol``.

    ``view(a, d, *rows)`` keeps of both the part the data determine.
    """
    a, d = _fitted(actual), _fitted(desired)
    if view is not None:
        a, d = view(a, d, *rows)
    assert sorted(a) == sorted(d)
    for name in d:
        _assert_same_value(a[name], d[name], name, rtol)


@dataclass
class Problem:
    """An estimator to build, its data, and the well-defined part of a model
    (``view(a, d, X, y)``, ``X`` and ``y`` the rows fitted)."""

    make: object
    X: np.ndarray
    y: np.ndarray = None
    sample_weight: np.ndarray = None
    view: object = None
    # Fixed-point iterations on the merged statistics (ARD) carry their
    # rounding further than a closed form.
    rtol: float = RTOL_MODEL

    def args(self, lo, hi):
        args = (self.X[lo:hi],) if self.y is None else (self.X[lo:hi], self.y[lo:hi])
        kwargs = {}
        if self.sample_weight is not None:
            kwargs["sample_weight"] = self.sample_weight[lo:hi]
        return args, kwargs


def _features(draw, n, d, offset):
    """Gaussian rows of distinct scales (distinct principal axes) at ``offset``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scales = draw(arrays(np.float64, d, elements=st.floats(0.1, 10), unique=True))
    return rng, rng.normal(size=(n, d)) * scales + offset


def _labels(rng, n, k):
    return rng.permutation(np.arange(n) % k)


@st.composite
def ridge_problems(draw):
    n, d = draw(st.integers(2, 60)), draw(st.integers(1, 4))
    fit_intercept = draw(st.booleans())
    # Without an intercept, data at 1e6 make normal equations of condition
    # ~1e12: any two summation orders differ at 1e-4, in any algorithm. That
    # is the problem's conditioning, not the merge's: no offset then.
    offset = draw(OFFSETS) if fit_intercept else 0.0
    rng, X = _features(draw, n, d, offset)
    targets = draw(st.sampled_from([None, 1, 2]))
    coef = rng.normal(size=(d, targets or 1))
    y = (X - offset) @ coef + rng.normal(size=(n, 1)) + draw(OFFSETS)
    if targets is None:
        y = y[:, 0]
    w = None
    if draw(st.booleans()):
        w = rng.uniform(0, 2, size=n) * (rng.random(n) > 0.2)
    alpha = draw(st.sampled_from([1e-3, 1.0, 100.0]))
    return Problem(
        lambda: StreamingRidge(alpha=alpha, fit_intercept=fit_intercept), X, y, w
    )


@st.composite
def elastic_net_problems(draw, lasso=False, multitask=False):
    """StreamingLasso / StreamingElasticNet: the descent runs on the merged
    Gram, to a tolerance far below the rounding of the statistics (so that
    the merge order cannot change when it stops)."""
    n, d = draw(st.integers(2, 60)), draw(st.integers(1, 4))
    fit_intercept = draw(st.booleans())
    offset = draw(OFFSETS) if fit_intercept else 0.0
    rng, X = _features(draw, n, d, offset)
    targets = draw(st.sampled_from([2, 3] if multitask else [None, 1, 2]))
    y = (X - offset) @ rng.normal(size=(d, targets or 1)) + rng.normal(size=(n, 1))
    if targets is None:
        y = y[:, 0]
    w = None
    if draw(st.booleans()):
        w = rng.uniform(0, 2, size=n) * (rng.random(n) > 0.2)
    params = dict(
        alpha=draw(st.sampled_from([1e-2, 0.1, 1.0])),
        fit_intercept=fit_intercept,
        tol=1e-14,
        max_iter=100_000,
    )
    if lasso:
        make = partial(
            StreamingMultiTaskLasso if multitask else StreamingLasso, **params
        )
    else:
        l1_ratio = draw(st.sampled_from([0.1, 0.5, 0.9]))
        net = StreamingMultiTaskElasticNet if multitask else StreamingElasticNet
        make = partial(net, l1_ratio=l1_ratio, **params)
    return Problem(make, X, y, w, view=_solution_view)


@st.composite
def lars_problems(draw, which):
    """StreamingLars, StreamingLassoLars, StreamingLassoLarsIC: the path is
    computed from the merged Gram, by scikit-learn's solver; rows of distinct
    scales keep the order in which features enter away from ties."""
    n, d = draw(st.integers(8, 60)), draw(st.integers(1, 4))
    fit_intercept = draw(st.booleans())
    offset = draw(OFFSETS) if fit_intercept else 0.0
    rng, X = _features(draw, n, d, offset)
    y = (X - offset) @ rng.normal(size=d) + 0.3 * rng.normal(size=n)
    if which == "lars":
        make = partial(StreamingLars, fit_intercept=fit_intercept)
    elif which == "lasso":
        alpha = draw(st.sampled_from([1e-3, 0.05]))
        make = partial(StreamingLassoLars, alpha=alpha, fit_intercept=fit_intercept)
    else:
        make = partial(
            StreamingLassoLarsIC, criterion="bic", fit_intercept=fit_intercept
        )
    return Problem(make, X, y, rtol=1e-8)


def _solution_view(a, d, X, y):
    """The solution, without the duality gap (rounding of zero) and the
    sweeps that reached it."""
    return (
        {k: v for k, v in a.items() if k not in ("dual_gap_", "eps_", "n_iter_")},
        {k: v for k, v in d.items() if k not in ("dual_gap_", "eps_", "n_iter_")},
    )


def _ard_view(a, d, X, y):
    """ARD prunes weights to near zero (their precisions reach the
    threshold): compare the coefficients in units of the data, ``y``'s
    spread over ``X``'s, where a pruned weight is a rounding of zero."""
    scale = (np.std(y) or 1.0) / np.maximum(np.std(X, axis=0), 1e-300)
    a, d = dict(a), dict(d)
    for model in (a, d):
        model["coef_"] = np.append(model["coef_"] / scale, 1.0)
    return a, d


@st.composite
def least_squares_problems(draw, bayesian=False, weighted=True):
    """StreamingLinearRegression (or StreamingBayesianRidge, one target): the
    triangular factor of the rows merges exactly, whatever the partition.
    ARD (StreamingARDRegression) gets three rows a feature or more: with
    fewer, its noise precision grows without bound as the fit interpolates,
    and its iterations carry the rounding of the data into every estimate.
    BayesianRidge, for the same reason, gets more rows than coefficients
    (the intercept's included), so that its fit does not interpolate; its
    iterations amplify the rounding of the merged statistics as ARD's do
    (1e-10 of a coefficient, on five rows on the Intel machine), and it is
    compared to ARD's tolerance."""
    low = 12 if bayesian == "ard" else 2
    n, d = draw(st.integers(low, 60)), draw(st.integers(1, 4))
    fit_intercept = draw(st.booleans())
    if bayesian is True:
        assume(n > d + fit_intercept)
    offset = draw(OFFSETS) if fit_intercept else 0.0
    rng, X = _features(draw, n, d, offset)
    targets = None if bayesian else draw(st.sampled_from([None, 1, 2]))
    coef = rng.normal(size=(d, targets or 1))
    # ARD's iterations amplify the rounding of targets at 1e6 (which hold
    # their spread to 1e-10) past the tolerance: its targets stay near 0.
    y_offset = 0.0 if bayesian == "ard" else draw(OFFSETS)
    y = (X - offset) @ coef + rng.normal(size=(n, 1)) + y_offset
    if targets is None:
        y = y[:, 0]
    w = None
    if weighted and draw(st.booleans()):
        w = rng.uniform(0, 2, size=n) * (rng.random(n) > 0.2)
    if bayesian == "ard":
        return Problem(
            lambda: StreamingARDRegression(fit_intercept=fit_intercept),
            X,
            y,
            w,
            view=_ard_view,
            rtol=1e-8,
        )
    if bayesian:
        return Problem(
            lambda: StreamingBayesianRidge(fit_intercept=fit_intercept),
            X,
            y,
            w,
            rtol=1e-8,
        )
    positive = draw(st.booleans())
    return Problem(
        lambda: StreamingLinearRegression(
            fit_intercept=fit_intercept, positive=positive
        ),
        X,
        y,
        w,
    )


@st.composite
def covariance_problems(draw, name):
    import sklearn_ooc.covariance

    d = draw(st.integers(2, 4))
    n = draw(st.integers(d + 2, 60))
    _, X = _features(draw, n, d, draw(OFFSETS))
    cls = getattr(sklearn_ooc.covariance, name)
    kwargs = {"alpha": 0.5} if name == "OOCGraphicalLasso" else {}
    return Problem(
        lambda: cls(assume_centered=False, **kwargs),
        X,
        rtol=1e-6 if name == "OOCGraphicalLasso" else RTOL_MODEL,
    )


@st.composite
def factor_analysis_problems(draw):
    import warnings

    from sklearn_ooc.decomposition import OOCFactorAnalysis

    d = draw(st.integers(2, 4))
    n = draw(st.integers(d + 2, 60))
    _, X = _features(draw, n, d, draw(OFFSETS))
    warnings.filterwarnings("ignore", "FactorAnalysis did not converge")
    # A fixed number of EM iterations (tol=0): the same steps on the merged
    # covariance as on the covariance of one pass.
    return Problem(
        lambda: OOCFactorAnalysis(1, tol=0.0, max_iter=5),
        X,
        view=_factor_view,
        rtol=1e-6,
    )


def _factor_view(a, d, X, y=None):
    # The sign of a component is not determined by the data: the modelled
    # covariance, the noise and the mean are.
    def view(m):
        W = m["components_"]
        return {
            "covariance": W.T @ W + np.diag(m["noise_variance_"]),
            "noise_variance_": m["noise_variance_"],
            "mean_": m["mean_"],
            "loglike_": np.asarray(m["loglike_"]),
        }

    return view(a), view(d)


@st.composite
def pca_problems(draw):
    n, d = draw(st.integers(2, 60)), draw(st.integers(1, 4))
    _, X = _features(draw, n, d, draw(OFFSETS))
    n_components = draw(st.sampled_from([None, 1, 2, 0.8, "mle"]))
    whiten = draw(st.booleans())
    return Problem(
        lambda: OOCPCA(n_components=n_components, whiten=whiten), X, view=_pca_view
    )


def _classes(draw, n_per_class, offsets=OFFSETS):
    k = draw(st.integers(2, 3))
    d = draw(st.integers(1, 4))
    n = draw(st.integers(k * n_per_class(d), 60))
    rng, X = _features(draw, n, d, draw(offsets))
    y = _labels(rng, n, k)
    X = X + 2 * rng.normal(size=(k, d))[y]
    return k, X, y


def _signed(vectors):
    """Eigenvectors (columns) with their largest entry positive.

    An eigenvector's sign is arbitrary: LAPACK picks it, and picks it
    differently for covariances that differ in the last digit (see
    test_discriminant_eigenvectors_do_not_depend_on_the_partition).
    """
    vectors = np.asarray(vectors)
    top = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[top, np.arange(vectors.shape[1])])
    return vectors * np.where(signs == 0, 1.0, signs)


def _separated(values, gap=1e-4):
    """Which of ``values`` (an eigenvalue spectrum) stand apart from the
    others by ``gap`` of the largest: their eigenvectors are determined by
    the data, to ~1e-16 / gap; the others' are any basis of a near-degenerate
    eigenspace, a degenerate question at rtol 1e-10.
    """
    values = np.asarray(values, dtype=np.float64)
    diff = np.abs(values[:, None] - values[None, :])
    np.fill_diagonal(diff, np.inf)
    return diff.min(axis=1, initial=np.inf) >= gap * np.abs(values).max(initial=0.0)


def _centered_spectrum(X, d):
    """Squared singular values of the centered rows, ``d`` of them."""
    values = np.linalg.svd(X - X.mean(axis=0), compute_uv=False) ** 2
    return np.concatenate([values, np.zeros(max(0, d - len(values)))])


def _pca_view(a, d, X, y=None):
    # Components of near-degenerate eigenvalues are not determined; the
    # noise variance is an eigenvalue (the mean of the discarded ones, maybe
    # all zero but for rounding), known to rtol of the largest eigenvalue.
    keep = _separated(_centered_spectrum(X, X.shape[1]))[: len(d["components_"])]
    return tuple(
        {
            **m,
            "components_": m["components_"][keep],
            "noise_variance_": np.append(
                m["explained_variance_"], m["noise_variance_"]
            ),
        }
        for m in (a, d)
    )


def _lda_eigen_view(a, d, X, y):
    # The eigen solver's eigenvectors beyond the n_classes - 1 discriminant
    # directions span the null space of the between-class scatter: any basis
    # of it is right (scikit-learn's too), so only the leading ones compare,
    # up to their sign, and when they stand apart from each other and from
    # that null space.
    ratio = d["explained_variance_ratio_"]
    keep = _separated(np.concatenate([ratio, [0.0]]))[: len(ratio)]
    return tuple(
        {**m, "scalings_": _signed(m["scalings_"][:, : len(ratio)])[:, keep]}
        for m in (a, d)
    )


def _qda_view(a, d, X, y):
    # Each class's rotations, up to sign, when its spectrum is not degenerate
    # (covariance_, stored, is compared whatever the spectrum).
    out = ({**a, "rotations_": []}, {**d, "rotations_": []})
    for j, label in enumerate(d["classes_"]):
        rows = X[y == label]
        if np.all(_separated(_centered_spectrum(rows, X.shape[1]))):
            out[0]["rotations_"].append(_signed(a["rotations_"][j]))
            out[1]["rotations_"].append(_signed(d["rotations_"][j]))
    return out


@st.composite
def lda_problems(draw):
    k, X, y = _classes(draw, lambda d: d + 2)
    solver = draw(st.sampled_from(["lsqr", "eigen"]))
    shrinkage = draw(st.sampled_from([None, 0.1]))
    priors = draw(st.sampled_from([None, "uniform"]))
    priors = None if priors is None else np.full(k, 1 / k)
    return Problem(
        lambda: OOCLinearDiscriminantAnalysis(
            solver=solver, shrinkage=shrinkage, priors=priors
        ),
        X,
        y,
        view=_lda_eigen_view if solver == "eigen" else None,
    )


@st.composite
def qda_problems(draw):
    _, X, y = _classes(draw, lambda d: d + 2)
    solver = draw(st.sampled_from(["svd", "eigen"]))
    if solver == "svd":
        options = {"reg_param": draw(st.sampled_from([0.0, 0.1]))}
    else:
        options = {"shrinkage": draw(st.sampled_from([None, 0.1]))}
    return Problem(
        lambda: OOCQuadraticDiscriminantAnalysis(
            solver=solver, store_covariance=True, **options
        ),
        X,
        y,
        view=_qda_view,
    )


# Every public estimator whose partial_fit is exact, and its problems. Left
# out, not exact under partial_fit: OOCGaussianMixture, OOCMixture and
# OOCKMeans (one stepwise EM / Lloyd update per call), StreamingSGDRegressor,
# StreamingSGDClassifier and Incremental (sequential updates),
# StreamingLogisticRegression (partial_fit not offered: Newton steps need all
# the data); StreamingRidgeCV, OOCKernelRidge and StreamingTransformer have no
# partial_fit.
EXACT_PARTIAL_FIT = {
    "StreamingRidge": ridge_problems(),
    "StreamingLasso": elastic_net_problems(lasso=True),
    "StreamingElasticNet": elastic_net_problems(),
    "StreamingLars": lars_problems("lars"),
    "StreamingLassoLars": lars_problems("lasso"),
    "StreamingLassoLarsIC": lars_problems("ic"),
    "StreamingMultiTaskLasso": elastic_net_problems(lasso=True, multitask=True),
    "StreamingMultiTaskElasticNet": elastic_net_problems(multitask=True),
    "StreamingLinearRegression": least_squares_problems(),
    "StreamingBayesianRidge": least_squares_problems(bayesian=True),
    "StreamingARDRegression": least_squares_problems(bayesian="ard", weighted=False),
    "OOCPCA": pca_problems(),
    "OOCFactorAnalysis": factor_analysis_problems(),
    "OOCLinearDiscriminantAnalysis": lda_problems(),
    "OOCQuadraticDiscriminantAnalysis": qda_problems(),
    "OOCEmpiricalCovariance": covariance_problems("OOCEmpiricalCovariance"),
    "OOCShrunkCovariance": covariance_problems("OOCShrunkCovariance"),
    "OOCOAS": covariance_problems("OOCOAS"),
    "OOCGraphicalLasso": covariance_problems("OOCGraphicalLasso"),
}


def _says_exact(method):
    doc = inspect.getdoc(method) or ""
    return "exact" in doc.splitlines()[0].lower() if doc else False


def test_every_estimator_with_an_exact_partial_fit_is_tested():
    found = {
        name
        for name, cls in all_estimators()
        if hasattr(cls, "partial_fit") and _says_exact(cls.partial_fit)
    }
    assert found == set(EXACT_PARTIAL_FIT)


def _fit(problem, stop):
    """``fit`` on the first ``stop`` rows, or the error it raises."""
    args, kwargs = problem.args(0, stop)
    try:
        return problem.make().fit(*args, **kwargs)
    except ValueError as error:  # numpy's and scipy's LinAlgError are ValueErrors
        return error


@settings(deadline=None, max_examples=40)
@pytest.mark.parametrize("name", sorted(EXACT_PARTIAL_FIT))
@given(data=st.data())
def test_partial_fit_over_any_partition_equals_fit(name, data):
    problem = data.draw(EXACT_PARTIAL_FIT[name])
    n = len(problem.X)
    assume(not isinstance(_fit(problem, n), Exception))  # all rows make a model
    cut = data.draw(bounds(n, nonempty=True))
    estimator = problem.make()
    start = 0
    for stop in cut[1:]:
        reference = _fit(problem, stop)
        args, kwargs = problem.args(start, stop)
        if isinstance(reference, Exception):
            # fit fails on the rows so far (too few rows, classes, or rows of
            # weight): partial_fit fails alike and changes nothing, and the
            # caller sends the rows again with the next batch.
            before = fitted_state(estimator)
            with pytest.raises(type(reference)):
                estimator.partial_fit(*args, **kwargs)
            assert fitted_state(estimator) == before
            continue
        estimator.partial_fit(*args, **kwargs)
        # After every call, not only the last: the model of the rows so far.
        rows = problem.X[:stop], None if problem.y is None else problem.y[:stop]
        _assert_same_model(estimator, reference, problem.view, rows, problem.rtol)
        start = stop


def test_discriminant_eigenvectors_do_not_depend_on_the_partition():
    # 40 seeded problems, each cut in two halves: up to sign (as the property
    # test compares them) the eigenvectors agree to 1e-10; as they are, not.
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n, d, k = int(rng.integers(12, 50)), int(rng.integers(1, 4)), 2
        y = rng.permutation(np.arange(n) % k)
        X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d)
        X += 2 * rng.normal(size=(k, d))[y]

        def make():
            return OOCQuadraticDiscriminantAnalysis(solver="eigen")

        try:
            split = make().partial_fit(X[: n // 2], y[: n // 2])
        except ValueError:  # a half whose class covariance is singular
            continue
        split.partial_fit(X[n // 2 :], y[n // 2 :])
        whole = make().fit(X, y)
        for a, b in zip(split.rotations_, whole.rotations_, strict=True):
            _within(_signed(a), _signed(b), RTOL_MODEL, "rotations_ up to sign")
            _within(a, b, RTOL_MODEL, f"rotations_ (seed {seed})")


# -- iterative estimators: one summarize per batch is one summarize of all -------


@st.composite
def clustered_rows(draw, offsets=OFFSETS):
    n, d = draw(st.integers(6, 60)), draw(st.integers(1, 3))
    rng, X = _features(draw, n, d, draw(offsets))
    return rng, np.ascontiguousarray(
        X + 3 * rng.normal(size=(2, d))[_labels(rng, n, 2)]
    )


@st.composite
def iterative_problems(draw, name):
    rng, X = draw(clustered_rows())
    start = X[[0, -1]]
    if name == "OOCGaussianMixture":
        covariance_type = draw(COVARIANCE_TYPES)
        return Problem(
            lambda max_iter=1: OOCGaussianMixture(
                n_components=2,
                covariance_type=covariance_type,
                means_init=start,
                max_iter=max_iter,
                tol=0,
                random_state=0,
            ),
            X,
        )
    if name == "OOCKMeans":
        return Problem(
            lambda max_iter=1: OOCKMeans(
                n_clusters=2, init=start, max_iter=max_iter, tol=0
            ),
            X,
        )
    if name == "OOCMixture":
        return Problem(
            lambda max_iter=1: OOCMixture(
                n_components=2, max_iter=max_iter, tol=0, random_state=0
            ),
            X,
        )
    y = (X[:, 0] - X[:, 0].mean() + rng.normal(size=len(X)) > 0).astype(int)
    assume(0 < y.sum() < len(y))
    return Problem(
        lambda max_iter=1: StreamingLogisticRegression(max_iter=max_iter, tol=0),
        X,
        y,
    )


ITERATIVE = [
    "OOCGaussianMixture",
    "OOCKMeans",
    "OOCMixture",
    "StreamingLogisticRegression",
]


def _fit_quietly(estimator, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(*args)


def _parameters(estimator):
    # The parameters the next pass uses, whatever the public attributes say
    # (see test_from_summaries_is_one_more_iteration).
    return {"parameters": estimator._get_parameters(), **_fitted(estimator)}


def _as_values(params):
    if isinstance(params, dict):
        return {k: _as_values(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return [_as_values(v) for v in params]
    if hasattr(params, "get_params") and not isinstance(params, type):
        return params.get_params()
    return params


@settings(deadline=None, max_examples=10)
@pytest.mark.parametrize("name", ITERATIVE)
@given(data=st.data())
def test_summarize_over_any_partition_is_one_pass(name, data):
    # summarize on consecutive slices then from_summaries() is the iteration
    # that summarize on all the rows then from_summaries() makes.
    problem = data.draw(iterative_problems(name))
    args, _ = problem.args(0, len(problem.X))
    fitted = _fit_quietly(problem.make(), *args)
    whole = copy.deepcopy(fitted).summarize(*args).from_summaries()
    split = copy.deepcopy(fitted)
    for a, b in pairwise(data.draw(bounds(len(problem.X), nonempty=True))):
        split.summarize(*problem.args(a, b)[0])
    split.from_summaries()
    actual, desired = _as_values(_parameters(split)), _as_values(_parameters(whole))
    if name == "OOCGaussianMixture":
        # A precision is an inverse covariance: the last-digit roundings in
        # which the two summations differ grow by the covariance's condition
        # number (hypothesis found one of 1e7 that way).
        rtol = RTOL_MODEL * _condition_number(whole)
        for values in (actual, desired):
            values["parameters"] = values["parameters"][:3]
        for key in ("precisions_", "precisions_cholesky_"):
            what = f"{name}[{key!r}]"
            _assert_same_value(actual.pop(key), desired.pop(key), what, rtol)
    _assert_same_value(actual, desired, name)


def _condition_number(gmm):
    covariances = np.asarray(gmm.covariances_)
    if gmm.covariance_type == "full":
        return max(np.linalg.cond(c) for c in covariances)
    if gmm.covariance_type == "tied":
        return np.linalg.cond(covariances)
    if gmm.covariance_type == "diag":
        return (covariances.max(axis=1) / covariances.min(axis=1)).max()
    return 1.0


@pytest.mark.parametrize(
    "name",
    [
        "OOCGaussianMixture",
        "OOCMixture",
        "OOCKMeans",
        "StreamingLogisticRegression",
    ],
)
@settings(deadline=None, max_examples=5, phases=NO_SHRINK)
@given(data=st.data())
def test_from_summaries_is_one_more_iteration(name, data):
    # fit with max_iter=1, then summarize(X) and from_summaries(), is fit with
    # max_iter=2: "exactly one EM iteration over the whole data".
    problem = data.draw(iterative_problems(name))
    args, _ = problem.args(0, len(problem.X))
    stepped = _fit_quietly(problem.make(1), *args).summarize(*args).from_summaries()
    twice = _fit_quietly(problem.make(2), *args)
    a, d = _fitted(stepped), _fitted(twice)
    # lower_bounds_ is the history of fit's iterations, converged_ the result
    # of its stopping test: an update by from_summaries makes none.
    assert stepped.converged_ is False
    for fitted in (a, d):
        fitted.pop("lower_bounds_"), fitted.pop("converged_")
    if name == "OOCKMeans":
        # fit ends with a labelling pass under the final centers; an update
        # by from_summaries makes none, and keeps no stale labels.
        assert "labels_" not in a and "inertia_" not in a
        d.pop("labels_"), d.pop("inertia_")
    _assert_same_value(_as_values(a), _as_values(d), name)


def test_kmeans_partial_fit_then_predict_regression():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    km = OOCKMeans(n_clusters=2, init=X[[0, 2]]).partial_fit(X)
    assert_array_equal(km.predict(X), [0, 0, 1, 1])
